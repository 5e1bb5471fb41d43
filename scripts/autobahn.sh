#!/usr/bin/env bash
# WebSocket conformance: run the Autobahn TestSuite cases (1.* .. 13.*) against
# sockloop's WebSocket echo endpoint, using kosoku (PyPI), a Python 3 runner
# of Autobahn's own case files.
#
#   scripts/autobahn.sh                    # build, start sockloop, run every case
#   scripts/autobahn.sh -i '1.*' -i 9.1.6  # only these (kosoku patterns, repeatable)
#   scripts/autobahn.sh -x '9.*'           # all but these
#   AUTOBAHN_URL=ws://127.0.0.1:9001/ws scripts/autobahn.sh   # test a running server
#
# It prints one summary line with the count of each verdict, a table of the
# 9.* (limits/performance) durations, and every FAILED case with its reason.
# Exit status: 0 passed; 1 a gated case (sections 1-13 unless
# AUTOBAHN_GATE_MAX_SECTION says otherwise) is neither OK nor INFORMATIONAL, any
# case ERRORed (no verdict: refused connection, no 101, ...), timed out or was
# not run, or the server died; 2 setup or usage error.
#
# Output goes to target/autobahn/ ($CARGO_TARGET_DIR/autobahn/ when that is set, or
# $AUTOBAHN_OUT): report/ holds kosoku's reports (index.json, per-case JSON and HTML;
# one folder per section, or per case after a time-out), plus server.log and the
# kosoku logs.
#
# Why the cases run one section at a time: kosoku (0.1.0) has no close-handshake
# timeout, so a case whose close frame the server never answers hangs forever,
# and kosoku writes its reports only at the very end. Each section therefore
# runs under its own time limit; a section that overruns is run again case by
# case, so the hung cases are named and the rest still get their verdicts.
set -euo pipefail

# ---------------------------------------------------------------------------
# Settings (environment overrides)

# The server under test, run from the repository root. It must print a banner
# line like "  http  127.0.0.1:43127  ws ..." (transport word, bound address) on
# stdout: that is where the port comes from, so port 0 works. Section 9 sends
# messages of up to 16 MiB, past the 1 MiB default of --max-message; sections 12
# and 13 need permessage-deflate (--ws-deflate).
# SERVER_CMD's default, set below once cargo has said where the release build is
# (target/, or $CARGO_TARGET_DIR): `sockloop serve -q --ws-deflate --max-message
# 16777216 -l http://127.0.0.1:0`.
# Path of the WebSocket echo endpoint on that listener.
AUTOBAHN_PATH=${AUTOBAHN_PATH:-/ws}
# Set to ws://HOST:PORT/PATH to test an already running server (no build, no start).
AUTOBAHN_URL=${AUTOBAHN_URL:-}
# Set to 1 to skip `cargo build --release` (e.g. CI built it already).
AUTOBAHN_NO_BUILD=${AUTOBAHN_NO_BUILD:-0}

# Time limits, in seconds. The overall one covers everything, build included.
AUTOBAHN_TIMEOUT=${AUTOBAHN_TIMEOUT:-1200}
AUTOBAHN_SECTION_TIMEOUT=${AUTOBAHN_SECTION_TIMEOUT:-240}
AUTOBAHN_CASE_TIMEOUT=${AUTOBAHN_CASE_TIMEOUT:-60}
AUTOBAHN_READY_TIMEOUT=${AUTOBAHN_READY_TIMEOUT:-30}  # server start-up
AUTOBAHN_STOP_TIMEOUT=${AUTOBAHN_STOP_TIMEOUT:-10}    # SIGTERM until SIGKILL

# Highest section whose FAILED, NON-STRICT or UNIMPLEMENTED verdicts fail the run
# (12/13 are compression: 10 for a server without it).
AUTOBAHN_GATE_MAX_SECTION=${AUTOBAHN_GATE_MAX_SECTION:-13}
# Set to 1 to also fail on a FAILED/UNCLEAN closing handshake in those sections.
AUTOBAHN_STRICT_CLOSE=${AUTOBAHN_STRICT_CLOSE:-0}

