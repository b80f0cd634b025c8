#!/bin/bash
# A private Docker daemon for docker-compose.yml on machines with no registry and
# no room for a daemon that rewrites the host's networking (see README, "Run it
# with docker compose"). Debian 12's docker.io; as root.
#
#   scripts/docker-engine.sh base-image   # make debian:bookworm locally (debootstrap, ~1 min, once)
#   scripts/docker-engine.sh start        # start the daemon if it is not running; prints DOCKER_HOST=...
#   scripts/docker-engine.sh stop         # stop it (by its PID), unmount what it left
#   scripts/docker-engine.sh status       # "running" or "stopped"
#
# The daemon touches no iptables rule, bridge or forwarding setting (every service
# uses host networking). Its images and build cache persist in $VNETSEC_DOCKER_DIR
# (default /var/lib/vnetsec-docker), so later builds are quick; its socket, pidfile
# and runtime state are in $VNETSEC_DOCKER_RUN (default /run/vnetsec-docker).
set -euo pipefail
DIR=${VNETSEC_DOCKER_DIR:-/var/lib/vnetsec-docker}
RUN=${VNETSEC_DOCKER_RUN:-/run/vnetsec-docker}
export DOCKER_HOST=unix://$RUN/docker.sock

running() {
  [ -f "$RUN/dockerd.pid" ] && kill -0 "$(cat "$RUN/dockerd.pid")" 2>/dev/null
}

start() {
  if running; then
    echo "DOCKER_HOST=$DOCKER_HOST"
    return
  fi
  mkdir -p "$DIR/data" "$RUN"
  chmod 0700 "$DIR" "$RUN"
  # the daemon outlives this script: it must hold none of its caller's descriptors
  # (run under `flock /tmp/vnetsec-integration.lock`, it would keep every other
  # integration run waiting for as long as it lives)
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] && [ "$fd" -lt 255 ] && eval "exec $fd>&-" 2>/dev/null || true
  done
  setsid dockerd --iptables=false --ip6tables=false --bridge=none --ip-forward=false \
    --ip-masq=false --data-root "$DIR/data" --exec-root "$RUN/exec" \
    --pidfile "$RUN/dockerd.pid" -H "$DOCKER_HOST" >"$RUN/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 100); do
    if docker version >/dev/null 2>&1; then
      echo "DOCKER_HOST=$DOCKER_HOST"
      return
    fi
    sleep 0.1
  done
  echo "dockerd did not answer within 10 s; see $RUN/dockerd.log" >&2
  exit 1
}

stop() {
  if running; then
    pid=$(cat "$RUN/dockerd.pid")
    kill "$pid"
    for _ in $(seq 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "dockerd $pid did not stop within 15 s" >&2
      exit 1
    fi
  fi
  if mountpoint -q "$RUN/exec/netns/default" 2>/dev/null; then
    umount "$RUN/exec/netns/default"
  fi
}

base_image() {
  if docker image inspect debian:bookworm >/dev/null 2>&1; then
    echo "debian:bookworm is there"
    return
  fi
  # the machine's own Debian mirror (no registry is needed, or reachable here)
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
           true)
  mirror=${mirror:-http://deb.debian.org/debian}
  root=$(mktemp -d /var/tmp/vnetsec-bookworm.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  echo "== debootstrap bookworm from $mirror (about a minute)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
    { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
  rm -f "$root.log"
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - debian:bookworm
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo running; else echo stopped; fi ;;
  base-image) running || { echo "start the daemon first: $0 start" >&2; exit 1; }
              base_image ;;
  *) echo "usage: $0 start|stop|status|base-image" >&2; exit 2 ;;
esac
