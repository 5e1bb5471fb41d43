//! `--trace`: what crosses each socket and what the loop does with it, one event per
//! line on stderr, for people learning how sockets and WebSocket behave.
//!
//! ```text
//! 14:05:09.042117 #3 tcp 127.0.0.1:50312  read 7 bytes
//! 14:05:09.042150 #3 tcp 127.0.0.1:50312  line > "ADD 1 2"
//! ```
//!
//! Tracing is off unless asked for, and then costs one relaxed atomic load per
//! potential event: every call site checks [`on`] before formatting anything (the
//! `trace!` macro does it for you). The protocol cores stay pure: they only expose
//! what they parsed (frame headers, payload pieces, request heads); the printing
//! happens here, outside `proto/`.

use crate::proto::ws::codes::close_code_name;
use crate::proto::ws::frame::{FrameHeader, Opcode};
use crate::proto::ws::session::Event;
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The layers a trace can show; `--trace=loop,ws` picks some.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Listeners, accepts, readiness, reads, writes, backpressure, timers, closes.
    Loop = 1,
    /// Line protocol requests and replies.
    Line = 2,
    /// HTTP request heads and status lines.
    Http = 4,
    /// WebSocket frames, field by field, and messages.
    Ws = 8,
    /// Datagrams.
    Udp = 16,
    /// DNS messages (the lookup client).
    Dns = 32,
    /// TLS: records in and out, the handshake's outcome (version, cipher suite, ALPN,
    /// SNI), alerts and close_notify.
    Tls = 64,
}

const LAYERS: [(&str, Layer); 7] = [
    ("loop", Layer::Loop),
    ("line", Layer::Line),
    ("http", Layer::Http),
    ("ws", Layer::Ws),
    ("udp", Layer::Udp),
    ("dns", Layer::Dns),
    ("tls", Layer::Tls),
];

static ENABLED: AtomicU8 = AtomicU8::new(0);
static PREVIEW_BYTES: AtomicUsize = AtomicUsize::new(32);

thread_local! {
    /// The connection the loop is working on, so that services (which know nothing
    /// of sockets) can tag their events with it.
    static CONTEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Turns tracing on. `layers` is `None` for `--trace` alone (everything), or a
/// comma-separated list such as `ws,http`.
pub fn configure(layers: Option<&str>, preview_bytes: usize) -> Result<(), String> {
    if !cfg!(feature = "trace") {
        return Err("this sockloop was built without the `trace` feature".into());
    }
    let mut mask = 0u8;
    match layers {
        None | Some("") | Some("all") => mask = 0xff,
        Some(list) => {
            for name in list.split(',').map(str::trim) {
                let (_, layer) = LAYERS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
                    format!(
                        "unknown trace layer '{name}' (layers: loop, line, http, ws, tls, udp, dns)"
                    )
                })?;
                mask |= *layer as u8;
            }
        }
    }
    ENABLED.store(mask, Ordering::Relaxed);
    PREVIEW_BYTES.store(preview_bytes, Ordering::Relaxed);
    Ok(())
}

/// Whether `text`, the argument after a bare `--trace`, is meant as its layers: every
/// comma-separated name is a layer (or `all`), or it is a list naming at least one, so
/// that `ws,htp` is reported as an unknown layer rather than taken for an address.
pub fn looks_like_layers(text: &str) -> bool {
    let known = |name: &str| name == "all" || LAYERS.iter().any(|(n, _)| *n == name);
    let mut names = text.split(',').map(str::trim);
    if text.contains(',') {
        names.any(known)
    } else {
        names.all(known)
    }
}

/// Adds `--trace[=LAYERS]` and `--trace-bytes N` to a subcommand's options.
pub fn add_options(opts: &mut getopts::Options) {
    opts.optflagopt(
        "",
        "trace",
        "show what crosses the sockets, one event per line on stderr \
         (layers: loop, line, http, ws, tls, udp, dns; default all)",
        "LAYERS",
    );
    opts.optopt(
        "",
        "trace-bytes",
        "payload bytes shown per event with --trace (default 32)",
        "N",
    );
}

