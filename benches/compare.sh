#!/bin/bash
# Measures clawcron against the harness's ideal loop (and optionally other peers) in one sitting:
#   benches/compare.sh [PEER...]      e.g. benches/compare.sh ideal tcs apscheduler cron
# (apscheduler: pip install apscheduler==3.11.3; cron: apt-get install cron, needs root)
# The harness is benches/harness (bench.py, the stamp job, the peers). Builds clawcron (release) and the Rust peers, then runs
# precision, idle, scale x2 and throughput x3 for each, one at a time, and prints the table.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$here/benches/harness}
export BENCH_OUT=${BENCH_OUT:-/tmp/clawcron-bench}
peers=${*:-ideal}
(cd "$here" && cargo build --release --quiet)
rust_peers=$(for p in $peers; do case $p in ideal|tcs) echo "$p";; esac; done)
[ -z "$rust_peers" ] || "$bench/setup.sh" $rust_peers
stamp=$(date +%Y%m%d-%H%M%S)
results=$BENCH_OUT/results
mkdir -p "$results"
before=$(ls "$results" 2>/dev/null | wc -l)
run() { python3 "$bench/bench.py" "$@" > /dev/null; }
for adapter in "$here/benches/harness-adapter" $(for p in $peers; do echo "$bench/adapters/$p"; done); do
  # cron has minute resolution: its precision and burst are measured on minute boundaries.
  case $(basename "$adapter") in
    cron) prec="--minute --fires 4"; burst="--minute";;
    *) prec=""; burst="";;
  esac
  run precision "$adapter" $prec
  run idle "$adapter"
  run scale "$adapter"; run scale "$adapter"
  run throughput "$adapter" $burst; run throughput "$adapter" $burst; run throughput "$adapter" $burst
done
new=$(ls -t "$results"/*.json | head -n $(( $(ls "$results" | wc -l) - before )))
python3 "$bench/bench.py" table $new | tee "$BENCH_OUT/table-$stamp.md"
