#!/usr/bin/env bash
# bench.sh — throughput and latency of Gregor against two reference points, alternated in one run:
#
#   gregor       this repository's broker (disk-backed)
#   kfake        franz-go's in-memory kfake cluster (internal/kfakebroker), stores nothing on disk
#   null-broker  ../shared/bench/null-broker -mode file: the client- and disk-bound ceiling
#   gregor-cluster  `gregor dev --brokers 3`: three KRaft nodes (subprocesses), topics RF=3 with
#                min.insync.replicas=2; not in the default TARGETS (`make bench-cluster` runs it
#                against gregor: TARGETS="gregor gregor-cluster")
#   gregor-cluster2  the same cluster with CLUSTER2_SET instead of CLUSTER_SET, on CLUSTER2_PORT: two
#                broker configs compared in one run, e.g. CLUSTER2_SET="num.replica.fetchers=2"
#
# For ROUNDS rounds (the order of the targets rotates every round), each target gets a fresh server
# and a fresh data directory, and runs, on 6 partitions:
#   perf produce + perf consume of 1,000,000 x 100 B and 400,000 x 1 KiB records, acks=all and acks=1
#   perf e2e at 1,000 records/s (10,000 x 100 B, acks=all)
# then the server is stopped and its directory deleted. The medians per (target, case) go to a
# Markdown file: $1, default bench-out/results.md (raw JSON lines next to it, *.jsonl).
#
# Usage: bash scripts/bench.sh [OUT.md]
# Environment: ROUNDS (5), PARTITIONS (6), E2E_RECORDS (10000), E2E_RATE (1000),
#   GREGOR_PORT (19301), KFAKE_PORT (19302), NULL_PORT (19303), TARGETS ("gregor kfake null-broker"),
#   CLUSTER_PORT (19310: brokers on 19310-19312, controllers on 19313-19315),
#   GREGOR_BIN (a prebuilt gregor binary to measure instead of this checkout's, e.g. another commit's),
#   CLUSTER_SET (broker configs for gregor-cluster's nodes, space-separated key=value, e.g.
#   "replica.fetch.wait.max.ms=50"), CLUSTER2_SET and CLUSTER2_PORT (19320) for gregor-cluster2, CASE_NAMES (every case: "100B-acks_all 100B-acks_1 1KiB-acks_all 1KiB-acks_1"), E2E (1; 0 skips e2e),
#   DATA_ROOT (a new dir under ${TMPDIR:-/tmp}), NULL_BROKER_DIR (../shared/bench/null-broker),
#   RUN_TIMEOUT (300 s per client run), START_TIMEOUT (30 s for a server's port to open).
# Needs: go, python3 (for the medians), timeout (coreutils).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-bench-out/results.md}"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
RAW="${OUT%.md}.jsonl"
ROUNDS="${ROUNDS:-5}"
PARTITIONS="${PARTITIONS:-6}"
E2E_RECORDS="${E2E_RECORDS:-10000}"
E2E_RATE="${E2E_RATE:-1000}"
GREGOR_PORT="${GREGOR_PORT:-19301}"
KFAKE_PORT="${KFAKE_PORT:-19302}"
NULL_PORT="${NULL_PORT:-19303}"
CLUSTER_PORT="${CLUSTER_PORT:-19310}"
CLUSTER2_PORT="${CLUSTER2_PORT:-19320}"
E2E="${E2E:-1}"
TARGETS="${TARGETS:-gregor kfake null-broker}"
NULL_BROKER_DIR="${NULL_BROKER_DIR:-$REPO/../shared/bench/null-broker}"
RUN_TIMEOUT="${RUN_TIMEOUT:-300}"
START_TIMEOUT="${START_TIMEOUT:-30}"

