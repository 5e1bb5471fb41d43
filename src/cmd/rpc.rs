//! `sockloop rpc HOST:PORT add|sub A B` — the classic RPC client's calls, made as
//! `cmd` protocol requests (`ADD A B`, `SUB A B`, `QUIT`).
//!
//! One request and one reply line: plain blocking I/O with a deadline is all this
//! needs, so there is no poll loop here.

use super::exit_code;
use super::seconds;
use crate::client::{ClientError, connect, read_within};
use crate::hostport::HostPort;
use crate::proto::command::{Reply, parse_reply};
use std::io::Write;
use std::time::{Duration, Instant};

const ABOUT: &str = "\
usage: sockloop rpc HOST:PORT add|sub A B
       sockloop rpc HOST:PORT quit

Calls the ADD / SUB commands of a `cmd` service (sockloop serve -l tcp://:1234=cmd)
and prints the reply the way the classic RPC client does:
  sockloop rpc 127.0.0.1:1234 add -17 18      Reply (Add): 1
  sockloop rpc 127.0.0.1:1234 sub -17 18      Reply (Subtract): -35
A and B are signed 64-bit integers; an overflow is reported by the server as an error.

A reply that is not the cmd protocol's answer (an echo server's copy of the request,
a wrong sum) is an error, not a result.

exit codes: 0 ok, 1 network error, the server answered ERR or does not speak the cmd
protocol, 2 bad command line";

pub fn main(args: &[String]) -> i32 {
    let mut o = getopts::Options::new();
    o.optopt(
        "w",
        "timeout",
        "connect and reply timeout (default 5)",
        "SECS",
    );
    o.optflag("h", "help", "show this help");
    // Options come before HOST:PORT, so negative numbers after it stay numbers.
    o.parsing_style(getopts::ParsingStyle::StopAtFirstFree);
    let result = (|| -> Result<(), ClientError> {
        let Some(m) = super::parse_options(&o, args, ABOUT).map_err(ClientError::Usage)? else {
            return Ok(());
        };
        let timeout = seconds(&m, "timeout")?.unwrap_or(Duration::from_secs(5));
        let (target, call) = request(&m.free)?;
        let reply = send(&target, &call.line, timeout)?;
        check(&reply, &call, &target)?;
        println!("Reply ({}): {reply}", call.label);
        Ok(())
    })();
    exit_code("rpc", result)
}

/// One call: the request line, the label of its reply, and the reply the cmd protocol
/// gives to it (`None`: only `ERR`, for a sum that does not fit in 64 bits).
struct Call {
    line: String,
    label: &'static str,
    answer: Option<String>,
}

/// The target and the call, from the arguments.
fn request(free: &[String]) -> Result<(HostPort, Call), ClientError> {
    match free {
        [t, op, a, b] if op.eq_ignore_ascii_case("add") || op.eq_ignore_ascii_case("sub") => {
            let number = |n: &String| {
                n.parse::<i64>().map_err(|_| {
                    ClientError::Usage(format!("'{n}' is not a signed 64-bit integer"))
                })
            };
            let (x, y) = (number(a)?, number(b)?);
            let (verb, label, answer) = if op.eq_ignore_ascii_case("add") {
                ("ADD", "Add", x.checked_add(y))
            } else {
                ("SUB", "Subtract", x.checked_sub(y))
            };
            let call = Call {
                line: format!("{verb} {a} {b}"),
                label,
                answer: answer.map(|r| r.to_string()),
            };
            Ok((connect::target(t)?, call))
        }
        [t, op] if op.eq_ignore_ascii_case("quit") => {
            let call = Call {
                line: "QUIT".into(),
                label: "Quit",
                answer: Some("BYE".into()),
            };
            Ok((connect::target(t)?, call))
        }
        _ => Err(ClientError::Usage(
            "expected HOST:PORT add|sub A B, or HOST:PORT quit".into(),
        )),
    }
}

/// A reply is the cmd protocol's answer to `call` or its `ERR`; anything else (an
/// echo of the request, a greeting, a wrong number) means the server is not a cmd
/// service, which is said rather than printed as a result.
fn check(reply: &str, call: &Call, target: &HostPort) -> Result<(), ClientError> {
    match parse_reply(reply.as_bytes()) {
        Reply::Error(reason) => Err(ClientError::Failed(format!(
            "the server refused: {}",
            String::from_utf8_lossy(reason)
        ))),
        Reply::Value(_) if call.answer.as_deref() == Some(reply) => Ok(()),
        Reply::Value(_) => {
            let expected = match &call.answer {
                Some(answer) if reply.parse::<i64>().is_ok() => {
                    format!(" (the answer is {answer})")
                }
                _ => String::new(),
            };
            Err(ClientError::Failed(format!(
                "the server at {target} does not speak the cmd protocol: it answered '{reply}' \
                 to '{}'{expected}",
                call.line
            )))
        }
    }
}

/// Sends one request line (`request` and a newline) and reads one reply line, all
/// within `timeout`.
fn send(target: &HostPort, request: &str, timeout: Duration) -> Result<String, ClientError> {
    let mut sock = connect::tcp(target, timeout)?;
    let deadline = Instant::now() + timeout;
    let failed = |e: std::io::Error| ClientError::Failed(format!("{target}: {e}"));
    sock.set_write_timeout(Some(timeout)).map_err(failed)?;
    sock.write_all(format!("{request}\n").as_bytes())
        .map_err(failed)?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while !reply.contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ClientError::Failed(format!(
                "no reply from {target} within {} s — is it a sockloop cmd service?",
                timeout.as_secs_f64()
            )));
        }
        sock.set_read_timeout(Some(left)).map_err(failed)?;
        match read_within(&mut sock, &mut buf).map_err(failed)? {
            Some(0) => {
                return Err(ClientError::Failed(format!(
                    "{target} closed the connection without a reply — is it a sockloop cmd service?"
                )));
            }
            Some(n) => reply.extend_from_slice(&buf[..n]),
            // Timed out: the deadline above says so.
            None => {}
        }
    }
    let line = reply.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(String::from_utf8_lossy(line).into_owned())
}
