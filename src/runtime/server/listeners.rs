//! The loop's listeners: bound or adopted (a passed socket), registered, named for
//! the banner and /metrics; and `--inetd`'s one connection on standard input.

use super::{LISTENER_KEY_TOP, Listener, ListenerInfo, Server};
use crate::info;
use crate::runtime::activation::{self, Inherited};
use crate::runtime::listener::{BindError, BindOptions, ListenSocket, bind};
use crate::runtime::poll::{Interest, Registration};
use crate::runtime::spec::{Endpoint, ListenSpec};
use crate::service::Service;
use crate::trace::{self, Layer};
use std::io;
use std::os::fd::AsFd;

impl Server {
    /// `--inetd`: standard input is the connection; a listener entry without a
    /// socket stands for inetd in the logs.
    pub(super) fn adopt_stdin(&mut self, service: Service) -> Result<(), BindError> {
        let (stream, peer) = activation::stdin_connection()?;
        self.count_listener("inetd", "stdin", service);
        self.listeners.push(Listener {
            socket: None,
            info: ListenerInfo {
                transport: "inetd",
                address: "stdin".into(),
                service,
            },
            tcp_port: None,
            tls: false,
            paused: false,
            fd_exhaustion_logged: false,
        });
        self.inetd = Some((stream, peer));
        self.one_connection = true;
        Ok(())
    }

    /// Notes our own UDP ports, and for each UDP listener the TCP port of the same
    /// service (where a client whose answer is too big for a datagram should ask).
    pub(super) fn link_udp_to_tcp(&mut self) {
        let port_of = |l: &Listener| match &l.socket {
            Some(ListenSocket::Tcp(s)) => s.local_addr().ok().map(|a| a.port()),
            Some(ListenSocket::Udp(s)) => s.local_addr().ok().map(|a| a.port()),
            _ => None,
        };
        let udp = |l: &Listener| matches!(l.socket, Some(ListenSocket::Udp(_)));
        self.udp_ports = self
            .listeners
            .iter()
            .filter(|l| udp(l))
            .filter_map(port_of)
            .collect();
        let tcp_ports: Vec<(Service, Option<u16>)> = self
            .listeners
            .iter()
            .filter(|l| matches!(l.socket, Some(ListenSocket::Tcp(_))))
            .map(|l| (l.info.service, port_of(l)))
            .collect();
        for listener in self.listeners.iter_mut().filter(|l| udp(l)) {
            listener.tcp_port = tcp_ports
                .iter()
                .find(|(service, _)| *service == listener.info.service)
                .and_then(|(_, port)| *port);
        }
    }

    pub(super) fn add_listener(
        &mut self,
        spec: &ListenSpec,
        options: &BindOptions,
        inherited: &[Inherited],
    ) -> Result<(), BindError> {
        let index = self.listeners.len();
        let (socket, address) = match &spec.endpoint {
            Endpoint::Fd(name) => {
                take_inherited(name, spec.service, inherited, self.role.is_none())?
            }
            endpoint => bind(endpoint, options)?,
        };
        let key = listener_key(index);
        if let Err(e) = Registration::add(&self.poller, &socket_fd(&socket), key, Interest::READ) {
            if let ListenSocket::Unix(_, Some(owned)) = &socket {
                owned.remove();
            }
            return Err(BindError::Other("cannot watch listener".into(), e));
        }
        if trace::on(Layer::Loop) {
            trace_listen(&socket, &address, spec, options);
        }
        let transport = scheme_of(&socket, spec.service, spec.tls);
        self.count_listener(transport, &address, spec.service);
        self.listeners.push(Listener {
            socket: Some(socket),
            info: ListenerInfo {
                transport,
                address,
                service: spec.service,
            },
            tcp_port: None,
            tls: spec.tls,
            paused: false,
            fd_exhaustion_logged: false,
        });
        Ok(())
    }

    /// A listener's line in `/metrics`, at the same index as the listener.
    fn count_listener(&mut self, transport: &'static str, address: &str, service: Service) {
        self.shared
            .metrics
            .listeners
            .push(crate::service::metrics::ListenerCounts {
                transport,
                address: address.to_string(),
                service,
                accepted: 0,
                open: 0,
            });
    }