# name records size acks
CASES=(
  "100B-acks_all 1000000 100 all"
  "100B-acks_1 1000000 100 1"
  "1KiB-acks_all 400000 1024 all"
  "1KiB-acks_1 400000 1024 1"
)
if [ -n "${CASE_NAMES:-}" ]; then
  sel=()
  for c in "${CASES[@]}"; do
    for want in $CASE_NAMES; do [ "${c%% *}" = "$want" ] && sel+=("$c"); done
  done
  [ "${#sel[@]}" -gt 0 ] || { echo "CASE_NAMES=$CASE_NAMES matches no case" >&2; exit 1; }
  CASES=("${sel[@]}")
fi

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

mkdir -p "$(dirname "$OUT")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gregor-bench.XXXXXX")"
BIN="$WORK/bin"
DATA_ROOT="${DATA_ROOT:-$WORK/data}"
mkdir -p "$BIN" "$DATA_ROOT"
SERVER_PID=""

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid="$SERVER_PID"
  SERVER_PID=""
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 600); do # 60 s (gregor-cluster stops three nodes in turn), then SIGKILL
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "server $pid did not stop on SIGTERM within 60 s; killing it and its children"
  pkill -KILL -P "$pid" 2>/dev/null || true # gregor-cluster's nodes, by parent PID
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_server
  rm -rf "$WORK"
  [ "$DATA_ROOT" = "$WORK/data" ] || rm -rf "$DATA_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- build ----------------------------------------------------------------------------------------
log "building into $BIN"
if [ -n "${GREGOR_BIN:-}" ]; then
  cp "$GREGOR_BIN" "$BIN/gregor"
else
  (cd "$REPO" && go build -o "$BIN/gregor" ./cmd/gregor)
fi
case " $TARGETS " in *" kfake "*) (cd "$REPO" && go build -o "$BIN/kfakebroker" ./internal/kfakebroker) ;; esac
case " $TARGETS " in *" null-broker "*) (cd "$NULL_BROKER_DIR" && go build -o "$BIN/null-broker" .) ;; esac

port_of() {
  case "$1" in
    gregor) echo "$GREGOR_PORT" ;;
    kfake) echo "$KFAKE_PORT" ;;
    null-broker) echo "$NULL_PORT" ;;
    gregor-cluster) echo "$CLUSTER_PORT" ;;
    gregor-cluster2) echo "$CLUSTER2_PORT" ;;
    *) echo "unknown target $1" >&2; return 1 ;;
  esac
}

# ports_of TARGET: every port the target listens on.
ports_of() {
  local p
  p="$(port_of "$1")"
  case "$1" in gregor-cluster*) seq "$p" $((p + 5)) ;; *) echo "$p" ;; esac
}
# bootstrap_of TARGET: the client's bootstrap servers.
bootstrap_of() {
  local p
  p="$(port_of "$1")"
  case "$1" in gregor-cluster*) echo "127.0.0.1:$p,127.0.0.1:$((p + 1)),127.0.0.1:$((p + 2))" ;; *) echo "127.0.0.1:$p" ;; esac
}

for t in $TARGETS; do
  for p in $(ports_of "$t"); do
    if port_open "$p"; then
      echo "port $p (for $t) is already in use; choose another with GREGOR_PORT, KFAKE_PORT, NULL_PORT, CLUSTER_PORT or CLUSTER2_PORT" >&2
      exit 1
    fi
  done
done

