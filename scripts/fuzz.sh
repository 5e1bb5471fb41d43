#!/usr/bin/env bash
# Build and run the cargo-fuzz targets in fuzz/ for SECONDS each, then print a table.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 60 seconds, every target)
#
# Installs cargo-fuzz when it is missing. cargo fuzz needs nightly compiler flags
# (-Zsanitizer=address and friends): with a working nightly toolchain it runs
# `cargo +nightly fuzz`, otherwise it runs the default (stable) toolchain with
# RUSTC_BOOTSTRAP=1. FUZZ_TOOLCHAIN=nightly or FUZZ_TOOLCHAIN=stable forces one, and
# FUZZ_NIGHTLY names the nightly toolchain to try (default: nightly).
#
# The committed seeds in fuzz/corpus/<target>/ are only read: each run writes what it
# finds to a fresh target/fuzz-corpus/<target>/, so a CI run never grows the committed
# corpus. Logs go to target/fuzz-logs/<target>.log. Exits non-zero on any crash, leak,
# timeout or out-of-memory; libFuzzer leaves the reproducer in fuzz/artifacts/<target>/.
#
# CARGO_TARGET_DIR (or a build.target-dir in a cargo config) is honoured: the fuzz
# binaries are looked up where cargo put them (`cargo metadata` says where), and
# "target/" above means that directory too (default: target/ and fuzz/target/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECS=${1:-60}
[[ $# -gt 0 ]] && shift
if ! [[ $SECS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (SECONDS: a whole number > 0)" >&2
    exit 2
fi

ALL_TARGETS=()
for f in fuzz/fuzz_targets/*.rs; do
    ALL_TARGETS+=("$(basename "$f" .rs)")
done
if [[ $# -gt 0 ]]; then
    TARGETS=("$@")
    for t in "${TARGETS[@]}"; do
        if [[ ! -f fuzz/fuzz_targets/$t.rs ]]; then
            echo "fuzz.sh: no target '$t'; the targets are: ${ALL_TARGETS[*]}" >&2
            exit 2
        fi
    done
else
    TARGETS=("${ALL_TARGETS[@]}")
fi

# Which dictionary helps which target (none for a target not listed).
dict_for() {
    case $1 in
        ws_frame | ws_session | ws_deflate | utf8) echo fuzz/dict/ws.dict ;;
        http_request) echo fuzz/dict/http.dict ;;
        command | line) echo fuzz/dict/cmd.dict ;;
        resp) echo fuzz/dict/resp.dict ;;
        # tls_server: none (binary records; the committed seeds carry real hellos)
    esac
}

# ---- toolchain: a nightly that can build with the sanitizer, or stable + bootstrap ----
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
echo 'fn main() {}' >"$probe_dir/probe.rs"
# Compiles a one-line program with the flag cargo fuzz depends on; $@ is the rustc.
can_sanitize() {
    "$@" -Zsanitizer=address --edition 2021 -o "$probe_dir/probe" "$probe_dir/probe.rs" \
        >"$probe_dir/log" 2>&1
}
NIGHTLY=${FUZZ_NIGHTLY:-nightly}
nightly_works() { command -v rustup >/dev/null && can_sanitize rustc +"$NIGHTLY"; }
bootstrap_works() { RUSTC_BOOTSTRAP=1 can_sanitize rustc; }

case ${FUZZ_TOOLCHAIN:-auto} in
    nightly) MODE=nightly ;;
    stable) MODE=bootstrap ;;
    auto)
        if nightly_works; then
            MODE=nightly
        elif bootstrap_works; then
            MODE=bootstrap
        else
            echo "fuzz.sh: neither a nightly toolchain nor RUSTC_BOOTSTRAP=1 with" \
                "$(rustc --version) can build with -Zsanitizer=address:" >&2
            cat "$probe_dir/log" >&2
            exit 2
        fi
        ;;
    *)
        echo "fuzz.sh: FUZZ_TOOLCHAIN must be auto, nightly or stable" >&2
        exit 2
        ;;
esac
if [[ $MODE == nightly ]]; then
    CARGO=(cargo +"$NIGHTLY")
    WHY="nightly toolchain works: $(rustc +"$NIGHTLY" --version)"
else
    export RUSTC_BOOTSTRAP=1
    CARGO=(cargo)
    if [[ ${FUZZ_TOOLCHAIN:-auto} == stable ]]; then
        WHY="FUZZ_TOOLCHAIN=stable: RUSTC_BOOTSTRAP=1 with $(rustc --version)"
    else
        WHY="no working '$NIGHTLY' toolchain: RUSTC_BOOTSTRAP=1 with $(rustc --version)"
    fi
fi
echo "fuzz.sh: toolchain: $WHY"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing; installing it (cargo install cargo-fuzz --locked)"
    # Plain cargo: the tool itself builds on the default toolchain.
    env -u RUSTC_BOOTSTRAP cargo install cargo-fuzz --locked
fi
echo "fuzz.sh: $(cargo fuzz --version)"

# ---- build every target once ----
build_start=$(date +%s)
if ! "${CARGO[@]}" fuzz build; then
    echo "fuzz.sh: the fuzz targets do not build" >&2
    exit 2
fi
BUILD_SECS=$(($(date +%s) - build_start))
echo "fuzz.sh: build took ${BUILD_SECS}s"
# Run the binaries just built (cargo fuzz's default target triple is the host's), so a
# concurrent edit of src/ cannot trigger a rebuild between targets. cargo fuzz passes no
# --target-dir, so cargo puts them in fuzz/target/, or in CARGO_TARGET_DIR when that is
# set: ask cargo, the way it resolves the variable (relative to here) and its config.
target_dir_of() {
    "${CARGO[@]}" metadata --no-deps --format-version 1 --manifest-path "$1" |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}
FUZZ_TARGET_DIR=$(target_dir_of fuzz/Cargo.toml)
TOP_TARGET_DIR=$(target_dir_of Cargo.toml)
if [[ -z $FUZZ_TARGET_DIR || -z $TOP_TARGET_DIR ]]; then
    echo "fuzz.sh: cargo metadata did not name the target directories" >&2
    exit 2
fi
BIN_DIR=$FUZZ_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release
for t in "${TARGETS[@]}"; do
    if [[ ! -x $BIN_DIR/$t ]]; then
        echo "fuzz.sh: the build left no fuzz binary at $BIN_DIR/$t" >&2
        exit 2
    fi
done
echo "fuzz.sh: fuzz binaries in $BIN_DIR"

# ---- run each target ----
export RUST_BACKTRACE=1
LOGS=$TOP_TARGET_DIR/fuzz-logs
mkdir -p "$LOGS"
ROWS=()
FAILED=0
for t in "${TARGETS[@]}"; do
    work=$TOP_TARGET_DIR/fuzz-corpus/$t
    rm -rf "$work"
    mkdir -p "$work" "fuzz/corpus/$t" "fuzz/artifacts/$t"
    args=(-artifact_prefix="$ROOT/fuzz/artifacts/$t/" -max_total_time="$SECS"
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
    dict=$(dict_for "$t")
    [[ -n $dict ]] && args+=(-dict="$dict")
    log=$LOGS/$t.log
    echo
    echo "=== $t: ${SECS}s, dictionary: ${dict:-none}, log: ${log#"$ROOT"/}"
    status=0
    # The first corpus directory receives what libFuzzer finds; the seeds are only read.
    # The outer timeout only guards against a hang of the fuzzer itself.
    timeout --kill-after=10 $((SECS + 300)) \
        "$BIN_DIR/$t" "${args[@]}" "$work" "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    grep -E '^#[0-9]+.*(INITED|DONE)|^Done [0-9]+ runs|ERROR:|panicked at|Test unit written' \
        "$log" | tail -n 6 || true

    # From libFuzzer's final stats and its last status line (absent if it died early).
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
    corp=$( (grep -o 'corp: [0-9]*/[0-9]*[A-Za-z]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
    if [[ $status -eq 0 ]]; then
        result=ok
    else
        FAILED=1
        if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
            result=timeout
        elif grep -qE 'LeakSanitizer|detected memory leaks' "$log"; then
            result=leak
        elif grep -qE 'out-of-memory|ERROR: libFuzzer: out-of-memory' "$log"; then
            result=oom
        elif grep -qE 'panicked at|deadly signal|AddressSanitizer' "$log"; then
            result=crash
        elif [[ $status -eq 124 || $status -eq 137 ]]; then
            result=hung
        else
            result="error (exit $status)"
        fi
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        [[ -n $artifact ]] && result="$result: ${artifact#"$ROOT"/}"
        echo "fuzz.sh: $t FAILED ($result); see ${log#"$ROOT"/}" >&2
    fi
    ROWS+=("| $t | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${corp:-?} | $result |")
done

echo
echo "Fuzzing: ${SECS}s per target; toolchain: $WHY; build: ${BUILD_SECS}s"
echo
echo "| target | execs | execs/s | cov | corpus (units/size) | result |"
echo "|---|---:|---:|---:|---:|---|"
printf '%s\n' "${ROWS[@]}"
if [[ $FAILED -ne 0 ]]; then
    echo
    echo "fuzz.sh: FAILED. Reproduce with: cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/<file>" \
        "(or RUSTC_BOOTSTRAP=1 cargo fuzz run ... without a nightly)" >&2
    exit 1
fi
