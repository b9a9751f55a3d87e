#!/usr/bin/env bash
# Unit tests + nbval of every notebook at the smoke profile. Run results go to a temporary
# results root (never into the book or results/); pytest's "no tests collected" (exit 5) fails.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export AUTOSCALE_RESULTS_ROOT="$tmp/results"
.venv/bin/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
