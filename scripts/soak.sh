#!/usr/bin/env bash
# Soak test: every transport and service of `sockloop serve` under load at once, for a
# while, watching the server for leaks.
#
#   scripts/soak.sh [MINUTES]        (default 2; SOAK_SECONDS=N overrides, for short checks)
#
# It builds the release binary, starts `sockloop serve` with the built-in set of
# listeners (web, tcp echo/cmd/daytime/counter/random, udp echo/cmd/daytime/random, unix
# cmd), but each on a free port (port 0; the ports come from the banner) and the Unix
# socket in a fresh temporary directory, so it never collides with another server on
# this machine, and with --idle-timeout 15 (SOAK_IDLE_TIMEOUT) so the idle timer fires
# during the run. Everything is on 127.0.0.1.
#
# The load (scripts/soak.py with soak_drivers.py and soak_wire.py, Python 3 standard
# library only) runs about twenty drivers at once, each with a bounded number of sockets
# and a pause between rounds: TCP echo;
# cmd over TCP, Unix, UDP and WebSocket (/cmd), every command with its reply checked;
# daytime, counter and random over TCP and UDP; WebSocket echo of 1 B..1000 B and of
# 64 KiB..256 KiB messages; /random; plain HTTP (/stats, /, a 404) with keep-alive; 60
# idle connections held 1-10 s, then checked and replaced; idle connections left for
# the server's idle timeout (the ERR line, Close 1001); connections dropped mid-request
# (partial WebSocket frames, headers and handshakes, partial lines and HTTP heads,
# resets while a big reply is on its way); peers that send and never read (backpressure),
# some half-closed; a UDP socket that never reads its replies.
#
# Every second the server's RSS (VmRSS in /proc/PID/status), open fds (/proc/PID/fd) and
# CPU time (utime + stime in /proc/PID/stat) go to target/soak/samples.csv
# ($CARGO_TARGET_DIR/soak/ when that is set), with the phase: baseline (before the
# load), warmup (the first sixth of the load, 10-30 s), load, stopping, settle, end.
# After the load stops the server gets up to 20 s to settle (at least 3 s: closing
# handshakes and drains end), then STATS is asked over the cmd port and printed, and the
# server is stopped with SIGTERM.
#
# It FAILS (exit 1) when:
#   - fds: the open fds at the end are more than the baseline (listeners, poller,
#     signal pipe; measured before any load) + 2 (SOAK_FD_SLACK);
#   - memory: the RSS at the end is above max(1.5 x B, B + 8 MiB), where B is the
#     highest RSS during the warm-up: what this load needs once its buffers exist. The
#     allocator keeps some freed memory, so the end is compared with a loaded server,
#     not with the idle one at start (SOAK_RSS_FACTOR, SOAK_RSS_SLACK_KIB);
#   - STATS at the end does not say conns_active=1 (the STATS connection itself);
#   - the load drivers saw an unexpected error: a wrong or missing reply, a refused
#     connection, a reset or close where none is expected, a driver that does not stop.
#     What the drivers do on purpose, and what follows from it, is counted apart; UDP
#     replies that do not come within 1 s are counted as lost and fail the run only
#     above 1% (+5) of the UDP requests;
#   - the server died, logged a panic, or did not exit 0 within 15 s of SIGTERM.
# Exit 2: it could not build or start. Files in target/soak/: banner.txt, server.log,
# ports.json, samples.csv, load.json (every count and the first error messages).
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${1:-2}
if ! [[ $MINUTES =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/soak.sh [MINUTES]  (MINUTES: a whole number > 0)" >&2
    exit 2
fi
SECS=${SOAK_SECONDS:-$((MINUTES * 60))}
WARMUP=$((SECS / 6))
((WARMUP < 10)) && WARMUP=10
((WARMUP > 30)) && WARMUP=30
if ((SECS <= WARMUP)); then
    echo "soak.sh: the run ($SECS s) must be longer than the warm-up ($WARMUP s)" >&2
    exit 2
fi
IDLE=${SOAK_IDLE_TIMEOUT:-15}
FD_SLACK=${SOAK_FD_SLACK:-2}
export SOAK_FD_SLACK=$FD_SLACK
PY=${SOAK_PYTHON:-python3}

echo "soak.sh: cargo build --release"
if ! cargo build --release; then
    echo "soak.sh: the release build failed" >&2
    exit 2
fi
source scripts/target-dir.sh
BIN=$TARGET_DIR/release/sockloop
OUT=$TARGET_DIR/soak
if [[ ! -x $BIN ]]; then
    echo "soak.sh: no binary at $BIN after the build" >&2
    exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT"
SOCK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sockloop-soak.XXXXXX")

SERVER=""
SAMPLER=""
LOAD=""
cleanup() {
    # Only what this script started, by PID.
    [[ -n $LOAD ]] && kill "$LOAD" 2>/dev/null || true
    [[ -n $SAMPLER ]] && kill "$SAMPLER" 2>/dev/null || true
    if [[ -n $SERVER ]] && kill -0 "$SERVER" 2>/dev/null; then
        kill -KILL "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$SOCK_DIR"
}
trap cleanup EXIT
phase() { echo "$1" >"$OUT/phase"; }
fds_now() { { ls "/proc/$SERVER/fd" 2>/dev/null || true; } | wc -l; }

# ---- the server: the built-in listeners, on free ports ----
phase start
"$BIN" serve --idle-timeout "$IDLE" \
    -l http://127.0.0.1:0 \
    -l tcp://127.0.0.1:0=echo -l tcp://127.0.0.1:0=cmd -l tcp://127.0.0.1:0=daytime \
    -l tcp://127.0.0.1:0=counter -l tcp://127.0.0.1:0=random \
    -l udp://127.0.0.1:0=echo -l udp://127.0.0.1:0=cmd -l udp://127.0.0.1:0=daytime \
    -l udp://127.0.0.1:0=random \
    -l "unix:$SOCK_DIR/cmd.sock=cmd" \
    >"$OUT/banner.txt" 2>"$OUT/server.log" &
SERVER=$!
for _ in $(seq 100); do
    grep -q '^ready' "$OUT/banner.txt" && break
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q '^ready' "$OUT/banner.txt"; then
    echo "soak.sh: the server did not start:" >&2
    cat "$OUT/banner.txt" "$OUT/server.log" >&2
    exit 2
fi
cat "$OUT/banner.txt"
"$PY" scripts/soak.py ports "$OUT/banner.txt" "$IDLE" >"$OUT/ports.json"
CMD_PORT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tcp"]["cmd"])' \
    "$OUT/ports.json")

# ---- sample it every second; a few seconds of baseline first ----
phase baseline
"$PY" scripts/soak.py sample "$SERVER" "$OUT/samples.csv" "$OUT/phase" &
SAMPLER=$!
sleep 3
BASE_FDS=$(fds_now)

# ---- the load ----
echo "soak.sh: load for $SECS s (warm-up $WARMUP s), server pid $SERVER, $BASE_FDS fds"
status=0
"$PY" scripts/soak.py load "$OUT/ports.json" "$SECS" "$WARMUP" "$OUT/phase" "$OUT/load.json" &
LOAD=$!
wait "$LOAD" || status=$?
LOAD=""
if [[ $status -ne 0 || ! -f $OUT/load.json ]]; then
    echo "soak.sh: the load drivers failed (exit $status)" >&2
    exit 1
fi

# ---- settle: closing handshakes, drains and flush timeouts end ----
phase settle
FAIL=()
settle_start=$SECONDS
while kill -0 "$SERVER" 2>/dev/null; do
    waited=$((SECONDS - settle_start))
    if ((waited >= 3 && $(fds_now) <= BASE_FDS + FD_SLACK)) || ((waited >= 20)); then
        break
    fi
    sleep 1
done
phase end
sleep 2.5 # two samples in phase end
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=""

if ! kill -0 "$SERVER" 2>/dev/null; then
    wait "$SERVER" || status=$?
    SERVER=""
    echo "soak.sh: FAIL: the server died during the run (exit $status); its log ends:" >&2
    tail -n 20 "$OUT/server.log" >&2
    "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("load drivers:", sum(r["requests"].values()), "requests,", sum(r["errors"].values()), "errors")
for e in r["error_samples"][:5]:
    print("  !", e)' "$OUT/load.json" >&2 || true
    exit 1
fi

echo
echo "=== STATS (cmd port $CMD_PORT)"
stats=$(printf 'STATS\nQUIT\n' | timeout 10 "$BIN" tcp -w 5 "127.0.0.1:$CMD_PORT" || true)
echo "$stats"
if ! grep -q ' conns_active=1 ' <<<"$stats"; then
    FAIL+=("STATS at the end does not say conns_active=1 (the STATS connection itself)")
fi

echo
echo "=== soak summary: $SECS s, every service at once"
summary_status=0
"$PY" scripts/soak.py summary "$OUT/samples.csv" "$OUT/load.json" || summary_status=$?
[[ $summary_status -ne 0 ]] && FAIL+=("the leak or error checks above")

# ---- stop the server: SIGTERM, exit 0 ----
kill -TERM "$SERVER"
stopped=0
for _ in $(seq 150); do
    if ! kill -0 "$SERVER" 2>/dev/null; then
        stopped=1
        break
    fi
    sleep 0.1
done
if [[ $stopped -eq 0 ]]; then
    FAIL+=("the server did not exit within 15 s of SIGTERM")
else
    status=0
    wait "$SERVER" || status=$?
    SERVER=""
    echo "server: exit $status after SIGTERM; $(tail -n 1 "$OUT/server.log")"
    [[ $status -ne 0 ]] && FAIL+=("the server exited $status after SIGTERM, not 0")
fi
log_lines=$(wc -l <"$OUT/server.log")
echo "server log: $log_lines lines (${OUT}/server.log)"
if grep -q 'panicked' "$OUT/server.log"; then
    FAIL+=("the server logged a panic")
fi

if [[ ${#FAIL[@]} -gt 0 ]]; then
    for f in "${FAIL[@]}"; do
        echo "soak.sh: FAIL: $f" >&2
    done
    exit 1
fi
echo "soak.sh: passed"
