//! The peer sockloop's pubsub fan-out is compared with in `benches/fanout.sh`: the
//! same WebSocket pubsub protocol, written the way a careful tokio user would — a
//! task per connection, a bounded queue (tokio mpsc) per subscriber, and per topic a
//! list of those queues. A publish is formatted once into a reference-counted
//! `Utf8Bytes`; each recipient's task then frames it (a copy into its own write
//! buffer) and writes it with its own `send` (a syscall): the "copy and a syscall per
//! recipient" baseline. Current-thread runtime: one core, like sockloop.
//!
//! usage: tokio-broadcast [ADDR]   (default 127.0.0.1:0; prints "listening ADDR")
//!
//! Any path is accepted. One text message is one request, one reply or delivery:
//!
//! ```text
//! SUB topic → OK      UNSUB topic → OK      PUB topic payload → OK
//! every subscriber of topic receives: MSG topic payload
//! anything else → ERR reason
//! ```
//!
//! A binary message `[topic length][topic][payload]` publishes binary, delivered to
//! subscribers as the same binary message. A subscriber whose queue is full
//! (`TOKIO_BROADCAST_QUEUE` messages, default 1024) misses the message; the count of
//! missed messages reaches it as `DROPPED N` before its next delivery, or when its
//! queue has drained. There is no publish rate limit. SIGTERM or SIGINT stops it.

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// One subscription: where its deliveries go, and how many it missed since the
/// last DROPPED notice.
struct Subscriber {
    conn: u64,
    queue: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

/// Topic name → its subscribers, in the order they subscribed.
type Topics = Arc<Mutex<HashMap<String, Vec<Subscriber>>>>;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(serve(addr));
}

async fn serve(addr: String) {
    let listener = TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    let local = listener.local_addr().expect("local address");
    println!("listening {local}");
    let _ = std::io::stdout().flush();
    let queue = std::env::var("TOKIO_BROADCAST_QUEUE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(1024);
    let topics = Topics::default();
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut next_conn = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    next_conn += 1;
                    tokio::spawn(connection(stream, next_conn, topics.clone(), queue));
                }
                // Out of descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
}

/// One connection: its requests, answered in order, and its deliveries, each
/// written with its own `send`.
async fn connection(stream: TcpStream, conn: u64, topics: Topics, queue: usize) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<Message>(queue);
    let me = Me {
        conn,
        queue: tx,
        dropped: Arc::default(),
    };
    loop {
        tokio::select! {
            request = ws.next() => {
                let Some(Ok(request)) = request else { break };
                let reply = match request {
                    Message::Text(text) => me.text(&topics, &text),
                    Message::Binary(data) => me.binary(&topics, data),
                    // The client's Close: tungstenite has queued the reply, which the
                    // reads below write out; no delivery may follow it.
                    Message::Close(_) => break,
                    // Pings and pongs are tungstenite's.
                    _ => continue,
                };
                if ws.send(Message::text(reply)).await.is_err() {
                    break;
                }
            }
            Some(delivery) = rx.recv() => {
                if ws.send(delivery).await.is_err() {
                    break;
                }
                let missed = if rx.is_empty() { me.dropped.swap(0, Ordering::Relaxed) } else { 0 };
                if missed > 0 && ws.send(Message::text(format!("DROPPED {missed}"))).await.is_err() {
                    break;
                }
            }
        }
    }
    me.leave(&topics);
    // Reading on until the stream ends writes tungstenite's answer to the client's
    // Close and completes the closing handshake.
    while let Some(Ok(_)) = ws.next().await {}
}

/// What a connection's task knows of itself: how publishers reach it.
struct Me {
    conn: u64,
    queue: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl Me {
    /// A text request; its reply.
    fn text(&self, topics: &Topics, line: &str) -> String {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (topic, payload) = rest.split_once(' ').unwrap_or((rest, ""));
        if topic.is_empty() {
            return "ERR a topic is missing".to_string();
        }
        if verb.eq_ignore_ascii_case("PUB") {
            publish(
                topics,
                topic,
                Message::text(format!("MSG {topic} {payload}")),
            );
            return "OK".to_string();
        }
        if !payload.is_empty() {
            return "ERR SUB and UNSUB take one topic".to_string();
        }
        let mut topics = topics.lock().expect("topics");
        if verb.eq_ignore_ascii_case("SUB") {
            let subscribers = topics.entry(topic.to_string()).or_default();
            if !subscribers.iter().any(|s| s.conn == self.conn) {
                subscribers.push(Subscriber {
                    conn: self.conn,
                    queue: self.queue.clone(),
                    dropped: self.dropped.clone(),
                });
            }
            "OK".to_string()
        } else if verb.eq_ignore_ascii_case("UNSUB") {
            if let Some(subscribers) = topics.get_mut(topic) {
                subscribers.retain(|s| s.conn != self.conn);
            }
            "OK".to_string()
        } else {
            "ERR unknown request (SUB topic | UNSUB topic | PUB topic payload)".to_string()
        }
    }

    /// A binary publish, `[topic length][topic][payload]`: delivered as it came.
    fn binary(&self, topics: &Topics, data: Bytes) -> String {
        let len = usize::from(data.first().copied().unwrap_or(0));
        let topic = match data.get(1..1 + len).map(std::str::from_utf8) {
            Some(Ok(topic)) if !topic.is_empty() => topic.to_string(),
            _ => return "ERR a binary publish is [topic length][topic][payload]".to_string(),
        };
        publish(topics, &topic, Message::Binary(data));
        "OK".to_string()
    }

    /// The connection is gone: out of every topic.
    fn leave(&self, topics: &Topics) {
        let mut topics = topics.lock().expect("topics");
        for subscribers in topics.values_mut() {
            subscribers.retain(|s| s.conn != self.conn);
        }
        topics.retain(|_, subscribers| !subscribers.is_empty());
    }
}

/// Queues `message` (reference-counted, not copied) for every subscriber of `topic`.
/// A full queue misses it; a queue that missed some first gets the DROPPED notice.
fn publish(topics: &Topics, topic: &str, message: Message) {
    let topics = topics.lock().expect("topics");
    let Some(subscribers) = topics.get(topic) else {
        return;
    };
    for s in subscribers {
        if s.dropped.load(Ordering::Relaxed) == 0 {
            if s.queue.try_send(message.clone()).is_err() {
                s.dropped.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        match s.queue.try_reserve_many(2) {
            Ok(mut permits) => {
                let missed = s.dropped.swap(0, Ordering::Relaxed);
                if let (Some(notice), Some(delivery)) = (permits.next(), permits.next()) {
                    notice.send(Message::text(format!("DROPPED {missed}")));
                    delivery.send(message.clone());
                }
            }
            Err(_) => {
                s.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
