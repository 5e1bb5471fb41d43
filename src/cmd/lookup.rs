//! `sockloop lookup`: addresses of a name, names of an address, name servers of a
//! domain — asked of a DNS server from one readiness loop.
//!
//! ```text
//!   NAME  → /etc/hosts (unless --server), else AAAA and A queries, both in flight at
//!           once on one connected UDP socket, told apart by id
//!   IP    → /etc/hosts (unless --server), else a PTR query for its reverse name
//!   --ns  → an NS query
//!   each UDP query: wait --timeout, ask once more, then give up; an answer with TC set
//!   is asked again over TCP (non-blocking connect, 2-byte length framing) in the
//!   same loop, while the other query may still be waiting on UDP
//! ```
//!
//! The messages are built and parsed by `proto::dns`; the queries are asked by the
//! loop in `client::dns`; /etc/hosts and /etc/resolv.conf are read by `client::hosts`.
//! This file reads the command line and turns answers into lines.

use super::{exit, parse_secs};
use crate::client::dns::{Outcome, question};
use crate::client::hosts::{Files, hosts_addresses, hosts_names, resolv_conf_server};
use crate::hostport::HostPort;
use crate::proto::dns::{self, Name, Question, RData, RType, Rcode};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

const ABOUT: &str = "\
usage: sockloop lookup NAME|IP [options]

  NAME          print its addresses, one per line: IPv6 (AAAA) first, then IPv4 (A),
                each in the order the server gave; CNAMEs in the answer are followed
  IP            print its names (PTR records of the reverse name), one per line
  --ns DOMAIN   print the domain's name servers (NS records), one per line

Names are printed fully qualified, with the final dot. /etc/hosts is read first,
as the system resolver does, unless --server asks a particular server. The
default server is the first 'nameserver' of /etc/resolv.conf (127.0.0.1 if there
is none), port 53. Each query waits --timeout seconds, is sent once more, and
gives up after the second wait; an answer too big for UDP (TC set) is asked again
over TCP. Names are asked as given (no search domains).

--trace=dns shows each query sent and each message received, record by record;
--trace=dns,udp,loop adds the datagrams and the TCP connection's events.

An argument made only of digits and dots, or containing ':', must be a valid IP
address: '288.8.8.8' is a usage error (exit 2), not a name to look up.

environment: SOCKLOOP_HOSTS and SOCKLOOP_RESOLV_CONF replace the paths of
/etc/hosts and /etc/resolv.conf (for tests).

exit codes: 0 ok, 1 not found or network/protocol error (no such host, no
records, SERVFAIL, REFUSED, timeout, connection refused), 2 bad command line
(including an invalid IP address)";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const DNS_PORT: u16 = 53;

// ---------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// Addresses of a name (as typed, and parsed).
    Addresses(String, Name),
    /// Names of an address.
    Names(IpAddr),
    /// Name servers of a domain.
    NameServers(String, Name),
}

#[derive(Clone, Debug)]
struct Settings {
    target: Target,
    server: Option<SocketAddr>,
    timeout: Duration,
    verbose: bool,
}

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optflag("", "ns", "print the name servers of the domain");
    o.optopt(
        "",
        "server",
        "ask this server, not the one of /etc/resolv.conf (skips /etc/hosts)",
        "IP[:PORT]",
    );
    o.optopt(
        "",
        "timeout",
        "seconds to wait for each answer (default 2)",
        "SECS",
    );
    o.optflag(
        "v",
        "verbose",
        "say which server was asked, over which transport, and its answer code",
    );
    o.optflag("h", "help", "show this help");
    crate::trace::add_options(&mut o);
    o
}

fn parse_args(args: &[String]) -> Result<Option<Settings>, String> {
    let opts = options();
    let Some(m) = super::parse_options(&opts, args, ABOUT)? else {
        return Ok(None);
    };
    crate::trace::from_matches(&m)?;
    let text = match m.free.as_slice() {
        [one] => one.as_str(),
        [] => return Err("what should I look up? give a NAME or an IP address".into()),
        [_, extra, ..] => {
            let note = super::bare_trace_note(&m);
            return Err(format!(
                "unexpected argument '{extra}' (one NAME or IP){note}"
            ));
        }
    };
    let ip = parse_ip_argument(text)?;
    let target = match (m.opt_present("ns"), ip) {
        (true, Some(_)) => return Err(format!("--ns takes a domain name, not '{text}'")),
        (true, None) => Target::NameServers(text.to_string(), parse_name(text)?),
        (false, Some(ip)) => Target::Names(ip),
        (false, None) => Target::Addresses(text.to_string(), parse_name(text)?),
    };
    let server = m.opt_str("server").map(|s| parse_server(&s)).transpose()?;
    let timeout = match m.opt_str("timeout") {
        None => DEFAULT_TIMEOUT,
        Some(v) => parse_secs(&v, "--timeout")?.ok_or("--timeout must be more than 0")?,
    };
    Ok(Some(Settings {
        target,
        server,
        timeout,
        verbose: m.opt_present("v"),
    }))
}

