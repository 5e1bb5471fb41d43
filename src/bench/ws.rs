//! The WebSocket side of the benchmark: frames built once before the run, and a
//! streaming checker that reads the server's echoes straight out of the read buffer.
//!
//! The checker never assembles a message: it parses each frame header with
//! `proto::ws::frame::parse_header` (only a header split across two reads is copied,
//! into 14 bytes) and compares payload bytes against the expected message as they
//! arrive, so a 16 KiB echo split over several reads costs no copy and no allocation.
//! Fragmented echoes, pings (answered with a pong) and pongs are handled; anything
//! else the server sends is an error of the run.

use super::pattern::{Pattern, VARIANTS, pattern};
use crate::proto::Parsed;
use crate::proto::ws::deflate::Deflater;
use crate::proto::ws::deflate::send::{self, Compression};
use crate::proto::ws::frame::{self, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, Opcode};
use rand::RngExt;

/// Every message the run sends, prebuilt.
pub struct WsWire {
    /// Masked frames, ready to write.
    frames: Vec<Vec<u8>>,
    /// The payload each echo must carry (frame `i` → payload `i`): compressed where
    /// the frame is.
    payloads: Vec<Vec<u8>>,
    /// The RSV bits each echo must carry: RSV1 where it is compressed.
    rsv: Vec<u8>,
    opcode: Opcode,
    size: usize,
}

impl WsWire {
    /// With `deflate`, every message is compressed as sockloop's server compresses
    /// (`deflate::send::write_message`: each on its own, window 15, only if it is long
    /// enough and shrinks), and each echo must come back compressed to the same bytes:
    /// the compressor is deterministic, so a server that inflates the message and
    /// compresses its echo with the same rules sends exactly what was sent.
    pub fn new(size: usize, binary: bool, deflate: bool) -> WsWire {
        let (opcode, kind) = if binary {
            (Opcode::Binary, Pattern::Binary)
        } else {
            (Opcode::Text, Pattern::Text)
        };
        let payloads: Vec<Vec<u8>> = (0..VARIANTS).map(|v| pattern(size, v, kind)).collect();
        // A client must mask every frame (RFC 6455 §5.3), and a real one draws a fresh
        // unpredictable key per frame so that nobody can choose the bytes that appear
        // on the wire. A load generator talking to a server it runs itself may reuse a
        // few frames masked once with random keys: the server still unmasks every
        // byte, which is the work being measured, and the client's hot path stays a
        // memcpy. Not acceptable in a real client.
        let mut deflater = deflate.then(Deflater::default);
        let mut frames = Vec::new();
        let mut echoes = Vec::new();
        let mut rsv = Vec::new();
        for p in &payloads {
            let mut f = Vec::new();
            let compression = deflater.as_mut().map(|deflater| Compression {
                deflater,
                window_bits: 15,
                context: false,
            });
            let key = Some(rand::rng().random());
            let compressed = send::write_message(&mut f, opcode, p, key, compression);
            let mut echo = Vec::new();
            if let Some(d) = deflater.as_mut().filter(|_| compressed) {
                echo.extend_from_slice(d.compress(p, 15).unwrap_or_default());
            } else {
                echo.extend_from_slice(p);
            }
            frames.push(f);
            echoes.push(echo);
            rsv.push(if compressed { send::RSV1 } else { 0 });
        }
        WsWire {
            frames,
            payloads: echoes,
            rsv,
            opcode,
            size,
        }
    }

    /// The frame of message number `i` (messages rotate through the variants, so a
    /// lost, repeated or reordered echo does not match).
    #[inline]
    pub fn frame(&self, i: u64) -> &[u8] {
        self.frames
            .get(i as usize % VARIANTS)
            .map_or(&[], Vec::as_slice)
    }

    #[inline]
    fn payload(&self, i: u64) -> &[u8] {
        self.payloads
            .get(i as usize % VARIANTS)
            .map_or(&[], Vec::as_slice)
    }

