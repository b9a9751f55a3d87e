#!/usr/bin/env bash
# Unit tests + nbval of every notebook at the smoke profile, then the browser test (tests/test_browser.py),
# which builds the smoke book from the same notebooks, reading the runs nbval left in the run stores,
# and reads it in headless Chromium. Run results go to a temporary results root (never into the book
# or results/); pytest's "no tests collected" (exit 5) fails.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export AUTOSCALE_RESULTS_ROOT="$tmp/results"
.venv/bin/python -m pytest tests notebooks --ignore tests/test_browser.py --nbval-lax -p no:cacheprovider "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then exit "$status"; fi
start=$(date +%s)
.venv/bin/python -m pytest tests/test_browser.py -p no:cacheprovider "$@"
status=$?
echo "browser test (smoke book build included): $(( $(date +%s) - start )) s"
exit "$status"
