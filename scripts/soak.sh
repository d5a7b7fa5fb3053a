#!/usr/bin/env bash
# Runs the real-XDP tests N times in a row (default 5) and prints, per test, how many runs it failed:
# a hardware test must hold on a noisy machine, and one run says little. Usage: scripts/soak.sh [N] [pytest args]
# Run it with SIGINT ignored too ( trap "" INT; scripts/soak.sh ), as CI runners start the suite.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
for run in $(seq 1 "$runs"); do
  RINGLAB_REQUIRE_HARDWARE=1 .venv/bin/python -m pytest -q -p no:cacheprovider -m hardware -rf "$@" >"$log/$run.txt" 2>&1
  echo "run $run of $runs: $(tail -n 1 "$log/$run.txt")"
done
echo "failures per test over $runs runs:"
failed=$(cat "$log"/*.txt | grep '^FAILED ' | sed -e 's/^FAILED //' -e 's/ - .*//' | sort | uniq -c | sort -rn)
if [ -z "$failed" ]; then echo "  none"; else echo "$failed"; exit 1; fi