    /// The message size asked for (before compression).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes the echo of message `i` carries (compressed if it is).
    fn echo_len(&self, i: u64) -> usize {
        self.payload(i).len()
    }

    fn echo_rsv(&self, i: u64) -> u8 {
        self.rsv.get(i as usize % VARIANTS).copied().unwrap_or(0)
    }
}

/// Appends our Close 1000 (masked, RFC 6455 §5.5.1).
pub fn close_frame(out: &mut Vec<u8>) {
    let key = rand::rng().random();
    frame::write_frame(out, true, Opcode::Close, &1000u16.to_be_bytes(), Some(key));
}

/// What one call to [`WsRx::feed`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Complete, correct echoes.
    pub messages: u64,
    /// The server's Close arrived: its status code, if any.
    pub close: Option<Option<u16>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Current {
    Data { fin: bool },
    Ping,
    Pong,
    Close,
}

/// Per-connection receive state: where we are in the server's frame stream.
pub struct WsRx {
    /// A header split across reads (rare: at most 13 bytes wait here).
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: usize,
    /// Inside a frame's payload; `left` bytes of it still to come.
    in_frame: bool,
    left: u64,
    current: Current,
    /// Inside a (possibly fragmented) message; `msg_off` payload bytes checked so far.
    in_msg: bool,
    msg_off: usize,
    /// A control frame's payload (a ping's is sent back in the pong).
    ctrl: [u8; MAX_CONTROL_PAYLOAD],
    ctrl_len: usize,
}

impl Default for WsRx {
    fn default() -> Self {
        WsRx {
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            in_frame: false,
            left: 0,
            current: Current::Pong,
            in_msg: false,
            msg_off: 0,
            ctrl: [0; MAX_CONTROL_PAYLOAD],
            ctrl_len: 0,
        }
    }
}