# start_server TARGET DATADIR: starts the server in the background, sets SERVER_PID, waits for its port.
start_server() {
  local t="$1" dir="$2" port
  port="$(port_of "$t")"
  mkdir -p "$dir"
  case "$t" in
    gregor)
      "$BIN/gregor" server --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$dir" \
        --log-level warn >"$dir.log" 2>&1 &
      ;;
    kfake)
      "$BIN/kfakebroker" -port "$port" -partitions "$PARTITIONS" >"$dir.log" 2>&1 &
      ;;
    null-broker)
      "$BIN/null-broker" -port "$port" -mode file -partitions "$PARTITIONS" -dir "$dir" >"$dir.log" 2>&1 &
      ;;
    gregor-cluster*)
      # NB: RF=3 and min.insync.replicas=2 are the dev cluster's defaults; each node logs to $dir/node<N>.log.
      local sets=() kv
      local set="${CLUSTER_SET:-}"
      [ "$t" = gregor-cluster2 ] && set="${CLUSTER2_SET:-}"
      for kv in $set; do sets+=(--set "$kv"); done
      "$BIN/gregor" dev --brokers 3 --listen "127.0.0.1:$port" --data "$dir" "${sets[@]}" >"$dir.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  local deadline=$((SECONDS + START_TIMEOUT))
  # ready: the port opens; a dev cluster prints its banner once every node is registered and unfenced.
  ready() {
    if [ "${t#gregor-cluster}" != "$t" ]; then grep -q "dev cluster is running" "$dir.log" 2>/dev/null; else port_open "$port"; fi
  }
  until ready; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "$t exited before opening port $port:"; cat "$dir.log" >&2; SERVER_PID=""; return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$t did not open port $port within ${START_TIMEOUT}s"; stop_server; return 1
    fi
    sleep 0.1
  done
}

# server_ticks: CPU time (utime+stime, clock ticks) of the server and its children (gregor-cluster's
# nodes are children of `gregor dev`), so each client run records what the server side spent.
server_ticks() {
  local pids p sum=0 st
  pids="$SERVER_PID $(pgrep -P "$SERVER_PID" 2>/dev/null | tr '\n' ' ')"
  for p in $pids; do
    st="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    st="${st##*) }" # fields after the command name; utime and stime are the 12th and 13th
    read -r -a f <<<"$st"
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
TICKS_BEFORE=0
# record TARGET CASE ROUND KIND OUTPUTFILE: appends the client's final JSON line, tagged, to $RAW,
# with the server's CPU seconds during the run and the 1-minute load average after it.
record() {
  local line cpu load
  cpu="$(awk -v t="$(($(server_ticks) - TICKS_BEFORE))" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')"
  load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)"
  line="$(grep '^{' "$5" | tail -n 1 || true)"
  if [ -z "$line" ]; then
    log "no JSON from $4 ($1 $2 round $3):"; tail -n 5 "$5" >&2; return 0
  fi
  printf '{"target":"%s","case":"%s","round":%d,"kind":"%s","busy_before_pct":%d,"server_cpu_s":%s,"loadavg":%s,"result":%s}\n' \
    "$1" "$2" "$3" "$4" "$BUSY" "$cpu" "$load" "$line" >>"$RAW"
}

perf() { timeout -k 10 "$RUN_TIMEOUT" "$BIN/gregor" perf "$@"; }

# busy_pct: percentage of the machine's CPU time that was not idle over the next half second. Our own
# server is idle between client runs, so this is other load (other users' builds and tests).
busy_pct() {
  local a b
  a=($(head -n 1 /proc/stat)); sleep 0.5; b=($(head -n 1 /proc/stat))
  local i tot=0 idle
  for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
  idle=$((b[4] - a[4] + b[5] - a[5]))
  [ "$tot" -gt 0 ] && echo $(((tot - idle) * 100 / tot)) || echo 0
}
# wait_quiet: before a client run, wait (at most QUIET_WAIT s) until other load is below QUIET_MAX %.
# The load seen last is recorded with the run; the table reports the highest.
QUIET_MAX="${QUIET_MAX:-20}"
QUIET_WAIT="${QUIET_WAIT:-120}"
BUSY=0
wait_quiet() {
  [ -r /proc/stat ] || return 0
  local deadline=$((SECONDS + QUIET_WAIT))
  BUSY="$(busy_pct)"
  while [ "$BUSY" -gt "$QUIET_MAX" ] && [ "$SECONDS" -lt "$deadline" ]; do
    log "machine ${BUSY}% busy with other work; waiting"
    sleep 2
    BUSY="$(busy_pct)"
  done
}

run_target() {
  local t="$1" r="$2" bs rf dir c name n size acks topic o
  bs="$(bootstrap_of "$t")"
  rf=-1
  [ "${t#gregor-cluster}" != "$t" ] && rf=3
  dir="$DATA_ROOT/$t-r$r"
  rm -rf "$dir" "$dir.log"
  start_server "$t" "$dir" || return 0
  o="$WORK/out.txt"
  for c in "${CASES[@]}"; do
    read -r name n size acks <<<"$c"
    topic="bench-$name-r$r"
    topic="${topic//_/-}"
    wait_quiet
    log "round $r $t $name produce"
    TICKS_BEFORE="$(server_ticks)"
    perf produce -b "$bs" --topic "$topic" --num-records "$n" --record-size "$size" \
      --acks "$acks" --partitions "$PARTITIONS" --replication-factor "$rf" --reporting-interval-ms 600000 --output-json >"$o" 2>&1 || true
    record "$t" "$name" "$r" produce "$o"
    wait_quiet
    log "round $r $t $name consume"
    TICKS_BEFORE="$(server_ticks)"
    perf consume -b "$bs" --topic "$topic" --messages "$n" --hide-header --output-json >"$o" 2>&1 || true
    record "$t" "$name" "$r" consume "$o"
  done
  if [ "$E2E" != 0 ]; then
    wait_quiet
    log "round $r $t e2e ${E2E_RECORDS} x 100 B at ${E2E_RATE}/s"
    perf e2e -b "$bs" --topic "bench-e2e-r$r" --num-records "$E2E_RECORDS" --throughput "$E2E_RATE" \
      --record-size 100 --acks all --partitions "$PARTITIONS" --output-json >"$o" 2>&1 || true
    record "$t" e2e "$r" e2e "$o"
  fi
  stop_server
  rm -rf "$dir" "$dir.log"
}

: >"$RAW"
read -r -a TLIST <<<"$TARGETS"
NT=${#TLIST[@]}
for r in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((NT - 1))); do
    run_target "${TLIST[$(((i + r - 1) % NT))]}" "$r"
  done
done

# --- medians and table ----------------------------------------------------------------------------
python3 - "$RAW" "$OUT" "$ROUNDS" "$PARTITIONS" "$E2E_RECORDS" "$E2E_RATE" "$TARGETS" <<'PY'
import json, statistics, sys, datetime
raw, out, rounds, parts, e2e_n, e2e_rate, targets = sys.argv[1:8]
targets = targets.split()
rows = [json.loads(l) for l in open(raw) if l.strip()]
vals = {}  # (target, case, kind, field) -> [values]
for x in rows:
    for k, v in x["result"].items():
        if isinstance(v, (int, float)):
            vals.setdefault((x["target"], x["case"], x["kind"], k), []).append(float(v))
def med(t, c, kind, f):
    v = vals.get((t, c, kind, f))
    return statistics.median(v) if v else None
def n(t, c, kind):
    return len(vals.get((t, c, kind, "records"), []))
def fmt(v, d=1):
    return "–" if v is None else f"{v:,.{d}f}"
def ratio(a, b):
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}"
cases = [c for c in ["100B-acks_all", "100B-acks_1", "1KiB-acks_all", "1KiB-acks_1"]
         if any(x["case"] == c for x in rows)]
