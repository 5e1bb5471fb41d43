#!/usr/bin/env bash
# WebSocket conformance over TLS: the Autobahn cases against sockloop's https://
# listener (wss://). The runner (kosoku, see scripts/autobahn.sh) speaks ws:// only,
# so socat stands between: it takes the runner's plain connections and opens a TLS
# connection to sockloop for each (OpenSSL, verifying sockloop's self-signed
# certificate). Every frame then crosses sockloop's TLS stream, cut into records
# as OpenSSL chooses; the verdicts are scripts/autobahn.sh's.
#
#   scripts/autobahn-wss.sh                  # every case
#   scripts/autobahn-wss.sh -i '1.*' ...     # arguments go to scripts/autobahn.sh
#
# Output in target/autobahn-wss/, or $CARGO_TARGET_DIR/autobahn-wss/ (server.log,
# socat.log, and autobahn.sh's). Exit status: autobahn.sh's, or 1 if sockloop died
# under the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/target-dir.sh
OUT=$TARGET_DIR/autobahn-wss
mkdir -p "$OUT"
command -v socat >/dev/null || { echo "autobahn-wss: needs socat (scripts/install-test-deps.sh)" >&2; exit 2; }
cargo build --release --quiet

"$TARGET_DIR/release/sockloop" serve -q --ws-deflate --max-message 16777216 \
    -l https://127.0.0.1:0 --tls-self-signed >"$OUT/server.log" 2>&1 &
server=$!
bridge=
trap 'kill $server $bridge 2>/dev/null || true' EXIT
port= cert=
for _ in $(seq 100); do
    port=$(sed -n 's/^ *https \+127\.0\.0\.1:\([0-9]\+\) .*/\1/p' "$OUT/server.log")
    cert=$(sed -n 's/^  TLS certificate .*: \(\/.*cert\.pem\)$/\1/p' "$OUT/server.log")
    [[ -n $port && -n $cert ]] && break
    sleep 0.1
done
[[ -n $port && -n $cert ]] || { cat "$OUT/server.log" >&2; echo "autobahn-wss: no https listener in the banner" >&2; exit 2; }

plain=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
socat "TCP-LISTEN:$plain,bind=127.0.0.1,reuseaddr,fork,nodelay" \
    "OPENSSL:127.0.0.1:$port,cafile=$cert,commonname=localhost,nodelay" >"$OUT/socat.log" 2>&1 &
bridge=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$plain") 2>/dev/null && break
    sleep 0.1
done
echo "autobahn-wss: sockloop wss://127.0.0.1:$port/ws, reached through socat at 127.0.0.1:$plain"

rc=0
AUTOBAHN_OUT=$OUT AUTOBAHN_URL="ws://127.0.0.1:$plain/ws" AUTOBAHN_STRICT_CLOSE=1 \
    bash scripts/autobahn.sh "$@" || rc=$?
if ! kill -0 $server 2>/dev/null; then
    echo "autobahn-wss: sockloop died during the run" >&2
    tail -n 20 "$OUT/server.log" >&2
    exit 1
fi
exit $rc
