//! Fuzz target `dns_message`: the DNS message parser and emitter (src/proto/dns.rs and
//! src/proto/dns/: message.rs, name.rs, record.rs, tcp.rs, wire.rs).
//!
//! Input: raw bytes, read three ways — as one DNS message (a UDP datagram), as a TCP
//! byte stream of length-prefixed messages, and (its first bytes) as a name in
//! presentation format. A seed is just a message as it is sent on the wire.
//! Checks:
//! - `parse` never panics, whatever the pointers, counts and lengths say;
//! - whatever parses emits without error, and parsing the emitted bytes gives the same
//!   message exactly (names byte for byte, letter case included); emitting that again
//!   gives the same bytes (compression is deterministic);
//! - every strict prefix of an emitted message is an error;
//! - following CNAME chains for each question ends, and only yields records of the
//!   asked type;
//! - TCP framing: `parse_tcp_frame` consumes exactly 2 + length bytes, and framing the
//!   message again gives the same bytes;
//! - a name's text form parses back to the same labels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockloop::proto::Parsed;
use sockloop::proto::dns::{self, Name, RType};

fn check_message(bytes: &[u8]) {
    let Ok(m) = dns::parse(bytes) else {
        return;
    };
    let mut out = Vec::new();
    dns::emit(&m, &mut out).expect("a parsed message emits");
    let back = dns::parse(&out).expect("emitted bytes parse");
    assert_eq!(format!("{back:?}"), format!("{m:?}"), "parse(emit(m)) != m");
    let mut again = Vec::new();
    dns::emit(&back, &mut again).expect("emits again");
    assert_eq!(again, out, "emit is not deterministic");
    // Every prefix of small messages, an even sample of the cuts of big ones.
    for cut in (0..out.len()).step_by(1 + out.len() / 512) {
        assert!(dns::parse(&out[..cut]).is_err(), "prefix {cut} parsed");
    }
    for q in &m.questions {
        for rtype in [q.qtype, RType::A, RType::AAAA, RType::CNAME] {
            let chain = m.answers_for(&q.name, rtype);
            assert!(chain.aliases.len() <= dns::MAX_CNAME_CHAIN + 1);
            assert!(chain.records.iter().all(|r| r.rtype() == rtype));
        }
        check_name_text(&q.name);
    }
    for r in m.answers.iter().chain(&m.authorities).chain(&m.additionals) {
        let _ = r.to_string();
        check_name_text(&r.name);
    }
}

fn check_name_text(name: &Name) {
    let text = name.to_string();
    let parsed: Name = text.parse().expect("a name's text parses");
    assert!(
        parsed.labels().eq(name.labels()),
        "{text} parsed to other labels"
    );
}

fuzz_target!(|data: &[u8]| {
    check_message(data);

    // The same bytes as a TCP stream of framed messages.
    let mut rest = data;
    while let Parsed::Complete { value, consumed } = dns::parse_tcp_frame(rest) {
        assert_eq!(consumed, value.len() + 2);
        let mut framed = Vec::new();
        dns::frame_tcp(value, &mut framed).expect("a frame's message fits a frame");
        assert_eq!(framed, rest[..consumed]);
        check_message(value);
        rest = &rest[consumed..];
    }

    // The first bytes as a name in presentation format.
    if let Ok(text) = std::str::from_utf8(&data[..data.len().min(300)])
        && let Ok(name) = text.parse::<Name>()
    {
        assert!(name.wire_len() <= dns::MAX_NAME_LEN);
        assert!(name.labels().all(|l| !l.is_empty() && l.len() <= 63));
        check_name_text(&name);
    }
});
