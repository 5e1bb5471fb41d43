//! `sockloop udp HOST:PORT` — one datagram per line, each reply printed.

use super::command_line;
use super::{exit_code, parse_secs};
use crate::client::udp::{self, UdpOptions};
use crate::client::{ClientError, connect, unescape};
use crate::hostport::HostPort;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const ABOUT: &str = "\
usage: sockloop udp HOST:PORT [options]

Sends each line of standard input as one datagram (newline included) and prints
each reply datagram. When no reply comes within the timeout it says so, instead of
printing an empty reply; an ICMP port-unreachable is reported as such.

examples:
  sockloop udp 127.0.0.1:1235                    then type HELP
  sockloop udp --prompt 127.0.0.1:1234           classic style: >> and Reply:, STOP exits
  sockloop udp -e '1 6' 127.0.0.1:1238

exit codes: 0 every datagram answered, 1 a datagram got no reply or the port is
unreachable, 2 bad command line";

pub fn main(args: &[String]) -> i32 {
    let result = command_line(&options(), args, ABOUT, "HOST:PORT").and_then(|parsed| {
        let Some((m, target)) = parsed else {
            return Ok(());
        };
        let timeout = match m.opt_str("w") {
            Some(v) => parse_secs(&v, "--timeout")
                .map_err(ClientError::Usage)?
                .ok_or_else(|| ClientError::Usage("--timeout must be more than 0".into()))?,
            None => Duration::from_secs(2),
        };
        let send = m.opt_str("e").map(|t| unescape(&t)).transpose()?;
        let target = connect::target(&target)?;
        let (sock, addr) = connected(&target)?;
        if m.opt_present("v") {
            eprintln!("The UDP server is {addr}");
        }
        let opts = UdpOptions {
            send,
            prompt: m.opt_present("prompt"),
            timeout,
            verbose: m.opt_present("v"),
            peer: addr.to_string(),
        };
        udp::run(sock, opts)
    });
    exit_code("udp", result)
}

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optopt(
        "e",
        "send",
        "send one datagram TEXT (escapes \\r \\n \\t \\xNN), print the reply, exit",
        "TEXT",
    );
    o.optflag(
        "",
        "prompt",
        "interactive style of the classic examples: '>> ' and 'Reply: ', STOP exits",
    );
    o.optopt(
        "w",
        "timeout",
        "how long to wait for each reply (default 2)",
        "SECS",
    );
    o.optflag("v", "verbose", "print which server is used");
    o.optflag("h", "help", "show this help");
    crate::trace::add_options(&mut o);
    o
}

/// A UDP socket connected to the first address of `target`: replies from anyone else
/// are filtered out by the kernel, and ICMP errors come back to us as ECONNREFUSED.
fn connected(target: &HostPort) -> Result<(UdpSocket, SocketAddr), ClientError> {
    let addr = connect::resolve(target)?[0];
    let local = if addr.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let sock =
        UdpSocket::bind(local).map_err(|e| ClientError::io("cannot open a UDP socket", e))?;
    sock.connect(addr)
        .map_err(|e| ClientError::io(&format!("udp {addr}"), e))?;
    Ok((sock, addr))
}
