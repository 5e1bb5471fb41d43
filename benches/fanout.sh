#!/usr/bin/env bash
# benches/fanout.sh — pub/sub fan-out: one publish delivered to many WebSocket
# subscribers, sockloop's server next to a tokio peer, same load, same run.
#
#   sockloop          target/release/sockloop serve (pubsub at /pubsub)
#   tokio-broadcast   benches/peers/tokio-broadcast: tokio-tungstenite, a task per
#                     connection, a copy and a send per recipient (current-thread)
#
# Each server is pinned to one core (taskset -c $SERVER_CPU), the load generator,
# `sockloop bench fanout`, to another ($LOAD_CPU). Rounds alternate between the two
# servers (a fresh server for every run) so that drift on the machine hits both; each
# figure is the median of $RUNS runs of $DURATION seconds. Prints a table and writes
# it to $OUT (a section that benches/compare.sh-style reports can include).
#
# Settings (environment):
#   RUNS=3 DURATION=5            runs per server, seconds per run
#   SUBSCRIBERS=1000 PUBLISHERS=1 SIZE=64 DEPTH=16
#   SERVER_CPU=0 LOAD_CPU=1
#   OUT=docs/benchmarks-fanout.md   where the table goes ("-": nowhere)
#   CARGO_TARGET_DIR                 where the builds go (default target/)
# Everything listens on and targets 127.0.0.1 only; every step has a time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
PUBLISHERS=${PUBLISHERS:-1}
SIZE=${SIZE:-64}
DEPTH=${DEPTH:-16}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-docs/benchmarks-fanout.md}

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SOCKLOOP=$TARGET/release/sockloop
PEERS=$TARGET/peers
PEER=$PEERS/release/tokio-broadcast
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sockloop-fanout.XXXXXX")
SERVER_PID=
SERVERS=(sockloop tokio)
declare -A SERVER_CMD=(
    [sockloop]="taskset -c $SERVER_CPU sockloop serve -q -l http://127.0.0.1:0 --publish-rate 0 --max-conns-per-ip 0"
    [tokio]="taskset -c $SERVER_CPU tokio-broadcast 127.0.0.1:0"
)

say() { printf '%s\n' "$*" >&2; }
die() { say "fanout.sh: $*"; exit 1; }

cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- descriptors -------------------------------------------------------------------
# Every subscriber and publisher is a descriptor in the generator and one in the
# server; both inherit this shell's limit.
NEEDED=$((SUBSCRIBERS + PUBLISHERS + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEEDED" ]; then
    HARD=$(ulimit -Hn)
    if [ "$HARD" != unlimited ] && [ "$HARD" -lt "$NEEDED" ]; then
        die "$NEEDED file descriptors are needed, the hard limit is $HARD: use fewer SUBSCRIBERS"
    fi
    ulimit -n "$NEEDED"
fi

# --- build -------------------------------------------------------------------------
say "== building (sockloop --release, tokio-broadcast --release)"
timeout 900 cargo build --release --quiet
timeout 900 cargo build --release --quiet \
    --manifest-path benches/peers/tokio-broadcast/Cargo.toml --target-dir "$PEERS"

# --- servers -----------------------------------------------------------------------
# start_server NAME: starts it pinned to $SERVER_CPU and waits for its address; sets
# SERVER_PID and ADDR (host:port).
STARTS=0
start_server() {
    # A new file each time: the shell returns before the child has opened it, so a
    # reused name could still show the previous server's address.
    STARTS=$((STARTS + 1))
    local name=$1 out=$WORK/server.$STARTS.out last
    ADDR=''
    case $name in
    sockloop)
        taskset -c "$SERVER_CPU" "$SOCKLOOP" serve -q -l http://127.0.0.1:0 \
            --publish-rate 0 --max-conns-per-ip 0 >"$out" 2>&1 &
        last='^ready'
        ;;
    tokio)
        taskset -c "$SERVER_CPU" "$PEER" 127.0.0.1:0 >"$out" 2>&1 &
        last='^listening '
        ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 100); do
        if grep -q "$last" "$out" 2>/dev/null; then
            case $name in
            sockloop) ADDR=$(awk '$1 == "http" {print $2}' "$out") ;;
            tokio) ADDR=$(awk '$1 == "listening" {print $2}' "$out") ;;
            esac
            [ -n "$ADDR" ] || { cat "$out" >&2; die "$name printed no address"; }
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$out" >&2; die "$name did not start"; }
        sleep 0.1
    done
    cat "$out" >&2
    die "$name printed no address within 10 s"
}

# Ends the server with SIGTERM, then SIGKILL if it is still there after 10 s.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# --- measuring ---------------------------------------------------------------------
# json_field JSON KEY: a number (or null) from the bench's one-line JSON; the first
# occurrence (`p50` is the delivery latency's, `dropped` the fanout figures').
json_field() {
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1" | head -1
}

