#!/bin/bash
# Idempotent set-up on Debian 12 or 13, as root: Debian packages + .venv with pinned deps.
# Quick when already done. Run first by scripts/run.sh and scripts/test.sh (see README).
# --ovn: also OVN (ovn-central, ovn-host), for the same-run comparison of bench/ovn_lab.py.
# apt cannot start their services here and need not: the lab starts its own daemons
# (docker.io, docker-compose, debootstrap: tests/integration/test_compose.py starts a
# private dockerd of its own; they add ~13 s to a first set-up).
#
# The runtime follows the machine's Python (docs/runtime.md): Python 3.11 (Debian 12)
# gets Ryu 4.34, Python 3.12 and later (Debian 13: 3.13) get os-ken. The pins are
# constraints.txt (3.11) or constraints-py3.X.txt, each exactly what pip installs.
# VNETSEC_PYTHON (an interpreter) and VNETSEC_VENV (a directory) build a second
# environment beside the first, as .ci/run does for the newest Python it can find.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VNETSEC_VENV:-$ROOT/.venv}
PYTHON=${VNETSEC_PYTHON:-/usr/bin/python3}
case $(basename "$VENV") in
  .venv*) ;;
  *) echo "setup.sh: VNETSEC_VENV must name a .venv* directory (it is made anew)" >&2; exit 2 ;;
esac
PKGS="openvswitch-switch openvswitch-common mininet iproute2 ethtool
      iputils-ping arping tcpdump iperf3 python3-venv procps curl
      nftables ca-certificates openssl git etcd-server chromium chromium-driver
      docker.io docker-compose debootstrap prometheus"
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

version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case $version in
  3.11) constraints=constraints.txt ;;
  *)    constraints=constraints-py$version.txt ;;
esac
if [ ! -f "$constraints" ]; then
  echo "setup.sh: Python $version has no pinned set ($constraints); vnetsec pins" \
       "Python 3.11 (Ryu) and $(ls constraints-py3.*.txt | sed 's/constraints-py//; s/.txt//' |
       tr '\n' ' ')(os-ken)" >&2
  exit 1
fi

stamp=$VENV/.vnetsec-installed
want=$(cat "$constraints" pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== building the virtual environment $VENV (Python $version)"
  # Made anew, so that it holds the pins and nothing else (also what an earlier
  # set-up installed, or saw: it used --system-site-packages). No
  # --system-site-packages: every Python package comes from the pins. The one
  # thing taken from Debian is Mininet (its python3 package has no PyPI release of
  # that version): a directory holding just a link to it, on the path by a .pth.
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  pip=("$VENV/bin/python" -m pip -q --disable-pip-version-check)
  "${pip[@]}" install -c "$constraints" pip setuptools wheel
  if [ "$version" = 3.11 ]; then
    # Ryu 4.34 builds only with setuptools < 68 (easy_install.get_script_args),
    # without build isolation: constraints.txt pins setuptools 66.
    "${pip[@]}" install -c "$constraints" pbr
    "${pip[@]}" install --no-build-isolation -c "$constraints" ryu
  fi
  "${pip[@]}" install --no-build-isolation -c "$constraints" -e ".[lab,bench,test]"
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  mkdir -p "$VENV/debian"
  ln -sfn /usr/lib/python3/dist-packages/mininet "$VENV/debian/mininet"
  echo "$VENV/debian" > "$site/vnetsec_debian_mininet.pth"
  if [ "$version" = 3.11 ]; then
    # eventlet >= 0.30.3 lacks ALREADY_HANDLED that ryu.app.wsgi imports: supply it
    # at interpreter start-up (controller/compat.py), no site-packages file edited,
    # so that plain ryu-manager works.
    printf '%s\nimport controller.compat; controller.compat.install()\n' "$ROOT" \
      > "$site/zz_vnetsec_compat.pth"
  fi
  # The pins are the whole environment: nothing more, nothing less, nothing else.
  "$VENV/bin/python" - "$constraints" <<'EOF'
import re, subprocess, sys
def pins(lines):
    return {re.sub(r'[-_.]+', '-', n).lower(): v for n, _, v in
            (l.strip().partition('==') for l in lines) if v and not n.startswith('#')}
want = pins(open(sys.argv[1]))
have = pins(subprocess.run([sys.executable, '-m', 'pip', 'freeze', '--all', '--exclude-editable'],
                           capture_output=True, text=True, check=True).stdout.splitlines())
if want != have:
    diff = sorted(set(want.items()) ^ set(have.items()))
    sys.exit('setup.sh: %s differs from the environment (pip freeze --all): %s\n'
             'regenerate it with: %s -m pip freeze --all --exclude-editable'
             % (sys.argv[1], diff, sys.executable))
EOF
  "$VENV/bin/python" -m pip check -q >/dev/null || "$VENV/bin/python" -m pip check
  echo "$want" > "$stamp"
fi
