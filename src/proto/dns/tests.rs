//! Tests of `proto::dns`: unit tests with known vectors and property tests.

use super::*;
use crate::proto::Parsed;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

fn name(text: &str) -> Name {
    text.parse().unwrap()
}

/// `www.example.com A?`, id 0x1234, RD set — as dig sends it (without EDNS).
const QUERY: &[u8] = &[
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // header
    3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm',
    0, // name at 12
    0x00, 0x01, 0x00, 0x01, // A IN
];

/// The answer: a CNAME to `web.example.com` whose name points into the question
/// (offset 12, then offset 16 for `example.com`), and an A record whose owner points
/// at the CNAME's data (offset 45), itself ending in a pointer: two hops.
const RESPONSE: &[u8] = &[
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // header
    3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0x00,
    0x01, 0x00, 0x01, // question, 12..33
    0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x06, // CNAME
    3, b'w', b'e', b'b', 0xc0, 0x10, // web + -> example.com, at 45
    0xc0, 0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, // A
    93, 184, 216, 34,
];

#[test]
fn query_bytes_match_the_wire_vector() {
    assert_eq!(
        query(0x1234, &name("www.example.com"), RType::A, true),
        QUERY
    );
    let m = parse(QUERY).unwrap();
    assert_eq!(m.header.id, 0x1234);
    assert!(m.header.flags.rd && !m.header.flags.qr);
    assert_eq!(m.header.flags.opcode, Opcode::QUERY);
    assert_eq!(
        m.questions,
        vec![Question {
            name: name("www.example.com."),
            qtype: RType::A,
            qclass: Class::IN
        }]
    );
    assert!(m.answers.is_empty() && m.authorities.is_empty() && m.additionals.is_empty());
    let mut out = Vec::new();
    emit(&m, &mut out).unwrap();
    assert_eq!(out, QUERY);
}

#[test]
fn response_with_compression_pointers() {
    let m = parse(RESPONSE).unwrap();
    let f = m.header.flags;
    assert!(f.qr && f.rd && f.ra && !f.aa && !f.tc);
    assert_eq!(m.rcode(), Rcode::NOERROR);
    assert_eq!(m.answers.len(), 2);
    assert_eq!(
        m.answers[0].to_string(),
        "www.example.com. 3600 IN CNAME web.example.com."
    );
    assert_eq!(
        m.answers[1].to_string(),
        "web.example.com. 3600 IN A 93.184.216.34"
    );
    let q = &m.questions[0];
    assert!(m.is_response_to(0x1234, q));
    assert!(!m.is_response_to(0x1235, q));
    let chain = m.answers_for(&q.name, RType::A);
    assert_eq!(chain.aliases, vec![&name("web.example.com")]);
    assert_eq!(chain.records.len(), 1);
    // Emitting compresses the same way, so the bytes come back identical.
    let mut out = Vec::new();
    emit(&m, &mut out).unwrap();
    assert_eq!(out, RESPONSE);
}

#[test]
fn pointer_loop_is_rejected() {
    // Question name at 12: label "a" then a pointer back to 12 — itself.
    let mut msg = RESPONSE[..12].to_vec();
    msg[5] = 1; // QDCOUNT 1
    msg[7] = 0; // ANCOUNT 0
    msg.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(parse(&msg), Err(DnsError::PointerLoop));
    // Two names pointing at each other: the second points back to the first,
    // whose own pointer then goes forward again.
    let mut msg = RESPONSE[..12].to_vec();
    msg[5] = 2;
    msg[7] = 0;
    msg.extend_from_slice(&[1, b'a', 0xc0, 20, 0, 1, 0, 1]); // 12: a -> 20
    msg.extend_from_slice(&[1, b'b', 0xc0, 12, 0, 1, 0, 1]); // 20: b -> 12
    assert_eq!(parse(&msg), Err(DnsError::PointerForward));
}

