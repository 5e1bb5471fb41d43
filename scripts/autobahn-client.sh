#!/usr/bin/env bash
# WebSocket client conformance: run every Autobahn TestSuite case against
# `sockloop ws --echo`, with kosoku's fuzzing server (the suite's server side).
#
#   scripts/autobahn-client.sh            # build, start the fuzzing server, run all cases
#
# How the fuzzing server drives a client (Autobahn's protocol): /getCaseCount
# sends the number of cases as one text message; /runCase?case=N&agent=A runs
# case N over that connection (our client echoes every message until the server
# closes); /updateReports makes it write the reports and exit.
#
# The client offers permessage-deflate (`--deflate`), so sections 12 and 13 test
# compression. Prints the same summary as scripts/autobahn.sh and exits 1 if any
# case FAILED, was UNIMPLEMENTED or got no verdict.
#
#   AUTOBAHN_CLIENT_FLAGS="" scripts/autobahn-client.sh   # without compression
#   AUTOBAHN_CASES=302-320 scripts/autobahn-client.sh      # only cases 302 to 320
#                                                          # (by number, in suite order)
#   AUTOBAHN_CLIENT_TLS=1 scripts/autobahn-client.sh       # over wss://
#
# Over wss:// the fuzzing server (which speaks ws:// only) sits behind socat: socat
# takes the client's TLS connections with a certificate made here (openssl) and
# passes the plaintext on; the client trusts that certificate with --ca. Output
# then goes to target/autobahn-client-wss/. (Both under $CARGO_TARGET_DIR when set.)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TLS=${AUTOBAHN_CLIENT_TLS:-0}
source scripts/target-dir.sh
OUT=$TARGET_DIR/autobahn-client
[[ $TLS == 1 ]] && OUT=$TARGET_DIR/autobahn-client-wss
VENV=$TARGET_DIR/autobahn-venv
CASE_TIMEOUT=${AUTOBAHN_CASE_TIMEOUT:-60}
AGENT=sockloop
BIN=$TARGET_DIR/release/sockloop
read -r -a FLAGS <<<"${AUTOBAHN_CLIENT_FLAGS---deflate}"
GATE=${AUTOBAHN_GATE_MAX_SECTION:-13}

log() { printf 'autobahn-client: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

# The venv with kosoku, shared with scripts/autobahn.sh.
AUTOBAHN_SETUP_ONLY=1 bash scripts/autobahn.sh || die "kosoku setup failed"
log "cargo build --release"
cargo build --release --quiet || die "cargo build --release failed"

rm -rf "$OUT"
mkdir -p "$OUT/report"
# Made here, not by the redirection below: that happens in the background job, which
# may not have run yet when the loop first reads the file.
: >"$OUT/kosoku.log"
"$VENV/bin/kosoku" -m fuzzingserver -o "$OUT/report" 127.0.0.1:0 2>"$OUT/kosoku.log" &
KOSOKU_PID=$!
BRIDGE_PID=
trap 'kill "$KOSOKU_PID" $BRIDGE_PID 2>/dev/null || true' EXIT

# kosoku says where it listens on stderr.
URL=
for _ in $(seq 100); do
    URL=$(sed -n 's/.*listening on \(ws:\/\/[^ ]*\).*/\1/p' "$OUT/kosoku.log" | head -n 1 || true)
    [[ -n $URL ]] && break
    kill -0 "$KOSOKU_PID" 2>/dev/null || die "the fuzzing server died: $(tail -n 3 "$OUT/kosoku.log")"
    sleep 0.1
done
[[ -n $URL ]] || die "the fuzzing server did not start"
URL=${URL%/}
log "fuzzing server at $URL"
if [[ $TLS == 1 ]]; then
    command -v socat >/dev/null || die "AUTOBAHN_CLIENT_TLS=1 needs socat (scripts/install-test-deps.sh)"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$OUT/key.pem" -out "$OUT/cert.pem" -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:FALSE \
        2>"$OUT/openssl.log" || die "openssl could not make a certificate"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    socat "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=$OUT/cert.pem,key=$OUT/key.pem,verify=0,nodelay" \
        "TCP:${URL#ws://},nodelay" 2>"$OUT/socat.log" &
    BRIDGE_PID=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    URL=wss://localhost:$port
    FLAGS+=(--ca "$OUT/cert.pem")
    log "through socat (TLS) at $URL"
fi

# Keep stdin open for a moment: with stdin at EOF the client would send its Close
# at once, racing the server's (the server may then reset the connection).
COUNT=$(sleep 1 | "$BIN" ws "${FLAGS[@]}" "$URL/getCaseCount" | tr -d '[:space:]')
[[ $COUNT =~ ^[0-9]+$ ]] || die "bad case count '$COUNT'"
FIRST=1
LAST=$COUNT
if [[ -n ${AUTOBAHN_CASES:-} ]]; then
    [[ $AUTOBAHN_CASES =~ ^([0-9]+)-([0-9]+)$ ]] || die "AUTOBAHN_CASES must be FIRST-LAST"
    FIRST=${BASH_REMATCH[1]}
    LAST=${BASH_REMATCH[2]}
    ((LAST <= COUNT)) || LAST=$COUNT
fi
log "running cases $FIRST to $LAST of $COUNT (ws ${FLAGS[*]} --echo)"
start=$SECONDS
for ((i = FIRST; i <= LAST; i++)); do
    # A failing case is judged by the server's report, not by our exit code.
    timeout "$CASE_TIMEOUT" "$BIN" ws "${FLAGS[@]}" --echo "$URL/runCase?case=$i&agent=$AGENT" \
        >/dev/null 2>>"$OUT/client.log" || true
done
log "cases ran in $((SECONDS - start))s"

sleep 1 | "$BIN" ws "${FLAGS[@]}" "$URL/updateReports?agent=$AGENT" >/dev/null 2>>"$OUT/client.log" || true
for _ in $(seq 300); do
    kill -0 "$KOSOKU_PID" 2>/dev/null || break
    sleep 0.1
done
[[ -f $OUT/report/index.json ]] || die "no report written; see $OUT/kosoku.log"

"$VENV/bin/python" scripts/autobahn_summary.py summary "$OUT/report" --gate-max-section "$GATE" --strict-close
