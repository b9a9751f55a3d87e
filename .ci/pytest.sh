#!/usr/bin/env bash
# The book's runs at the smoke profile trained once (two at a time), then in one pytest session on two
# workers (pytest-xdist; one file per worker at a time, so a notebook's cells stay in order): the unit
# tests, nbval of every notebook at smoke (each with a run store of its own, seeded with its chapter's
# plan: notebooks/conftest.py) and the browser test (tests/test_browser.py: the smoke book built from
# the same runs, read in headless Chromium) and Ray's tests. Run results go to a temporary
# results root (never into the book or results/); pytest's "no tests collected" (exit 5) fails.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export AUTOSCALE_RESULTS_ROOT="$tmp/results"
# One thread a process: two workers on two cores (small models use cores better as parallel one-thread runs).
export OMP_NUM_THREADS=1
start=$(date +%s)
AUTOSCALE_WORKERS=2 .venv/bin/python -m autoscale records train --profile smoke --device cpu || exit 1
echo "the book's runs at smoke: $(( $(date +%s) - start )) s"
# One session on two workers; conftest.py keeps each test file on one worker (a notebook's cells in
# order) and the files that start a local Ray instance on the same one, one after another (two Ray
# instances started at once on two busy cores time out at start-up).
start=$(date +%s)
.venv/bin/python -m pytest -n 2 --dist loadscope tests notebooks --nbval-lax -p no:cacheprovider "$@"
status=$?
echo "unit tests, Ray's tests, nbval and the browser test: $(( $(date +%s) - start )) s"
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