#[test]
fn pointer_forward_and_to_itself_are_rejected() {
    let mut msg = QUERY[..12].to_vec();
    msg.extend_from_slice(&[0xc0, 18, 0, 1, 0, 1, 0]); // points past itself
    assert_eq!(parse(&msg), Err(DnsError::PointerForward));
    let mut msg = QUERY[..12].to_vec();
    msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]); // points at itself
    assert_eq!(parse(&msg), Err(DnsError::PointerForward));
}

#[test]
fn pointer_chain_is_capped() {
    // A root name at 12, then 200 pointers each to the one before: every jump goes
    // backwards, but following the last one takes too many hops.
    let mut msg = QUERY[..12].to_vec();
    msg.push(0);
    let mut prev = 12u16;
    for _ in 0..200 {
        let here = msg.len() as u16;
        msg.extend_from_slice(&(0xc000 | prev).to_be_bytes());
        prev = here;
    }
    let mut r = Reader {
        msg: &msg,
        pos: usize::from(prev),
    };
    assert_eq!(r.name(), Err(DnsError::TooManyPointers));
    // The tenth pointer is only ten hops from the root: fine.
    let mut r = Reader {
        msg: &msg,
        pos: 13 + 2 * 9,
    };
    assert_eq!(r.name(), Ok(Name::root()));
    assert_eq!(r.pos, 13 + 2 * 10);
}

#[test]
fn truncated_record_is_rejected() {
    for cut in 12..RESPONSE.len() {
        assert!(parse(&RESPONSE[..cut]).is_err(), "cut at {cut}");
    }
    // The A record announces 4 bytes of data but only 3 follow.
    let err = parse(&RESPONSE[..RESPONSE.len() - 1]).unwrap_err();
    assert_eq!(err, DnsError::Truncated("record data"));
    assert!(matches!(
        parse(&RESPONSE[..5]),
        Err(DnsError::Truncated("header"))
    ));
}

#[test]
fn wrong_rdata_lengths_are_rejected() {
    // The A record claims 5 bytes.
    let mut msg = RESPONSE.to_vec();
    let at = msg.len() - 5;
    msg[at] = 5;
    msg.push(0);
    assert_eq!(parse(&msg), Err(DnsError::BadRdata(RType::A)));
    // The CNAME claims 7 bytes: its name ends after 6.
    let mut msg = RESPONSE.to_vec();
    msg[44] = 7;
    assert!(parse(&msg).is_err());
}

#[test]
fn counts_that_overrun_are_rejected_before_allocating() {
    let mut msg = QUERY.to_vec();
    msg[6] = 0xff; // ANCOUNT 65280
    msg[7] = 0x00;
    assert_eq!(parse(&msg), Err(DnsError::CountsOverrun));
    let mut msg = QUERY.to_vec();
    msg[7] = 1; // one answer that is not there (the counts alone do not show it)
    assert_eq!(parse(&msg), Err(DnsError::Truncated("name")));
}

#[test]
fn label_and_name_limits() {
    let long = "a".repeat(64);
    assert_eq!(long.parse::<Name>(), Err(DnsError::LabelTooLong));
    let ok = vec!["a".repeat(63); 3].join(".") + "." + &"b".repeat(61);
    assert_eq!(name(&ok).wire_len(), 255);
    assert_eq!((ok + "b").parse::<Name>(), Err(DnsError::NameTooLong));
    // On the wire: 0x40 and 0x80 label types.
    let mut msg = QUERY[..12].to_vec();
    msg.extend_from_slice(&[0x41, 0, 0, 1, 0, 1]);
    assert_eq!(parse(&msg), Err(DnsError::BadLabelType(0x41)));
    // A 256-byte name on the wire: five 50-byte labels and a 1-byte one... built
    // out of labels of 63: 4 * 64 + 1 = 257 > 255.
    let mut msg = QUERY[..12].to_vec();
    for _ in 0..4 {
        msg.push(63);
        msg.extend_from_slice(&[b'x'; 63]);
    }
    msg.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(parse(&msg), Err(DnsError::NameTooLong));
}