/// `Some(ip)` for an address, `None` for something to treat as a name, and an error for
/// what can only have been meant as an address: digits and dots only (no top-level
/// domain is all digits), or anything with a ':'.
fn parse_ip_argument(text: &str) -> Result<Option<IpAddr>, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Some(ip));
    }
    let dotted_digits = text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && text.bytes().any(|b| b.is_ascii_digit());
    if dotted_digits || text.contains(':') {
        return Err(format!(
            "'{text}' is not a valid IP address (IPv4 is four numbers 0-255, like 192.0.2.1)"
        ));
    }
    Ok(None)
}

fn parse_name(text: &str) -> Result<Name, String> {
    match text.parse::<Name>() {
        Ok(name) if name.is_root() => Err("the root '.' has no addresses; give a name".into()),
        Ok(name) => Ok(name),
        Err(e) => Err(format!("'{text}' is not a valid host name: {e}")),
    }
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`, read as every address is ([`HostPort`]); a bare
/// IP address, IPv6 included, is the server on port 53.
fn parse_server(text: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DNS_PORT));
    }
    let target = HostPort::parse_target(text, Some(DNS_PORT))
        .map_err(|e| format!("--server '{text}': {e}"))?;
    target.socket_addr().ok_or_else(|| {
        format!(
            "--server '{text}' is not IP, IP:PORT or [IPv6]:PORT \
             (a name would need a DNS server to find the DNS server)"
        )
    })
}

// ---------------------------------------------------------------------------------
// From answers to lines
// ---------------------------------------------------------------------------------

/// What went wrong for a whole lookup, worst first when several queries failed.
fn failure(outcomes: &[Outcome], server: SocketAddr, no_data: String, nx: String) -> String {
    let rcode_of = |o: &Outcome| o.as_ref().ok().map(|(m, _)| m.rcode());
    let any = |code: Rcode| outcomes.iter().any(|o| rcode_of(o) == Some(code));
    if any(Rcode::NXDOMAIN) {
        return nx;
    }
    if any(Rcode::SERVFAIL) {
        return format!("server {server} failed to answer (SERVFAIL)");
    }
    if any(Rcode::REFUSED) {
        return format!(
            "server {server} refused to answer (REFUSED) — it does not serve this name, \
             or not to this client; try another --server"
        );
    }
    if let Some(code) = outcomes
        .iter()
        .filter_map(rcode_of)
        .find(|&c| c != Rcode::NOERROR)
    {
        return format!("server {server} answered with error {code}");
    }
    if let Some(Err(e)) = outcomes.iter().find(|o| o.is_err()) {
        return e.to_string();
    }
    no_data
}

fn describe(outcome: &Outcome, question: &Question, server: SocketAddr) -> String {
    match outcome {
        Ok((m, transport)) => {
            let f = m.header.flags;
            let mut flags = Vec::new();
            for (on, name) in [(f.aa, "aa"), (f.tc, "tc"), (f.rd, "rd"), (f.ra, "ra")] {
                if on {
                    flags.push(name);
                }
            }
            format!(
                "{} {}: {} from {server} over {transport}, {} answer{}, {} authority, {} \
                 additional (flags: {})",
                question.qtype,
                question.name,
                m.rcode(),
                m.answers.len(),
                if m.answers.len() == 1 { "" } else { "s" },
                m.authorities.len(),
                m.additionals.len(),
                flags.join(" ")
            )
        }
        Err(e) => format!("{} {}: {e}", question.qtype, question.name),
    }
}

/// Asks `server` the questions and gives back their outcomes (and, with -v, says how).
fn ask(
    settings: &Settings,
    server: SocketAddr,
    questions: &[Question],
) -> Result<Vec<Outcome>, String> {
    let outcomes = crate::client::dns::ask(server, settings.timeout, settings.verbose, questions)
        .map_err(|e| e.to_string())?;
    if settings.verbose {
        for (o, q) in outcomes.iter().zip(questions) {
            eprintln!("sockloop lookup: {}", describe(o, q, server));
        }
    }
    Ok(outcomes)
}

/// The records of `rtype` the answer gives for `name` (after CNAMEs), and the aliases
/// passed through on the way.
fn records<'a>(
    outcome: &'a Outcome,
    name: &'a Name,
    rtype: RType,
) -> (Vec<&'a RData>, Vec<&'a Name>) {
    match outcome {
        Ok((m, _)) if m.rcode() == Rcode::NOERROR => {
            let chain = m.answers_for(name, rtype);
            (
                chain.records.into_iter().map(|r| &r.data).collect(),
                chain.aliases,
            )
        }
        _ => (Vec::new(), Vec::new()),
    }
}

/// With -v: `alias.example. is an alias for www.example.`, once per link.
fn note_aliases(verbose: bool, name: &Name, aliases: &[&Name]) {
    if verbose {
        let mut from = name;
        for alias in aliases {
            eprintln!("sockloop lookup: {from} is an alias for {alias}");
            from = alias;
        }
    }
}

/// `--verbose` notes on stderr.
fn note(settings: &Settings, text: String) {
    if settings.verbose {
        eprintln!("sockloop lookup: {text}");
    }
}

fn lookup(settings: &Settings, files: &Files) -> Result<Vec<String>, String> {
    // The hosts file comes first, as for the system resolver, unless a server was named.
    if settings.server.is_none()
        && !matches!(settings.target, Target::NameServers(..))
        && let Some(found) = from_hosts_file(settings, files)
    {
        return Ok(found);
    }
    let server = settings
        .server
        .unwrap_or_else(|| system_server(settings, files));
    match &settings.target {
        Target::Addresses(text, name) => addresses(settings, server, text, name),
        Target::Names(ip) => {
            let reverse = dns::reverse_name(*ip);
            let no_data = format!("no PTR records for {ip} ({reverse} has no names)");
            let nx = format!("no such host: {ip} ({reverse} does not exist)");
            names(settings, server, &reverse, RType::PTR, no_data, nx)
        }
        Target::NameServers(text, name) => {
            let no_data = format!("no NS records for {text}");
            let nx = format!("no such host: {text}");
            names(settings, server, name, RType::NS, no_data, nx)
        }
    }
}

/// The names a question of `rtype` (PTR, NS) gives for `name`; `no_data` and `nx` are
/// what to say when there are none and when the name does not exist.
fn names(
    settings: &Settings,
    server: SocketAddr,
    name: &Name,
    rtype: RType,
    no_data: String,
    nx: String,
) -> Result<Vec<String>, String> {
    let outcomes = ask(settings, server, &[question(name.clone(), rtype)])?;
    let lines = names_of(&outcomes, name, rtype, settings.verbose);
    if lines.is_empty() {
        return Err(failure(&outcomes, server, no_data, nx));
    }
    Ok(lines)
}

/// The answer from the hosts file, if it has one (addresses: IPv6 first).
fn from_hosts_file(settings: &Settings, files: &Files) -> Option<Vec<String>> {
    let text = match files.read_hosts() {
        Ok(text) => text,
        Err(e) => {
            note(
                settings,
                format!("cannot read {} ({e}); asking a server", files.hosts),
            );
            return None;
        }
    };
    let found: Vec<String> = match &settings.target {
        Target::Addresses(_, name) => {
            let ips = hosts_addresses(&text, name);
            let v6 = ips.iter().filter(|ip| ip.is_ipv6());
            let v4 = ips.iter().filter(|ip| ip.is_ipv4());
            v6.chain(v4).map(IpAddr::to_string).collect()
        }
        Target::Names(ip) => hosts_names(&text, *ip)
            .iter()
            .map(Name::to_string)
            .collect(),
        Target::NameServers(..) => Vec::new(),
    };
    if found.is_empty() {
        return None;
    }
    note(
        settings,
        format!("found in {}; no server asked", files.hosts),
    );
    Some(found)
}

/// The first nameserver of resolv.conf, or 127.0.0.1 as the system resolver does.
fn system_server(settings: &Settings, files: &Files) -> SocketAddr {
    let ip = match files.read_resolv_conf() {
        Ok(text) => resolv_conf_server(&text),
        Err(e) => {
            note(settings, format!("cannot read {} ({e})", files.resolv_conf));
            None
        }
    };
    let ip = ip.unwrap_or_else(|| {
        note(
            settings,
            format!(
                "no nameserver in {}; using 127.0.0.1 as the system resolver does",
                files.resolv_conf
            ),
        );
        IpAddr::from([127, 0, 0, 1])
    });
    note(settings, format!("server {ip} from {}", files.resolv_conf));
    SocketAddr::new(ip, DNS_PORT)
}

/// A name's addresses: AAAA and A asked at once, IPv6 listed first, no repeats.
fn addresses(
    settings: &Settings,
    server: SocketAddr,
    text: &str,
    name: &Name,
) -> Result<Vec<String>, String> {
    let questions = [
        question(name.clone(), RType::AAAA),
        question(name.clone(), RType::A),
    ];
    let outcomes = ask(settings, server, &questions)?;
    let mut lines: Vec<String> = Vec::new();
    let mut aliases_noted = false;
    for (outcome, rtype) in outcomes.iter().zip([RType::AAAA, RType::A]) {
        let (found, aliases) = records(outcome, name, rtype);
        if !aliases.is_empty() && !aliases_noted {
            note_aliases(settings.verbose, name, &aliases);
            aliases_noted = true;
        }
        for data in found {
            let line = match data {
                RData::A(ip) => ip.to_string(),
                RData::Aaaa(ip) => ip.to_string(),
                _ => continue,
            };
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
    }
    if lines.is_empty() {
        return Err(failure(
            &outcomes,
            server,
            format!("{text} has no A or AAAA records"),
            format!("no such host: {text}"),
        ));
    }
    Ok(lines)
}

fn names_of(outcomes: &[Outcome], name: &Name, rtype: RType, verbose: bool) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for outcome in outcomes {
        let (found, aliases) = records(outcome, name, rtype);
        note_aliases(verbose, name, &aliases);
        for data in found {
            if let RData::Ptr(n) | RData::Ns(n) = data {
                let line = n.to_string();
                if !lines.contains(&line) {
                    lines.push(line);
                }
            }
        }
    }
    lines
}

pub fn main(args: &[String]) -> i32 {
    let settings = match parse_args(args) {
        Ok(Some(settings)) => settings,
        Ok(None) => return exit::OK,
        Err(e) => return super::usage_error("lookup", &e),
    };
    match lookup(&settings, &Files::from_env()) {
        Ok(lines) => {
            let mut text = lines.join("\n");
            text.push('\n');
            let mut out = io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            exit::OK
        }
        Err(e) => {
            eprintln!("sockloop lookup: {e}");
            exit::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn settings(list: &[&str]) -> Result<Settings, String> {
        parse_args(&args(list)).map(|s| s.expect("not --help"))
    }

    #[test]
    fn targets() {
        let s = settings(&["www.example.com"]).unwrap();
        assert!(matches!(s.target, Target::Addresses(ref t, _) if t == "www.example.com"));
        let s = settings(&["192.0.2.1"]).unwrap();
        assert_eq!(s.target, Target::Names("192.0.2.1".parse().unwrap()));
        let s = settings(&["2001:db8::1"]).unwrap();
        assert_eq!(s.target, Target::Names("2001:db8::1".parse().unwrap()));
        let s = settings(&["--ns", "example.com"]).unwrap();
        assert!(matches!(s.target, Target::NameServers(..)));
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert!(s.server.is_none());
    }

    #[test]
    fn invalid_addresses_are_usage_errors() {
        for bad in ["288.8.8.8", "1.2.3", "1.2.3.4.5", "2001:db8::g", "::1::2"] {
            let e = settings(&[bad]).unwrap_err();
            assert!(e.contains("not a valid IP address"), "{bad}: {e}");
        }
        assert!(settings(&["--ns", "192.0.2.1"]).is_err());
        assert!(settings(&[]).is_err());
        assert!(settings(&["a", "b"]).is_err());
        assert!(
            settings(&["a..b"])
                .unwrap_err()
                .contains("not a valid host name")
        );
        assert!(settings(&["x", "--timeout", "0"]).is_err());
        assert!(settings(&["x", "--timeout", "soon"]).is_err());
        // Checked before anything is turned on.
        assert!(settings(&["x", "--trace=nope"]).is_err());
    }

    #[test]
    fn servers() {
        let p = |s: &str| parse_server(s);
        assert_eq!(p("192.0.2.1"), Ok("192.0.2.1:53".parse().unwrap()));
        assert_eq!(p("192.0.2.1:5353"), Ok("192.0.2.1:5353".parse().unwrap()));
        assert_eq!(p("::1"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(p("[::1]"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(p("[::1]:5353"), Ok("[::1]:5353".parse().unwrap()));
        assert!(p("dns.example").is_err());
        assert!(p("192.0.2.1:0").is_err());
        assert!(p("192.0.2.1:99999").is_err());
    }
}