impl WsRx {
    /// Checks `data`, the next bytes from the server. `first` is the number of the
    /// oldest message not yet echoed and `in_flight` how many are outstanding; pongs
    /// go to `out`. An `Err` explains the first thing that was wrong.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        wire: &WsWire,
        first: u64,
        in_flight: u64,
        out: &mut Vec<u8>,
    ) -> Result<Fed, String> {
        let mut fed = Fed::default();
        while !data.is_empty() {
            if !self.in_frame {
                let Some(used) =
                    self.header(data, wire, first + fed.messages, in_flight - fed.messages)?
                else {
                    return Ok(fed);
                };
                data = data.get(used..).unwrap_or_default();
            } else {
                let take = data
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                let (chunk, rest) = data.split_at(take);
                match self.current {
                    Current::Data { .. } => {
                        let expected = wire
                            .payload(first + fed.messages)
                            .get(self.msg_off..self.msg_off + take);
                        if expected != Some(chunk) {
                            return Err(format!(
                                "an echo differs from the message sent (message {}, bytes {}..{})",
                                first + fed.messages,
                                self.msg_off,
                                self.msg_off + take
                            ));
                        }
                        self.msg_off += take;
                    }
                    _ => {
                        if let Some(dst) = self.ctrl.get_mut(self.ctrl_len..self.ctrl_len + take) {
                            dst.copy_from_slice(chunk);
                            self.ctrl_len += take;
                        }
                    }
                }
                self.left -= take as u64;
                data = rest;
            }
            if self.in_frame && self.left == 0 {
                self.end_frame(wire, first + fed.messages, &mut fed, out)?;
            }
        }
        Ok(fed)
    }

    /// Parses the next frame header (joining a split one) and starts its frame;
    /// `None`: wait for more. Returns how many bytes of `data` it took.
    fn header(
        &mut self,
        data: &[u8],
        wire: &WsWire,
        index: u64,
        in_flight: u64,
    ) -> Result<Option<usize>, String> {
        let Some((header, used)) = self.join_header(data)? else {
            return Ok(None);
        };
        self.begin_frame(&header, wire, index, in_flight)?;
        Ok(Some(used))
    }

    /// The header at the start of `data`, or completed by it where the last read
    /// ended inside one; and how many bytes of `data` it took.
    fn join_header(&mut self, data: &[u8]) -> Result<Option<(FrameHeader, usize)>, String> {
        let bad = |e: frame::FrameError| format!("bad frame from the server: {e}");
        if self.hdr_len == 0 {
            return match frame::parse_header(data).map_err(bad)? {
                Parsed::Complete { value, consumed } => Ok(Some((value, consumed))),
                Parsed::Incomplete => {
                    // Incomplete means shorter than a whole header, so it fits.
                    let n = data.len().min(MAX_HEADER_LEN);
                    self.hdr[..n].copy_from_slice(&data[..n]);
                    self.hdr_len = n;
                    Ok(None)
                }
            };
        }
        let old = self.hdr_len;
        let take = data.len().min(MAX_HEADER_LEN - old);
        self.hdr[old..old + take].copy_from_slice(&data[..take]);
        match frame::parse_header(&self.hdr[..old + take]).map_err(bad)? {
            Parsed::Complete { value, consumed } => {
                self.hdr_len = 0;
                Ok(Some((value, consumed - old)))
            }
            Parsed::Incomplete => {
                self.hdr_len = old + take;
                Ok(None)
            }
        }
    }

    /// Checks what a frame from the server may be at this point of the stream
    /// (echo `index` of `in_flight` outstanding), and enters it.
    fn begin_frame(
        &mut self,
        header: &FrameHeader,
        wire: &WsWire,
        index: u64,
        in_flight: u64,
    ) -> Result<(), String> {
        if header.mask.is_some() {
            return Err("the server masked a frame (RFC 6455 §5.1 forbids it)".into());
        }
        let first = matches!(header.opcode, Opcode::Text | Opcode::Binary);
        let want_rsv = if first { wire.echo_rsv(index) } else { 0 };
        if header.rsv != want_rsv {
            return Err(match want_rsv {
                0 => "the server set RSV bits without an extension",
                _ => "the echo of a compressed message came back uncompressed",
            }
            .into());
        }
        self.current = match header.opcode {
            Opcode::Text | Opcode::Binary => {
                if self.in_msg {
                    return Err("a new message began inside a fragmented one".into());
                }
                if header.opcode != wire.opcode {
                    return Err(format!(
                        "a {} message came back for a {} one",
                        header.opcode.name(),
                        wire.opcode.name()
                    ));
                }
                if in_flight == 0 {
                    return Err("a message arrived that was never sent".into());
                }
                self.in_msg = true;
                self.msg_off = 0;
                Current::Data { fin: header.fin }
            }
            Opcode::Continuation if self.in_msg => Current::Data { fin: header.fin },
            Opcode::Continuation => return Err("a continuation frame with no message".into()),
            Opcode::Ping => Current::Ping,
            Opcode::Pong => Current::Pong,
            Opcode::Close => Current::Close,
        };
        if matches!(self.current, Current::Data { .. })
            && header.payload_len > (wire.echo_len(index) - self.msg_off) as u64
        {
            return Err(format!(
                "echo of message {index} is longer than the {} bytes sent",
                wire.echo_len(index)
            ));
        }
        self.ctrl_len = 0;
        self.left = header.payload_len;
        self.in_frame = true;
        Ok(())
    }

    fn end_frame(
        &mut self,
        wire: &WsWire,
        index: u64,
        fed: &mut Fed,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        self.in_frame = false;
        let ctrl = self.ctrl.get(..self.ctrl_len).unwrap_or_default();
        match self.current {
            Current::Data { fin: true } => {
                if self.msg_off != wire.echo_len(index) {
                    return Err(format!(
                        "an echo has {} bytes, {} were sent",
                        self.msg_off,
                        wire.echo_len(index)
                    ));
                }
                self.in_msg = false;
                fed.messages += 1;
            }
            Current::Data { fin: false } | Current::Pong => {}
            Current::Ping => {
                frame::write_frame(out, true, Opcode::Pong, ctrl, Some(rand::rng().random()));
            }
            Current::Close => {
                let code = ctrl.first_chunk::<2>().map(|c| u16::from_be_bytes(*c));
                fed.close = Some(code);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// What a server sends back for message `i`: the payload, unmasked.
    fn echo(wire: &WsWire, i: u64) -> Vec<u8> {
        let mut f = Vec::new();
        frame::write_frame(&mut f, true, wire.opcode, wire.payload(i), None);
        f
    }

    #[test]
    fn frames_are_masked_and_echoes_check_in_any_chunking() {
        for (size, binary) in [(0, false), (64, false), (200, true), (70_000, true)] {
            let wire = WsWire::new(size, binary, false);
            let f = wire.frame(1);
            let h = match frame::parse_header(f).unwrap() {
                Parsed::Complete { value, .. } => value,
                Parsed::Incomplete => panic!(),
            };
            assert!(h.mask.is_some());
            assert_eq!(h.payload_len, size as u64);
            let mut stream = Vec::new();
            for i in 5..11 {
                stream.extend(echo(&wire, i));
            }
            for chunk in [1, 3, 13, 64, 1000, stream.len()] {
                let mut rx = WsRx::default();
                let mut got = 0;
                let mut out = Vec::new();
                for piece in stream.chunks(chunk) {
                    got += rx
                        .feed(piece, &wire, 5 + got, 6 - got, &mut out)
                        .unwrap()
                        .messages;
                }
                assert_eq!(got, 6, "size {size} chunk {chunk}");
                assert!(out.is_empty());
            }
        }
    }

    #[test]
    fn wrong_echoes_are_errors() {
        let wire = WsWire::new(64, false, false);
        let mut out = Vec::new();
        // Echo of message 1 where message 0 is expected.
        assert!(
            WsRx::default()
                .feed(&echo(&wire, 1), &wire, 0, 1, &mut out)
                .is_err()
        );
        // Nothing was in flight.
        assert!(
            WsRx::default()
                .feed(&echo(&wire, 0), &wire, 0, 0, &mut out)
                .is_err()
        );
        // Wrong type.
        let bin = WsWire::new(64, true, false);
        assert!(
            WsRx::default()
                .feed(&echo(&bin, 0), &wire, 0, 1, &mut out)
                .is_err()
        );
        // Too short.
        let mut short = Vec::new();
        frame::write_frame(&mut short, true, Opcode::Text, &wire.payload(0)[..10], None);
        assert!(WsRx::default().feed(&short, &wire, 0, 1, &mut out).is_err());
        // Masked by the server.
        let mut masked = Vec::new();
        frame::write_frame(
            &mut masked,
            true,
            Opcode::Text,
            wire.payload(0),
            Some([1, 2, 3, 4]),
        );
        assert!(
            WsRx::default()
                .feed(&masked, &wire, 0, 1, &mut out)
                .is_err()
        );
    }

    #[test]
    fn fragments_pings_and_close() {
        let wire = WsWire::new(10, false, false);
        let p = wire.payload(0);
        let mut s = Vec::new();
        frame::write_frame(&mut s, false, Opcode::Text, &p[..4], None);
        frame::write_frame(&mut s, true, Opcode::Ping, b"hi", None);
        frame::write_frame(&mut s, true, Opcode::Continuation, &p[4..], None);
        frame::write_frame(&mut s, true, Opcode::Close, &1001u16.to_be_bytes(), None);
        let mut out = Vec::new();
        let fed = WsRx::default().feed(&s, &wire, 0, 1, &mut out).unwrap();
        assert_eq!(
            fed,
            Fed {
                messages: 1,
                close: Some(Some(1001))
            }
        );
        // The pong carries the ping's payload, masked.
        let pong = match frame::parse_frame(&out).unwrap() {
            Parsed::Complete { value, .. } => value,
            Parsed::Incomplete => panic!(),
        };
        assert_eq!(pong.header.opcode, Opcode::Pong);
        let mut payload = pong.payload.to_vec();
        frame::apply_mask(&mut payload, pong.header.mask.unwrap(), 0);
        assert_eq!(payload, b"hi");
    }
}
