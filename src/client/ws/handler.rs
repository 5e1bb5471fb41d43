//! What the session's events do in the client: messages are printed (or echoed back
//! with `--echo`), pings and pongs are reported with `-v`, and both sides' Closes are
//! kept to say at the end how the session went.

use super::WsOptions;
use super::closing::Closes;
use crate::client::ClientError;
use crate::client::output::Output;
use crate::proto::ws::codes;
use crate::proto::ws::deflate::send::{self, Compression};
use crate::proto::ws::deflate::{Agreed, Deflater};
use crate::proto::ws::session::{Event, Handler, MessageKind};
use crate::trace;
use crate::trace::Layer;
use rand::RngExt;

pub(super) struct ClientHandler {
    /// Frames of the message in progress, for the trace.
    fragments: u16,
    echo: bool,
    raw: bool,
    verbose: bool,
    pub out: Output,
    /// Our Close and the server's, as they are sent and arrive.
    pub closes: Closes,
    /// permessage-deflate was negotiated: our compressor and the window allowed.
    deflate: Option<(Box<Deflater>, u8)>,
}

/// A fresh masking key from the OS-seeded cryptographic generator (RFC 6455 §5.3):
/// one per frame we send.
pub(super) fn mask_key() -> [u8; 4] {
    rand::rng().random()
}

impl ClientHandler {
    pub fn new(opts: &WsOptions, deflate: Option<Agreed>) -> ClientHandler {
        ClientHandler {
            deflate: deflate.map(|a| (Box::default(), a.send_window_bits)),
            fragments: 0,
            echo: opts.echo,
            raw: opts.raw,
            verbose: opts.verbose,
            out: Output::default(),
            closes: Closes::default(),
        }
    }

    /// How our messages are compressed, if permessage-deflate was negotiated.
    pub fn compression(&mut self) -> Option<Compression<'_>> {
        let (deflater, window_bits) = self.deflate.as_mut()?;
        Some(Compression {
            deflater,
            window_bits: *window_bits,
            context: false,
        })
    }

    /// The server closed TCP (or we stopped waiting): how the session ended, as the
    /// client's result.
    pub fn outcome(&self, url: &str) -> Result<(), ClientError> {
        let Some(theirs) = self.closes.theirs() else {
            return Err(ClientError::Failed(format!(
                "{url} closed the connection without a close frame (1006, abnormal closure)"
            )));
        };
        if let Some(how) = self.closes.describe(url).filter(|_| self.verbose) {
            eprintln!("sockloop: {how}");
        }
        match theirs.code {
            Some(c) if codes::is_error_close_code(c) => Err(ClientError::Failed(format!(
                "server closed with {c} ({}){}",
                codes::close_code_name(c),
                if theirs.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", theirs.reason)
                }
            ))),
            _ => Ok(()),
        }
    }
}

impl Handler for ClientHandler {
    fn on_event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if trace::on(Layer::Ws) {
            trace::ws_event(&event, &mut self.fragments);
        }
        match event {
            Event::Message { kind, data } if self.echo => {
                let compression = self.compression();
                send::write_message(out, kind.opcode(), data, Some(mask_key()), compression);
            }
            Event::Message {
                kind: MessageKind::Text,
                data,
            } => self.out.line(data),
            Event::Message {
                kind: MessageKind::Binary,
                data,
            } if self.raw => self.out.raw(data),
            Event::Message {
                kind: MessageKind::Binary,
                data,
            } => self.out.hex_line(data),
            Event::Ping(payload) if self.verbose => {
                let size = crate::plural::count(payload.len() as u64, "byte");
                eprintln!("sockloop: ping ({size}), pong sent");
            }
            Event::Pong(payload) if self.verbose => {
                let size = crate::plural::count(payload.len() as u64, "byte");
                eprintln!("sockloop: pong ({size})");
            }
            Event::Close { code, reason } => self.closes.received(code, reason),
            _ => {}
        }
    }

    fn mask_key(&mut self) -> [u8; 4] {
        mask_key()
    }
}
