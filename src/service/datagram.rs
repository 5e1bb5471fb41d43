//! The rules every UDP reply obeys. A datagram's source address is only a claim, so
//! whatever we send goes to whoever the sender says it is; these rules keep a spoofed
//! request from turning sockloop into a weapon against a third party.
//!
//! - **No amplification** (RFC 9000 §8.1, QUIC's rule for an address it has not
//!   validated): a reply is at most 3× its request on the wire, headers included
//!   (IPv4 + UDP: 28 bytes, IPv6 + UDP: 48). A reply that would be larger — or larger
//!   than a datagram can be — is replaced by a short `ERR` naming the limit and the
//!   TCP port to ask instead. Even an empty request allows 56 bytes of payload
//!   (3 × 28 − 28), and the short form of that `ERR` is shorter, so a request always
//!   gets an answer and the answer always keeps the rule.
//! - **No reflection loops** (BSD inetd's `check_loop`): a datagram whose source port
//!   is that of a service that answers datagrams — ours or a well-known one — is
//!   dropped unanswered and counted; otherwise one spoofed datagram could make two such
//!   services ping-pong forever. Source port 0 cannot be answered at all.

use super::{Service, Shared, on_datagram};
use std::io::Write;
use std::net::SocketAddr;

/// IPv4 header (20) + UDP header (8).
pub const IPV4_OVERHEAD: usize = 28;
/// IPv6 header (40) + UDP header (8).
pub const IPV6_OVERHEAD: usize = 48;
/// A reply may be this many times its request on the wire.
pub const AMPLIFICATION: usize = 3;

/// Source ports of services that answer any datagram: echo, discard, daytime, qotd,
/// chargen, time, DNS, portmap, NTP, NetBIOS name, SNMP, SSDP, memcached — the first
/// seven classic ones from inetd, the rest the usual reflectors of DDoS reports. A
/// real client sends from an ephemeral port, never from these.
pub const SERVICE_PORTS: [u16; 13] = [7, 9, 13, 17, 19, 37, 53, 111, 123, 137, 161, 1900, 11211];

/// The shortest refusal, which fits the allowance of any request: the empty request
/// over IPv4 allows `2 × 28` bytes.
const SHORT_ERR: &str = "ERR reply too big for UDP; use TCP";
const _: () = assert!(SHORT_ERR.len() + " port 65535\n".len() <= 2 * IPV4_OVERHEAD);

/// A UDP listener as the datagram rules see it.
#[derive(Clone, Copy, Debug)]
pub struct DatagramService {
    pub service: Service,
    /// The port of a TCP listener running the same service, named in refusals.
    pub tcp_port: Option<u16>,
}

/// Why a reply cannot be longer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// 3× the request on the wire.
    Amplification,
    /// The most one datagram can carry (65,507 bytes over IPv4, 65,527 over IPv6).
    Datagram,
}

/// The header bytes a datagram from `from` costs on the wire. An IPv4-mapped IPv6
/// address (a dual-stack socket) travelled as IPv4.
pub fn overhead(from: &SocketAddr) -> usize {
    match from {
        SocketAddr::V6(a) if a.ip().to_ipv4_mapped().is_none() => IPV6_OVERHEAD,
        _ => IPV4_OVERHEAD,
    }
}

/// The longest reply payload a `request`-byte datagram from `from` may get, and what
/// sets that limit.
pub fn allowance(request: usize, from: &SocketAddr) -> (usize, Cap) {
    let header = overhead(from);
    // The IP length field is 16 bits; IPv6's counts only what follows its own header.
    let datagram_max = match header {
        IPV4_OVERHEAD => 65_535 - IPV4_OVERHEAD,
        _ => 65_535 - 8,
    };
    let by_rule = request
        .saturating_add(header)
        .saturating_mul(AMPLIFICATION)
        .saturating_sub(header);
    if by_rule <= datagram_max {
        (by_rule, Cap::Amplification)
    } else {
        (datagram_max, Cap::Datagram)
    }
}

/// Whether a datagram from source port `port` must go unanswered: port 0 (no reply
/// is possible), a well-known datagram service, or one of our own UDP listeners.
pub fn is_loop_risk(port: u16, own_ports: &[u16]) -> bool {
    port == 0 || SERVICE_PORTS.contains(&port) || own_ports.contains(&port)
}

/// Answers one datagram under the rules: false if it must go unanswered, otherwise
/// the reply is in `out` (cleared first) and never exceeds [`allowance`].
pub fn serve(
    listener: &DatagramService,
    data: &[u8],
    from: &SocketAddr,
    own_ports: &[u16],
    shared: &mut Shared,
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    if is_loop_risk(from.port(), own_ports) {
        shared.udp_dropped += 1;
        return false;
    }
    on_datagram(listener.service, data, shared, out);
    let (allowed, cap) = allowance(data.len(), from);
    if out.len() > allowed {
        shared.udp_too_big += 1;
        let wanted = out.len();
        out.clear();
        write_too_big(wanted, allowed, cap, listener.tcp_port, out);
    }
    true
}

