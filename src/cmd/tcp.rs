//! `sockloop tcp HOST:PORT` — a full-duplex TCP client like `nc`. The option parsing
//! here is shared with `sockloop unix`, and the first steps of it with every client.

use super::{command_line, exit_code, seconds};
use crate::client::stream::{self, StreamOptions};
use crate::client::tls::TlsOptions;
use crate::client::{ClientError, connect, unescape};
use crate::runtime::transport::Stream;
use std::time::Duration;

const ABOUT: &str = "\
usage: sockloop tcp HOST:PORT [options]

Connects and copies standard input to the socket and the socket to standard output,
both at once (a server that talks first is shown immediately). When input ends, our
side is shut (FIN) and the client exits when the server closes.

HOST:PORT is read as `sockloop serve` reads it: :1234 is 127.0.0.1:1234, an IPv6
address goes in brackets ([::1]:1234), a name is resolved when connecting.

examples:
  sockloop tcp 127.0.0.1:1235                      then type HELP
  sockloop tcp --prompt 127.0.0.1:1234             classic style: >> and ->:, STOP exits
  sockloop tcp -e 'HEAD / HTTP/1.0\\r\\n\\r\\n' example.com:80
  printf 'ADD 1 2\\n' | sockloop tcp 127.0.0.1:1235
  sockloop tcp --tls example.com:443 -e 'HEAD / HTTP/1.0\\r\\n\\r\\n'
  sockloop tcp --tls --ca cert.pem localhost:1240  (a sockloop tls:// listener)

exit codes: 0 ok, 1 network error (refused, reset, timeout), 2 bad command line";

/// Options shared by `tcp` and `unix`; `tcp` adds TLS.
pub fn options(tls: bool) -> getopts::Options {
    let mut o = getopts::Options::new();
    if tls {
        o.optflag(
            "",
            "tls",
            "speak TLS (the server's certificate is checked against the system's CAs)",
        );
        crate::client::tls::add_options(&mut o);
    }
    o.optopt("e", "send", "send TEXT (escapes \\r \\n \\t \\xNN; a final newline is added if missing), print the answer, exit", "TEXT");
    o.optflag("", "prompt", "interactive style of the classic examples: '>> ' before input, '->: ' before replies, STOP exits");
    o.optopt("w", "timeout", "connect timeout, and once input is done, exit after this much silence (default: connect 10 s; with -e, 2 s of silence)", "SECS");
    o.optflag(
        "v",
        "verbose",
        "print connect and close events with addresses",
    );
    o.optflag("h", "help", "show this help");
    crate::trace::add_options(&mut o);
    o
}

pub struct Parsed {
    pub target: String,
    /// `--tls`, with whom to trust.
    pub tls: Option<TlsOptions>,
    pub stream: StreamOptions,
    pub connect_timeout: Duration,
}

/// Parses the shared options; `Ok(None)` means help was printed.
pub fn parse(
    args: &[String],
    about: &str,
    what: &str,
    tls: bool,
) -> Result<Option<Parsed>, ClientError> {
    let Some((m, target)) = command_line(&options(tls), args, about, what)? else {
        return Ok(None);
    };
    let tls = tls.then(|| crate::client::tls::from_matches(&m));
    let tls = match tls {
        Some(_) if m.opt_present("tls") => tls,
        Some(t) if t.given() => {
            return Err(ClientError::Usage(
                "--ca and --insecure are for TLS: add --tls".into(),
            ));
        }
        _ => None,
    };
    let timeout = seconds(&m, "timeout")?;
    let send = match m.opt_str("e") {
        Some(text) => {
            let mut bytes = unescape(&text)?;
            if !bytes.ends_with(b"\n") {
                bytes.push(b'\n');
            }
            Some(bytes)
        }
        None => None,
    };
    let silence = match (&send, timeout) {
        (_, Some(t)) => Some(t),
        (Some(_), None) => Some(Duration::from_secs(2)),
        (None, None) => None,
    };
    Ok(Some(Parsed {
        tls,
        target: target.clone(),
        stream: StreamOptions {
            send,
            prompt: m.opt_present("prompt"),
            silence,
            verbose: m.opt_present("v"),
            peer: target,
            exit_words: "",
        },
        connect_timeout: timeout.unwrap_or(Duration::from_secs(10)),
    }))
}

pub fn main(args: &[String]) -> i32 {
    let result = parse(args, ABOUT, "HOST:PORT", true).and_then(|parsed| {
        let Some(mut p) = parsed else {
            return Ok(());
        };
        let target = connect::target(&p.target)?;
        p.stream.peer = target.to_string();
        let sock = connect::tcp(&target, p.connect_timeout)?;
        if p.stream.verbose {
            let local = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let peer = sock.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            eprintln!("sockloop: connected to {peer} from {local}");
            p.stream.peer = peer;
        }
        p.stream.exit_words = "TCP client exiting...";
        let stream = match &p.tls {
            Some(tls) => crate::client::tls::connect(sock, &target, tls, p.connect_timeout)?,
            None => Stream::Tcp(sock),
        };
        stream::run(stream, p.stream)
    });
    exit_code("tcp", result)
}