#[test]
fn names_in_text() {
    assert!(name(".").is_root());
    assert!(name("").is_root());
    assert_eq!(name("Example.COM"), name("example.com."));
    assert_eq!(name("example.com").to_string(), "example.com.");
    assert_eq!(name("a\\.b.c").labels().count(), 2);
    assert_eq!(name("a\\.b.c").to_string(), "a\\.b.c.");
    assert_eq!(name("\\000x.y").labels().next(), Some(&b"\0x"[..]));
    assert_eq!(name("\\000x.y").to_string(), "\\000x.y.");
    for bad in ["a..b", ".a", "a\\", "a\\25", "a\\256"] {
        assert!(bad.parse::<Name>().is_err(), "{bad}");
    }
}

/// RFC 1035 §5.1 escapes, which differ between names and TXT strings: a name escapes
/// `.` and writes a space as `\032`, a quoted TXT string escapes `"` and keeps spaces.
#[test]
fn presentation_escapes() {
    let labels: [&[u8]; 3] = [b"a.b", b"c\\d", b"e f"];
    let n = Name::from_labels(labels).unwrap();
    assert_eq!(n.to_string(), "a\\.b.c\\\\d.e\\032f.");
    let txt = RData::Txt(vec![
        b"say \"hi\"".to_vec(),
        b"\\".to_vec(),
        b"\x7f\x00 .".to_vec(),
    ]);
    assert_eq!(
        txt.to_string(),
        "\"say \\\"hi\\\"\" \"\\\\\" \"\\127\\000 .\""
    );
}

#[test]
fn reverse_names() {
    let v4: IpAddr = "192.0.2.10".parse().unwrap();
    assert_eq!(reverse_name(v4).to_string(), "10.2.0.192.in-addr.arpa.");
    let v6: IpAddr = "2001:db8::10".parse().unwrap();
    assert_eq!(
        reverse_name(v6).to_string(),
        "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
    );
}

#[test]
fn tcp_framing() {
    let mut out = Vec::new();
    frame_tcp(QUERY, &mut out).unwrap();
    assert_eq!(&out[..2], &[0, QUERY.len() as u8]);
    out.extend_from_slice(b"next");
    for cut in 0..QUERY.len() + 2 {
        assert_eq!(parse_tcp_frame(&out[..cut]), Parsed::Incomplete);
    }
    assert_eq!(
        parse_tcp_frame(&out),
        Parsed::Complete {
            value: QUERY,
            consumed: QUERY.len() + 2
        }
    );
    assert_eq!(
        frame_tcp(&vec![0; 65536], &mut out),
        Err(DnsError::MessageTooLong)
    );
}

#[test]
fn cname_chains_and_loops() {
    let rec = |owner: &str, data: RData| Record {
        name: name(owner),
        class: Class::IN,
        ttl: 60,
        data,
    };
    let mut m = Message::query(1, name("a.test"), RType::A, true);
    m.answers = vec![
        rec("a.test", RData::Cname(name("b.test"))),
        rec("B.test", RData::Cname(name("c.test"))),
        rec("c.test", RData::A(Ipv4Addr::new(192, 0, 2, 1))),
        rec("x.test", RData::A(Ipv4Addr::new(192, 0, 2, 9))),
    ];
    let chain = m.answers_for(&m.questions[0].name, RType::A);
    assert_eq!(chain.aliases, vec![&name("b.test"), &name("c.test")]);
    assert_eq!(chain.records.len(), 1);
    // A loop ends the chain without records.
    m.answers[1] = rec("b.test", RData::Cname(name("a.test")));
    let chain = m.answers_for(&m.questions[0].name, RType::A);
    assert!(chain.records.is_empty());
}

#[test]
fn flags_keep_every_bit() {
    for bits in [0u16, 0xffff, 0x8180, 0x0100, 0x8583, 0x7850] {
        assert_eq!(Flags::from_bits(bits).bits(), bits);
    }
}

// ----- property tests -----

fn any_label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A small alphabet so suffixes repeat and compression is exercised; mixed
        // case so case-preserving round trips are checked.
        3 => prop::collection::vec(prop::sample::select(b"abAB.\\".to_vec()), 1..3),
        1 => prop::collection::vec(any::<u8>(), 1..64),
    ]
}