# The runner, pinned: the summary relies on its report format.
KOSOKU_SPEC=${KOSOKU_SPEC:-kosoku==0.1.0}
# The Python used to create the venv.
AUTOBAHN_PYTHON=${AUTOBAHN_PYTHON:-python3}

# ---------------------------------------------------------------------------
# Paths: everything is relative to the repository root, whatever the cwd.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/target-dir.sh
SERVER_CMD=${SERVER_CMD:-$TARGET_DIR/release/sockloop serve -q --ws-deflate --max-message 16777216 -l http://127.0.0.1:0}
VENV=$TARGET_DIR/autobahn-venv
OUT=${AUTOBAHN_OUT:-$TARGET_DIR/autobahn}
REPORTS=$OUT/report
SUMMARY_PY=$ROOT/scripts/autobahn_summary.py

# Messages go to the script's own stderr (fd 4), even from a signal trap that
# runs while a command's output is redirected to a log file.
exec 4>&2
log() { printf 'autobahn: %s\n' "$*" >&4; }
die() { log "error: $*"; exit 2; }

usage() { # the header comment above; on stderr for a usage error
    local text
    text=$(sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0")
    if (($1 == 0)); then echo "$text"; else echo "$text" >&2; fi
    exit "$1"
}

# ---------------------------------------------------------------------------
# Arguments: case selection, passed on to kosoku's rules.

SELECT_ARGS=()
while (($#)); do
    case $1 in
        -i | --include | -x | --exclude)
            (($# >= 2)) || die "$1 needs a case id or pattern"
            SELECT_ARGS+=("$1" "$2")
            shift 2
            ;;
        -i?* | -x?*) SELECT_ARGS+=("${1:0:2}" "${1:2}"); shift ;;
        --include=* | --exclude=*) SELECT_ARGS+=("${1%%=*}" "${1#*=}"); shift ;;
        -h | --help) usage 0 ;;
        *) log "unknown argument: $1"; usage 2 ;;
    esac
done

# ---------------------------------------------------------------------------
# Time budget

DEADLINE=$((SECONDS + AUTOBAHN_TIMEOUT))
remaining() { echo $((DEADLINE - SECONDS)); }

# bounded LIMIT CMD...: run CMD, killed after LIMIT seconds or at the overall
# deadline, whichever is first. Exit status 124 means it was cut off.
bounded() {
    local limit=$1 left
    shift
    left=$(remaining)
    ((left < limit)) && limit=$left
    ((limit > 0)) || return 124
    # In the background + wait, so that a signal reaches our trap at once.
    timeout --kill-after=5 "$limit" "$@" &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    return "$rc"
}

# ---------------------------------------------------------------------------
# Cleanup: stop the server however we leave.

SERVER_PID=
stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    local pid=$SERVER_PID waited=0
    SERVER_PID=
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    while kill -0 "$pid" 2>/dev/null && ((waited < AUTOBAHN_STOP_TIMEOUT * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "server (pid $pid) ignored SIGTERM for ${AUTOBAHN_STOP_TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    ((status == 0)) || log "server exited with status $status after SIGTERM (see $OUT/server.log)"
}
CHILD_PID=  # the `bounded` command running now, if any
# shellcheck disable=SC2317 # reached through the trap
on_signal() {
    log "interrupted"
    [[ -z $CHILD_PID ]] || kill -TERM "$CHILD_PID" 2>/dev/null || true
    exit 130
}
trap stop_server EXIT
trap on_signal INT TERM

# ---------------------------------------------------------------------------
# 1. The kosoku venv (reused when it already has the pinned kosoku).

make_venv() {
    command -v "$AUTOBAHN_PYTHON" >/dev/null || die "$AUTOBAHN_PYTHON not found (set AUTOBAHN_PYTHON)"
    log "creating $VENV"
    rm -rf "$VENV"
    if "$AUTOBAHN_PYTHON" -m venv "$VENV" >"$OUT/venv.log" 2>&1; then
        return 0
    fi
    # Typically Debian without python3-venv: no ensurepip. Make the venv without
    # pip, then let the system's pip put pip into it...
    log "python -m venv failed (no ensurepip?): $(tail -n 1 "$OUT/venv.log")"
    rm -rf "$VENV"
    "$AUTOBAHN_PYTHON" -m venv --without-pip "$VENV" || die "cannot create $VENV"
    if "$AUTOBAHN_PYTHON" -m pip --version >/dev/null 2>&1 &&
        "$AUTOBAHN_PYTHON" -m pip --python "$VENV/bin/python" install --quiet pip; then
        return 0
    fi
    # ...or, as root on Debian/Ubuntu, install the missing package and retry.
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing python3-venv with apt-get"
        rm -rf "$VENV"
        apt-get install -y -qq python3-venv >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; } ||
            die "apt-get install python3-venv failed"
        "$AUTOBAHN_PYTHON" -m venv "$VENV" || die "cannot create $VENV"
        return 0
    fi
    die "no way to get pip into $VENV: install python3-venv (Debian/Ubuntu) or pip"
}

setup_kosoku() {
    local installed
    installed=$("$VENV/bin/python" -m pip show kosoku 2>/dev/null | sed -n 's/^Version: //p' || true)
    if [[ -x $VENV/bin/kosoku && $KOSOKU_SPEC == "kosoku==$installed" ]]; then
        return 0
    fi
    if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        make_venv
    fi
    log "installing $KOSOKU_SPEC"
    bounded 600 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$KOSOKU_SPEC" ||
        die "pip install $KOSOKU_SPEC failed"
}

# kosoku 0.1.0 hands the 12.*/13.* (compression) cases an uncompressed message as a
# str (text decoded from UTF-8, binary from Latin-1, one char per byte) where
# Autobahn handed them bytes, as it does for compressed ones; the case then hashes
# the str and ends in "Strings must be encoded before hashing" (ERROR, no verdict).
# RFC 7692 §6 lets a sender leave any message uncompressed, and sockloop does so
# when compressing would not pay, so the case is given back the bytes it was
# written for. Idempotent; nothing else is touched.
fix_kosoku_text_messages() {
    "$VENV/bin/python" - <<'PY'
import pathlib, kosoku
case = pathlib.Path(kosoku.__file__).parent / "cases" / "case12_x_x.py"
text = case.read_text()
marker = "def onMessage(self, msg, binary):\n"
fix = ("   if isinstance(msg, str):  # sockloop: kosoku gives str for uncompressed\n"
       "      msg = msg.encode('latin-1' if binary else 'utf-8')\n")
if marker in text and fix not in text:
    case.write_text(text.replace(marker, marker + fix, 1))
PY
}

mkdir -p "$OUT"
setup_kosoku
fix_kosoku_text_messages || die "cannot apply the kosoku text-message fix"
PY=$VENV/bin/python
KOSOKU=$VENV/bin/kosoku
# scripts/autobahn-client.sh only needs the venv.
[[ ${AUTOBAHN_SETUP_ONLY:-0} == 1 ]] && exit 0

# The cases to run: lines of "SECTION ID ID ...". Checked before any build.
SELECTION=$("$PY" "$SUMMARY_PY" select "${SELECT_ARGS[@]}") || exit 2

# ---------------------------------------------------------------------------
# 2. The server: build it, start it, read its port, wait until it accepts.

start_server() {
    if [[ $AUTOBAHN_NO_BUILD != 1 ]]; then
        log "cargo build --release"
        bounded "$(remaining)" cargo build --release --quiet || die "cargo build --release failed"
    fi
    log "starting: $SERVER_CMD"
    # exec: $! is then the server itself, which is what we signal later. The log
    # exists before the server starts, so the banner poll below can read it.
    : >"$OUT/server.log"
    bash -c "exec $SERVER_CMD" >"$OUT/server.log" 2>&1 </dev/null &
    SERVER_PID=$!

    local host='' port='' line tries=0 ready=0
    while ((tries < AUTOBAHN_READY_TIMEOUT * 10)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" && status=0 || status=$?
            SERVER_PID=
            tail -n 20 "$OUT/server.log" >&2
            die "server exited during start-up (status $status)"
        fi
        # The banner's listener line: "  http  127.0.0.1:43127  ws ...".
        while IFS= read -r line; do
            if [[ $line =~ ^[[:space:]]*http[[:space:]]+([^[:space:]]+):([0-9]+)([[:space:]]|$) ]]; then
                host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
                break
            fi
        done <"$OUT/server.log"
        # Listening and accepting? (bash's /dev/tcp; brackets off an IPv6 host)
        if [[ -n $port ]] && (exec 3<>"/dev/tcp/${host//[\[\]]/}/$port") 2>/dev/null; then
            ready=1
            break
        fi
        sleep 0.1
        tries=$((tries + 1))
    done
    if ((!ready)); then
        tail -n 20 "$OUT/server.log" >&2
        [[ -n $port ]] || die "no 'http HOST:PORT' line in the server's banner after ${AUTOBAHN_READY_TIMEOUT}s"
        die "nothing accepts connections on $host:$port after ${AUTOBAHN_READY_TIMEOUT}s"
    fi
    case $host in 0.0.0.0) host=127.0.0.1 ;; '[::]') host='[::1]' ;; esac
    AUTOBAHN_URL="ws://$host:$port$AUTOBAHN_PATH"
}

