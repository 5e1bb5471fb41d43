#!/usr/bin/env bash
# benches/compare.sh — sockloop next to its peers, the same work, one run, one machine.
#
# Builds and runs, one after the other, each server pinned to one core (taskset -c
# $SERVER_CPU) and the load generator, `sockloop bench`, on another ($LOAD_CPU):
#   sockloop          target/release/sockloop serve
#   tokio-tungstenite benches/peers/tokio-echo (current-thread runtime), WebSocket only
#   C epoll           benches/c/epoll_echo.c, raw TCP and UDP echo: the syscall path's limit
# Each figure is the median of $RUNS runs of $DURATION seconds. Prints a table and
# regenerates docs/BENCHMARKS.md (both written by benches/compare_report.sh).
#
# Settings (environment):
#   RUNS=3 DURATION=5     runs per figure, seconds per run
#   QUICK=1               1 run of 2 s, 2,000 idle connections: a smoke test of the tooling
#   IDLE_CONNS=10000 IDLE_HOLD=3
#   CALLGRIND=1           also count instructions per echoed message with valgrind
#   AUTOBAHN=1            also time the Autobahn 9.* cases against sockloop and tokio
#   CG_T1=2 CG_T2=8       seconds of the two loads of each callgrind run (slope method)
#   SERVER_CPU=0 LOAD_CPU=1
#   WORKER_CPUS=0,1       the CPUs of `serve --workers 2` in the multi-core row (on a
#                         2-CPU machine they include the generator's: say so when reading)
#   OUT=docs/BENCHMARKS.md          where the report goes ("-": nowhere)
# Everything listens on and targets 127.0.0.1 only; every step has a time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    RUNS=${RUNS:-1}
    DURATION=${DURATION:-2}
    IDLE_CONNS=${IDLE_CONNS:-2000}
    IDLE_HOLD=${IDLE_HOLD:-1}
fi
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_HOLD=${IDLE_HOLD:-3}
CALLGRIND=${CALLGRIND:-0}
AUTOBAHN=${AUTOBAHN:-0}
CG_T1=${CG_T1:-2}
CG_T2=${CG_T2:-8}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
WORKER_CPUS=${WORKER_CPUS:-$SERVER_CPU,$LOAD_CPU}
OUT=${OUT:-docs/BENCHMARKS.md}

SOCKLOOP=$ROOT/target/release/sockloop
PEERS=$ROOT/target/peers
TOKIO=$PEERS/release/tokio-echo
CECHO=$PEERS/epoll_echo
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sockloop-compare.XXXXXX")
SERVER_PID=
# Server command lines as run, for the report.
declare -A SERVER_CMD

say() { printf '%s\n' "$*" >&2; }
die() { say "compare.sh: $*"; exit 1; }

cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- servers ---------------------------------------------------------------------
# start_server NAME: starts it pinned to $SERVER_CPU, waits until it prints its
# ports; sets SERVER_PID, WS (host:port), TCP, UDP.
STARTS=0
start_server() {
    # A new file each time: the shell returns before the child has opened it, so a
    # reused name could still show the previous server's ports.
    STARTS=$((STARTS + 1))
    local name=$1 out=$WORK/server.$STARTS.out
    WS='' TCP='' UDP=''
    case $name in
    sockloop)
        SERVER_CMD[$name]="taskset -c $SERVER_CPU sockloop serve -q --max-conns $((IDLE_CONNS + 1000)) --max-conns-per-ip 0 -l http://127.0.0.1:0 -l tcp://127.0.0.1:0=echo -l udp://127.0.0.1:0=echo"
        taskset -c "$SERVER_CPU" "$SOCKLOOP" serve -q --max-conns $((IDLE_CONNS + 1000)) --max-conns-per-ip 0 \
            -l http://127.0.0.1:0 -l tcp://127.0.0.1:0=echo -l udp://127.0.0.1:0=echo \
            >"$out" 2>&1 &
        ;;
    sockloop-w2)
        SERVER_CMD[$name]="taskset -c $WORKER_CPUS sockloop serve -q --workers 2 --max-conns $((IDLE_CONNS + 1000)) --max-conns-per-ip 0 -l http://127.0.0.1:0 -l tcp://127.0.0.1:0=echo"
        taskset -c "$WORKER_CPUS" "$SOCKLOOP" serve -q --workers 2 --max-conns $((IDLE_CONNS + 1000)) --max-conns-per-ip 0 \
            -l http://127.0.0.1:0 -l tcp://127.0.0.1:0=echo >"$out" 2>&1 &
        ;;
    tokio)
        SERVER_CMD[$name]="taskset -c $SERVER_CPU tokio-echo 127.0.0.1:0"
        taskset -c "$SERVER_CPU" "$TOKIO" 127.0.0.1:0 >"$out" 2>&1 &
        ;;
    c)
        SERVER_CMD[$name]="taskset -c $SERVER_CPU epoll_echo 0 0"
        taskset -c "$SERVER_CPU" "$CECHO" 0 0 >"$out" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    wait_for_ports "$name" "$out" 100
}