label = {"100B-acks_all": "1,000,000 × 100 B, acks=all", "100B-acks_1": "1,000,000 × 100 B, acks=1",
         "1KiB-acks_all": "400,000 × 1 KiB, acks=all", "1KiB-acks_1": "400,000 × 1 KiB, acks=1"}
L = []
L.append(f"Medians of {rounds} rounds ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC), "
         f"{parts} partitions, `gregor perf` (franz-go) client; n = runs that produced a result.\n")
L.append("### Produce and consume\n")
L.append("| case | target | n | produce MB/s | produce rec/s | produce p50 ms | p99 ms | p99.9 ms | consume MB/s | consume rec/s |")
L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
for c in cases:
    for t in targets:
        L.append(f"| {label[c]} | {t} | {n(t,c,'produce')}/{n(t,c,'consume')} | "
                 f"{fmt(med(t,c,'produce','mb_per_sec'))} | {fmt(med(t,c,'produce','records_per_sec'),0)} | "
                 f"{fmt(med(t,c,'produce','p50_ms'))} | {fmt(med(t,c,'produce','p99_ms'))} | {fmt(med(t,c,'produce','p999_ms'))} | "
                 f"{fmt(med(t,c,'consume','mb_per_sec'))} | {fmt(med(t,c,'consume','records_per_sec'),0)} |")
