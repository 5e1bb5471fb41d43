//! Open connections per client address, for `--max-conns-per-ip` (nginx's
//! `limit_conn` keyed by address): one address must not take the whole server.
//!
//! - IPv4 addresses count one by one; an IPv4-mapped IPv6 address (a dual-stack
//!   listener) counts as the IPv4 address it is.
//! - IPv6 addresses count by /64: one subscriber or host gets at least a /64 and can
//!   pick any of its 2^64 addresses for each connection, so a per-address limit would
//!   limit nothing.
//! - Unix socket clients have no address and are not counted (they are local users,
//!   held back by the file's permissions).
//!
//! The table holds only addresses with connections open: an entry goes when its last
//! connection closes, so it never holds more than `--max-conns` entries, and a
//! connection carries nothing extra (its peer address is the key).
//!
//! Refusals come in episodes, logged once each: an episode starts with an address's
//! first refusal and ends when its last connection closes. Ending it any earlier (as
//! soon as the address is under the limit again) would let a client at the limit
//! write two log lines per connection it opens and closes.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What the limit counts: an IPv4 address or an IPv6 /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    V4(Ipv4Addr),
    /// The upper 64 bits of the address.
    V6Net(u64),
}

impl Client {
    pub fn of(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4),
                None => Client::V6Net((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Client::V4(v4) => write!(f, "{v4}"),
            Client::V6Net(net) => write!(f, "{}/64", Ipv6Addr::from_bits(u128::from(*net) << 64)),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    open: u32,
    /// Refused since the episode began; 0 when there is no episode.
    refused: u32,
}

/// The answer to a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Counted; release it when it closes.
    Yes,
    /// Over the limit. `first`: this refusal starts an episode (log it).
    No { client: Client, first: bool },
}

/// An episode of refusals that ended: the address's last connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    pub client: Client,
    pub refused: u32,
}

pub struct PerIp {
    /// None: no limit, and nothing counted.
    limit: Option<u32>,
    table: HashMap<Client, Entry>,
}

impl PerIp {
    /// `limit` 0 turns the limit off.
    pub fn new(limit: usize) -> PerIp {
        PerIp {
            limit: (limit > 0).then(|| u32::try_from(limit).unwrap_or(u32::MAX)),
            table: HashMap::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit.map_or(0, |l| l as usize)
    }

    /// A new connection from `peer` (None: a Unix client, never limited).
    pub fn admit(&mut self, peer: Option<SocketAddr>) -> Admit {
        let (Some(limit), Some(peer)) = (self.limit, peer) else {
            return Admit::Yes;
        };
        let client = Client::of(peer.ip());
        let entry = self.table.entry(client).or_default();
        if entry.open < limit {
            entry.open += 1;
            return Admit::Yes;
        }
        entry.refused = entry.refused.saturating_add(1);
        Admit::No {
            client,
            first: entry.refused == 1,
        }
    }

    /// A connection admitted from `peer` closed. Returns the episode of refusals it
    /// ends, if any.
    pub fn release(&mut self, peer: Option<SocketAddr>) -> Option<Ended> {
        let (Some(_), Some(peer)) = (self.limit, peer) else {
            return None;
        };
        let client = Client::of(peer.ip());
        let entry = self.table.get_mut(&client)?;
        entry.open = entry.open.saturating_sub(1);
        if entry.open > 0 {
            return None;
        }
        let refused = entry.refused;
        self.table.remove(&client);
        (refused > 0).then_some(Ended { client, refused })
    }

    /// Connections counted for `peer`'s address.
    #[cfg(test)]
    pub fn open(&self, peer: SocketAddr) -> u32 {
        self.table.get(&Client::of(peer.ip())).map_or(0, |e| e.open)
    }

    /// Addresses with connections open.
    #[cfg(test)]
    pub fn addresses(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<SocketAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn counts_exactly_and_forgets_addresses_at_zero() {
        let mut limits = PerIp::new(2);
        assert_eq!(limits.admit(at("192.0.2.1:1000")), Admit::Yes);
        assert_eq!(limits.admit(at("192.0.2.1:1001")), Admit::Yes);
        assert_eq!(limits.admit(at("192.0.2.2:1000")), Admit::Yes);
        let client = Client::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(
            limits.admit(at("192.0.2.1:1002")),
            Admit::No {
                client,
                first: true
            }
        );
        assert_eq!(
            limits.admit(at("192.0.2.1:1003")),
            Admit::No {
                client,
                first: false
            }
        );
        assert_eq!(limits.open(at("192.0.2.1:1").unwrap()), 2);
        // Under the limit again: admitted, but the episode goes on (no new log line).
        assert_eq!(limits.release(at("192.0.2.1:1000")), None);
        assert_eq!(limits.admit(at("192.0.2.1:1004")), Admit::Yes);
        assert_eq!(
            limits.admit(at("192.0.2.1:1005")),
            Admit::No {
                client,
                first: false
            }
        );
        assert_eq!(limits.release(at("192.0.2.1:1001")), None);
        assert_eq!(
            limits.release(at("192.0.2.1:1004")),
            Some(Ended { client, refused: 3 })
        );
        assert_eq!(limits.addresses(), 1);
        assert_eq!(limits.release(at("192.0.2.2:1000")), None);
        assert_eq!(limits.addresses(), 0);
        // A new episode.
        limits.admit(at("192.0.2.1:1"));
        limits.admit(at("192.0.2.1:2"));
        assert_eq!(
            limits.admit(at("192.0.2.1:3")),
            Admit::No {
                client,
                first: true
            }
        );
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let mut limits = PerIp::new(1);
        assert_eq!(limits.admit(at("[2001:db8:1:2::1]:1")), Admit::Yes);
        let refused = limits.admit(at("[2001:db8:1:2:ffff::9]:1"));
        let Admit::No { client, .. } = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(client.to_string(), "2001:db8:1:2::/64");
        assert_eq!(limits.admit(at("[2001:db8:1:3::1]:1")), Admit::Yes);
        assert_eq!(limits.admit(at("192.0.2.7:1")), Admit::Yes);
        assert!(matches!(
            limits.admit(at("[::ffff:192.0.2.7]:1")),
            Admit::No { .. }
        ));
    }

    #[test]
    fn unix_clients_and_no_limit_count_nothing() {
        let mut limits = PerIp::new(1);
        for _ in 0..5 {
            assert_eq!(limits.admit(None), Admit::Yes);
        }
        assert_eq!(limits.release(None), None);
        let mut off = PerIp::new(0);
        for _ in 0..5 {
            assert_eq!(off.admit(at("192.0.2.1:1")), Admit::Yes);
        }
        assert_eq!(off.addresses(), 0);
        assert_eq!(off.release(at("192.0.2.1:1")), None);
    }
}
