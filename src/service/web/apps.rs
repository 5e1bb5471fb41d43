//! What the WebSocket endpoints do with messages: echo (`/ws`), the `cmd` protocol
//! (`/cmd`), a random-number stream (`/random`), chat rooms (`/chat`) and pub/sub
//! (`/pubsub`).

use crate::proto::command;
use crate::proto::ws::codes::close_code_name;
use crate::proto::ws::deflate::Deflater;
use crate::proto::ws::deflate::codec::DEFLATER_HEAP;
use crate::proto::ws::deflate::send::{self, Compression};
use crate::proto::ws::frame::{self, Opcode};
use crate::proto::ws::session::{Event, Handler, MessageKind};
use crate::service::fanout::{self, Format, HubKind};
use crate::service::lend::LEND_MIN;
use crate::service::rooms::{self, Replies};
use crate::service::{ServerEnv, Shared};
use crate::trace::{self, Layer};
use std::collections::VecDeque;
use std::io::Write;

/// Count requests one `/random` connection may have waiting at once.
const MAX_QUEUED: usize = 64;

/// The endpoint a WebSocket was opened on. One byte: what an app keeps per
/// connection lives beside it (the `/random` queue in [`Owed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    Echo,
    Cmd,
    Random,
    /// A chat user; a pub/sub client.
    Chat,
    PubSub,
}

/// `/random` requests not yet fully answered: (numbers still owed, min, max). Numbers
/// are produced as the client reads them, never all at once. Boxed and made only
/// while something is owed, so that a WebSocket carries 8 bytes for it, and no heap
/// while idle.
#[allow(clippy::box_collection)] // the point: 8 bytes in every WebSocket, not 32
pub type Owed = Option<Box<VecDeque<(u32, i64, i64)>>>;

/// Heap bytes the `/random` queue holds.
pub fn owed_heap_bytes(owed: &Owed) -> usize {
    owed.as_ref().map_or(0, |queue| {
        std::mem::size_of::<VecDeque<(u32, i64, i64)>>()
            + queue.capacity() * std::mem::size_of::<(u32, i64, i64)>()
    })
}

/// Writes owed random numbers, one text message each, until `out` reaches `budget`;
/// the queue goes once all is paid.
pub fn produce(
    owed: &mut Owed,
    shared: &mut Shared,
    sender: &mut Sender<'_>,
    out: &mut Vec<u8>,
    budget: usize,
) {
    let Some(queue) = owed else {
        return;
    };
    let mut number = Vec::with_capacity(24);
    while let Some((left, min, max)) = queue.front_mut() {
        if out.len() >= budget {
            return;
        }
        number.clear();
        let n = command::Env::random(&mut ServerEnv::new(shared), *min, *max);
        let _ = write!(number, "{n}");
        write_message(shared, sender, out, Opcode::Text, &number);
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
    }
    // Release the queue's memory: an idle connection holds no heap.
    *owed = None;
}

impl App {
    pub fn for_path(path: &str) -> Option<App> {
        match path {
            "/ws" => Some(App::Echo),
            "/cmd" => Some(App::Cmd),
            "/random" => Some(App::Random),
            "/chat" if cfg!(feature = "pubsub") => Some(App::Chat),
            "/pubsub" if cfg!(feature = "pubsub") => Some(App::PubSub),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            App::Echo => "echo",
            App::Cmd => "cmd",
            App::Random => "random",
            App::Chat => "chat",
            App::PubSub => "pubsub",
        }
    }

    /// The hub this app's connection receives fan-out from.
    pub fn hub(&self) -> Option<HubKind> {
        match self {
            App::Chat => Some(HubKind::Chat),
            App::PubSub => Some(HubKind::PubSub),
            _ => None,
        }
    }

    /// The WebSocket is open: a chat user arrives in the lobby.
    pub fn on_open(&mut self, shared: &mut Shared, sender: &mut Sender<'_>, out: &mut Vec<u8>) {
        if let App::Chat = self {
            let mut replies = Replies::new();
            rooms::chat_arrive(shared, &mut replies);
            write_texts(shared, sender, out, &replies);
        }
    }
}

/// How a connection's messages go out (permessage-deflate or not).
pub enum Sender<'a> {
    Plain,
    /// Each message on its own, by the loop's one deflater, within this window.
    Shared {
        window_bits: u8,
    },
    /// Context takeover: the connection's own deflater (made at its first long
    /// message), which keeps the history between messages.
    Own(&'a mut Option<Box<Deflater>>),
}

