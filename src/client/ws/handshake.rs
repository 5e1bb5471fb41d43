//! The opening handshake from the client's side (RFC 6455 §4.1), blocking with a
//! timeout: there is nothing else to do until it is done. The request and the checks
//! of the response are the sans-I/O `proto::ws::handshake` core's; this file moves its
//! bytes and turns what went wrong into messages.

use super::WsOptions;
use super::url::Url;
use crate::client::{ClientError, read_within};
use crate::proto::Parsed;
use crate::proto::http::ResponseHead;
use crate::proto::ws::handshake::{Accepted, ClientHandshake, ClientHandshakeError, ClientRequest};
use crate::runtime::transport::Stream;
use crate::trace;
use crate::trace::Layer;
use rand::RngExt;
use std::io::{self, Write};

/// Sends the opening handshake and reads the response. Returns what the server
/// accepted (subprotocol, compression) and any bytes that came after the response
/// head (the first frames).
pub(super) fn handshake(
    sock: &mut Stream,
    url: &Url,
    opts: &WsOptions,
) -> Result<(Accepted, Vec<u8>), ClientError> {
    let failed = |e: io::Error| ClientError::Failed(format!("handshake with {}: {e}", opts.url));
    let (hs, request) = start(url, opts);
    sock.set_read_timeout(Some(opts.connect_timeout))
        .map_err(failed)?;
    trace_request(&hs, &request, &opts.url);
    sock.write_all(&request).map_err(failed)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match read_within(sock, &mut chunk).map_err(failed)? {
            Some(0) => {
                return Err(ClientError::Failed(format!(
                    "{} closed the connection during the handshake — is it a WebSocket server?",
                    url.target
                )));
            }
            Some(n) => n,
            None => {
                return Err(ClientError::Failed(format!(
                    "no handshake response from {} within {} s",
                    url.target,
                    opts.connect_timeout.as_secs_f64()
                )));
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        match hs.read_response(&buf) {
            Ok(Parsed::Incomplete) => {}
            Ok(Parsed::Complete { value, consumed }) => {
                trace_response(&value.head);
                sock.set_read_timeout(None).map_err(failed)?;
                return Ok((value, buf.split_off(consumed)));
            }
            Err(e) => return Err(refused(e, url, opts)),
        }
    }
}

/// The request to send, and the handshake state that checks the answer to it.
fn start(url: &Url, opts: &WsOptions) -> (ClientHandshake, Vec<u8>) {
    let protocols: Vec<&str> = opts.protocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = opts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = ClientRequest {
        host: &url.host,
        path: &url.path,
        protocols: &protocols,
        origin: opts.origin.as_deref(),
        headers: &headers,
        deflate: opts.deflate,
    };
    let mut bytes = Vec::new();
    let hs = ClientHandshake::start(rand::rng().random(), &request, &mut bytes);
    (hs, bytes)
}

/// A response that is not an acceptance: an answer that is not HTTP is the target's
/// fault (wrong port?), a refusal is the URL's.
fn refused(e: ClientHandshakeError, url: &Url, opts: &WsOptions) -> ClientError {
    if let ClientHandshakeError::Refused { head, .. } = &e {
        trace_response(head);
    }
    let who = match e {
        ClientHandshakeError::NotHttp(_) => url.target.to_string(),
        _ => opts.url.clone(),
    };
    ClientError::Failed(format!("{who} {e}"))
}

fn trace_request(hs: &ClientHandshake, request: &[u8], url: &str) {
    if trace::any() {
        trace::set_context(format_args!("{url}"));
        let line = request.split(|&b| b == b'\r').next().unwrap_or_default();
        trace!(
            Layer::Http,
            "http < {} (Sec-WebSocket-Key: {})",
            String::from_utf8_lossy(line),
            hs.key()
        );
    }
}

fn trace_response(head: &ResponseHead) {
    trace!(
        Layer::Http,
        "http > HTTP/1.{} {} {} (Sec-WebSocket-Accept: {})",
        head.minor_version,
        head.status,
        head.reason,
        head.header("sec-websocket-accept").unwrap_or("none")
    );
}
