//! Properties: any chunking of a valid or corrupted stream gives the same events, output
//! and error as the stream fed whole; arbitrary bytes never panic.

use super::*;
use proptest::prelude::*;

/// One message's fragments, and control frames to slip in after some of them.
#[derive(Clone, Debug)]
struct Msg {
    kind: MessageKind,
    data: Vec<u8>,
    cuts: Vec<usize>,
    controls: Vec<(bool, Vec<u8>)>,
}

fn msg() -> impl Strategy<Value = Msg> {
    let data = prop_oneof![
        "\\PC{0,40}".prop_map(|s| (MessageKind::Text, s.into_bytes())),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|d| (MessageKind::Binary, d)),
    ];
    let controls = prop::collection::vec(
        (any::<bool>(), prop::collection::vec(any::<u8>(), 0..20)),
        0..3,
    );
    (
        data,
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        controls,
    )
        .prop_map(|((kind, data), cuts, controls)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            Msg {
                kind,
                data,
                cuts,
                controls,
            }
        })
}

/// Encode as the peer of `role` would send it; also return the messages, pings and
/// pongs a correct session must report, in order.
fn encode(msgs: &[Msg], close: Option<u16>, role: Role, key: [u8; 4]) -> (Vec<u8>, Vec<Rec>) {
    let mask = (role == Role::Server).then_some(key);
    let mut bytes = Vec::new();
    let mut want = Vec::new();
    for m in msgs {
        let mut bounds = vec![0];
        bounds.extend(&m.cuts);
        bounds.push(m.data.len());
        let pieces = bounds.len() - 1;
        for i in 0..pieces {
            let last = i + 1 == pieces;
            let op = if i == 0 {
                m.kind.opcode()
            } else {
                Opcode::Continuation
            };
            write_frame(
                &mut bytes,
                last,
                op,
                &m.data[bounds[i]..bounds[i + 1]],
                mask,
            );
            if last {
                want.push(Rec::Message(m.kind, m.data.clone()));
            }
            // A control frame after fragment i: inside the message unless i is the last.
            if let Some((ping, payload)) = m.controls.get(i) {
                let op = if *ping { Opcode::Ping } else { Opcode::Pong };
                write_frame(&mut bytes, true, op, payload, mask);
                want.push(if *ping {
                    Rec::Ping(payload.clone())
                } else {
                    Rec::Pong(payload.clone())
                });
            }
        }
    }
    if let Some(code) = close {
        write_frame(
            &mut bytes,
            true,
            Opcode::Close,
            &close_payload(code, b"done"),
            mask,
        );
        want.push(Rec::Close(Some(code), "done".into()));
    }
    (bytes, want)
}

/// Feed `bytes` in pieces of the given sizes (cycled); stop at the first error.
fn run(
    role: Role,
    bytes: &[u8],
    sizes: &[usize],
    trace: bool,
) -> (Vec<Rec>, Vec<u8>, Result<(), SessionError>, Session) {
    let mut s = Session::new(role, Limits { max_message: 1000 });
    s.set_trace(trace);
    let mut h = Echo {
        role: Some(role),
        ..Echo::default()
    };
    let mut out = Vec::new();
    let mut bytes = bytes.to_vec();
    let mut rest = &mut bytes[..];
    let mut result = Ok(());
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at_mut(size.clamp(1, rest.len()));
        result = s.feed(piece, &mut out, &mut h);
        if result.is_err() {
            break;
        }
        rest = tail;
    }
    (h.events, out, result, s)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

proptest! {
    #[test]
    fn chunking_does_not_change_anything(
        role in role(),
        msgs in prop::collection::vec(msg(), 0..5),
        close in prop::option::of(prop::sample::select(vec![1000u16, 1001, 3000, 4999])),
        key in any::<[u8; 4]>(),
        sizes in prop::collection::vec(1usize..40, 1..8),
        trace in any::<bool>(),
    ) {
        let (bytes, want) = encode(&msgs, close, role, key);
        let (events, out, result, s) = run(role, &bytes, &[bytes.len().max(1)], trace);
        prop_assert_eq!(result, Ok(()));
        let untraced: Vec<Rec> =
            events.iter().filter(|e| !matches!(e, Rec::Frame(_))).cloned().collect();
        prop_assert_eq!(&untraced, &want);
        prop_assert_eq!(s.is_closed(), close.is_some());
        prop_assert_eq!((s.buffered_bytes(), s.heap_capacity()), (0, 0));

        let (events2, out2, result2, _) = run(role, &bytes, &sizes, trace);
        prop_assert_eq!(events2, events);
        prop_assert_eq!(out2, out);
        prop_assert_eq!(result2, result);
    }

    #[test]
    fn chunking_does_not_change_errors(
        role in role(),
        msgs in prop::collection::vec(msg(), 1..4),
        key in any::<[u8; 4]>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..3),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        let (mut bytes, _) = encode(&msgs, None, role, key);
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        let whole = run(role, &bytes, &[bytes.len()], true);
        let pieces = run(role, &bytes, &sizes, true);
        prop_assert_eq!(&pieces.0, &whole.0);
        prop_assert_eq!(&pieces.1, &whole.1);
        prop_assert_eq!(pieces.2, whole.2);
        prop_assert!(whole.3.buffered_bytes() <= 1000 + MAX_CONTROL_PAYLOAD + MAX_HEADER_LEN);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        role in role(),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        sizes in prop::collection::vec(1usize..20, 1..4),
    ) {
        let whole = run(role, &bytes, &[bytes.len().max(1)], false);
        let pieces = run(role, &bytes, &sizes, false);
        prop_assert_eq!(pieces.0, whole.0);
        prop_assert_eq!(pieces.2, whole.2);
    }

    #[test]
    fn any_header_split_is_absorbed(
        len in prop_oneof![0u64..126, 126u64..70_000],
        cut in 1usize..14,
    ) {
        // Only the header arrives, cut anywhere: the session keeps it and asks for more.
        let h = FrameHeader { fin: true, rsv: 0, opcode: Opcode::Binary, mask: Some(KEY), payload_len: len };
        let mut head = Vec::new();
        write_header(&h, &mut head);
        let cut = cut.min(head.len());
        let (mut s, mut e) = server();
        s.feed(&mut head[..cut], &mut Vec::new(), &mut e).unwrap();
        prop_assert_eq!(s.buffered_bytes(), cut % head.len());
    }
}