/// Appends one message from the server, compressed when the connection negotiated
/// permessage-deflate. A compressor (371 KiB) is made the first time a message is
/// long enough to be compressed, not when compression is merely negotiated; a
/// connection's own one only if the memory budget has room for it.
pub fn write_message(
    shared: &mut Shared,
    sender: &mut Sender<'_>,
    out: &mut Vec<u8>,
    opcode: Opcode,
    data: &[u8],
) {
    if data.len() < send::MIN_COMPRESSED || matches!(sender, Sender::Plain) {
        // Nothing to compress: the frame as it is (the echo path). A long payload
        // still in the read buffer is sent from there (service/lend.rs).
        if data.len() >= LEND_MIN {
            frame::write_server_header(out, opcode, data.len());
            if !shared.lend.lend(data, out.len()) {
                out.extend_from_slice(data);
            }
            return;
        }
        return frame::write_server_frame(out, opcode, data);
    }
    write_compressible(shared, sender, out, opcode, data);
}

/// [`write_message`] for a message long enough to compress, on a connection that
/// negotiated compression: apart, so that the plain path stays small enough to inline.
#[inline(never)]
fn write_compressible(
    shared: &mut Shared,
    sender: &mut Sender<'_>,
    out: &mut Vec<u8>,
    opcode: Opcode,
    data: &[u8],
) {
    let compression = match sender {
        Sender::Shared { window_bits } => Some(Compression {
            deflater: shared.deflater.get_or_insert_with(Box::default),
            window_bits: *window_bits,
            context: false,
        }),
        Sender::Own(slot) => {
            if slot.is_none() && shared.memory.may_grow(DEFLATER_HEAP, DEFLATER_HEAP) {
                **slot = Some(Box::default());
            }
            slot.as_deref_mut().map(|deflater| Compression {
                deflater,
                window_bits: 15,
                context: true,
            })
        }
        _ => None,
    };
    send::write_message(out, opcode, data, None, compression);
}

/// The session's handler for one event: borrows the app and the server state.
pub struct AppHandler<'a> {
    app: App,
    owed: &'a mut Owed,
    shared: &'a mut Shared,
    /// Frames of the message in progress, for the trace's "fragment k".
    fragments: &'a mut u16,
    /// Our Close was sent before this feed: a Close now is the peer's answer.
    our_close_sent: bool,
    /// How replies go out (permessage-deflate or not).
    sender: Sender<'a>,
    /// The app asked to end the connection (chat `/quit`): Close 1000 after its
    /// replies.
    pub quit: bool,
}

impl<'a> AppHandler<'a> {
    pub fn new(
        app: App,
        owed: &'a mut Owed,
        shared: &'a mut Shared,
        fragments: &'a mut u16,
    ) -> Self {
        Self {
            app,
            owed,
            shared,
            fragments,
            our_close_sent: false,
            sender: Sender::Plain,
            quit: false,
        }
    }

    /// Compress replies (permessage-deflate was negotiated).
    pub fn sending(mut self, sender: Sender<'a>) -> Self {
        self.sender = sender;
        self
    }

    /// Says whether our Close has gone already, so that the log tells a peer's answer
    /// from a peer closing first.
    pub fn after_our_close(mut self, sent: bool) -> Self {
        self.our_close_sent = sent;
        self
    }
}

impl Handler for AppHandler<'_> {
    fn on_event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if trace::on(Layer::Ws) {
            trace::ws_event(&event, self.fragments);
        }
        match event {
            Event::Message { kind, data } => {
                self.shared.requests += 1;
                if let App::Echo = self.app {
                    // The echo path, kept apart from the other apps so that it is a
                    // few instructions: one header and one copy into the output.
                    write_message(self.shared, &mut self.sender, out, kind.opcode(), data);
                } else {
                    self.on_message(kind, data, out);
                }
            }
            Event::Close { code, reason } => self.on_close(code, reason),
            _ => {}
        }
    }

    fn discarded(&mut self, len: usize) {
        self.shared.lend.truncate(len);
    }

    fn may_grow(&mut self, more: usize, total: usize) -> bool {
        let ok = self.shared.memory.may_grow(more, total);
        if !ok {
            self.shared.memory.refuse();
            crate::debug!(
                "WebSocket message refused with 1013: {total} bytes would take the memory budget past its limit ({} of {} bytes in use)",
                self.shared.memory.used(),
                self.shared.memory.limit()
            );
        }
        ok
    }
}

/// A peer's Close as the log says it: `with 1001 (going away), reason "bye"`.
struct ClosedWith<'a>(Option<u16>, &'a str);

impl std::fmt::Display for ClosedWith<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(c) => write!(f, "with {c} ({})", close_code_name(c))?,
            None => f.write_str("without a status code")?,
        }
        // The peer's own text: escaped, so that it cannot forge log lines.
        match self.1 {
            "" => f.write_str(" and no reason"),
            reason => write!(f, ", reason \"{}\"", reason.escape_debug()),
        }
    }
}