fn any_name() -> impl Strategy<Value = Name> {
    prop::collection::vec(any_label(), 0..5).prop_map(|labels| {
        // Keep the name within 255 bytes by dropping labels from the front.
        let mut labels = labels;
        while Name::from_labels(&labels).is_err() {
            labels.remove(0);
        }
        Name::from_labels(&labels).unwrap()
    })
}

fn any_rdata() -> impl Strategy<Value = RData> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| RData::A(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| RData::Aaaa(Ipv6Addr::from(b))),
        any_name().prop_map(RData::Ns),
        any_name().prop_map(RData::Cname),
        any_name().prop_map(RData::Ptr),
        (any::<u16>(), any_name()).prop_map(|(preference, exchange)| RData::Mx {
            preference,
            exchange
        }),
        (any_name(), any_name(), any::<[u32; 5]>()).prop_map(|(mname, rname, n)| {
            RData::Soa(Soa {
                mname,
                rname,
                serial: n[0],
                refresh: n[1],
                retry: n[2],
                expire: n[3],
                minimum: n[4],
            })
        }),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4).prop_map(RData::Txt),
        (
            any::<u16>().prop_filter("decoded types have their own variant", |t| {
                !RType::DECODED.contains(&RType(*t))
            }),
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(t, bytes)| RData::Other {
                rtype: RType(t),
                bytes
            }),
    ]
}

fn any_record() -> impl Strategy<Value = Record> {
    (any_name(), any::<u16>(), any::<u32>(), any_rdata()).prop_map(|(name, class, ttl, data)| {
        Record {
            name,
            class: Class(class),
            ttl,
            data,
        }
    })
}

fn any_message() -> impl Strategy<Value = Message> {
    let question = (any_name(), any::<u16>(), any::<u16>()).prop_map(|(name, t, c)| Question {
        name,
        qtype: RType(t),
        qclass: Class(c),
    });
    let records = || prop::collection::vec(any_record(), 0..4);
    (
        any::<u16>(),
        any::<u16>(),
        prop::collection::vec(question, 0..3),
        records(),
        records(),
        records(),
    )
        .prop_map(
            |(id, bits, questions, answers, authorities, additionals)| Message {
                header: Header {
                    id,
                    flags: Flags::from_bits(bits),
                },
                questions,
                answers,
                authorities,
                additionals,
            },
        )
}

proptest! {
    #[test]
    fn parse_emit_roundtrip(m in any_message()) {
        let mut out = vec![0xee; 3]; // emit appends: offsets must be relative
        emit(&m, &mut out).unwrap();
        let back = parse(&out[3..]).unwrap();
        // Debug shows names byte for byte, so this is exact, case included.
        prop_assert_eq!(format!("{back:?}"), format!("{m:?}"));
        prop_assert_eq!(&back, &m);
        // Emitting again gives the same bytes: compression is deterministic.
        let mut again = Vec::new();
        emit(&back, &mut again).unwrap();
        prop_assert_eq!(&again[..], &out[3..]);
        // Every proper prefix is an error, never a panic or a different message.
        for cut in 0..out.len() - 3 {
            prop_assert!(parse(&out[3..3 + cut]).is_err());
        }
    }

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = parse(&bytes) {
            // Whatever parses can be emitted and parsed again to the same message.
            let mut out = Vec::new();
            emit(&m, &mut out).unwrap();
            prop_assert_eq!(parse(&out).unwrap(), m);
        }
    }

    #[test]
    fn parse_never_panics_on_damaged_messages(
        m in any_message(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut out = Vec::new();
        emit(&m, &mut out).unwrap();
        for (at, byte) in flips {
            let len = out.len();
            out[at % len] = byte;
        }
        let _ = parse(&out);
    }

    #[test]
    fn names_roundtrip_through_text(n in any_name()) {
        let text = n.to_string();
        let back: Name = text.parse().unwrap();
        prop_assert_eq!(format!("{back:?}"), format!("{n:?}"));
    }
}