/// Applies `--trace` / `--trace-bytes` from parsed options.
pub fn from_matches(m: &getopts::Matches) -> Result<(), String> {
    if !m.opt_present("trace") {
        return Ok(());
    }
    let bytes = match m.opt_str("trace-bytes") {
        Some(v) => v
            .parse()
            .map_err(|_| format!("--trace-bytes '{v}' is not a number"))?,
        None => 32,
    };
    configure(m.opt_str("trace").as_deref(), bytes)
}

/// True when `layer` is being traced. Check this before building anything to print.
#[inline]
pub fn on(layer: Layer) -> bool {
    cfg!(feature = "trace") && ENABLED.load(Ordering::Relaxed) & layer as u8 != 0
}

/// True when any layer is traced.
#[inline]
pub fn any() -> bool {
    cfg!(feature = "trace") && ENABLED.load(Ordering::Relaxed) != 0
}

/// Sets the connection tag later events carry (only call it when [`any`]).
pub fn set_context(args: fmt::Arguments<'_>) {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        c.clear();
        let _ = c.write_fmt(args);
    });
}

/// Writes one event line: time with microseconds, the connection tag, the event.
pub fn emit(args: fmt::Arguments<'_>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    let mut line = String::with_capacity(120);
    let _ = write!(
        line,
        "{:02}:{:02}:{:02}.{:06} ",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_micros()
    );
    CONTEXT.with(|c| {
        let c = c.borrow();
        if !c.is_empty() {
            line.push_str(&c);
            line.push_str("  ");
        }
    });
    let _ = line.write_fmt(args);
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `trace!(Layer::Loop, "read {} bytes", n)`: formats only when the layer is on.
#[macro_export]
macro_rules! trace {
    ($layer:expr, $($arg:tt)*) => {
        if $crate::trace::on($layer) {
            $crate::trace::emit(format_args!($($arg)*))
        }
    };
}

/// Bytes as hex and as text, cut to `--trace-bytes`: `48 65 6c 6c 6f |Hello|`.
pub struct Preview<'a>(pub &'a [u8]);

impl fmt::Display for Preview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = PREVIEW_BYTES.load(Ordering::Relaxed);
        let shown = &self.0[..self.0.len().min(limit)];
        for (i, b) in shown.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            write!(f, "{b:02x}")?;
        }
        f.write_str(" |")?;
        for &b in shown {
            f.write_char(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            })?;
        }
        f.write_char('|')?;
        if self.0.len() > shown.len() {
            write!(f, " (+{} bytes)", self.0.len() - shown.len())?;
        }
        Ok(())
    }
}

/// A line of text for a trace, quoted and escaped: `"ADD 1 2"`.
pub struct Quoted<'a>(pub &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = PREVIEW_BYTES.load(Ordering::Relaxed).max(16) * 4;
        let shown = &self.0[..self.0.len().min(limit)];
        write!(f, "\"{}\"", shown.escape_ascii())?;
        if self.0.len() > shown.len() {
            write!(f, " (+{} bytes)", self.0.len() - shown.len())?;
        }
        Ok(())
    }
}

/// A frame header field by field (RFC 6455 §5.2):
/// `FIN=1 RSV=000 opcode=1 (text) MASK=1 key=37fa213d len=5 (7-bit)`.
pub struct Header<'a>(pub &'a FrameHeader);

impl fmt::Display for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.0;
        write!(
            f,
            "FIN={} RSV={:03b} opcode={:x} ({}) MASK={}",
            u8::from(h.fin),
            h.rsv,
            h.opcode.as_u8(),
            h.opcode.name(),
            u8::from(h.mask.is_some())
        )?;
        if let Some(key) = h.mask {
            write!(
                f,
                " key={:02x}{:02x}{:02x}{:02x}",
                key[0], key[1], key[2], key[3]
            )?;
        }
        write!(f, " len={} ({}-bit)", h.payload_len, h.length_encoding())
    }
}

/// Traces every whole frame in `bytes` (frames we are about to send), field by field.
pub fn sent_frames(bytes: &[u8]) {
    use crate::proto::Parsed;
    use crate::proto::ws::frame::parse_frame;
    let mut rest = bytes;
    while let Ok(Parsed::Complete { value, consumed }) = parse_frame(rest) {
        let mut payload = value.payload.to_vec();
        if let Some(key) = value.header.mask {
            crate::proto::ws::frame::apply_mask(&mut payload, key, 0);
        }
        emit(format_args!("ws < frame {}", Header(&value.header)));
        if !payload.is_empty() {
            emit(format_args!("ws <   payload {}", Preview(&payload)));
        }
        if value.header.opcode == Opcode::Close {
            emit(format_args!("ws < {}", CloseFrame(&payload)));
        }
        rest = rest.get(consumed..).unwrap_or_default();
    }
}

