#!/bin/bash
# The other runtime, so that it does not rot: os-ken on the newest Python >= 3.12 this
# machine has (a python3.N on PATH or in /usr/local, or pyenv's) that the project pins
# (constraints-py3.N.txt), in an environment of its own, .venv-py3.N: the unit suite
# and the integration smoke test (tests/integration/test_smoke.py). .ci/run runs it
# after the README's test command. VNETSEC_PYTHON names the interpreter instead.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
system=$(version /usr/bin/python3)
if [ -z "${VNETSEC_PYTHON:-}" ] && [ "$(printf '3.12\n%s\n' "$system" | sort -V | head -1)" = 3.12 ]; then
  echo "== the machine's Python is $system: .venv already runs os-ken (scripts/test.sh)"
  exit 0
fi
newest() {
  for py in /usr/bin/python3.1[2-9] /usr/local/bin/python3.1[2-9] \
            "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    [ -x "$py" ] || continue
    v=$(version "$py")
    [ -f "constraints-py$v.txt" ] && echo "$v $py"
  done | sort -V | tail -1 | cut -d' ' -f2
}
python=${VNETSEC_PYTHON:-$(newest)}
if [ -z "$python" ]; then
  echo "test-os-ken.sh: no Python >= 3.12 that the project pins (constraints-py3.N.txt)" \
       "found: install one (pyenv install 3.13, uv python install 3.13) or name it in" \
       "VNETSEC_PYTHON" >&2
  exit 1
fi
v=$(version "$python")
echo "== os-ken on Python $v ($python)"
VNETSEC_PYTHON=$python VNETSEC_VENV=$(pwd)/.venv-py$v ./scripts/setup.sh
exec ".venv-py$v/bin/python" -m pytest -p no:cacheprovider -W ignore::DeprecationWarning "$@" \
  tests/unit tests/integration/test_smoke.py