# wait_for_ports NAME FILE TRIES: reads the listening ports a server printed, once it
# has printed its last line (the banner may arrive in more than one write).
wait_for_ports() {
    local name=$1 out=$2 tries=$3 last
    case $name in
    sockloop | sockloop-w2) last='^ready' ;;
    tokio) last='^listening ' ;;
    c) last='^udp ' ;;
    esac
    for _ in $(seq "$tries"); do
        if grep -q "$last" "$out" 2>/dev/null; then
            case $name in
            sockloop | sockloop-w2)
                WS=$(awk '$1 == "http" {print $2}' "$out")
                WSS=$(awk '$1 == "https" {print $2}' "$out")
                TCP=$(awk '$1 == "tcp" {print $2}' "$out")
                UDP=$(awk '$1 == "udp" {print $2}' "$out")
                ;;
            tokio) WS=$(awk '$1 == "listening" {print $2}' "$out") ;;
            c)
                TCP=127.0.0.1:$(awk '$1 == "tcp" {print $2}' "$out")
                UDP=127.0.0.1:$(awk '$1 == "udp" {print $2}' "$out")
                ;;
            esac
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$out" >&2; die "$name did not start"; }
        sleep 0.1
    done
    cat "$out" >&2
    die "$name printed no address"
}

# Ends the server with SIGTERM (sockloop shuts down gracefully), then SIGKILL if
# it is still there after 10 s.
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

# --- build -----------------------------------------------------------------------
say "== building (sockloop --release, tokio-echo --release, epoll_echo cc -O2)"
timeout 900 cargo build --release --quiet
timeout 900 cargo build --release --quiet \
    --manifest-path benches/peers/tokio-echo/Cargo.toml --target-dir "$PEERS"
mkdir -p "$PEERS"
cc -O2 -o "$CECHO" benches/c/epoll_echo.c

# --- measuring -------------------------------------------------------------------
# json_field JSON KEY: a number (or null) from the bench's one-line JSON.
json_field() {
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1" | head -1
}

