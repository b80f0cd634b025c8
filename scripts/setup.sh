#!/bin/bash
# Idempotent set-up on Debian 12, as root: Debian packages + .venv with pinned deps.
# Quick when already done. Run first by scripts/run.sh and scripts/test.sh (see README).
# --ovn: also OVN (ovn-central, ovn-host), for the same-run comparison of bench/ovn_lab.py.
# apt cannot start their services here and need not: the lab starts its own daemons
# (docker.io, docker-compose, debootstrap: tests/integration/test_compose.py starts a
# private dockerd of its own; they add ~13 s to a first set-up).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=$ROOT/.venv
PKGS="openvswitch-switch openvswitch-common python3-openvswitch mininet iproute2 ethtool
      iputils-ping arping tcpdump iperf3 python3-venv procps curl
      nftables ca-certificates openssl git etcd-server chromium chromium-driver
      docker.io docker-compose debootstrap"
if [ "${1:-}" = "--ovn" ]; then
  PKGS="$PKGS ovn-central ovn-host"
elif [ -n "${1:-}" ]; then
  echo "usage: $0 [--ovn]" >&2
  exit 2
fi

missing=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null |
          awk '$NF != "installed" {print $1}'; for p in $PKGS; do
          dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  echo "== installing Debian packages: $(echo $missing | tr '\n' ' ')"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends $(echo "$missing" | sort -u)
fi

stamp=$VENV/.vnetsec-installed
want=$(cat requirements.txt constraints.txt setup.cfg | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== building the virtual environment $VENV"
  # Debian's python3 (3.11) with its site-packages: Mininet and python3-openvswitch.
  [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$VENV"
  # Ryu 4.34 only builds with setuptools < 68 (easy_install.get_script_args).
  "$VENV/bin/pip" install -q -c constraints.txt 'setuptools<68' wheel pbr
  "$VENV/bin/pip" install -q --no-build-isolation -c constraints.txt -r requirements.txt
  "$VENV/bin/pip" install -q --no-build-isolation --no-deps -e .
  # eventlet >= 0.30.3 lacks ALREADY_HANDLED that ryu.app.wsgi imports: supply it
  # at interpreter start-up (controller/compat.py), no site-packages file edited.
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  printf '%s\nimport controller.compat; controller.compat.install()\n' "$ROOT" \
    > "$site/zz_vnetsec_compat.pth"
  echo "$want" > "$stamp"
fi