/// One event of a WebSocket session, as received: frames field by field, the first
/// payload bytes, message assembly, pings, pongs and closes. `fragments` counts the
/// frames of the message in progress (the caller keeps it between calls).
pub fn ws_event(event: &Event<'_>, fragments: &mut u16) {
    match *event {
        Event::Frame(h) => {
            if !h.opcode.is_control() {
                *fragments = fragments.saturating_add(1);
            }
            let part = match (h.opcode, h.fin) {
                (Opcode::Continuation, _) => format!(" (fragment {fragments} of a message)"),
                (Opcode::Text | Opcode::Binary, false) => " (fragment 1 of a message)".into(),
                _ => String::new(),
            };
            emit(format_args!("ws > frame {}{part}", Header(h)));
        }
        Event::Payload { offset: 0, data } => {
            emit(format_args!("ws >   payload {}", Preview(data)))
        }
        Event::Payload { .. } => {}
        Event::Message { kind, data } => {
            let frames = std::mem::take(fragments).max(1);
            emit(format_args!(
                "ws > message complete: {}, {} bytes in {frames} frame{}",
                kind.opcode().name(),
                data.len(),
                if frames == 1 { "" } else { "s" }
            ));
        }
        Event::Ping(p) => emit(format_args!("ws > ping ({} bytes); pong queued", p.len())),
        Event::Pong(p) => emit(format_args!("ws > pong ({} bytes)", p.len())),
        Event::Inflated {
            compressed,
            inflated,
        } => emit(format_args!(
            "ws >   inflated {compressed} compressed bytes to {inflated}"
        )),
        Event::Close {
            code: Some(c),
            reason,
        } => emit(format_args!(
            "ws > close {c} ({}) reason {}",
            close_code_name(c),
            Quoted(reason.as_bytes())
        )),
        Event::Close { code: None, .. } => emit(format_args!("ws > close (no status code)")),
    }
}

/// A close frame's payload: `close 1000 (normal closure) reason "bye"`.
pub struct CloseFrame<'a>(pub &'a [u8]);

impl fmt::Display for CloseFrame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("close (no status code)"),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                write!(
                    f,
                    "close {code} ({}) reason {}",
                    close_code_name(code),
                    Quoted(reason)
                )
            }
            [_] => f.write_str("close (1-byte payload: invalid)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_reads_as_layers() {
        for yes in ["ws", "all", "loop,line", "ws, http", "ws,htp", "nope,dns"] {
            assert!(looks_like_layers(yes), "{yes}");
        }
        for no in [
            "",
            "wss",
            "ws://127.0.0.1:1/",
            "127.0.0.1:1234",
            "localhost",
            "a,b",
        ] {
            assert!(!looks_like_layers(no), "{no}");
        }
    }

    #[test]
    fn previews_and_headers() {
        PREVIEW_BYTES.store(4, Ordering::Relaxed);
        assert_eq!(
            Preview(b"Hello").to_string(),
            "48 65 6c 6c |Hell| (+1 bytes)"
        );
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: Opcode::Text,
            mask: Some([0x37, 0xfa, 0x21, 0x3d]),
            payload_len: 5,
        };
        assert_eq!(
            Header(&h).to_string(),
            "FIN=1 RSV=000 opcode=1 (text) MASK=1 key=37fa213d len=5 (7-bit)"
        );
        assert_eq!(
            CloseFrame(&[0x03, 0xe8, b'b', b'y', b'e']).to_string(),
            "close 1000 (normal closure) reason \"bye\""
        );
        PREVIEW_BYTES.store(32, Ordering::Relaxed);
    }

    #[test]
    #[cfg(feature = "trace")]
    fn layer_lists() {
        assert!(configure(Some("ws,http"), 8).is_ok());
        assert!(on(Layer::Ws) && on(Layer::Http) && !on(Layer::Loop));
        assert!(configure(Some("nope"), 8).is_err());
        configure(Some("loop"), 32).unwrap();
        ENABLED.store(0, Ordering::Relaxed);
    }
}