median() {
    tr ' ' '\n' | awk '$1 != "" && $1 != "null"' | sort -g |
        awk '{v[NR] = $1} END {if (NR == 0) print "null"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# Results: R[scenario.server.field] = median value.
declare -A R
declare -A BENCH_CMD

# measure SCENARIO SERVER BENCH-ARGS...: RUNS runs against a fresh server each time.
measure() {
    local scen=$1 server=$2
    shift 2
    local rates='' p50s='' p99s='' cpus='' scpus='' sns='' errors=0 json
    for run in $(seq "$RUNS"); do
        start_server "$server"
        local args=("$@")
        args=("${args[@]//@WS@/$WS}")
        args=("${args[@]//@TCP@/$TCP}")
        args=("${args[@]//@UDP@/$UDP}")
        BENCH_CMD[$scen.$server]="taskset -c $LOAD_CPU sockloop bench ${args[*]} -t $DURATION"
        json=$(taskset -c "$LOAD_CPU" timeout $((DURATION + 60)) "$SOCKLOOP" bench "${args[@]}" \
            -t "$DURATION" --json -q --server-pid "$SERVER_PID" 2>"$WORK/bench.err") || true
        stop_server
        if [ -z "$json" ]; then
            say "   $scen/$server run $run: no report: $(head -c 300 "$WORK/bench.err")"
            errors=$((errors + 1))
            continue
        fi
        rates+=" $(json_field "$json" msgs_per_s)"
        p50s+=" $(json_field "$json" p50)"
        p99s+=" $(json_field "$json" p99)"
        cpus+=" $(json_field "$json" cpu_pct)"
        scpus+=" $(json_field "$json" server_cpu_pct)"
        sns+=" $(json_field "$json" server_cpu_ns_per_msg)"
        errors=$((errors + $(json_field "$json" errors)))
        say "   $scen/$server run $run: $(json_field "$json" msgs_per_s) msg/s, p99 $(json_field "$json" p99) µs, generator cpu $(json_field "$json" cpu_pct)%, server cpu $(json_field "$json" server_cpu_pct)%"
    done
    R[$scen.$server.rate]=$(median <<<"$rates")
    R[$scen.$server.p50]=$(median <<<"$p50s")
    R[$scen.$server.p99]=$(median <<<"$p99s")
    R[$scen.$server.cpu]=$(median <<<"$cpus")
    R[$scen.$server.scpu]=$(median <<<"$scpus")
    R[$scen.$server.sns]=$(median <<<"$sns")
    R[$scen.$server.errors]=$errors
}

# measure_idle SERVER: server memory per held connection (median over RUNS).
measure_idle() {
    local server=$1 per='' client='' errors=0 json
    for run in $(seq "$RUNS"); do
        start_server "$server"
        BENCH_CMD[idle.$server]="taskset -c $LOAD_CPU sockloop bench idle ws://ADDR/ws -c $IDLE_CONNS --hold $IDLE_HOLD"
        json=$(taskset -c "$LOAD_CPU" timeout $((IDLE_HOLD + 120)) "$SOCKLOOP" bench idle "ws://$WS/ws" \
            -c "$IDLE_CONNS" --hold "$IDLE_HOLD" --json -q --server-pid "$SERVER_PID" \
            2>"$WORK/bench.err") || true
        stop_server
        if [ -z "$json" ]; then
            say "   idle/$server run $run: no report: $(head -c 300 "$WORK/bench.err")"
            errors=$((errors + 1))
            continue
        fi
        per+=" $(json_field "$json" server_bytes_per_conn)"
        client+=" $(json_field "$json" client_bytes_per_conn)"
        errors=$((errors + $(json_field "$json" errors)))
        say "   idle/$server run $run: $(json_field "$json" held) held, server $(json_field "$json" server_rss_before) → $(json_field "$json" server_rss_held) bytes: $(json_field "$json" server_bytes_per_conn) B/conn"
    done
    R[idle.$server.per]=$(median <<<"$per")
    R[idle.$server.client]=$(median <<<"$client")
    R[idle.$server.errors]=$errors
}

say "== measuring: $RUNS run(s) × ${DURATION} s per figure; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
SCENARIOS=(ws64d1 ws64d16 ws16k tcp64 udp64)
declare -A TITLE=(
    [ws64d1]="WS echo 64 B × 50 conns × depth 1"
    [ws64d16]="WS echo 64 B × 50 conns × depth 16"
    [ws16k]="WS echo 16 KiB binary × 10 conns × depth 4"
    [tcp64]="TCP line echo 64 B × 50 conns × depth 16"
    [udp64]="UDP echo 64 B × 10 sockets"
)

say "-- ${TITLE[ws64d1]}"
measure ws64d1 sockloop ws ws://@WS@/ws -c 50 -d 1
measure ws64d1 tokio ws ws://@WS@/ws -c 50 -d 1
measure ws64d1 c tcp @TCP@ -c 50 -d 1
say "-- ${TITLE[ws64d16]}"
measure ws64d16 sockloop ws ws://@WS@/ws -c 50 -d 16
measure ws64d16 tokio ws ws://@WS@/ws -c 50 -d 16
measure ws64d16 c tcp @TCP@ -c 50 -d 16
say "-- the same with serve --workers 2 (CPUs $WORKER_CPUS)"
measure ws64d16 sockloop-w2 ws ws://@WS@/ws -c 50 -d 16
say "-- ${TITLE[ws16k]}"
measure ws16k sockloop ws ws://@WS@/ws -c 10 -d 4 -s 16k --binary
measure ws16k tokio ws ws://@WS@/ws -c 10 -d 4 -s 16k --binary
measure ws16k c tcp @TCP@ -c 10 -d 4 -s 16k
say "-- ${TITLE[tcp64]}"
measure tcp64 sockloop tcp @TCP@ -c 50 -d 16
measure tcp64 c tcp @TCP@ -c 50 -d 16
say "-- ${TITLE[udp64]}"
measure udp64 sockloop udp @UDP@ -c 10
measure udp64 c udp @UDP@ -c 10
say "-- idle: $IDLE_CONNS WebSocket connections held"
measure_idle sockloop
measure_idle tokio

# measure_footprint SERVER: VmRSS of the server idle (no connection yet), split into
# anonymous memory (heap, stack) and file-backed pages (its binary and shared
# libraries, counted in RSS although shared with every process using them), in KiB,
# median over RUNS.
measure_footprint() {
    local server=$1 rss='' anon='' file=''
    for _ in $(seq "$RUNS"); do
        start_server "$server"
        sleep 0.5
        rss+=" $(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")"
        anon+=" $(awk '/^RssAnon:/ {print $2}' "/proc/$SERVER_PID/status")"
        file+=" $(awk '/^RssFile:/ {print $2}' "/proc/$SERVER_PID/status")"
        stop_server
    done
    R[idle.$server.rss]=$(median <<<"$rss")
    R[idle.$server.anon]=$(median <<<"$anon")
    R[idle.$server.file]=$(median <<<"$file")
    say "   $server idle: VmRSS ${R[idle.$server.rss]} KiB (anonymous ${R[idle.$server.anon]}, file-backed ${R[idle.$server.file]})"
}
say "-- footprint: idle server RSS, binary size"
for server in sockloop tokio c; do
    measure_footprint "$server"
