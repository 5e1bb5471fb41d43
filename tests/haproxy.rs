//! Debian's real HAProxy in front of two `sockloop serve` processes, configured with
//! the `haproxy.cfg` of docs/DEPLOY.md (the fenced block that starts with `# haproxy.cfg
//! for sockloop`, its placeholders filled with the processes' addresses and two free
//! ports): WebSocket and TCP echo through HAProxy, spread over both processes by
//! leastconn; the test page; and the health checks: a process stopped with SIGTERM or
//! killed leaves rotation, every new connection meanwhile is served by the other one,
//! and a process started again on the same ports comes back.
//!
//! Without `haproxy` the tests print `SKIPPED …` and pass, unless
//! SOCKLOOP_REQUIRE_TEST_DEPS=1 (CI), where they fail.

mod support {
    pub mod bounded_read;
    pub mod deps;
    pub mod exit;
    pub mod free_port;
    pub mod haproxy_rig;
    pub mod http_client;
    pub mod net;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod signal;
    pub mod stderr_wait;
    pub mod temp;
    pub mod ws_client;
}

use sockloop::proto::ws::frame::Opcode;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use support::bounded_read::ReadError;
use support::free_port::free_tcp_port;
use support::haproxy_rig::*;
use support::http_client::Conn;
use support::process::Proc;
use support::server::Server;
use support::temp::TempDir;
use support::ws_client::{Frame, WsClient};

/// The deployment guide: the test runs the configuration it shows.
const DEPLOY: &str = include_str!("../docs/DEPLOY.md");
const CONFIG_START: &str = "```\n# haproxy.cfg for sockloop\n";

/// How long HAProxy may take to take a stopped process out of rotation: the config's
/// `inter 2s` until the first failed check, `fastinter 500ms` until the second
/// (`fall 2`), and a margin for a loaded machine.
const LEAVES_ROTATION: Duration = Duration::from_secs(5);
/// Back in rotation: `downinter 2s`, then `fastinter 500ms` (`rise 2`), and a margin.
const BACK_IN_ROTATION: Duration = Duration::from_secs(5);
const STARTUP: Duration = Duration::from_secs(5);
const KIB: usize = 1024;

/// The haproxy.cfg block of docs/DEPLOY.md, from its first line to its closing fence.
fn deploy_config() -> &'static str {
    let start = DEPLOY
        .find(CONFIG_START)
        .expect("docs/DEPLOY.md has a ``` block starting with `# haproxy.cfg for sockloop`");
    assert_eq!(
        DEPLOY.matches(CONFIG_START).count(),
        1,
        "docs/DEPLOY.md must have one haproxy.cfg block"
    );
    let body = &DEPLOY[start + 4..];
    let end = body.find("\n```").expect("the haproxy.cfg block is closed");
    &body[..=end]
}

/// `haproxy`, or `None` after saying why the test is skipped.
fn haproxy_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["/usr/sbin", "/usr/local/sbin"]
        .into_iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join("haproxy"))
        .find(|p| p.is_file());
    if found.is_none() {
        return support::deps::missing(
            "haproxy is missing (Debian package haproxy; scripts/install-test-deps.sh)",
        );
    }
    found
}

/// `sockloop serve` as docs/DEPLOY.md runs it behind HAProxy: a web and an echo
/// listener, no per-address limit (every connection comes from HAProxy). `ports`
/// reuses the ports of a process that is gone.
fn backend(ports: Option<(u16, u16)>) -> Server {
    let (web, tcp) = ports.unwrap_or((0, 0));
    let web = format!("http://127.0.0.1:{web}");
    let tcp = format!("tcp://127.0.0.1:{tcp}=echo");
    Server::start(&["--max-conns-per-ip", "0", "-l", &web, "-l", &tcp])
}

/// Two sockloop processes and HAProxy in front of them. `sockloops[i]` is `web{i+1}`
/// and `echo{i+1}` in HAProxy's backends.
struct Rig {
    sockloops: Vec<Server>,
    haproxy: Proc,
    /// HAProxy's frontends: `frontend web` (mode http) and `frontend echo` (mode tcp).
    web: SocketAddr,
    tcp: SocketAddr,
    _dir: TempDir,
}

