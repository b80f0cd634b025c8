#!/bin/bash
# Set everything up (idempotent), then start the controller and the default
# emulated data center and open the Mininet CLI. Extra arguments go to vnetsec-dc.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/vnetsec-dc "$@"
