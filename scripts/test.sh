#!/bin/bash
# Set everything up (idempotent), then run every test: unit tests, then the
# integration tests on real emulated data centers (root, one run at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --ovn        # OVN too: tests/integration/test_ovn_lab.py
# --durations: the slowest tests close the log, to keep the suite near 20 minutes
exec .venv/bin/python -m pytest -p no:cacheprovider -W ignore::DeprecationWarning \
    --durations=20 "$@" tests
