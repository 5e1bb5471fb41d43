#!/usr/bin/env bash
# benches/deflate.sh — permessage-deflate: sockloop next to Python `websockets`, the
# same load, one run, one machine.
#
# Each server (sockloop serve --ws-deflate, and benches/peers/python/ws_deflate_echo.py)
# is pinned to one core and loaded by the same Python client on the other
# (benches/peers/python/ws_deflate_load.py: 1 KiB compressible JSON-like text, every
# message different, echoes checked). Measured on the server, from /proc: CPU time
# (utime + stime) per echoed message, and loopback bytes per message (both directions,
# TCP/IP headers included: /proc/net/dev's lo counter; nothing else should use the
# loopback during the run), over a
# warm-up and a measured run whose difference cancels the handshakes. Prints a table
# and writes it to docs/benchmarks-deflate.md, which benches/compare.sh includes in
# docs/BENCHMARKS.md.
#
# Settings (environment): CONNS=10 COUNT=5000 DEPTH=8 SERVER_CPU=0 LOAD_CPU=1
#   OUT=docs/benchmarks-deflate.md ("-": nowhere)
# Needs target/test-venv (scripts/install-test-deps.sh). Loopback only; time-limited.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-10}
COUNT=${COUNT:-5000}
DEPTH=${DEPTH:-8}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-docs/benchmarks-deflate.md}
PY=target/test-venv/bin/python
say() { printf 'deflate.sh: %s\n' "$*" >&2; }
[ -x "$PY" ] || { say "no $PY: run scripts/install-test-deps.sh"; exit 2; }
cargo build --release --quiet
TICK=$(getconf CLK_TCK)

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

# cpu_ms PID: the server's CPU time in ms; lo_bytes: bytes through the loopback so far.
cpu_ms() { awk -v t="$TICK" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$1/stat"; }
lo_bytes() { awk -F'[: ]+' '$2 == "lo" { print $3 }' /proc/net/dev; }

# measure NAME PID URL: one warm-up load, then the measured one; prints a table row.
measure() {
    local name=$1 pid=$2 url=$3 c0 w0 c1 w1 done
    timeout 300 taskset -c "$LOAD_CPU" "$PY" benches/peers/python/ws_deflate_load.py \
        "$url" "$CONNS" 200 "$DEPTH" >/dev/null
    c0=$(cpu_ms "$pid")
    w0=$(lo_bytes)
    done=$(timeout 300 taskset -c "$LOAD_CPU" "$PY" benches/peers/python/ws_deflate_load.py \
        "$url" "$CONNS" "$COUNT" "$DEPTH")
    c1=$(cpu_ms "$pid")
    w1=$(lo_bytes)
    case $done in DONE*) ;; *) say "$name: $done"; exit 1 ;; esac
    local msgs=$((CONNS * COUNT))
    awk -v n="$name" -v c=$((c1 - c0)) -v w=$((w1 - w0)) -v m="$msgs" 'BEGIN {
        printf "| %s | %d | %.1f | %.0f |\n", n, m, c * 1000 / m, w / m }'
}

# start_peer COMMAND...: runs it pinned, waits for its READY line; sets PEER_PID, PEER_ADDR.
start_peer() {
    local log
    log=$(mktemp)
    taskset -c "$SERVER_CPU" "$@" >"$log" 2>&1 &
    PEER_PID=$!
    PIDS+=("$PEER_PID")
    for _ in $(seq 100); do
        PEER_ADDR=$(sed -n 's/^READY \(.*\)$/\1/p; s/^  http  \([^ ]*\) .*/\1/p' "$log" | head -n 1)
        [ -n "$PEER_ADDR" ] && return 0
        sleep 0.1
    done
    say "did not start: $*: $(tail -n 3 "$log")"
    exit 1
}

start_peer target/release/sockloop serve -q --ws-deflate -l http://127.0.0.1:0
row_sockloop=$(measure "sockloop --ws-deflate" "$PEER_PID" "ws://$PEER_ADDR/ws")
start_peer target/release/sockloop serve -q --ws-deflate-context -l http://127.0.0.1:0
row_context=$(measure "sockloop --ws-deflate-context" "$PEER_PID" "ws://$PEER_ADDR/ws")
start_peer "$PY" benches/peers/python/ws_deflate_echo.py
row_python=$(measure "Python websockets $("$PY" -c 'import websockets; print(websockets.__version__)')" \
    "$PEER_PID" "ws://$PEER_ADDR/")

report=$(cat <<EOT
## permessage-deflate: CPU and bytes per message

\`benches/deflate.sh\`, $(date -u +%Y-%m-%d), $CONNS connections × $COUNT compressible
1 KiB text messages, depth $DEPTH, the same Python \`websockets\` client offering
compression for both servers; server CPU from /proc/PID/stat, bytes on the wire from
the loopback's counter (both directions, TCP/IP headers included); a warm-up run
first, so handshakes are not counted. Uncompressed, a message would take 2 × 1,024
bytes of payload plus framing and headers. \`--ws-deflate\` compresses each message on
its own (no context takeover, nothing kept per connection); \`--ws-deflate-context\`
and \`websockets\` keep a compressor and an inflater per connection.

| server | messages | server CPU µs per message | wire bytes per echoed message |
|---|--:|--:|--:|
$row_sockloop
$row_context
$row_python
EOT
)
echo "$report"
if [ "$OUT" != - ]; then
    mkdir -p "$(dirname "$OUT")"
    printf '%s\n' "$report" >"$OUT"
    say "wrote $OUT"
fi
