//! Fuzz target `tls_server`: the server side of the TLS stream (src/tls/stream.rs) as
//! the loop drives it, over an in-memory wire instead of a socket.
//!
//! Input, front to back: a flags byte, the chunking header of `sockloop_fuzz` (how
//! many bytes each read of the wire gives), then:
//! - flags bit 0 clear, **raw**: the rest is what a client sends, garbage or a
//!   mutated hello; bit 1 says whether the wire ends (a FIN) after it. Checks: never
//!   panics; no plaintext ever comes out of bytes that did not complete a handshake;
//!   what the server writes back (its hello flight, alerts) stays small.
//! - flags bit 0 set, **man in the middle**: a real rustls client (trusting the
//!   server's self-signed certificate) sends the rest of the input as plaintext and
//!   the server echoes it; a count (0..=3) of corruptions (offset u16, xor byte) is
//!   applied to the bytes on their way to the server. Checks: the plaintext the server
//!   reads is always a prefix of what the client sent (a corrupted record is refused,
//!   never delivered altered), what the client reads back is a prefix of that, and with
//!   no corruption everything arrives, is echoed, and the client's close_notify is the
//!   server's end of stream.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use sockloop::tls::provider;
use sockloop::tls::server::{CertSource, ServerTls};
use sockloop::tls::stream::TlsStream;
use sockloop_fuzz::draw_sizes;
use std::io::{self, Read, Write};
use std::sync::{Arc, OnceLock};

/// The most the server may have written in answer to bytes that never made a
/// handshake: a hello flight with its certificate, or a retry request and an alert.
const RAW_REPLY_LIMIT: usize = 16 * 1024;
/// Rounds of client ↔ server exchange in the man-in-the-middle mode.
const ROUNDS: usize = 64;

/// One end of an in-memory socket: reads what was put in, in the drawn sizes, then
/// would block (or ends); writes go to `sent`, at most `room` bytes per call.
struct Wire {
    inbox: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
    eof: bool,
    sent: Vec<u8>,
}

impl Wire {
    fn new(sizes: Vec<usize>) -> Wire {
        Wire {
            inbox: Vec::new(),
            pos: 0,
            sizes,
            turn: 0,
            eof: false,
            sent: Vec::new(),
        }
    }

    fn next_size(&mut self) -> usize {
        self.turn += 1;
        self.sizes[self.turn % self.sizes.len()]
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.inbox.len() - self.pos;
        if left == 0 {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = left.min(buf.len()).min(self.next_size());
        buf[..n].copy_from_slice(&self.inbox[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A socket that takes a few hundred bytes per call: partial writes are the rule.
        let n = buf.len().min(self.next_size() * 64);
        self.sent.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Configs {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

/// A self-signed certificate made once per process, and a client that trusts it.
fn configs() -> &'static Configs {
    static CONFIGS: OnceLock<Configs> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sockloop-fuzz-tls-{}", std::process::id()));
        let tls = ServerTls::load(CertSource::SelfSigned { dir: dir.clone() }).unwrap();
        let pem = tls.written_cert.clone().unwrap();
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&pem).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let _ = std::fs::remove_dir_all(dir);
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Configs {
            server: tls.config().clone(),
            client: Arc::new(client),
        }
    })
}

fn server(sizes: Vec<usize>) -> TlsStream<Wire> {
    let conn = ServerConnection::new(configs().server.clone()).unwrap();
    TlsStream::new(Wire::new(sizes), conn.into())
}

/// Reads all the plaintext the server has; `Err` once the stream failed, `Ok(true)`
/// at the end of the stream.
fn drain(s: &mut TlsStream<Wire>, plain: &mut Vec<u8>, buf_size: usize) -> io::Result<bool> {
    let mut buf = vec![0; buf_size];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => plain.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                return Err(e);
            }
        }
    }
}