if [[ -z $AUTOBAHN_URL ]]; then
    start_server
fi
log "testing $AUTOBAHN_URL"

# ---------------------------------------------------------------------------
# 3. Run the cases, a section at a time (see the note at the top).

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
TIMED_OUT=$OUT/timed-out.txt NOT_RUN=$OUT/not-run.txt
: >"$TIMED_OUT"
: >"$NOT_RUN"

# kosoku_run DIR LIMIT ID...: run these cases, reports into DIR. kosoku exits 1
# whenever a case is not a pass (UNIMPLEMENTED included), so its status only
# tells a run that ended (reports written) from one that did not.
kosoku_run() {
    local dir=$1 limit=$2 id args=() rc=0
    shift 2
    for id; do args+=(-i "$id"); done
    bounded "$limit" "$KOSOKU" -o "$dir" "${args[@]}" "$AUTOBAHN_URL" >"$dir.log" 2>&1 || rc=$?
    ((rc == 124 || rc == 137)) && return 124 # cut off (137: SIGKILLed after it)
    [[ -f $dir/index.json ]] || { tail -n 5 "$dir.log" >&2; die "kosoku did not run (status $rc), see $dir.log"; }
}

START=$SECONDS
while read -r -u 3 sec line; do
    read -ra ids <<<"$line"
    if (($(remaining) <= 0)); then
        printf '%s\n' "${ids[@]}" >>"$NOT_RUN"
        continue
    fi
    t0=$SECONDS
    if kosoku_run "$REPORTS/section-$sec" "$AUTOBAHN_SECTION_TIMEOUT" "${ids[@]}"; then
        log "section $sec: ${#ids[@]} cases, $((SECONDS - t0))s"
        continue
    fi
    log "section $sec: no result after $((SECONDS - t0))s; running its cases one at a time"
    rm -rf "$REPORTS/section-$sec"
    for id in "${ids[@]}"; do
        t0=$SECONDS
        if (($(remaining) <= 0)); then
            echo "$id" >>"$NOT_RUN"
        elif ! kosoku_run "$REPORTS/case-$id" "$AUTOBAHN_CASE_TIMEOUT" "$id"; then
            log "case $id: no result after $((SECONDS - t0))s"
            rm -rf "$REPORTS/case-$id"
            echo "$id" >>"$TIMED_OUT"
        fi
    done
done 3<<<"$SELECTION"
ELAPSED=$((SECONDS - START))

# ---------------------------------------------------------------------------
# 4. Stop the server (noting if it died on its own), then summarise.

SERVER_DIED=0
if [[ -n $SERVER_PID ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID" && status=0 || status=$?
    SERVER_PID=
    SERVER_DIED=1
    log "the server exited during the run (status $status); last lines of $OUT/server.log:"
    tail -n 20 "$OUT/server.log" >&2
fi
stop_server

log "cases ran in ${ELAPSED}s; reports in $REPORTS/"
summary_args=(--timed-out "$TIMED_OUT" --not-run "$NOT_RUN" --gate-max-section "$AUTOBAHN_GATE_MAX_SECTION")
[[ $AUTOBAHN_STRICT_CLOSE == 1 ]] && summary_args+=(--strict-close)
rc=0
"$PY" "$SUMMARY_PY" summary "$REPORTS" "${summary_args[@]}" || rc=$?
((SERVER_DIED)) && rc=1
exit "$rc"
