//! `sockloop ws ws://HOST:PORT/PATH` — an interactive WebSocket client like websocat.

use super::{command_line, seconds};
use super::{exit_code, parse_secs};
use crate::client::ClientError;
use crate::client::ws::{self, WsOptions};
use std::time::Duration;

const ABOUT: &str = "\
usage: sockloop ws ws://HOST:PORT/PATH [options]
       sockloop ws wss://HOST:PORT/PATH [--ca FILE | --insecure] [options]

Sends each line of standard input as a text message (--binary: binary) and prints
each message received (binary as hex unless --raw). At the end of input it waits
until the server has been quiet for --linger (0.5 s; its replies are printed), then
sends close 1000 and waits up to 2 s for the server's close. Ctrl-C sends close 1000
at once; Ctrl-C again exits at once (exit code 130).

examples:
  sockloop ws ws://127.0.0.1:8080/ws
  sockloop ws -v ws://127.0.0.1:8080/cmd                     then type ADD 17 18
  echo 5 | sockloop ws ws://127.0.0.1:8080/random
  sockloop ws --idle-prompt 4 --idle-max 5 ws://127.0.0.1:8080/ws   the classic client's reminders
  sockloop ws --echo ws://127.0.0.1:9001/runCase?case=1       echo back (conformance testing)
  sockloop ws --ca cert.pem wss://localhost:8443/ws           TLS, trusting that certificate

exit codes: 0 closed cleanly, 1 network or protocol error (refused, handshake
refused, closed without a close frame, closed with an error code), 2 bad command line,
130 a second Ctrl-C";

pub fn main(args: &[String]) -> i32 {
    let parsed = command_line(
        &options(),
        args,
        ABOUT,
        "ws://HOST:PORT/PATH or wss://HOST:PORT/PATH",
    );
    let result = parsed.and_then(|parsed| match parsed {
        Some((m, url)) => ws::run(settings(&m, url)?),
        None => Ok(()),
    });
    exit_code("ws", result)
}

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optflag("", "binary", "send each line as a binary message");
    o.optflag("", "raw", "print binary messages as raw bytes, not hex");
    o.optflag(
        "",
        "echo",
        "send every message received back; ignore standard input",
    );
    o.optmulti("H", "header", "add a request header", "'NAME: VALUE'");
    o.optopt("", "origin", "send this Origin header", "ORIGIN");
    o.optmulti(
        "",
        "protocol",
        "offer this subprotocol (repeatable, in order of preference)",
        "NAME",
    );
    o.optflag(
        "",
        "deflate",
        "offer permessage-deflate compression (RFC 7692)",
    );
    o.optopt("", "ping-interval", "send a ping this often", "SECS");
    crate::client::tls::add_options(&mut o);
    o.optopt(
        "",
        "idle-prompt",
        "print 'Please give me input! N' after this long without input",
        "SECS",
    );
    o.optopt(
        "",
        "idle-max",
        "close after this many reminders (default 5)",
        "N",
    );
    o.optopt(
        "",
        "max-message",
        "largest message accepted (default 64M; k = 1024 bytes, M = 1024 KiB)",
        "SIZE",
    );
    o.optopt(
        "w",
        "timeout",
        "connect and handshake timeout (default 10)",
        "SECS",
    );
    o.optopt(
        "",
        "linger",
        "after the end of input, wait for this much quiet before sending close \
         (default 0.5; 0 closes at once)",
        "SECS",
    );
    o.optflag(
        "v",
        "verbose",
        "print connection, ping/pong and the close code and reason",
    );
    o.optflag("h", "help", "show this help");
    crate::trace::add_options(&mut o);
    o
}

/// `--deflate`, in a build that can compress.
fn deflate_flag(m: &getopts::Matches) -> Result<bool, ClientError> {
    let asked = m.opt_present("deflate");
    if asked && !crate::proto::ws::deflate::AVAILABLE {
        return Err(ClientError::Usage(
            "--deflate: this sockloop was built without the `deflate` feature".into(),
        ));
    }
    Ok(asked)
}

/// The client's settings from its command line.
fn settings(m: &getopts::Matches, url: String) -> Result<WsOptions, ClientError> {
    let count = |name: &str, default: usize| -> Result<usize, ClientError> {
        m.opt_str(name).map_or(Ok(default), |v| {
            v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                ClientError::Usage(format!("--{name} '{v}' is not a positive number"))
            })
        })
    };
    Ok(WsOptions {
        url,
        binary: m.opt_present("binary"),
        raw: m.opt_present("raw"),
        echo: m.opt_present("echo"),
        verbose: m.opt_present("v"),
        headers: headers(m)?,
        origin: m.opt_str("origin"),
        protocols: m.opt_strs("protocol"),
        ping_interval: seconds(m, "ping-interval")?,
        idle_prompt: seconds(m, "idle-prompt")?,
        idle_max: u32::try_from(count("idle-max", 5)?).unwrap_or(u32::MAX),
        max_message: super::size::option(m, "max-message", 64 << 20, 1)
            .map_err(ClientError::Usage)?,
        deflate: deflate_flag(m)?,
        connect_timeout: seconds(m, "timeout")?.unwrap_or(Duration::from_secs(10)),
        tls: crate::client::tls::from_matches(m),
        linger: match m.opt_str("linger") {
            // Here 0 is a value (close at once), not "not given" as `seconds` reads it.
            Some(v) => parse_secs(&v, "--linger")
                .map_err(ClientError::Usage)?
                .unwrap_or_default(),
            None => Duration::from_millis(500),
        },
    })
}

/// `-H 'Name: value'`, each checked to be a header.
fn headers(m: &getopts::Matches) -> Result<Vec<(String, String)>, ClientError> {
    m.opt_strs("H")
        .iter()
        .map(|h| {
            let (name, value) = h
                .split_once(':')
                .filter(|(n, _)| crate::proto::http::is_token(n.trim().as_bytes()))
                .ok_or_else(|| {
                    ClientError::Usage(format!("bad header '{h}': write 'Name: value'"))
                })?;
            Ok((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}