fn raw(sizes: Vec<usize>, fin: bool, stream: &[u8]) {
    let mut s = server(sizes);
    s.socket_mut().inbox.extend_from_slice(stream);
    s.socket_mut().eof = fin;
    let mut plain = Vec::new();
    let _ = drain(&mut s, &mut plain, 4096);
    assert!(
        plain.is_empty(),
        "plaintext from a stream that made no handshake"
    );
    let _ = s.flush_records();
    s.send_close_notify();
    let written = s.socket().sent.len();
    assert!(written <= RAW_REPLY_LIMIT, "{written} bytes written back");
}

struct Corruption {
    at: usize,
    xor: u8,
}

fn man_in_the_middle(sizes: Vec<usize>, corruptions: &[Corruption], plaintext: &[u8]) {
    let mut client = ClientConnection::new(
        configs().client.clone(),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut s = server(sizes.clone());
    let buf_size = 512 * sizes[0];
    let (mut unsent, mut to_server) = (plaintext, 0usize);
    let (mut server_plain, mut echo_pending, mut echoed) = (Vec::new(), Vec::new(), Vec::new());
    let mut failed = false;
    let mut corrupted = false;
    let mut closed = false;
    for round in 0..ROUNDS {
        // The client writes what it may (rustls buffers it until the handshake is over),
        // and says close_notify once everything was taken.
        if !unsent.is_empty() {
            let n = client.writer().write(unsent).unwrap();
            unsent = &unsent[n..];
        } else if !closed && !client.is_handshaking() && echoed.len() == plaintext.len() {
            client.send_close_notify();
            closed = true;
        }
        let mut bytes = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut bytes).unwrap();
        }
        for c in corruptions {
            if (to_server..to_server + bytes.len()).contains(&c.at) {
                bytes[c.at - to_server] ^= c.xor;
                corrupted = true;
            }
        }
        to_server += bytes.len();
        s.socket_mut().inbox.extend_from_slice(&bytes);

        let before = server_plain.len();
        let end = match drain(&mut s, &mut server_plain, buf_size) {
            Ok(end) => end,
            Err(_) => {
                failed = true;
                true
            }
        };
        assert!(
            plaintext.starts_with(&server_plain),
            "the server read bytes the client never sent (round {round})"
        );
        if !failed {
            echo_pending.extend_from_slice(&server_plain[before..]);
            while !echo_pending.is_empty() {
                match s.write(&echo_pending) {
                    Ok(n) => drop(echo_pending.drain(..n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("write: {e}"),
                }
            }
            s.flush_records().unwrap();
        }

        let reply = std::mem::take(&mut s.socket_mut().sent);
        let mut reply = &reply[..];
        while !reply.is_empty() {
            if client.read_tls(&mut reply).unwrap() == 0 {
                break;
            }
            if client.process_new_packets().is_err() {
                // The server answered an altered hello or refused altered records.
                assert!(corrupted, "the client failed on an unaltered stream");
                return;
            }
        }
        let mut buf = [0; 4096];
        loop {
            match client.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => echoed.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        assert!(
            server_plain.starts_with(&echoed),
            "the client read what was not echoed"
        );
        if end {
            if !failed {
                assert!(closed, "an end of stream before the client's close_notify");
            }
            break;
        }
    }
    if corrupted {
        return;
    }
    assert!(!failed, "the server refused an unaltered stream");
    assert_eq!(server_plain, plaintext, "not all the plaintext arrived");
    assert_eq!(echoed, plaintext, "not all the echo arrived");
    assert!(closed, "the exchange did not finish in {ROUNDS} rounds");
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let flags = u8::arbitrary(&mut u).unwrap_or(0);
    let sizes = draw_sizes(&mut u);
    if flags & 1 == 0 {
        return raw(sizes, flags & 2 != 0, u.take_rest());
    }
    let n = u8::arbitrary(&mut u).unwrap_or(0) % 4;
    let mut corruptions = Vec::new();
    for _ in 0..n {
        let at = usize::from(u16::arbitrary(&mut u).unwrap_or(0));
        let xor = u8::arbitrary(&mut u).unwrap_or(0).max(1);
        corruptions.push(Corruption { at, xor });
    }
    man_in_the_middle(sizes, &corruptions, u.take_rest());
});
