#!/usr/bin/env bash
# The seed's question end to end, on real XDP (docs/walkthrough.md): what blocks the poller here,
# what each source costs, a change, and what it did. The change is one this machine allows: a
# process of our own on the poller's CPU (examples/competing_process.py), moved to another CPU
# (the remedy ringlab advises for a task). It ends with an experiment on a knob of the machine
# (step 7, with --apply: set only during its "with" trials, journalled, given back after each).
# Usage: bash scripts/walkthrough.sh [OUT]   (as root; give it the machine to itself)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/walkthrough}
RINGLAB=.venv/bin/ringlab
SCENARIO=examples/fixed-one-stall.toml
SETTINGS=(--set interval=10us --set packets=300000 --set 'stalls={model="none"}')
rm -rf "$OUT" && mkdir -p "$OUT"

.venv/bin/python examples/competing_process.py --cpu 0 > "$OUT/competing.pid" &
trap 'kill "$(cat "$OUT/competing.pid" 2>/dev/null)" 2>/dev/null || true' EXIT
sleep 1
PID=$(cat "$OUT/competing.pid")

echo "## 1. What blocks the poller here: a profile under the trial's own load"
$RINGLAB hw profile-load $SCENARIO "${SETTINGS[@]}" --duration 5s --out "$OUT/profile"
.venv/bin/python - "$OUT/profile/profile.json" <<'PY'
import json, sys
figures = json.load(open(sys.argv[1]))
rows = sorted(figures["by_source"].items(), key=lambda item: -item[1]["share_of_time"])
for name, row in rows[:8]:
    print(f"  {name:<45} {row['per_second']:9.1f}/s  {100 * row['share_of_time']:6.3f}% of the time  "
          f"longest {row['longest_ns'] / 1e3:8.1f} us")
PY

echo "## 2. What each source costs: predictions with and without the competing process"
$RINGLAB predict $SCENARIO "${SETTINGS[@]}" --profile "$OUT/profile" --out "$OUT/predict"
$RINGLAB predict $SCENARIO "${SETTINGS[@]}" --profile "$OUT/profile" --without 'task rl-spinner' \
  --out "$OUT/predict-without"

echo "## 3. Before the change: a trial"
$RINGLAB hw trial $SCENARIO --testbed "${SETTINGS[@]}" --out "$OUT/before"

echo "## 4. The change: move the process off the poller's CPU (its affinity; the remedy for a task)"
taskset -p -c 1 "$PID"

echo "## 5. After the change: a trial"
$RINGLAB hw trial $SCENARIO --testbed "${SETTINGS[@]}" --out "$OUT/after"

echo "## 6. What it did"
$RINGLAB diff "$OUT/before" "$OUT/after" --predicted "$OUT/predict-without" --out "$OUT/diff"

echo "## 7. A knob of the machine, tested as an experiment: interleaved pairs, given back after each trial"
# The competing process goes first: the experiment asks what the machine's own sources do.
kill "$PID" 2>/dev/null || true
if pgrep -x kdamond.0 >/dev/null; then KNOB=kdamond.cpus=1; else KNOB=vm.stat_interval=10; fi
$RINGLAB hw experiment examples/machine-noise.toml --knob "$KNOB" --trials 3 --apply --quiet --out "$OUT/experiment"
