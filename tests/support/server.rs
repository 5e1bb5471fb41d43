//! `sockloop serve` as a fixture on top of [`Proc`]: started, waited for until its
//! banner says `ready`, and the banner's listener lines parsed into addresses.

use super::process::{BIN, Proc, sockloop};
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::process::Command;
use std::time::Duration;

/// How long a server may take to print its banner.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

/// One listener line of the banner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub transport: String,
    pub address: String,
    pub service: String,
}

/// A running `sockloop serve`: the process (signals, waits, output and /proc through
/// it) and what its banner said.
pub struct Server {
    process: Proc,
    /// The banner's lines, from the title to `ready`.
    pub banner: Vec<String>,
    pub listeners: Vec<Listener>,
}

impl Server {
    /// `sockloop serve ARGS`, waiting (at most [`STARTUP_TIMEOUT`]) for `ready`.
    pub fn start(args: &[&str]) -> Server {
        Server::start_wrapped(&[], args)
    }

    /// Like [`Server::start`] but run through a wrapper that execs the server, such as
    /// `prlimit --nofile=40:40` (the process id stays the server's).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Server {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(BIN).arg("serve");
                c
            }
            None => sockloop(&["serve"]),
        };
        command.args(args);
        let mut process = Proc::spawn(command);
        let ready = process.next_line(&mut 0, "ready", STARTUP_TIMEOUT);
        let mut banner: Vec<String> = process
            .stdout()
            .lines()
            .take_while(|l| !l.starts_with("ready"))
            .map(str::to_string)
            .collect();
        banner.push(ready);
        let listeners = parse_banner(&banner);
        Server {
            process,
            banner,
            listeners,
        }
    }

    /// The bound address of the first `transport` listener running `service`.
    pub fn addr(&self, transport: &str, service: &str) -> SocketAddr {
        let l = self.listener(transport, service);
        l.address
            .parse()
            .unwrap_or_else(|e| panic!("banner address {:?}: {e}", l.address))
    }

    /// The first `transport` listener running `service`.
    pub fn listener(&self, transport: &str, service: &str) -> &Listener {
        self.listeners
            .iter()
            .find(|l| l.transport == transport && l.service == service)
            .unwrap_or_else(|| {
                panic!(
                    "no {transport} {service} listener in banner {:?}",
                    self.banner
                )
            })
    }
}

impl Deref for Server {
    type Target = Proc;

    fn deref(&self) -> &Proc {
        &self.process
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.process
    }
}

/// `  <transport> <address>  <service>  try: ...` lines between the title and `ready`.
fn parse_banner(lines: &[String]) -> Vec<Listener> {
    let title = lines.first().expect("banner title");
    assert!(
        title.starts_with("sockloop ") && title.contains(" — one thread, "),
        "banner title: {title:?}"
    );
    // TLS listeners add lines about their certificate: not listeners.
    let about_tls = |line: &&String| line.starts_with("  TLS ") || line.starts_with("  trust it");
    let listeners: Vec<Listener> = lines[1..lines.len() - 1]
        .iter()
        .filter(|line| !about_tls(line))
        .map(|line| {
            assert!(line.starts_with("  "), "banner line {line:?}");
            let (head, _) = line
                .split_once(" try: ")
                .unwrap_or_else(|| panic!("no `try:` in banner line {line:?}"));
            let words: Vec<&str> = head.split_whitespace().collect();
            assert_eq!(words.len(), 3, "banner line {line:?}");
            Listener {
                transport: words[0].to_string(),
                address: words[1].to_string(),
                service: words[2].to_string(),
            }
        })
        .collect();
    let n = listeners.len();
    let expected = format!(
        " — one thread, {n} listener{}",
        if n == 1 { "" } else { "s" }
    );
    assert!(
        title.ends_with(&expected),
        "banner title {title:?} for {n} listeners"
    );
    listeners
}
