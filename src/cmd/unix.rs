//! `sockloop unix PATH` — the same full-duplex client over a Unix stream socket.

use super::exit_code;
use super::tcp::parse;
use crate::client::{connect, stream};
use crate::runtime::transport::Stream;
use std::path::Path;

const ABOUT: &str = "\
usage: sockloop unix PATH [options]

Like `sockloop tcp`, over a Unix stream socket.

examples:
  sockloop unix /tmp/sockloop.sock                then type HELP
  sockloop unix --prompt /tmp/echo.sock           classic style: >> and ->:, STOP exits
  sockloop unix -e STATS /tmp/sockloop.sock

exit codes: 0 ok, 1 cannot connect (no such file, permission denied, nobody
listening) or connection error, 2 bad command line";

pub fn main(args: &[String]) -> i32 {
    let result = parse(args, ABOUT, "socket PATH", false).and_then(|parsed| {
        let Some(mut p) = parsed else {
            return Ok(());
        };
        let sock = connect::unix(Path::new(&p.target))?;
        if p.stream.verbose {
            eprintln!("sockloop: connected to {}", p.target);
        }
        p.stream.exit_words = "Unix client exiting...";
        stream::run(Stream::Unix(sock), p.stream)
    });
    exit_code("unix", result)
}
