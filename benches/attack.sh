#!/bin/bash
# The edges under attack, in one sitting against the ideal loop (benches/harness):
#   benches/attack.sh [ROUNDS]      (default 2)
# For each round: the ideal loop's precision, clawcron's precision (plain), and clawcron's
# precision under attack (benches/attack-adapter: 256 open files, a heavy email template, a
# stuck report, 300 slow clients on both listeners, /healthz asked every 0.5 s). Prints the
# fire lateness of each and /healthz's answer times under attack. Release build.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bench=$here/benches/harness
export BENCH_OUT=${BENCH_OUT:-/tmp/clawcron-bench}
rounds=${1:-2}
(cd "$here" && cargo build --release --quiet)
"$bench/setup.sh" ideal > /dev/null
for r in $(seq "$rounds"); do
  for adapter in "$bench/adapters/ideal" "$here/benches/harness-adapter" "$here/benches/attack-adapter"; do
    python3 "$bench/bench.py" precision "$adapter" > /dev/null
  done
done
python3 - "$BENCH_OUT" "$rounds" <<'PY'
import glob, json, os, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def latest(name, n):
    files = sorted(glob.glob(f"{out}/results/precision-{name}-*.json"), key=os.path.getmtime)[-n:]
    return [json.load(open(f)) for f in files]
print("| daemon | fires | missed | doubled | lateness p50 / p99 / max (ms) |")
print("|---|---|---|---|---|")
for name in ["ideal", "harness-adapter", "attack-adapter"]:
    for r in latest(name, rounds):
        l = r["lateness_ms"]
        print(f"| {name} | {r['fired']} | {r['missed']} | {r['duplicates']} | {l['p50']:.2f} / {l['p99']:.2f} / {l['max']:.2f} |")
runs = sorted(glob.glob(f"{out}/runs/precision-attack-adapter-*"), key=os.path.getmtime)[-rounds:]
for wd in runs:
    a = json.load(open(os.path.join(wd, "attack.json")))
    print(f"/healthz under attack ({os.path.basename(wd)}): {a['probes']} probes, {a['failed']} without a 200 within 1 s, "
          f"answer p50 {a['healthz_ms']['p50']} ms, p99 {a['healthz_ms']['p99']} ms, max {a['healthz_ms']['max']} ms; {a['slow_clients']}")
PY