median() {
    tr ' ' '\n' | awk '$1 != "" && $1 != "null"' | sort -g |
        awk '{v[NR] = $1} END {if (NR == 0) print "null"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

BENCH_ARGS=(--subscribers "$SUBSCRIBERS" --publishers "$PUBLISHERS" --size "$SIZE" -d "$DEPTH" -t "$DURATION")
# Results: V[server.field] = the runs' values, space-separated.
declare -A V
ERRORS=0

# run_once SERVER RUN: one bench against a fresh server.
run_once() {
    local server=$1 run=$2 json
    start_server "$server"
    json=$(taskset -c "$LOAD_CPU" timeout $((DURATION + 120)) "$SOCKLOOP" bench fanout \
        "ws://$ADDR/pubsub" "${BENCH_ARGS[@]}" --server-pid "$SERVER_PID" --json -q \
        2>"$WORK/bench.err") || true
    stop_server
    if [ -z "$json" ]; then
        say "   $server run $run: no report: $(head -c 300 "$WORK/bench.err")"
        ERRORS=$((ERRORS + 1))
        V[$server.errors]+=" 1"
        return 0
    fi
    local f
    for f in deliveries_per_s publishes_per_s p50 p99 dropped errors cpu_pct server_cpu_pct \
        server_cpu_ns_per_delivery; do
        V[$server.$f]+=" $(json_field "$json" "$f")"
    done
    say "   $server run $run: $(json_field "$json" deliveries_per_s) deliveries/s, p99 $(json_field "$json" p99) µs, dropped $(json_field "$json" dropped), errors $(json_field "$json" errors), server $(json_field "$json" server_cpu_ns_per_delivery) ns/delivery ($(json_field "$json" server_cpu_pct)% cpu), generator $(json_field "$json" cpu_pct)% cpu"
}

say "== measuring: $RUNS round(s) × ${DURATION} s; $SUBSCRIBERS subscribers, $PUBLISHERS publisher(s), $SIZE B, depth $DEPTH; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
for run in $(seq "$RUNS"); do
    for server in "${SERVERS[@]}"; do
        run_once "$server" "$run"
    done
done

# M[server.field] = median of the runs.
declare -A M
for server in "${SERVERS[@]}"; do
    for f in deliveries_per_s publishes_per_s p50 p99 dropped cpu_pct server_cpu_pct \
        server_cpu_ns_per_delivery; do
        M[$server.$f]=$(median <<<"${V[$server.$f]:-}")
    done
    M[$server.errors]=$(tr ' ' '\n' <<<"${V[$server.errors]:-}" | awk '{s += $1} END {print s + 0}')
done

# --- report ------------------------------------------------------------------------
# shellcheck source=benches/report_fmt.sh
source "$ROOT/benches/report_fmt.sh"

{
    echo "| server | deliveries/s | publishes/s | p50 µs | p99 µs | drops | server CPU % | server CPU ns per delivery | generator CPU % | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for server in "${SERVERS[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s%s | %s |\n' "$server" \
            "$(fmt_int "${M[$server.deliveries_per_s]}")" \
            "$(fmt_int "${M[$server.publishes_per_s]}")" \
            "$(fmt_int "${M[$server.p50]}")" "$(fmt_int "${M[$server.p99]}")" \
            "$(fmt_int "${M[$server.dropped]}")" \
            "$(fmt_int "${M[$server.server_cpu_pct]}")" \
            "$(fmt_int "${M[$server.server_cpu_ns_per_delivery]}")" \
            "$(fmt_int "${M[$server.cpu_pct]}")" "$(sat "${M[$server.cpu_pct]}")" \
            "${M[$server.errors]}"
    done
} >"$WORK/table.md"
RATIO=$(ratio "${M[tokio.server_cpu_ns_per_delivery]}" "${M[sockloop.server_cpu_ns_per_delivery]}" %.2f)

say ""
cat "$WORK/table.md" >&2
say ""
say "server CPU per delivery, tokio-broadcast / sockloop: $RATIO"
[ "$ERRORS" = 0 ] || say "($ERRORS run(s) gave no report)"

[ "$OUT" = - ] && exit 0
mkdir -p "$(dirname "$OUT")"
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
{
    cat <<EOF
## Pub/sub fan-out

Generated by \`benches/fanout.sh\` — do not edit by hand; run the script again.
$(date -u '+%Y-%m-%d %H:%M UTC'); ${cpu_model:-unknown CPU}, $(nproc) CPU(s), Linux $(uname -r);
$(rustc --version). Median of $RUNS run(s) of $DURATION s per server, the servers
alternating, a fresh server for every run; each server pinned to CPU $SERVER_CPU, the
generator to CPU $LOAD_CPU.

Load: \`sockloop bench fanout\`, $SUBSCRIBERS WebSocket subscribers of one topic and
$PUBLISHERS publisher(s) of $SIZE B text payloads, each publisher keeping at most $DEPTH
publishes unanswered. Every delivery is checked (its publisher's sequence only goes
up; a gap must be announced by \`DROPPED N\`); latency is from the send time stamped
in the payload to its arrival at a subscriber. Deliveries/s count every subscriber's
copy; server CPU (user + system, /proc/PID/stat) is divided by them.

$(cat "$WORK/table.md")

Server CPU per delivery, tokio-broadcast / sockloop: **$RATIO** (above 1: sockloop
spends less per delivery).

tokio-broadcast (\`benches/peers/tokio-broadcast\`) is the idiomatic tokio design: a
task per connection, a bounded queue per subscriber and, per topic, the list of
queues; a publish is formatted once and reference-counted, and each recipient's task
frames it (a copy) and writes it with its own \`send\` (a syscall). Its subscribers'
queues hold 1,024 messages; sockloop applies its own slow-subscriber policy. Drops are the
sum of the \`DROPPED\` notices: a server that drops delivers less, so compare drops
before deliveries/s.

Commands (ADDR is the server's address):

\`\`\`
${SERVER_CMD[sockloop]}
${SERVER_CMD[tokio]}
taskset -c $LOAD_CPU sockloop bench fanout ws://ADDR/pubsub ${BENCH_ARGS[*]} --server-pid PID --json -q
\`\`\`
EOF
} >"$OUT"
say "wrote $OUT"
