#!/bin/bash
# The ledger on SQLite (one machine) against PostgreSQL (a cluster node), in one sitting,
# alternating, N rounds (default 3): fire lateness (`* * * * * *`, 60 fires), idle (60 s:
# context switches, CPU), 1,000 jobs at one instant. Starts a PostgreSQL of its own (Debian's
# `postgresql`: initdb and pg_ctl, as `postgres` when run as root) on a free port of 127.0.0.1,
# and gives each run a new database. Prints the harness's table; raw JSON in $BENCH_OUT/results.
#   benches/ledger-compare.sh [N]
# CLAWCRON_BASE_BIN=/path/to/an/older/clawcron adds that build on SQLite to each round (the
# "before" of a change, e.g. a release build of the commit before it in a git worktree).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$here/benches/harness}
export BENCH_OUT=${BENCH_OUT:-/tmp/clawcron-bench}
n=${1:-3}
(cd "$here" && cargo build --release --quiet)
[ -x "$BENCH_OUT/bin/stamp" ] || "$bench/setup.sh" >/dev/null
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "needs PostgreSQL: apt-get install postgresql" >&2; exit 2; }
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/clawcron-bench-pg.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -ne 0 ] || chown postgres "$pgdir"
export PGPASSWORD=bench-$$-$RANDOM
printf '%s' "$PGPASSWORD" > "$pgdir/pw"
chmod 644 "$pgdir/pw"
as_pg "$pgbin/initdb" -D "$pgdir/data" -U clawcron --auth-host=scram-sha-256 --auth-local=trust \
  --pwfile="$pgdir/pw" --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w \
  -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
trap 'as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null; rm -rf "$pgdir"' EXIT
pg=postgres://clawcron@127.0.0.1:$port
results=$BENCH_OUT/results
mkdir -p "$results"
before=$(ls "$results" | wc -l)
adapter=$here/benches/harness-adapter
measure() { # LEDGER MEASURE [ARGS]
  local ledger=$1; shift
  if [ "$ledger" = sqlite-before ]; then
    CLAWCRON_BIN=$CLAWCRON_BASE_BIN python3 "$bench/bench.py" "$@" --env CLAWCRON_BENCH_LEDGER=$ledger >/dev/null
  elif [ "$ledger" = postgresql ]; then
    CLAWCRON_BENCH_PG=$pg python3 "$bench/bench.py" "$@" --env CLAWCRON_BENCH_LEDGER=$ledger >/dev/null
  else
    python3 "$bench/bench.py" "$@" --env CLAWCRON_BENCH_LEDGER=$ledger >/dev/null
  fi
}
for i in $(seq "$n"); do
  for ledger in ${CLAWCRON_BASE_BIN:+sqlite-before} sqlite postgresql; do
    measure $ledger precision "$adapter"
    measure $ledger idle "$adapter"
    measure $ledger throughput "$adapter"
    echo "round $i: $ledger done" >&2
  done
done
new=$(ls -t "$results"/*.json | head -n $(( $(ls "$results" | wc -l) - before )))
python3 "$bench/bench.py" table $new
# Fire lateness pooled over every fire of the sitting, per ledger (a run of 60 fires has a noisy
# p99: its 60th value).
python3 - $new <<'PY'
import json, math, re, sys
fires = {}
for f in sys.argv[1:]:
    if "/precision-" in f:
        r = json.load(open(f))
        m = re.search(r"CLAWCRON_BENCH_LEDGER=([a-z-]+)", r["adapter"])
        fires.setdefault(m.group(1) if m else r["adapter"], []).extend(r["raw_ms"])
pct = lambda xs, p: xs[min(len(xs) - 1, math.ceil(p * len(xs)) - 1)]
for name, xs in sorted(fires.items()):
    xs.sort()
    print(f"| precision, pooled | {name} | fires {len(xs)} | p50 {pct(xs, .5):.1f} ms | p99 {pct(xs, .99):.1f} ms | max {xs[-1]:.1f} ms |")
PY
