#!/bin/sh
# Write the scrape token where prometheus.yml reads it (a file only the prometheus
# user reads), then run Prometheus on loopback.
set -eu
umask 077
: "${VNETSEC_API_TOKEN:?the controllers' API token (or a reader token) is needed to scrape}"
printf '%s' "$VNETSEC_API_TOKEN" > /var/lib/prometheus/vnetsec/token
exec prometheus --config.file=/etc/prometheus/prometheus.yml \
    --storage.tsdb.path=/var/lib/prometheus/vnetsec/data \
    --web.listen-address="${VNETSEC_PROMETHEUS_LISTEN:-127.0.0.1:9090}" "$@"