impl AppHandler<'_> {
    #[inline(never)]
    fn on_close(&mut self, code: Option<u16>, reason: &str) {
        self.shared.metrics.close_received(code);
        let said = ClosedWith(code, reason);
        if self.our_close_sent {
            crate::debug!("WebSocket peer answered our Close {said}");
        } else {
            crate::debug!("WebSocket peer closed first {said}; answered in kind");
        }
    }

    /// A message for an app other than echo (which `on_event` answers itself).
    #[inline(never)]
    fn on_message(&mut self, kind: MessageKind, data: &[u8], out: &mut Vec<u8>) {
        match self.app {
            App::Echo => write_message(self.shared, &mut self.sender, out, kind.opcode(), data),
            App::Cmd => {
                let mut reply = Vec::with_capacity(64);
                if kind == MessageKind::Binary {
                    reply.extend_from_slice(b"ERR send requests as text messages");
                } else if data.len() > self.shared.max_line {
                    let _ = write!(
                        reply,
                        "ERR line too long (max {} bytes)",
                        self.shared.max_line
                    );
                } else {
                    // A text message is one request; a trailing newline is allowed.
                    let line = data.strip_suffix(b"\n").unwrap_or(data);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let _ = command::respond(line, &mut ServerEnv::new(self.shared), &mut reply);
                    reply.pop(); // the newline: a message is already a unit
                }
                write_message(self.shared, &mut self.sender, out, Opcode::Text, &reply);
            }
            App::Random => {
                // The message is `N` or `N MIN MAX`, RANDOMS's arguments without the verb.
                let reply = match command::parse_random_request(data) {
                    _ if kind == MessageKind::Binary => {
                        Err("ERR send the count as a text message".to_string())
                    }
                    Ok((count, min, max)) => {
                        let queue = self.owed.get_or_insert_default();
                        if queue.len() >= MAX_QUEUED {
                            Err(format!(
                                "ERR {MAX_QUEUED} requests already waiting; read some numbers first"
                            ))
                        } else {
                            queue.push_back((count, min, max));
                            Ok(())
                        }
                    }
                    Err(e) => Err(format!("ERR {e}")),
                };
                if let Err(text) = reply {
                    write_message(
                        self.shared,
                        &mut self.sender,
                        out,
                        Opcode::Text,
                        text.as_bytes(),
                    );
                }
            }
            App::Chat => {
                let mut replies = Replies::new();
                match chat_request(kind, data, self.shared.max_line) {
                    Ok(line) => {
                        let after = rooms::chat_line(self.shared, line, &mut replies);
                        self.quit |= after == command::After::Close;
                    }
                    Err(why) => replies.push(format!("* error: {why}")),
                }
                write_texts(self.shared, &mut self.sender, out, &replies);
            }
            App::PubSub => {
                let published = self.shared.outbox.len();
                let mut reply = Vec::with_capacity(64);
                if kind == MessageKind::Binary {
                    let published = fanout::split_binary(data).map_err(str::to_string).and_then(
                        |(topic, payload)| rooms::publish(self.shared, topic, payload, true),
                    );
                    match published {
                        Ok(()) => reply.extend_from_slice(b"OK"),
                        Err(why) => reply.extend_from_slice(format!("ERR {why}").as_bytes()),
                    }
                } else {
                    let line = data.strip_suffix(b"\n").unwrap_or(data);
                    rooms::pubsub_line(self.shared, line, &mut reply);
                }
                write_message(self.shared, &mut self.sender, out, Opcode::Text, &reply);
                rooms::copy_own(self.shared, published, Format::Ws, out);
            }
        }
    }
}

/// A chat message as its line: text, within `--max-line`, one trailing newline
/// allowed.
fn chat_request(kind: MessageKind, data: &[u8], max_line: usize) -> Result<&[u8], String> {
    if kind == MessageKind::Binary {
        return Err("send chat lines as text messages".into());
    }
    if data.len() > max_line {
        return Err(format!("line too long (max {max_line} bytes)"));
    }
    let line = data.strip_suffix(b"\n").unwrap_or(data);
    Ok(line.strip_suffix(b"\r").unwrap_or(line))
}

/// Each reply as a text message of its own.
pub fn write_texts(
    shared: &mut Shared,
    sender: &mut Sender<'_>,
    out: &mut Vec<u8>,
    texts: &Replies,
) {
    for text in texts {
        write_message(shared, sender, out, Opcode::Text, text.as_bytes());
    }
}
