//! The local files a resolver reads before asking the network: /etc/hosts (names and
//! addresses listed by hand) and /etc/resolv.conf (which server to ask).
//!
//! The formats are those of hosts(5) and resolv.conf(5): `IP NAME [ALIAS...]` lines with
//! `#` comments, and `nameserver IP` lines. Only what `sockloop lookup` needs is read:
//! no `search`, `domain` or `options`. The paths can be replaced with the environment
//! variables SOCKLOOP_HOSTS and SOCKLOOP_RESOLV_CONF, so tests never depend on the
//! machine's own files.

use crate::proto::dns::Name;
use std::io;
use std::net::IpAddr;

/// Where the hosts file and resolv.conf are.
pub struct Files {
    pub hosts: String,
    pub resolv_conf: String,
}

impl Files {
    pub fn from_env() -> Files {
        let path = |var: &str, default: &str| {
            std::env::var(var)
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Files {
            hosts: path("SOCKLOOP_HOSTS", "/etc/hosts"),
            resolv_conf: path("SOCKLOOP_RESOLV_CONF", "/etc/resolv.conf"),
        }
    }

    /// The text of the hosts file.
    pub fn read_hosts(&self) -> io::Result<String> {
        std::fs::read_to_string(&self.hosts)
    }

    /// The text of resolv.conf.
    pub fn read_resolv_conf(&self) -> io::Result<String> {
        std::fs::read_to_string(&self.resolv_conf)
    }
}

/// An address as hosts files and resolv.conf write it, a `%zone` suffix dropped.
fn file_ip(text: &str) -> Option<IpAddr> {
    text.split('%').next()?.parse().ok()
}

/// The `(address, names)` entries of a hosts file: `IP NAME [ALIAS...]`, `#` comments.
fn hosts_entries(text: &str) -> impl Iterator<Item = (IpAddr, Vec<Name>)> + '_ {
    text.lines().filter_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let ip = file_ip(fields.next()?)?;
        let names: Vec<Name> = fields.filter_map(|f| f.parse().ok()).collect();
        (!names.is_empty()).then_some((ip, names))
    })
}

/// Every address listed for `name` (letter case ignored), each once, in file order.
pub fn hosts_addresses(text: &str, name: &Name) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for (ip, names) in hosts_entries(text) {
        if names.contains(name) && !found.contains(&ip) {
            found.push(ip);
        }
    }
    found
}

/// Every name listed for `ip`, each once, in file order.
pub fn hosts_names(text: &str, ip: IpAddr) -> Vec<Name> {
    let mut found: Vec<Name> = Vec::new();
    for (entry_ip, names) in hosts_entries(text) {
        if entry_ip == ip {
            for n in names {
                if !found.contains(&n) {
                    found.push(n);
                }
            }
        }
    }
    found
}

/// The first usable `nameserver` line.
pub fn resolv_conf_server(text: &str) -> Option<IpAddr> {
    text.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("nameserver") => file_ip(fields.next()?),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file() {
        let text = "\
# comment
127.0.0.1\tlocalhost loopback
::1     localhost ip6-localhost   # trailing comment
192.0.2.7 Web.Example.test web
192.0.2.8 web.example.test
fe80::1%lo  linklocal
bogus line
";
        let n = |s: &str| s.parse::<Name>().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            hosts_addresses(text, &n("LOCALHOST")),
            vec![ip("127.0.0.1"), ip("::1")]
        );
        assert_eq!(
            hosts_addresses(text, &n("web.example.test.")),
            vec![ip("192.0.2.7"), ip("192.0.2.8")]
        );
        assert_eq!(hosts_addresses(text, &n("linklocal")), vec![ip("fe80::1")]);
        assert!(hosts_addresses(text, &n("comment")).is_empty());
        let names: Vec<String> = hosts_names(text, ip("127.0.0.1"))
            .iter()
            .map(Name::to_string)
            .collect();
        assert_eq!(names, ["localhost.", "loopback."]);
    }

    #[test]
    fn resolv_conf() {
        let text =
            "# generated\nsearch example.test\nnameserver fe80::1%eth0\nnameserver 192.0.2.53\n";
        assert_eq!(resolv_conf_server(text), Some("fe80::1".parse().unwrap()));
        assert_eq!(
            resolv_conf_server("nameserver bogus\nnameserver 10.0.0.1"),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(resolv_conf_server("options ndots:2\n"), None);
    }
}
