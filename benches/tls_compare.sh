#!/usr/bin/env bash
# wss:// echo: sockloop's https:// listener against the tokio-rustls +
# tokio-tungstenite peer (benches/peers/tokio-echo with a certificate), same
# certificate, same machine, same run, rounds alternating so that noise hits both.
#
#   benches/tls_compare.sh [ROUNDS] [SECONDS]     (default 3 rounds of 5 s)
#
# Loads: 10 connections × depth 16 of 64 B text, and 10 × depth 1 of 16 KiB binary,
# from `sockloop bench ws wss://…`. Prints each round's msg/s and server CPU per
# message (from /proc, via --server-pid), then the medians and sockloop/peer ratios.
# Loopback only; needs openssl (to make the certificate) and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}
OUT=$PWD/target/tls-compare
PEERS=$PWD/target/peers
mkdir -p "$OUT"

cargo build --release --quiet
cargo build --release --quiet --manifest-path benches/peers/tokio-echo/Cargo.toml --target-dir "$PEERS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$OUT/key.pem" -out "$OUT/cert.pem" -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:FALSE 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SL_PORT=$(free_port)
TK_PORT=$(free_port)
target/release/sockloop serve -q -l "https://127.0.0.1:$SL_PORT" \
    --tls-cert "$OUT/cert.pem" --tls-key "$OUT/key.pem" >"$OUT/sockloop.log" 2>&1 &
SL_PID=$!
"$PEERS/release/tokio-echo" "127.0.0.1:$TK_PORT" "$OUT/cert.pem" "$OUT/key.pem" >"$OUT/tokio.log" 2>&1 &
TK_PID=$!
trap 'kill $SL_PID $TK_PID 2>/dev/null || true' EXIT
sleep 1

# run NAME PORT PID LOAD...: one bench; prints "msg/s ns-per-msg".
run() {
    local port=$2 pid=$3
    shift 3
    target/release/sockloop bench ws "wss://localhost:$port/ws" --ca "$OUT/cert.pem" \
        -c 10 -t "$SECS" -q --server-pid "$pid" --json "$@" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["msgs_per_s"]), r["server_cpu_ns_per_msg"])'
}

declare -A RES
for load in small large; do
    case $load in
        small) args=(-d 16 -s 64) ;;
        large) args=(-d 1 -s 16k --binary) ;;
    esac
    for r in $(seq "$ROUNDS"); do
        for who in sockloop tokio; do
            if [[ $who == sockloop ]]; then port=$SL_PORT pid=$SL_PID; else port=$TK_PORT pid=$TK_PID; fi
            res=$(run "$who" "$port" "$pid" "${args[@]}")
            echo "$load round $r $who: $res (msg/s, server ns/msg)"
            RES[$load.$who]+="$res;"
        done
    done
done

python3 - "${RES[small.sockloop]}" "${RES[small.tokio]}" "${RES[large.sockloop]}" "${RES[large.tokio]}" <<'EOF'
import statistics, sys
def med(text, i):
    return statistics.median(float(x.split()[i]) for x in text.split(";") if x)
names = ["64 B text, 10 × depth 16", "16 KiB binary, 10 × depth 1"]
print("| load | sockloop msg/s | peer msg/s | ratio | sockloop ns/msg | peer ns/msg | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k, name in enumerate(names):
    s, t = sys.argv[1 + 2 * k], sys.argv[2 + 2 * k]
    sm, tm, sc, tc = med(s, 0), med(t, 0), med(s, 1), med(t, 1)
    print(f"| {name} | {sm:,.0f} | {tm:,.0f} | {sm / tm:.2f} | {sc:,.0f} | {tc:,.0f} | {sc / tc:.2f} |")
EOF