if "gregor" in targets and "null-broker" in targets:
    L.append("\n### Ratio gregor / null-broker (medians)\n")
    L.append("| case | produce MB/s | consume MB/s | produce p99 latency |")
    L.append("|---|--:|--:|--:|")
    for c in cases:
        L.append(f"| {label[c]} | {ratio(med('gregor',c,'produce','mb_per_sec'), med('null-broker',c,'produce','mb_per_sec'))} | "
                 f"{ratio(med('gregor',c,'consume','mb_per_sec'), med('null-broker',c,'consume','mb_per_sec'))} | "
                 f"{ratio(med('gregor',c,'produce','p99_ms'), med('null-broker',c,'produce','p99_ms'))} |")
L.append(f"\n### End-to-end latency, {int(e2e_n):,} × 100 B at {float(e2e_rate):,.0f} records/s, acks=all\n")
L.append("| target | n | p50 ms | p99 ms | p99.9 ms | max ms |")
L.append("|---|--:|--:|--:|--:|--:|")
for t in targets:
    L.append(f"| {t} | {n(t,'e2e','e2e')} | {fmt(med(t,'e2e','e2e','p50_ms'),2)} | {fmt(med(t,'e2e','e2e','p99_ms'),2)} | "
             f"{fmt(med(t,'e2e','e2e','p999_ms'),2)} | {fmt(med(t,'e2e','e2e','max_latency_ms'),2)} |")
if "gregor" in targets and "null-broker" in targets:
    L.append(f"| gregor / null-broker | | {ratio(med('gregor','e2e','e2e','p50_ms'), med('null-broker','e2e','e2e','p50_ms'))} | "
             f"{ratio(med('gregor','e2e','e2e','p99_ms'), med('null-broker','e2e','e2e','p99_ms'))} | "
             f"{ratio(med('gregor','e2e','e2e','p999_ms'), med('null-broker','e2e','e2e','p999_ms'))} | |")
if "gregor" in targets and "kfake" in targets:
    L.append(f"| gregor / kfake | | {ratio(med('gregor','e2e','e2e','p50_ms'), med('kfake','e2e','e2e','p50_ms'))} | "
             f"{ratio(med('gregor','e2e','e2e','p99_ms'), med('kfake','e2e','e2e','p99_ms'))} | "
             f"{ratio(med('gregor','e2e','e2e','p999_ms'), med('kfake','e2e','e2e','p999_ms'))} | |")
if set(["gregor", "null-broker", "kfake"]) <= set(targets):
    c = "1KiB-acks_all"
    pg, pn = med("gregor", c, "produce", "mb_per_sec"), med("null-broker", c, "produce", "mb_per_sec")
    cg, cn = med("gregor", c, "consume", "mb_per_sec"), med("null-broker", c, "consume", "mb_per_sec")
    eg, ek = med("gregor", "e2e", "e2e", "p99_ms"), med("kfake", "e2e", "e2e", "p99_ms")
    def ok(b): return "–" if b is None else ("**meets**" if b else "**misses**")
    L.append("\n### Targets\n")
    L.append("| target | measured | verdict |")
    L.append("|---|--:|---|")
    L.append(f"| produce 400,000 × 1 KiB acks=all ≥ 90% of null-broker MB/s | {ratio(pg, pn)} | {ok(None if None in (pg, pn) else pg >= 0.9 * pn)} |")
    L.append(f"| consume 400,000 × 1 KiB acks=all ≥ 100% of null-broker MB/s | {ratio(cg, cn)} | {ok(None if None in (cg, cn) else cg >= cn)} |")
    L.append(f"| e2e p99 at {float(e2e_rate):,.0f} rec/s ≤ kfake's | {fmt(eg,2)} vs {fmt(ek,2)} ms | {ok(None if None in (eg, ek) else eg <= ek)} |")
