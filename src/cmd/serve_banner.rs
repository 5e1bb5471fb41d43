//! The banner `sockloop serve` prints on standard output: one line per listener
//! with its real address (so port 0 can be used and scripts can read the port) and a
//! command to try it with.

use crate::runtime::server::ListenerInfo;
use crate::service::Service;
use std::io::Write;
use std::net::SocketAddr;

/// The banner goes to stdout, one listener per line with the real bound address (so
/// port 0 can be used and scripts can read the port), and a command to try.
pub fn print_banner<'a>(
    listeners: impl Iterator<Item = &'a ListenerInfo>,
    tls: Option<&TlsBanner>,
    processes: &str,
) {
    let listeners: Vec<_> = listeners.collect();
    let mut text = format!(
        "sockloop {}{processes} — one thread, {} listener{}\n",
        env!("CARGO_PKG_VERSION"),
        listeners.len(),
        if listeners.len() == 1 { "" } else { "s" }
    );
    let width = listeners.iter().map(|l| l.address.len()).max().unwrap_or(0);
    for l in &listeners {
        let try_it = try_command(l.transport, &l.address, l.service);
        text.push_str(&format!(
            "  {:<5} {:<width$}  {:<8} try: {try_it}\n",
            l.transport,
            l.address,
            l.service.name()
        ));
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        text.push_str(&super::serve_tls::banner(tls));
    }
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    text.push_str("ready; Ctrl-C stops\n");
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

#[cfg(feature = "tls")]
pub type TlsBanner = crate::tls::server::ServerTls;
/// (Nothing: there is no TLS in this build.)
#[cfg(not(feature = "tls"))]
pub type TlsBanner = ();

fn try_command(transport: &str, address: &str, service: Service) -> String {
    let hint = match service {
        Service::Cmd => "   (then type HELP)",
        Service::Random => "   (then type 1 6)",
        Service::Chat => "   (then type /help)",
        Service::PubSub => "   (then type SUB news)",
        _ => "",
    };
    // A wildcard address is reachable on loopback.
    let reachable = match address.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => {
            let ip: std::net::IpAddr = if a.is_ipv6() {
                std::net::Ipv6Addr::LOCALHOST.into()
            } else {
                std::net::Ipv4Addr::LOCALHOST.into()
            };
            Some(SocketAddr::new(ip, a.port()))
        }
        Ok(a) => Some(a),
        Err(_) => None,
    };
    let nc_target = match reachable {
        Some(a) => format!("{} {}", a.ip(), a.port()),
        None => address.to_string(),
    };
    match (transport, reachable) {
        ("http", Some(a)) => format!("open http://{a}/ in a browser, or websocat ws://{a}/ws"),
        ("https", Some(a)) => {
            format!("open https://{a}/ in a browser, or sockloop ws wss://{a}/ws")
        }
        ("tls", _) => format!(
            "openssl s_client -quiet -connect {}{hint}",
            nc_target.replace(' ', ":")
        ),
        ("udp", _) => format!("nc -u {nc_target}{hint}"),
        ("unix", _) => format!("nc -U {nc_target}{hint}"),
        _ => format!("nc {nc_target}{hint}"),
    }
}