done
R[size.sockloop]=$(stat -c %s "$SOCKLOOP")
R[size.tokio]=$(stat -c %s "$TOKIO")
R[size.c]=$(stat -c %s "$CECHO")

# --- Autobahn 9.* (limits and performance cases), same run -------------------------
# scripts/autobahn.sh prints "9.* durations (ms), 54 cases, N ms in all".
# The suite's own client does most of the work in these cases and its times vary by
# ±10 % from run to run, so each server is run RUNS times, alternating, and the
# medians compared.
declare -A AB AB_RUNS
if [ "$AUTOBAHN" = 1 ]; then
    for run in $(seq "$RUNS"); do
        for server in sockloop tokio; do
            say "-- Autobahn 9.* against $server (run $run)"
            start_server "$server"
            ms=$(AUTOBAHN_URL="ws://$WS/ws" taskset -c "$LOAD_CPU" bash scripts/autobahn.sh -i '9.*' 2>&1 |
                sed -n 's/^9\.\* durations (ms), [0-9]* cases, \([0-9]*\) ms in all.*/\1/p' | head -n 1)
            stop_server
            say "   $server: ${ms:-?} ms"
            AB_RUNS[$server]+=" ${ms:-}"
        done
    done
    for server in sockloop tokio; do
        AB[$server]=$(median <<<"${AB_RUNS[$server]}")
    done
fi