for cl in [t for t in targets if t.startswith("gregor-cluster") and "gregor" in targets]:
    # NB: ratios per round (the two targets ran back to back in each round), then their median and
    # spread: the machine's load drifts between rounds more than between neighbouring runs.
    per = {}  # (case, kind) -> [ratio per round]
    by = {(x["target"], x["case"], x["kind"], x["round"]): x["result"].get("mb_per_sec") for x in rows}
    for (t, c, kind, r), v in by.items():
        if t != cl or not v:
            continue
        ref = by.get(("gregor", c, kind, r))
        if ref:
            per.setdefault((c, kind), []).append(v / ref)
    L.append(f"\n### 3-node cluster {cl} (RF=3, min.insync.replicas=2) / single node, MB/s per round\n")
    L.append("| case | produce ratio median | min – max | consume ratio median | min – max | n | target ≥ 0.50 |")
    L.append("|---|--:|--:|--:|--:|--:|---|")
    for c in cases:
        p, q = per.get((c, "produce"), []), per.get((c, "consume"), [])
        def m(v): return "–" if not v else f"{statistics.median(v):.2f}"
        def mm(v): return "–" if not v else f"{min(v):.2f} – {max(v):.2f}"
        verdict = "–"
        if p and q:
            verdict = "**meets**" if min(statistics.median(p), statistics.median(q)) >= 0.5 else "**misses**"
        L.append(f"| {label[c]} | {m(p)} | {mm(p)} | {m(q)} | {mm(q)} | {len(p)}/{len(q)} | {verdict} |")
# server-side CPU per GB moved (all of the server's processes: three nodes for gregor-cluster),
# which tells a CPU-bound ratio from a latency-bound one on a shared machine
cpu = {}
for x in rows:
    size = {"100B": 100, "1KiB": 1024}.get(x["case"].split("-")[0], 0)
    gb = x["result"].get("records", 0) * size / 1e9
    if "server_cpu_s" in x and gb > 0:
        cpu.setdefault((x["target"], x["case"], x["kind"]), []).append(x["server_cpu_s"] / gb)
if cpu:
    L.append("\n### Server CPU seconds per GB of record values (median over rounds)\n")
    L.append("| case | target | produce | consume |")
    L.append("|---|---|--:|--:|")
    for c in cases:
        for t in targets:
            def cm(kind):
                v = cpu.get((t, c, kind))
                return "–" if not v else f"{statistics.median(v):.1f}"
            L.append(f"| {label[c]} | {t} | {cm('produce')} | {cm('consume')} |")
loads = [x["loadavg"] for x in rows if "loadavg" in x]
if loads:
    L.append(f"\n1-minute load average after the client runs: median {statistics.median(loads):.1f}, "
             f"min {min(loads):.1f}, max {max(loads):.1f}.")
# spread, so that a reader can judge the medians
L.append("\n### Spread (min – max over rounds)\n")
L.append("| case | target | produce MB/s | consume MB/s | e2e p99 ms |")
L.append("|---|---|--:|--:|--:|")
def rng(t, c, kind, f, d=1):
    v = vals.get((t, c, kind, f))
    return "–" if not v else f"{min(v):,.{d}f} – {max(v):,.{d}f}"
for c in cases:
    for t in targets:
        L.append(f"| {label[c]} | {t} | {rng(t,c,'produce','mb_per_sec')} | {rng(t,c,'consume','mb_per_sec')} | |")
for t in targets:
    L.append(f"| e2e | {t} | | | {rng(t,'e2e','e2e','p99_ms',2)} |")
busy = [x.get("busy_before_pct", 0) for x in rows]
if busy:
    L.append(f"\nOther load on the machine just before each client run (CPU busy, sampled over 0.5 s): "
             f"median {statistics.median(busy):.0f}%, max {max(busy)}%.")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
log "results: $OUT (raw: $RAW)"