/// The refusal of a `wanted`-byte reply: the numbers when they fit the allowance, the
/// short form otherwise (which always fits).
fn write_too_big(
    wanted: usize,
    allowed: usize,
    cap: Cap,
    tcp_port: Option<u16>,
    out: &mut Vec<u8>,
) {
    let why = match cap {
        Cap::Amplification => "3x the request",
        Cap::Datagram => "the most a datagram holds",
    };
    let _ = write!(
        out,
        "ERR reply too big for UDP: {wanted} bytes, {allowed} allowed ({why}); use TCP"
    );
    write_port(tcp_port, out);
    if out.len() > allowed {
        out.clear();
        out.extend_from_slice(SHORT_ERR.as_bytes());
        write_port(tcp_port, out);
    }
}

fn write_port(tcp_port: Option<u16>, out: &mut Vec<u8>) {
    if let Some(port) = tcp_port {
        let _ = write!(out, " port {port}");
    }
    out.push(b'\n');
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn v4(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    fn v6(port: u16) -> SocketAddr {
        "[2001:db8::1]:5000"
            .parse::<SocketAddr>()
            .map(|mut a| {
                a.set_port(port);
                a
            })
            .unwrap()
    }

    fn cmd(tcp_port: Option<u16>) -> DatagramService {
        DatagramService {
            service: Service::Cmd,
            tcp_port,
        }
    }

    fn ask(listener: &DatagramService, request: &[u8], from: &SocketAddr) -> Option<Vec<u8>> {
        let mut shared = Shared::seeded(1024, 7);
        let mut out = b"stale".to_vec();
        serve(listener, request, from, &[4000], &mut shared, &mut out).then_some(out)
    }

    fn on_wire(payload: usize, from: &SocketAddr) -> usize {
        payload + overhead(from)
    }

    #[test]
    fn allowance_is_three_times_the_request_on_the_wire() {
        assert_eq!(allowance(0, &v4(5000)), (56, Cap::Amplification));
        assert_eq!(allowance(13, &v4(5000)), (95, Cap::Amplification));
        assert_eq!(allowance(0, &v6(5000)), (96, Cap::Amplification));
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:5000".parse().unwrap();
        assert_eq!(allowance(13, &mapped), (95, Cap::Amplification));
        assert_eq!(allowance(30_000, &v4(5000)), (65_507, Cap::Datagram));
        assert_eq!(allowance(30_000, &v6(5000)), (65_527, Cap::Datagram));
        assert_eq!(allowance(usize::MAX, &v4(5000)), (65_507, Cap::Datagram));
    }

    #[test]
    fn an_amplifying_request_gets_a_refusal_within_the_rule() {
        for from in [v4(5000), v6(5000)] {
            for (request, tcp) in [
                (&b"RANDOMS 10000"[..], Some(1235)),
                (b"RANDOMS 10000\n", None),
                (b"HELP", Some(65535)),
                (b"STATS", None),
            ] {
                let reply = ask(&cmd(tcp), request, &from).unwrap();
                let text = String::from_utf8(reply.clone()).unwrap();
                assert!(text.starts_with("ERR reply too big for UDP"), "{text:?}");
                assert!(text.ends_with('\n'), "{text:?}");
                if let Some(port) = tcp {
                    assert!(text.contains(&format!("use TCP port {port}\n")), "{text:?}");
                }
                assert!(
                    on_wire(reply.len(), &from) <= 3 * on_wire(request.len(), &from),
                    "{text:?} for {request:?} from {from}"
                );
            }
        }
        let long = ask(&cmd(Some(1235)), b"RANDOMS 10000", &v4(5000)).unwrap();
        let long = String::from_utf8(long).unwrap();
        assert!(
            long.starts_with("ERR reply too big for UDP: ")
                && long.contains(" bytes, 95 allowed (3x the request); use TCP port 1235\n"),
            "{long:?}"
        );
    }

    #[test]
    fn the_short_refusal_fits_the_smallest_allowance() {
        // An empty request: ECHO of nothing is fine, but what if it were not?
        let mut out = Vec::new();
        write_too_big(1000, 56, Cap::Amplification, Some(65535), &mut out);
        assert!(out.len() <= 56, "{:?}", String::from_utf8_lossy(&out));
        assert_eq!(out, b"ERR reply too big for UDP; use TCP port 65535\n");
    }

    #[test]
    fn small_replies_and_echo_pass_unchanged() {
        assert_eq!(ask(&cmd(None), b"ADD 1 2", &v4(5000)).unwrap(), b"3\n");
        let echo = DatagramService {
            service: Service::Echo,
            tcp_port: None,
        };
        for len in [0, 1, 100, 65_507] {
            let data = vec![0x5Au8; len];
            assert_eq!(ask(&echo, &data, &v4(5000)).unwrap(), data);
        }
    }

    #[test]
    fn datagrams_from_service_ports_go_unanswered_and_are_counted() {
        let mut shared = Shared::seeded(1024, 7);
        let mut out = Vec::new();
        for port in [0, 7, 9, 13, 19, 37, 53, 123, 4000] {
            assert!(!serve(
                &cmd(None),
                b"ADD 1 2",
                &v4(port),
                &[4000],
                &mut shared,
                &mut out
            ));
            assert!(out.is_empty());
        }
        assert_eq!(shared.udp_dropped, 9);
        assert_eq!(shared.requests, 0, "dropped datagrams are not requests");
        for port in [1, 1024, 4001, 40_000, 65_535] {
            assert!(serve(
                &cmd(None),
                b"ADD 1 2",
                &v4(port),
                &[4000],
                &mut shared,
                &mut out
            ));
        }
        assert_eq!(shared.udp_dropped, 9);
    }
}
