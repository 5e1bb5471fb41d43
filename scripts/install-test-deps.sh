#!/usr/bin/env bash
# Installs what the integration tests need beyond cargo:
#  - dnsmasq, the independent DNS server that tests/client_lookup.rs asks (Debian
#    package dnsmasq-base: the binary only, no system service is installed or started);
#  - a Python venv at target/test-venv with the `websockets` package, the independent
#    WebSocket peer of tests/client_ws.rs.
# Safe to run again: it does nothing for what is already there.
#
# CI runs this, then sets SOCKLOOP_REQUIRE_TEST_DEPS=1 so a missing server fails the tests
# instead of skipping them.
set -euo pipefail

have_dnsmasq() {
    command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || [ -x /sbin/dnsmasq ]
}

cd "$(dirname "$0")/.."

# --- the websockets venv -------------------------------------------------------------
WEBSOCKETS_SPEC=${WEBSOCKETS_SPEC:-websockets==17.4}
VENV=target/test-venv
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import websockets.sync.server' 2>/dev/null; then
    echo "install-test-deps: $VENV already has websockets"
else
    echo "install-test-deps: creating $VENV with $WEBSOCKETS_SPEC"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        # Debian without python3-venv: no ensurepip.
        rm -rf "$VENV"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1 ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$WEBSOCKETS_SPEC"
fi

# --- dnsmasq --------------------------------------------------------------------------
if have_dnsmasq; then
    echo "install-test-deps: dnsmasq already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: no apt-get here; install dnsmasq by hand" >&2
    exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: installing dnsmasq-base"
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends dnsmasq-base >/dev/null

if have_dnsmasq; then
    echo "install-test-deps: dnsmasq installed"
else
    echo "install-test-deps: dnsmasq-base installed but no dnsmasq binary found" >&2
    exit 1
fi