# --- callgrind -------------------------------------------------------------------
# Instructions per echoed message, user space, by the slope method: one server under
# valgrind --tool=callgrind, the counters zeroed (callgrind_control -z) before a short
# and a long load and dumped (-d) after each; (Ir_long - Ir_short) / (msgs_long -
# msgs_short) cancels what does not scale with messages (handshakes, closes, timers).
# Exact: callgrind counts instructions, so a noisy machine changes nothing.
CG_LINE=
declare -A CG
# cg_slope ROW SERVER BENCH-ARGS...: one server, two loads of $CG_T1 and $CG_T2 s.
cg_slope() {
    local row=$1 server=$2
    shift 2
    local out=$WORK/cg.$row.out ir msgs json dump
    local -a cmd
    case $server in
    sockloop) cmd=("$CG_SOCKLOOP" serve -q -l http://127.0.0.1:0 -l tcp://127.0.0.1:0=echo) ;;
    # wss:// and permessage-deflate: the same loop with TLS (a self-signed
    # certificate), and with compression accepted.
    sockloop-tls) cmd=("$CG_SOCKLOOP" serve -q -l https://127.0.0.1:0 --tls-self-signed) ;;
    sockloop-deflate) cmd=("$CG_SOCKLOOP" serve -q -l http://127.0.0.1:0 --ws-deflate) ;;
    tokio) cmd=("$TOKIO" 127.0.0.1:0) ;;
    c) cmd=("$CECHO" 0 0) ;;
    esac
    taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$WORK/cgdump.$row.%p" \
        "${cmd[@]}" >"$out" 2>"$WORK/cg.$row.err" &
    SERVER_PID=$!
    wait_for_ports "${server%-*}" "$out" 600
    local args=("$@")
    args=("${args[@]//@WS@/$WS}")
    args=("${args[@]//@WSS@/${WSS:-}}")
    args=("${args[@]//@TCP@/$TCP}")
    for t in "$CG_T1" "$CG_T2"; do
        callgrind_control -z "$SERVER_PID" >/dev/null
        json=$(taskset -c "$LOAD_CPU" timeout $((t + 120)) "$SOCKLOOP" bench "${args[@]}" -t "$t" --json -q) ||
            die "callgrind $row: the bench failed"
        callgrind_control -d "$SERVER_PID" >/dev/null
        sleep 0.5
        dump=$(ls -t "$WORK"/cgdump."$row".* | head -n 1)
        ir=$(awk '/^summary:/ {s = $2} /^totals:/ {t = $2} END {print (t != "" ? t : s)}' "$dump")
        msgs=$(json_field "$json" messages)
        CG[$row.$t.ir]=$ir
        CG[$row.$t.msgs]=$msgs
        cp "$dump" "$WORK/cg.$row.$t"
        say "   $row, ${t} s: $msgs messages, $ir instructions"
    done
    stop_server
    CG[$row]=$(awk -v a="${CG[$row.$CG_T1.ir]}" -v b="${CG[$row.$CG_T2.ir]}" \
        -v n="${CG[$row.$CG_T1.msgs]}" -v m="${CG[$row.$CG_T2.msgs]}" \
        'BEGIN {if (m > n) printf "%.0f", (b - a) / (m - n); else print "null"}')
    say "   → $row: ${CG[$row]} instructions per message"
    # Where sockloop's went, for the report (function names need symbols: a build with
    # CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=1).
    if [ "${server%-*}" = sockloop ] && command -v callgrind_annotate >/dev/null; then
        callgrind_annotate --inclusive=no --threshold=100 "$WORK/cg.$row.$CG_T2" 2>/dev/null |
            awk '/file:function/ {on = 1; next} on && $1 ~ /^[0-9,]+$/' |
            grep -v -e 'PROGRAM TOTALS' -e ' (100.0%) ' | sed 's/ \[[^]]*\]$//' |
            head -n 12 >"$WORK/cg.$row.top" || true
    fi
}
if [ "$CALLGRIND" = 1 ]; then
    command -v callgrind_control >/dev/null || die "CALLGRIND=1 needs valgrind (apt-get install valgrind)"
    # The same release build with symbols and line tables (the code is the same; the
    # report can then name the functions).
    CG_TARGET=$ROOT/target/callgrind
    CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=1 \
        timeout 900 cargo build --release --quiet --target-dir "$CG_TARGET"
    CG_SOCKLOOP=$CG_TARGET/release/sockloop
    say "-- callgrind: 64 B echo, 10 conns × depth 16, ${CG_T1} s and ${CG_T2} s loads, counters zeroed before each"
    cg_slope sockloop-d16 sockloop ws ws://@WS@/ws -c 10 -d 16
    cg_slope tokio-d16 tokio ws ws://@WS@/ws -c 10 -d 16
    cg_slope c-d16 c tcp @TCP@ -c 10 -d 16
    say "-- callgrind: the same over wss://, and 1 KiB text with permessage-deflate"
    cg_slope sockloop-tls-d16 sockloop-tls ws wss://@WSS@/ws --insecure -c 10 -d 16
    cg_slope sockloop-deflate-d16 sockloop-deflate ws ws://@WS@/ws -s 1k --deflate -c 10 -d 16
    say "-- callgrind: the same at 1 conn × depth 1 (a loop turn per message)"
    cg_slope sockloop-d1 sockloop ws ws://@WS@/ws -c 1 -d 1
    cg_slope c-d1 c tcp @TCP@ -c 1 -d 1
    CG_LINE=${CG[sockloop-d16]}
fi

# --- report: in its own file, read here with every figure in ------------------
# shellcheck source=benches/compare_report.sh
source "$ROOT/benches/compare_report.sh"
