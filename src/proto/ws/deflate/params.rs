//! Negotiating permessage-deflate (RFC 7692 §5, §7.1): the offers a client makes in
//! `Sec-WebSocket-Extensions`, the server's choice among them, and the client's check
//! of the server's answer. Pure string handling; nothing here compresses.
//!
//! The header is a comma-separated list of extensions, each a name followed by
//! `; parameter` or `; parameter=value` (a token or a quoted string) — RFC 6455 §9.1.
//! Several offers of permessage-deflate may come in order of preference; the server
//! takes the first one it can honour and declines the rest. An offer with an unknown
//! parameter, a parameter twice or a value out of range is declined (§7), never an
//! error: the handshake then simply goes on without compression.

/// The four parameters of §7.1, as one offer or one answer carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N` (8..=15).
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`: `Some(None)` without a value (allowed in an offer only).
    pub client_max_window_bits: Option<Option<u8>>,
}

/// What one side agreed to for each direction of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// Our messages: the largest LZ77 window (log2) we may use when compressing.
    pub send_window_bits: u8,
    /// Our messages: we may carry the compressor's history from one message to the next.
    pub send_context_takeover: bool,
    /// The peer's messages: its compressor may refer to earlier messages, so the
    /// inflater must be kept between them.
    pub receive_context_takeover: bool,
}

/// The extension's name in the header.
pub const NAME: &str = "permessage-deflate";

/// How a server answers offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerPolicy {
    /// Let the client keep its compression context between messages (and keep ours):
    /// better ratios for small similar messages, at the price of an inflater and a
    /// compressor held per connection. Off: both `*_no_context_takeover` are imposed
    /// (§7.1.1.1, §7.1.1.2), so nothing is held for an idle connection.
    pub context_takeover: bool,
}

/// The server's choice: the first offer it can honour, as what it agreed to and the
/// value of its `Sec-WebSocket-Extensions` answer. `None`: no acceptable offer.
pub fn accept<'a>(
    header_values: impl Iterator<Item = &'a str>,
    policy: ServerPolicy,
) -> Option<(Agreed, String)> {
    for value in header_values {
        for ext in split_outside_quotes(value, ',') {
            let Some(offer) = parse_extension(ext) else {
                continue;
            };
            // A server_max_window_bits request is honoured whatever its value: a
            // smaller window only makes our compressor work in smaller pieces.
            let send_window_bits = offer.server_max_window_bits.unwrap_or(15);
            // Our own context needs the full window (a smaller one is done by
            // compressing afresh in pieces, which has no history).
            let send_context_takeover = policy.context_takeover
                && !offer.server_no_context_takeover
                && send_window_bits == 15;
            let receive_context_takeover =
                policy.context_takeover && !offer.client_no_context_takeover;
            let answer = Params {
                server_no_context_takeover: !send_context_takeover,
                client_no_context_takeover: !receive_context_takeover,
                server_max_window_bits: offer.server_max_window_bits,
                // Our inflater always has the full window: no need to ask for less.
                client_max_window_bits: None,
            };
            let agreed = Agreed {
                send_window_bits,
                send_context_takeover,
                receive_context_takeover,
            };
            return Some((agreed, format_params(&answer)));
        }
    }
    None
}

/// The offer a client makes: permessage-deflate where the server may impose no
/// context takeover on us and a window size of its choosing (§7.1.1.2, §7.1.2.2).
pub fn client_offer() -> String {
    format_params(&Params {
        client_no_context_takeover: true,
        client_max_window_bits: Some(None),
        ..Params::default()
    })
}

/// Why a server's answer to our offer cannot be used (§7.1: the client must fail the
/// connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadAnswer(pub String);

/// The client's check of the server's answer to [`client_offer`]: every extension in
/// it must be permessage-deflate with valid parameters, and at most one.
pub fn client_accepts<'a>(
    header_values: impl Iterator<Item = &'a str>,
) -> Result<Option<Agreed>, BadAnswer> {
    let mut agreed = None;
    for value in header_values {
        for ext in split_outside_quotes(value, ',') {
            if ext.trim().is_empty() {
                continue;
            }
            let answer = parse_extension(ext)
                .ok_or_else(|| BadAnswer(format!("cannot use the extension \"{}\"", ext.trim())))?;
            if agreed.is_some() {
                return Err(BadAnswer("permessage-deflate accepted twice".into()));
            }
            let send_window_bits = match answer.client_max_window_bits {
                Some(Some(bits)) => bits,
                Some(None) => {
                    return Err(BadAnswer(
                        "client_max_window_bits without a value in an answer".into(),
                    ));
                }
                None => 15,
            };
            agreed = Some(Agreed {
                send_window_bits,
                // We never carry context on our side: always allowed (§7.1.1.2).
                send_context_takeover: false,
                receive_context_takeover: !answer.server_no_context_takeover,
            });
        }
    }
    Ok(agreed)
}

/// One extension `name; p; p=v` as permessage-deflate parameters, or `None` if it is
/// another extension or breaks §7's rules.
fn parse_extension(ext: &str) -> Option<Params> {
    let mut parts = split_outside_quotes(ext, ';');
    if !parts.next()?.trim().eq_ignore_ascii_case(NAME) {
        return None;
    }
    let mut p = Params::default();
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(unquote(v.trim())?)),
            None => (part.trim(), None),
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) if !p.server_no_context_takeover => {
                p.server_no_context_takeover = true
            }
            ("client_no_context_takeover", None) if !p.client_no_context_takeover => {
                p.client_no_context_takeover = true
            }
            ("server_max_window_bits", Some(v)) if p.server_max_window_bits.is_none() => {
                p.server_max_window_bits = Some(window_bits(v)?)
            }
            ("client_max_window_bits", v) if p.client_max_window_bits.is_none() => {
                p.client_max_window_bits = Some(match v {
                    Some(v) => Some(window_bits(v)?),
                    None => None,
                })
            }
            _ => return None,
        }
    }
    Some(p)
}

/// A window size: 8 to 15, digits only, no leading zero (§7.1.2.1).
fn window_bits(v: &str) -> Option<u8> {
    if v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().filter(|b| (8..=15).contains(b))
}

/// A parameter value: a token as is, or a quoted string without its quotes and
/// escapes (RFC 7230 §3.2.6). `None` for an empty value or a broken quoted string.
fn unquote(v: &str) -> Option<&str> {
    match v.strip_prefix('"') {
        // A window size never needs an escape, so one means a value we refuse anyway.
        Some(rest) => rest.strip_suffix('"').filter(|s| !s.contains(['"', '\\'])),
        None => Some(v).filter(|s| !s.is_empty() && !s.contains(['"', '\\'])),
    }
}

/// Splits at `sep` where it is not inside a quoted string.
fn split_outside_quotes(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == sep && !quoted => {
                    rest = s.get(i + 1..);
                    return s.get(..i);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

fn format_params(p: &Params) -> String {
    let mut s = String::from(NAME);
    if p.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if p.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if let Some(bits) = p.server_max_window_bits {
        s.push_str(&format!("; server_max_window_bits={bits}"));
    }
    match p.client_max_window_bits {
        Some(Some(bits)) => s.push_str(&format!("; client_max_window_bits={bits}")),
        Some(None) => s.push_str("; client_max_window_bits"),
        None => {}
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;

    fn server(values: &[&str]) -> Option<(Agreed, String)> {
        accept(values.iter().copied(), ServerPolicy::default())
    }

    #[test]
    fn the_rfcs_examples_are_accepted() {
        // §5.1's plain offer, and §7.1.3's two offers (the first asks for a smaller
        // window, the second is the fallback): the first is taken.
        let (agreed, answer) = server(&["permessage-deflate"]).unwrap();
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert_eq!(agreed.send_window_bits, 15);
        assert!(!agreed.receive_context_takeover && !agreed.send_context_takeover);
        let (agreed, answer) = server(&[
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
        ])
        .unwrap();
        assert_eq!(agreed.send_window_bits, 10);
        assert!(answer.ends_with("server_max_window_bits=10"), "{answer}");
    }

    #[test]
    fn bad_offers_are_declined_and_the_next_one_taken() {
        for bad in [
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; mystery",
            "x-webkit-deflate-frame",
        ] {
            assert_eq!(server(&[bad]), None, "{bad}");
            let two = format!("{bad}, permessage-deflate; server_max_window_bits=12");
            let (agreed, _) = server(&[two.as_str()]).unwrap_or_else(|| panic!("{two}"));
            assert_eq!(agreed.send_window_bits, 12, "{two}");
        }
    }

    #[test]
    fn quoted_values_and_case_are_read() {
        let (agreed, _) = server(&["Permessage-Deflate; Server_Max_Window_Bits=\"9\""]).unwrap();
        assert_eq!(agreed.send_window_bits, 9);
        // A comma inside quotes does not split offers.
        assert_eq!(
            server(&["permessage-deflate; server_max_window_bits=\"9,\""]),
            None
        );
        // The offer may come in a second header.
        assert!(server(&["foo", "permessage-deflate"]).is_some());
    }

    #[test]
    fn context_takeover_when_the_policy_allows_it() {
        let policy = ServerPolicy {
            context_takeover: true,
        };
        let (agreed, answer) = accept(["permessage-deflate"].into_iter(), policy).unwrap();
        assert_eq!(answer, "permessage-deflate");
        assert!(agreed.send_context_takeover && agreed.receive_context_takeover);
        let offer = "permessage-deflate; client_no_context_takeover";
        let (agreed, answer) = accept([offer].into_iter(), policy).unwrap();
        assert_eq!(answer, "permessage-deflate; client_no_context_takeover");
        assert!(agreed.send_context_takeover && !agreed.receive_context_takeover);
        // A smaller window for our messages: no context on our side.
        let offer = "permessage-deflate; server_max_window_bits=10";
        let (agreed, answer) = accept([offer].into_iter(), policy).unwrap();
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        );
        assert!(!agreed.send_context_takeover && agreed.receive_context_takeover);
    }

    #[test]
    fn the_client_checks_the_answer() {
        assert_eq!(
            client_offer(),
            "permessage-deflate; client_no_context_takeover; client_max_window_bits"
        );
        assert_eq!(client_accepts(std::iter::empty()), Ok(None));
        let a = client_accepts(["permessage-deflate; client_max_window_bits=9"].into_iter())
            .unwrap()
            .unwrap();
        assert_eq!(a.send_window_bits, 9);
        assert!(a.receive_context_takeover);
        let a = client_accepts(["permessage-deflate; server_no_context_takeover"].into_iter())
            .unwrap()
            .unwrap();
        assert!(!a.receive_context_takeover);
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; foo",
            "x-other",
        ] {
            assert!(client_accepts([bad].into_iter()).is_err(), "{bad}");
        }
    }
}
