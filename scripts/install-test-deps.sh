#!/usr/bin/env bash
# Installs what the integration tests need beyond cargo:
#  - dnsmasq, the independent DNS server that tests/client_lookup.rs asks (Debian
#    package dnsmasq-base: the binary only, no system service is installed or started);
#  - a Python venv at target/test-venv with the `websockets` package, the independent
#    WebSocket peer of tests/client_ws.rs and tests/ws_deflate.rs, and
#    `prometheus_client`, whose text-format parser reads /metrics in tests/metrics.rs;
#  - Chromium (Debian package chromium), the browser tests/ws_deflate.rs drives
#    headless over the DevTools protocol;
#  - openssl and curl, the independent TLS client, server and certificate maker of
#    tests/tls.rs;
#  - socat, the TLS bridge that lets the Autobahn runner (which speaks ws:// only)
#    test sockloop over wss:// (scripts/autobahn-wss.sh);
#  - systemd-socket-activate (package systemd; nothing is started), the service
#    manager's socket passing for tests/socket_activation.rs;
#  - haproxy, the load balancer tests/haproxy.rs runs in front of two sockloop
#    processes with the configuration of docs/DEPLOY.md (the package's own service
#    is not needed: the test runs haproxy in the foreground);
#  - redis-server, the Redis that tests/broker.rs starts on a free port (and restarts)
#    to share chat rooms and topics between two sockloop processes (--broker).
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
# prometheus_client: the reference parser of the Prometheus text format (tests/metrics.rs).
PROMETHEUS_SPEC=${PROMETHEUS_SPEC:-prometheus_client==0.26.0}
if "$VENV/bin/python" -c 'import prometheus_client.parser' 2>/dev/null; then
    echo "install-test-deps: $VENV already has prometheus_client"
else
    echo "install-test-deps: installing $PROMETHEUS_SPEC into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PROMETHEUS_SPEC"
fi

# --- Debian packages: dnsmasq, Chromium ------------------------------------------------
have_openssl() {
    command -v openssl >/dev/null 2>&1
}

have_curl() {
    command -v curl >/dev/null 2>&1
}

have_socat() {
    command -v socat >/dev/null 2>&1
}

have_socket_activate() {
    [ -x /usr/bin/systemd-socket-activate ]
}

have_haproxy() {
    [ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1
}

have_redis() {
    [ -x /usr/bin/redis-server ]
}

have_chromium() {
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
updated=0

# apt_install PACKAGE CHECK: installs PACKAGE (no recommended extras) unless CHECK passes.
apt_install() {
    local package=$1 check=$2
    if "$check"; then
        echo "install-test-deps: $package already installed"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-test-deps: no apt-get here; install $package by hand" >&2
        exit 1
    fi
    echo "install-test-deps: installing $package"
    if [ "$updated" -eq 0 ]; then
        $sudo apt-get update -qq
        updated=1
    fi
    $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
    if ! "$check"; then
        echo "install-test-deps: $package installed but its program is not found" >&2
        exit 1
    fi
}

apt_install dnsmasq-base have_dnsmasq
apt_install chromium have_chromium
apt_install openssl have_openssl
apt_install curl have_curl
apt_install socat have_socat
apt_install systemd have_socket_activate
apt_install haproxy have_haproxy
apt_install redis-server have_redis