    pub(super) fn remove_unix_files(&mut self) {
        for listener in &mut self.listeners {
            if let Some(ListenSocket::Unix(_, Some(owned))) = &listener.socket {
                owned.remove();
            }
        }
    }
}

/// A passed socket, taken as the listener `-l fd:NAME=SERVICE` asks for, with the
/// address it is bound to.
pub(crate) fn take_inherited(
    name: &str,
    service: Service,
    inherited: &[Inherited],
    log: bool,
) -> Result<(ListenSocket, String), BindError> {
    let refuse = |why: String| {
        BindError::Other(
            format!("fd:{name}"),
            io::Error::new(io::ErrorKind::InvalidInput, why),
        )
    };
    let passed = activation::find(inherited, name).map_err(refuse)?;
    let socket = activation::adopt(passed)?;
    let address = match &socket {
        ListenSocket::Tcp(l) => l.local_addr().map(|a| a.to_string()),
        ListenSocket::Udp(s) => s.local_addr().map(|a| a.to_string()),
        ListenSocket::Unix(l, _) => l.local_addr().map(|a| match a.as_pathname() {
            Some(path) => path.display().to_string(),
            None => format!("fd {}", passed.fd),
        }),
    }
    .unwrap_or_else(|_| format!("fd {}", passed.fd));
    if matches!(socket, ListenSocket::Udp(_)) && !service.works_on_udp() {
        return Err(refuse(format!(
            "{} (fd {}) is a UDP socket, and {service} needs connections",
            passed.name, passed.fd
        )));
    }
    if log {
        info!(
            "serving the passed socket {} (fd {}, {address}) with {service}",
            passed.name, passed.fd
        );
    }
    Ok((socket, address))
}

/// How the banner names a listener: its transport, or http/https/tls over TCP.
pub(crate) fn scheme_of(socket: &ListenSocket, service: Service, tls: bool) -> &'static str {
    match (socket, service, tls) {
        (ListenSocket::Tcp(_), Service::Web, false) => "http",
        (ListenSocket::Tcp(_), Service::Web, true) => "https",
        (ListenSocket::Tcp(_), _, true) => "tls",
        (ListenSocket::Tcp(_), _, false) => "tcp",
        (ListenSocket::Udp(_), _, _) => "udp",
        (ListenSocket::Unix(..), _, _) => "unix",
    }
}

pub(super) fn listener_key(index: usize) -> usize {
    LISTENER_KEY_TOP - index
}

pub(crate) fn socket_fd(socket: &ListenSocket) -> std::os::fd::BorrowedFd<'_> {
    match socket {
        ListenSocket::Tcp(l) => l.as_fd(),
        ListenSocket::Udp(s) => s.as_fd(),
        ListenSocket::Unix(l, _) => l.as_fd(),
    }
}

/// The listener as bound, with the socket options that were set on it.
fn trace_listen(socket: &ListenSocket, address: &str, spec: &ListenSpec, opts: &BindOptions) {
    use std::os::fd::AsRawFd;
    trace::set_context(format_args!("listener"));
    let fd = socket_fd(socket).as_raw_fd();
    let kind = match socket {
        ListenSocket::Tcp(_) => "tcp",
        ListenSocket::Udp(_) => "udp",
        ListenSocket::Unix(..) => "unix",
    };
    let v6 = match &spec.endpoint {
        Endpoint::Tcp(a) | Endpoint::Udp(a) if a.is_ipv6() => {
            format!(" IPV6_V6ONLY={}", u8::from(opts.v6_only))
        }
        _ => String::new(),
    };
    let (reuse, backlog) = match socket {
        ListenSocket::Unix(..) => (String::new(), format!(" backlog={}", opts.backlog)),
        ListenSocket::Udp(_) => (
            format!(" SO_REUSEADDR=1 SO_REUSEPORT={}", u8::from(opts.reuse_port)),
            String::new(),
        ),
        ListenSocket::Tcp(_) => (
            format!(" SO_REUSEADDR=1 SO_REUSEPORT={}", u8::from(opts.reuse_port)),
            format!(" backlog={}", opts.backlog),
        ),
    };
    crate::trace!(
        Layer::Loop,
        "listen {kind} {address} ({}) fd={fd}{reuse}{v6}{backlog} O_NONBLOCK",
        spec.service
    );
}
