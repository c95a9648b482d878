#!/bin/bash
# The 1,000-jobs-at-one-instant burst, clawcron and the ideal loop alternating, N pairs (default 7):
# on this noisy 2-core machine a pair's two runs see the same conditions, so the median of the
# pair ratios is the figure to read.   benches/throughput-pairs.sh [N]
# Needs built peers (benches/compare.sh ideal does it) and a release build.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$here/benches/harness}
export BENCH_OUT=${BENCH_OUT:-/tmp/clawcron-bench}
n=${1:-7}
out=$BENCH_OUT/pairs-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
all_started() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["all_started_ms"]))' "$1"; }
ratios=()
for i in $(seq "$n"); do
  for a in "$here/benches/harness-adapter" "$bench/adapters/ideal"; do
    python3 "$bench/bench.py" throughput "$a" > /dev/null
    f=$(ls -t "$BENCH_OUT"/results/throughput-*.json | head -1)
    cp "$f" "$out/"
  done
  c=$(all_started "$(ls -t "$out"/throughput-harness-adapter-*.json | head -1)")
  d=$(all_started "$(ls -t "$out"/throughput-ideal-*.json | head -1)")
  r=$(python3 -c "print(round($c/$d, 2))")
  ratios+=("$r")
  echo "pair $i: clawcron all started $c ms, ideal $d ms, ratio $r"
done
python3 -c "import statistics,sys; print('median ratio', statistics.median(map(float, sys.argv[1:])))" "${ratios[@]}"
echo "raw: $out"