impl Rig {
    fn start() -> Option<Rig> {
        let program = haproxy_program()?;
        let sockloops = vec![backend(None), backend(None)];
        let dir = TempDir::new("haproxy");
        let config = dir.join("haproxy.cfg");
        // A free port may be taken again before HAProxy binds it: then try others.
        for _ in 0..3 {
            let (web, tcp) = two_free_ports();
            let filled = fill(deploy_config(), &sockloops, web, tcp);
            std::fs::write(&config, filled).expect("write haproxy.cfg");
            let mut command = Command::new(&program);
            command.arg("-f").arg(&config).arg("-db");
            let mut haproxy = Proc::spawn(command);
            if listening(&mut haproxy, web) {
                return Some(Rig {
                    sockloops,
                    haproxy,
                    web,
                    tcp,
                    _dir: dir,
                });
            }
            let said = haproxy.stderr();
            assert!(
                said.contains("cannot bind") || said.contains("Address already in use"),
                "haproxy did not start:\n{said}"
            );
        }
        panic!("haproxy could not bind its frontends three times over")
    }

    /// Waits until a line of HAProxy's log holds all of `parts` (e.g.
    /// `sockloop_web/web1 is DOWN`), at most until `within` after `since`: how long
    /// after `since` it came.
    fn wait_log(&mut self, parts: &[&str], since: Instant, within: Duration) -> Duration {
        loop {
            let log = self.haproxy.stderr();
            if log.lines().any(|l| parts.iter().all(|p| l.contains(p))) {
                return since.elapsed();
            }
            assert!(
                since.elapsed() < within && self.haproxy.try_exit().is_none(),
                "haproxy's log has no line with {parts:?} {:?} after:\n{log}",
                since.elapsed()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn two_free_ports() -> (SocketAddr, SocketAddr) {
    loop {
        let (a, b) = (free_tcp_port(), free_tcp_port());
        if a != b {
            return (a, b);
        }
    }
}

/// The config with its placeholders replaced; none may be left.
fn fill(config: &str, sockloops: &[Server], web: SocketAddr, tcp: SocketAddr) -> String {
    let mut filled = config
        .replace("{{WEB_FRONT}}", &web.to_string())
        .replace("{{TCP_FRONT}}", &tcp.to_string());
    for (i, s) in sockloops.iter().enumerate() {
        let n = i + 1;
        filled = filled
            .replace(
                &format!("{{{{WEB{n}}}}}"),
                &s.addr("http", "web").to_string(),
            )
            .replace(
                &format!("{{{{TCP{n}}}}}"),
                &s.addr("tcp", "echo").to_string(),
            );
    }
    assert!(!filled.contains("{{"), "placeholder left in:\n{filled}");
    filled
}

/// Whether HAProxy accepts connections on `web` within [`STARTUP`]; false once it has
/// exited. (The web frontend is mode http, so an empty connection goes to no server.)
fn listening(haproxy: &mut Proc, web: SocketAddr) -> bool {
    let deadline = Instant::now() + STARTUP;
    loop {
        if TcpStream::connect_timeout(&web, Duration::from_secs(1)).is_ok() {
            return true;
        }
        if haproxy.try_exit().is_some() {
            let _ = haproxy.wait_exit(Duration::from_secs(1));
            return false;
        }
        assert!(
            Instant::now() < deadline,
            "haproxy does not listen on {web} after {STARTUP:?}:\n{}",
            haproxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn websocket_echo_through_haproxy_is_spread_over_both_processes() {
    let Some(rig) = Rig::start() else {
        return;
    };
    // Six WebSockets held open at once: leastconn gives each new one to the process
    // with fewer open, so three and three.
    let mut clients: Vec<WsClient> = (0..6)
        .map(|i| ws_echo(rig.web, &format!("ws {i}")))
        .collect();
    for (i, ws) in clients.iter_mut().enumerate() {
        for j in 0..3 {
            let text = format!("message {j} on connection {i}: ünïcödé");
            assert_eq!(ws.request(&text), text);
        }
        let data = pattern(300, i as u8);
        ws.send_frame(true, Opcode::Binary, &data);
        assert_eq!(ws.recv_message(Opcode::Binary), data);
    }
    // 100 KiB messages pass HAProxy (which never looks inside the tunnel) unchanged.
    let big = pattern(100 * KIB, 7);
    clients[0].send_frame(true, Opcode::Binary, &big);
    assert_eq!(clients[0].recv_message(Opcode::Binary), big);
    let big_text: String = (0..100 * KIB)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    assert_eq!(clients[1].request(&big_text), big_text);
    for (i, ws) in clients.into_iter().enumerate() {
        close_ws(ws, &format!("ws {i}"));
    }
    let closes: Vec<u64> = rig
        .sockloops
        .iter()
        .map(|s| ws_closes_received(s, 1000))
        .collect();
    assert_eq!(
        closes,
        [3, 3],
        "WebSockets closed on each process; haproxy said:\n{}",
        rig.haproxy.stderr()
    );
}

#[test]
fn tcp_echo_through_haproxy_is_spread_over_both_processes() {
    let Some(rig) = Rig::start() else {
        return;
    };
    let mut clients: Vec<Echo> = (0..4)
        .map(|i| Echo::connect(rig.tcp, &format!("tcp {i}")))
        .collect();
    for (i, client) in clients.iter_mut().enumerate() {
        for j in 0..3 {
            let line = format!("line {j} on connection {i}");
            assert_eq!(client.line(&line), line);
        }
    }
    // 100 KiB written while the echo is read, then a half-close: all of it comes back,
    // then the close, through both of HAProxy's connections.
    let big = pattern(100 * KIB, 3);
    let mut writer = clients[2].stream.try_clone().expect("clone");
    let echoed = std::thread::scope(|scope| {
        let write = scope.spawn(|| writer.write_all(&big));
        let echoed = clients[2].read_exact(big.len());
        write.join().unwrap().expect("the 100 KiB write");
        echoed
    });
    assert!(echoed == big, "the 100 KiB came back changed");
    clients[2].stream.shutdown(Shutdown::Write).unwrap();
    clients[2].expect_eof();
    let accepted: Vec<u64> = rig.sockloops.iter().map(echo_accepted).collect();
    assert_eq!(
        accepted,
        [2, 2],
        "echo connections accepted by each process; haproxy said:\n{}",
        rig.haproxy.stderr()
    );
}

#[test]
fn the_test_page_and_health_through_haproxy() {
    let Some(rig) = Rig::start() else {
        return;
    };
    // Several requests on one client connection: HAProxy keeps it alive, and opens a
    // connection to sockloop for each (option http-server-close).
    let mut conn = Conn::connect(rig.web);
    conn.send(b"GET / HTTP/1.1\r\nHost: sockloop.example\r\n\r\n");
    let page = conn.read_response(false);
    assert_eq!(page.status(), 200, "{}", page.dump());
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{}",
        page.dump()
    );
    assert!(page.body_str().contains("/ws"), "{}", page.dump());
    conn.send(b"GET /health HTTP/1.1\r\nHost: sockloop.example\r\n\r\n");
    let health = conn.read_response(false);
    assert_eq!(
        (health.status(), health.body_str().as_str()),
        (200, "ok\n"),
        "{}",
        health.dump()
    );
    conn.send(b"GET /nowhere HTTP/1.1\r\nHost: sockloop.example\r\nConnection: close\r\n\r\n");
    let missing = conn.read_response(false);
    assert_eq!(missing.status(), 404, "{}", missing.dump());
    conn.expect_eof(Duration::from_secs(2));
    // A plain GET on the WebSocket path gets sockloop's own 426, through HAProxy.
    let mut plain = Conn::connect(rig.web);
    plain.send(b"GET /ws HTTP/1.1\r\nHost: sockloop.example\r\nConnection: close\r\n\r\n");
    let refused = plain.read_response(false);
    assert_eq!(refused.status(), 426, "{}", refused.dump());
    // HAProxy keeps no idle connection to sockloop (whose keep-alive timeout closes
    // it): soon only the scrape itself is open on each web listener.
    let idle_at_sockloop = || {
        rig.sockloops.iter().map(|s| {
            sample(
                &metrics(s),
                "sockloop_connections_open",
                &[("transport", "http"), ("service", "web")],
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    while idle_at_sockloop().any(|open| open != 1) {
        assert!(
            Instant::now() < deadline,
            "HAProxy keeps connections open to sockloop: {:?}",
            idle_at_sockloop().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Which of `clients` has a frame first within `within`: its index and the frame.
fn first_frame(clients: &mut [WsClient], within: Duration) -> (usize, Frame) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        for (i, ws) in clients.iter_mut().enumerate() {
            match ws.try_recv_frame(Duration::from_millis(20)) {
                Ok(frame) => return (i, frame),
                Err(ReadError::Timeout) => {}
                Err(e) => panic!("WebSocket {i}: {e:?}"),
            }
        }
    }
    panic!(
        "no frame on any of {} WebSockets within {within:?}",
        clients.len()
    )
}

#[test]
fn a_process_stopped_with_sigterm_leaves_rotation_and_the_other_serves_everything() {
    let Some(mut rig) = Rig::start() else {
        return;
    };
    // One WebSocket and one echo connection on each process.
    let mut sockets: Vec<WsClient> = (0..2)
        .map(|i| ws_echo(rig.web, &format!("ws {i}")))
        .collect();
    let first = Echo::connect(rig.tcp, "tcp 0");
    let first_on_stopped = echo_accepted(&rig.sockloops[0]) == 1;
    let second = Echo::connect(rig.tcp, "tcp 1");
    let (mut on_stopped, mut on_other) = match first_on_stopped {
        true => (first, second),
        false => (second, first),
    };
    assert_eq!(echo_accepted(&rig.sockloops[0]), 1);

    let stopped_at = Instant::now();
    rig.sockloops[0].signal("TERM");
    rig.sockloops[0].wait_stderr("shutting down: closing listeners", STARTUP);
    // The stopping process's WebSocket gets close 1001 through HAProxy, its echo
    // connection a clean close; the other process's go on.
    let (i, frame) = first_frame(&mut sockets, Duration::from_secs(2));
    assert_eq!(close_code(&frame), Some(1001), "{frame:?}");
    let mut closing = sockets.remove(i);
    send_close(&mut closing, 1001);
    closing.conn.expect_eof(Duration::from_secs(2));
    on_stopped.expect_eof();
    let mut survivor = sockets.pop().expect("the other WebSocket");
    assert_eq!(survivor.request("still here"), "still here");
    assert_eq!(on_other.line("still here"), "still here");

    // Its listeners are closed: until HAProxy's checks notice, a new connection HAProxy
    // sends there (leastconn: it has none open) is refused and redispatched; after,
    // none goes there. Either way every one is served, by the other process.
    let mut held_ws = Vec::new();
    let mut held_tcp = Vec::new();
    for i in 0..4 {
        held_ws.push(ws_echo(rig.web, &format!("early ws {i}")));
        held_tcp.push(Echo::connect(rig.tcp, &format!("early tcp {i}")));
    }
    // Unless a check came first (when web1 had not passed one since the start, one
    // failure is enough), web1 was still up when the first of them were sent.
    std::thread::sleep(Duration::from_millis(50));
    let checked_first = rig.haproxy.stderr().contains("sockloop_web/web1 is DOWN");
    let down = rig.wait_log(&["sockloop_web/web1 is DOWN"], stopped_at, LEAVES_ROTATION);
    rig.wait_log(
        &["sockloop_echo/echo1 is DOWN via sockloop_web/web1"],
        Instant::now(),
        Duration::from_secs(1),
    );
    for i in 0..4 {
        held_ws.push(ws_echo(rig.web, &format!("late ws {i}")));
        held_tcp.push(Echo::connect(rig.tcp, &format!("late tcp {i}")));
    }
    assert!(
        rig.sockloops[0].wait_exit(Duration::from_secs(5)).success(),
        "{}",
        rig.sockloops[0].stderr()
    );
    let other = &rig.sockloops[1];
    assert_eq!(echo_accepted(other), 1 + 8, "{}", rig.haproxy.stderr());
    for (i, ws) in held_ws.into_iter().enumerate() {
        close_ws(ws, &format!("held ws {i}"));
    }
    close_ws(survivor, "survivor");
    assert_eq!(ws_closes_received(other, 1000), 8 + 1);
    // HAProxy's log shows how the early ones got there: tried on web1, refused, and
    // sent to web2 at once (retries `+1`), which the clients never noticed.
    drop(held_tcp);
    if !checked_first {
        let (now, within) = (Instant::now(), Duration::from_secs(2));
        rig.wait_log(&["sockloop_web/web2 ", "/+1 0/0 \"GET /ws "], now, within);
        rig.wait_log(&[" echo sockloop_echo/echo2 ", "/+1 0/0"], now, within);
    }
    assert!(
        !rig.haproxy.stderr().contains("sockloop_web/web2 is DOWN"),
        "{}",
        rig.haproxy.stderr()
    );
    eprintln!("web1 out of rotation {down:?} after SIGTERM");
}

#[test]
fn a_killed_process_leaves_rotation_and_comes_back_when_started_again() {
    let Some(mut rig) = Rig::start() else {
        return;
    };
    let ports = (
        rig.sockloops[0].addr("http", "web").port(),
        rig.sockloops[0].addr("tcp", "echo").port(),
    );
    let killed_at = Instant::now();
    rig.sockloops[0].signal("KILL");
    let _ = rig.sockloops[0].wait_exit(Duration::from_secs(5));
    let (mut held, mut held_ws) = (Vec::new(), Vec::new());
    for i in 0..3 {
        held.push(Echo::connect(rig.tcp, &format!("tcp {i}")));
        held_ws.push(ws_echo(rig.web, &format!("ws {i}")));
    }
    let down = rig.wait_log(&["sockloop_web/web1 is DOWN"], killed_at, LEAVES_ROTATION);
    rig.wait_log(
        &["sockloop_echo/echo1 is DOWN via sockloop_web/web1"],
        Instant::now(),
        Duration::from_secs(1),
    );
    assert_eq!(echo_accepted(&rig.sockloops[1]), 3);

    // Started again on the same ports: two good checks and it is back, and leastconn
    // gives it the next connections, since the other one holds all that are open.
    let started_at = Instant::now();
    rig.sockloops[0] = backend(Some(ports));
    let up = rig.wait_log(&["sockloop_web/web1 is UP"], started_at, BACK_IN_ROTATION);
    rig.wait_log(
        &["sockloop_echo/echo1 is UP"],
        Instant::now(),
        Duration::from_secs(1),
    );
    for i in 0..2 {
        held.push(Echo::connect(rig.tcp, &format!("tcp again {i}")));
    }
    assert_eq!(
        echo_accepted(&rig.sockloops[0]),
        2,
        "{}",
        rig.haproxy.stderr()
    );
    assert_eq!(echo_accepted(&rig.sockloops[1]), 3);
    let mut ws = ws_echo(rig.web, "ws again");
    assert_eq!(ws.request("back"), "back");
    close_ws(ws, "ws again");
    assert_eq!(ws_closes_received(&rig.sockloops[0], 1000), 1);
    for (i, ws) in held_ws.into_iter().enumerate() {
        close_ws(ws, &format!("ws {i}"));
    }
    assert_eq!(ws_closes_received(&rig.sockloops[1], 1000), 3);
    eprintln!("web1 out of rotation {down:?} after SIGKILL, back {up:?} after restart");
}
