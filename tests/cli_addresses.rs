//! HOST:PORT read one way by `serve` and by every client (one parser,
//! src/hostport.rs): a bad port is a usage error in every command, an empty host is
//! 127.0.0.1 in every command, and an IPv6 address with a port needs brackets in
//! every command.

mod support {
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod usage;
}

use std::net::Ipv4Addr;
use support::client_run::run;
use support::server::Server;
use support::usage::usage_error;

/// Every command that takes HOST:PORT, with `addr` where it goes.
fn every_command(addr: &str) -> Vec<Vec<String>> {
    let mut all = vec![
        vec!["tcp".to_string(), addr.to_string()],
        vec!["udp".to_string(), addr.to_string()],
        vec!["ws".to_string(), format!("ws://{addr}/ws")],
        vec![
            "rpc".to_string(),
            addr.to_string(),
            "add".to_string(),
            "1".to_string(),
            "2".to_string(),
        ],
        vec![
            "serve".to_string(),
            "-l".to_string(),
            format!("tcp://{addr}=echo"),
        ],
        vec![
            "serve".to_string(),
            "-l".to_string(),
            format!("udp://{addr}=echo"),
        ],
        vec![
            "serve".to_string(),
            "-l".to_string(),
            format!("http://{addr}"),
        ],
    ];
    if cfg!(feature = "bench") {
        for mode in ["tcp", "udp"] {
            all.push(vec![
                "bench".to_string(),
                mode.to_string(),
                addr.to_string(),
            ]);
        }
        all.push(vec![
            "bench".to_string(),
            "ws".to_string(),
            format!("ws://{addr}/ws"),
        ]);
    }
    all
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn bad_ports_are_usage_errors_in_every_command() {
    let cases = [
        (
            "127.0.0.1:99999",
            "port '99999' is not a number from 0 to 65535",
        ),
        (
            "127.0.0.1:abc",
            "port 'abc' is not a number from 0 to 65535",
        ),
        ("127.0.0.1:", "no port after ':'"),
        ("127.0.0.1:+80", "port '+80' is not a number"),
    ];
    for (addr, why) in cases {
        for args in every_command(addr) {
            usage_error(&strs(&args)).assert_stderr_has(why);
        }
    }
    // The clients say which address; port 0 is for listening, not connecting.
    usage_error(&["tcp", "127.0.0.1:abc"])
        .assert_stderr_has("sockloop tcp: bad address '127.0.0.1:abc': port 'abc'");
    usage_error(&["ws", "ws://127.0.0.1:/"])
        .assert_stderr_has("sockloop ws: bad URL 'ws://127.0.0.1:/': no port after ':'");
    usage_error(&["rpc", "127.0.0.1:0", "quit"]).assert_stderr_has("port 0 cannot be connected to");
    usage_error(&["udp", "127.0.0.1:0"]).assert_stderr_has("port 0 cannot be connected to");
}

#[test]
fn an_empty_host_is_127_0_0_1_for_clients_as_for_serve() {
    let server = Server::start(&[
        "-l",
        "tcp://:0=echo",
        "-l",
        "udp://:0=echo",
        "-l",
        "tcp://:0=cmd",
        "-l",
        "http://:0",
        "-q",
    ]);
    let empty_host = |transport: &str, service: &str| {
        let addr = server.addr(transport, service);
        assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST, "serve read ':0' as {addr}");
        format!(":{}", addr.port())
    };
    run(&["tcp", &empty_host("tcp", "echo")], b"over tcp\n")
        .assert_code(0)
        .assert_stdout("over tcp\n");
    run(&["udp", &empty_host("udp", "echo")], b"over udp\n")
        .assert_code(0)
        .assert_stdout("over udp\n");
    let url = format!("ws://{}/ws", empty_host("http", "web"));
    run(&["ws", &url], b"over ws\n")
        .assert_code(0)
        .assert_stdout("over ws\n");
    run(&["rpc", &empty_host("tcp", "cmd"), "add", "17", "18"], b"")
        .assert_code(0)
        .assert_stdout("Reply (Add): 35\n");
    #[cfg(feature = "bench")]
    {
        let port = empty_host("tcp", "echo");
        run(&["bench", "tcp", &port, "-c", "1", "-n", "3", "-q"], b"").assert_code(0);
    }
}

#[test]
fn an_ipv6_address_with_a_port_needs_brackets() {
    // `::1:1234` is itself an IPv6 address: no command reads it as [::1]:1234.
    for args in every_command("::1:1234") {
        usage_error(&strs(&args))
            .assert_stderr_has("'::1:1234' is itself an IPv6 address")
            .assert_stderr_has("write an IPv6 address with a port as [::1]:1234");
    }
    // The same for a listener on port 0, which would otherwise bind [::1]:0.
    usage_error(&["serve", "-l", "tcp://::1:0"])
        .assert_stderr_has("write an IPv6 address with a port as [::1]:0");
    usage_error(&["tcp", "::1"]).assert_stderr_has("'::1' is an IPv6 address with no port");

    // With brackets, server and client agree.
    let server = Server::start(&["-l", "tcp://[::1]:0=echo", "-q"]);
    let addr = server.addr("tcp", "echo");
    assert!(addr.is_ipv6(), "{addr}");
    run(&["tcp", &format!("[::1]:{}", addr.port())], b"over ipv6\n")
        .assert_code(0)
        .assert_stdout("over ipv6\n");
}
