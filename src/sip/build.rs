//! Writing messages: a response to a request (RFC 3261 §8.2.6), and a
//! forwarded copy of a message with the proxy's edits (§16.6) that copies
//! every untouched header line as a slice of the original bytes.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use memchr::memchr;

use super::message::{FIRST_ON_LINE, LAST_ON_LINE, Message, StartLine};
use super::name::HeaderName;

/// The usual reason phrase of a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => match code / 100 {
            1 => "Provisional",
            2 => "OK",
            3 => "Redirect",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// Options of [`response`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseOpts<'a> {
    /// Reason phrase; the usual one for the code when `None`. CR and LF are
    /// replaced so a caller's text can never end the line.
    pub reason: Option<&'a str>,
    /// To tag to add when the request's To has none (and the code is not
    /// 100). When `None` one is derived from `tag_seed`, the Call-ID, the From
    /// tag and the top Via branch, so a retransmitted request gets the same
    /// tag.
    pub to_tag: Option<&'a str>,
    pub tag_seed: u64,
    /// RFC 3581: the source the request came from, written into the top Via
    /// as `received`/`rport` so the response can be sent back there.
    pub source: Option<(IpAddr, u16)>,
    /// Extra header lines (`Retry-After`, `Server`, ...): name and value.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Builds a response to `req` with the headers RFC 3261 §8.2.6.2 copies:
/// every Via (in order), From, To (with a tag added when needed), Call-ID,
/// CSeq; then `Content-Length: 0`.
pub fn response(req: &Message, code: u16, opts: &ResponseOpts<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let reason = opts.reason.unwrap_or_else(|| reason_phrase(code));
    out.extend_from_slice(b"SIP/2.0 ");
    let _ = write!(Fmt(&mut out), "{code} ");
    out.extend(
        reason
            .bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
    for (i, via) in req.get_all(HeaderName::Via).enumerate() {
        out.extend_from_slice(b"Via: ");
        match (i, opts.source) {
            (0, Some((ip, port))) => out.extend_from_slice(&via_with_source(via.value, ip, port)),
            _ => out.extend_from_slice(via.value),
        }
        out.extend_from_slice(b"\r\n");
    }
    line(
        &mut out,
        "From",
        req.get(HeaderName::From).unwrap_or_default(),
    );
    let to = req.get(HeaderName::To).unwrap_or_default();
    out.extend_from_slice(b"To: ");
    out.extend_from_slice(to);
    let has_tag = req.to_header().ok().and_then(|t| t.tag()).is_some();
    if !has_tag && code != 100 {
        out.extend_from_slice(b";tag=");
        match opts.to_tag {
            Some(t) => out.extend_from_slice(t.as_bytes()),
            None => {
                let _ = write!(Fmt(&mut out), "{:016x}", derived_tag(req, opts.tag_seed));
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    line(&mut out, "Call-ID", req.call_id());
    let cseq = req.cseq();
    out.extend_from_slice(b"CSeq: ");
    let _ = write!(Fmt(&mut out), "{} ", cseq.seq);
    out.extend_from_slice(cseq.method_bytes);
    out.extend_from_slice(b"\r\n");
    for (name, value) in opts.headers {
        line(&mut out, name, value.as_bytes());
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    out
}

/// A deterministic To tag for a response to `req`.
pub fn derived_tag(req: &Message, seed: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    req.call_id().hash(&mut h);
    if let Ok(from) = req.from_header() {
        from.tag().hash(&mut h);
    }
    if let Ok(via) = req.top_via() {
        via.branch.hash(&mut h);
    }
    h.finish()
}

fn line(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A Via value with `received` set to `ip` and a bare `rport` filled with
/// `port` (RFC 3581 §4). `received` is added only when it differs from the
/// sent-by host or when rport was asked for; existing `received`/`rport`
/// values are replaced.
pub fn via_with_source(via: &[u8], ip: IpAddr, port: u16) -> Vec<u8> {
    let Ok(v) = super::header::Via::parse(via) else {
        return via.to_vec();
    };
    let ip_text = ip.to_string();
    let wants_rport = v.rport.is_some();
    let host_is_ip = super::header::uri::host_kind_is(v.host, ip);
    let mut out = Vec::with_capacity(via.len() + 40);
    // Everything up to the parameters, as written.
    // The params span is a sub-slice of `via`: where it starts is where the
    // sent-by ends.
    let params_at = v.params.as_bytes().as_ptr() as usize - via.as_ptr() as usize;
    out.extend_from_slice(&via[..params_at]);
    for p in v.params.iter() {
        if p.name.eq_ignore_ascii_case(b"received") || p.name.eq_ignore_ascii_case(b"rport") {
            continue;
        }
        out.push(b';');
        out.extend_from_slice(p.name);
        if let Some(val) = p.value {
            out.push(b'=');
            out.extend_from_slice(val);
        }
    }
    if !host_is_ip || wants_rport {
        out.extend_from_slice(b";received=");
        out.extend_from_slice(ip_text.as_bytes());
    }
    if wants_rport {
        let _ = write!(Fmt(&mut out), ";rport={port}");
    }
    out
}

/// What to do to Max-Forwards when forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxForwards {
    #[default]
    Keep,
    /// Decrement; add `Max-Forwards: 70` when absent (RFC 3261 §16.6 step 3).
    Decrement,
}

/// Edits applied while re-serialising a message.
#[derive(Debug, Clone, Copy, Default)]
pub struct Edits<'a> {
    /// New Request-URI (requests only).
    pub request_uri: Option<&'a [u8]>,
    /// Rewrite the top Via with `received`/`rport` (RFC 3581).
    pub top_via_source: Option<(IpAddr, u16)>,
    /// Remove the topmost Via value (responses going upstream).
    pub pop_via: bool,
    /// A Via value to put on top.
    pub push_via: Option<&'a [u8]>,
    /// Record-Route values to put on top, in this order.
    pub record_route: &'a [&'a [u8]],
    /// Remove this many Route values from the top (they named this proxy).
    pub pop_routes: usize,
    pub max_forwards: MaxForwards,
    /// Header lines to add at the end of the header section.
    pub add: &'a [(&'a str, &'a [u8])],
}

/// Re-serialises `msg` with `edits`. Header lines nobody edits are copied
/// byte for byte; Content-Length is added if the message had none (a
/// datagram forwarded to a stream transport needs it).
pub fn serialize(msg: &Message, edits: &Edits<'_>) -> Vec<u8> {
    let b = msg.bytes();
    let mut out = Vec::with_capacity(msg.as_bytes().len() + 256);
    match (msg.start_line(), edits.request_uri) {
        (StartLine::Request { .. }, Some(uri)) => {
            out.extend_from_slice(msg.method_bytes());
            out.push(b' ');
            out.extend_from_slice(uri);
            out.extend_from_slice(b" SIP/2.0\r\n");
        }
        _ => {
            out.extend_from_slice(&b[msg.ix.start_line.range()]);
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Some(v) = edits.push_via {
        line(&mut out, "Via", v);
    }
    for rr in edits.record_route {
        line(&mut out, "Record-Route", rr);
    }
    let first_via = msg.ix.first[HeaderName::Via as usize] as usize;
    let entries = msg.entries();
    // Indices of the Route values to drop: the first `pop_routes` of them.
    let popped = |k: usize| {
        entries[k].id == HeaderName::Route
            && entries[..k]
                .iter()
                .filter(|e| e.id == HeaderName::Route)
                .count()
                < edits.pop_routes
    };
    let mut i = 0;
    while i < entries.len() {
        // One header line: entries i..j.
        let mut j = i + 1;
        while j < entries.len() && entries[j].flags & FIRST_ON_LINE == 0 {
            j += 1;
        }
        debug_assert!(
            entries[i].flags & FIRST_ON_LINE != 0 && entries[j - 1].flags & LAST_ON_LINE != 0
        );
        let line_entries = &entries[i..j];
        let id = entries[i].id;
        let touches = |first: usize| (i..j).contains(&first);
        if id == HeaderName::Via
            && touches(first_via)
            && (edits.pop_via || edits.top_via_source.is_some())
        {
            let values = line_entries.iter().enumerate().filter_map(|(k, e)| {
                let v = &b[e.value().range()];
                if i + k != first_via {
                    return Some(v.to_vec());
                }
                if edits.pop_via {
                    return None;
                }
                Some(match edits.top_via_source {
                    Some((ip, port)) => via_with_source(v, ip, port),
                    None => v.to_vec(),
                })
            });
            rewrite_line(&mut out, &b[msg.name_span(i).range()], values);
        } else if id == HeaderName::Route && (i..j).any(popped) {
            let values = (i..j)
                .filter(|&k| !popped(k))
                .map(|k| b[entries[k].value().range()].to_vec());
            rewrite_line(&mut out, &b[msg.name_span(i).range()], values);
        } else if id == HeaderName::MaxForwards && edits.max_forwards == MaxForwards::Decrement {
            let n = msg.max_forwards().unwrap_or(70).saturating_sub(1);
            let _ = write!(Fmt(&mut out), "Max-Forwards: {n}\r\n");
        } else {
            let start = msg.name_span(i).start as usize;
            let last = &entries[j - 1];
            let value_end = last.value().end as usize;
            let end = memchr(b'\n', &b[value_end..]).map_or(b.len(), |n| value_end + n + 1);
            out.extend_from_slice(&b[start..end]);
            if b[end - 1] != b'\n' {
                out.extend_from_slice(b"\r\n");
            }
        }
        i = j;
    }
    if edits.max_forwards == MaxForwards::Decrement && msg.max_forwards().is_none() {
        out.extend_from_slice(b"Max-Forwards: 70\r\n");
    }
    if msg.content_length().is_none() {
        let _ = write!(Fmt(&mut out), "Content-Length: {}\r\n", msg.body().len());
    }
    for (name, value) in edits.add {
        line(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(msg.body());
    out
}

/// Writes a header line with the given values, comma-separated, keeping the
/// name as written; writes nothing when no value is left.
fn rewrite_line(out: &mut Vec<u8>, name: &[u8], values: impl Iterator<Item = Vec<u8>>) {
    let mut any = false;
    for v in values {
        if any {
            out.extend_from_slice(b", ");
        } else {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            any = true;
        }
        out.extend_from_slice(&v);
    }
    if any {
        out.extend_from_slice(b"\r\n");
    }
}

/// The ACK for a non-2xx final response to `invite` (the INVITE as this
/// element sent it), RFC 3261 §17.1.1.3: same Request-URI, Call-ID, From,
/// CSeq number and Route set, the top Via only, and the response's To (with
/// its tag).
pub fn ack_for_non_2xx(invite: &Message, response: &Message) -> Vec<u8> {
    in_transaction_request(invite, "ACK", response.get(HeaderName::To))
}

/// The CANCEL for `invite` (as this element sent it), RFC 3261 §9.1.
pub fn cancel_for(invite: &Message) -> Vec<u8> {
    in_transaction_request(invite, "CANCEL", None)
}

fn in_transaction_request(invite: &Message, method: &str, to: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(400);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(invite.request_uri_bytes());
    out.extend_from_slice(b" SIP/2.0\r\n");
    line(
        &mut out,
        "Via",
        invite.get(HeaderName::Via).unwrap_or_default(),
    );
    for r in invite.get_all(HeaderName::Route) {
        line(&mut out, "Route", r.value);
    }
    out.extend_from_slice(b"Max-Forwards: 70\r\n");
    line(
        &mut out,
        "From",
        invite.get(HeaderName::From).unwrap_or_default(),
    );
    line(
        &mut out,
        "To",
        to.or_else(|| invite.get(HeaderName::To))
            .unwrap_or_default(),
    );
    line(&mut out, "Call-ID", invite.call_id());
    let _ = write!(Fmt(&mut out), "CSeq: {} {method}\r\n", invite.cseq().seq);
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    out
}

/// A response to bytes that did not parse, when one can be built: the start
/// line must be a request other than ACK, and Via, From, To, Call-ID and
/// CSeq lines must be found (by name, compact forms included) to copy. The
/// status comes from the error (400, 413, 505) and the reason phrase says
/// what was wrong. `None`: drop the bytes (and count them).
pub fn error_response(raw: &[u8], err: &crate::sip::ParseError, tag_seed: u64) -> Option<Vec<u8>> {
    let first_nl = memchr(b'\n', raw)?;
    let start = raw[..first_nl]
        .strip_suffix(b"\r")
        .unwrap_or(&raw[..first_nl]);
    let method = start.split(|&b| b == b' ').next()?;
    if method.is_empty()
        || method == b"ACK"
        || method.starts_with(b"SIP/")
        || !method.iter().all(|&b| crate::sip::chars::TOKEN[b as usize])
    {
        return None;
    }
    let header_end = memchr::memmem::find(raw, b"\r\n\r\n").map_or(raw.len(), |i| i + 2);
    let mut vias: Vec<&[u8]> = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for line in raw[first_nl + 1..header_end].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr(b':', line) else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii();
        // Only plain single-line values are copied back.
        if value.is_empty() || value.iter().any(|&b| crate::sip::chars::is_ctl(b)) {
            continue;
        }
        match HeaderName::lookup(line[..colon].trim_ascii_end()) {
            HeaderName::Via => vias.push(value),
            HeaderName::From => from = from.or(Some(value)),
            HeaderName::To => to = to.or(Some(value)),
            HeaderName::CallId => call_id = call_id.or(Some(value)),
            HeaderName::CSeq => cseq = cseq.or(Some(value)),
            _ => {}
        }
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    if vias.is_empty() {
        return None;
    }
    let code = err.kind.status();
    let mut out = Vec::with_capacity(400);
    let _ = write!(
        Fmt(&mut out),
        "SIP/2.0 {code} {}\r\n",
        reason_with_cause(code, err)
    );
    for v in vias {
        line(&mut out, "Via", v);
    }
    line(&mut out, "From", from);
    out.extend_from_slice(b"To: ");
    out.extend_from_slice(to);
    if !to.windows(5).any(|w| w.eq_ignore_ascii_case(b";tag=")) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (tag_seed, call_id).hash(&mut h);
        let _ = write!(Fmt(&mut out), ";tag={:016x}", h.finish());
    }
    out.extend_from_slice(b"\r\n");
    line(&mut out, "Call-ID", call_id);
    line(&mut out, "CSeq", cseq);
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(out)
}

/// `Bad Request: Content-Length 300 exceeds the 120 bytes present`.
fn reason_with_cause(code: u16, err: &crate::sip::ParseError) -> String {
    format!("{}: {}", reason_phrase(code), err.kind)
}

/// `fmt::Write` into a byte vector (numbers without allocating a String).
struct Fmt<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse;
    use bytes::Bytes;

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKaaa;rport, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKzzz\r\n\
Via: SIP/2.0/TCP 192.0.2.8;branch=z9hG4bKyyy\r\n\
Max-Forwards: 70\r\n\
Route: <sip:edge.example.com;lr>, <sip:pbx.example.com;lr>\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
X-Custom:   kept   as   is  \r\n\
Content-Type: application/sdp\r\n\
Content-Length: 5\r\n\r\nv=0\r\n";

    fn msg(b: &'static [u8]) -> Message {
        parse(Bytes::from_static(b)).unwrap()
    }

    #[test]
    fn response_copies_what_8_2_6_2_says() {
        let req = msg(INVITE);
        let r = response(
            &req,
            486,
            &ResponseOpts {
                headers: &[("Retry-After", "30")],
                to_tag: Some("xyz"),
                ..Default::default()
            },
        );
        let r = parse(Bytes::from(r)).unwrap();
        assert_eq!(r.status(), Some(486));
        assert_eq!(r.reason_phrase(), b"Busy Here");
        let vias: Vec<_> = r
            .get_all(HeaderName::Via)
            .map(|h| h.value.to_vec())
            .collect();
        let want: Vec<_> = req
            .get_all(HeaderName::Via)
            .map(|h| h.value.to_vec())
            .collect();
        assert_eq!(vias, want);
        assert_eq!(r.get(HeaderName::From), req.get(HeaderName::From));
        assert_eq!(r.to_header().unwrap().tag(), Some(&b"xyz"[..]));
        assert_eq!(r.call_id(), req.call_id());
        assert_eq!(r.cseq(), req.cseq());
        assert_eq!(r.get(HeaderName::RetryAfter), Some(&b"30"[..]));
        assert_eq!(r.content_length(), Some(0));
    }

    #[test]
    fn generated_tag_is_stable_and_100_has_none() {
        let req = msg(INVITE);
        let a = parse(Bytes::from(response(
            &req,
            180,
            &ResponseOpts {
                tag_seed: 7,
                ..Default::default()
            },
        )))
        .unwrap();
        let b = parse(Bytes::from(response(
            &req,
            180,
            &ResponseOpts {
                tag_seed: 7,
                ..Default::default()
            },
        )))
        .unwrap();
        let c = parse(Bytes::from(response(
            &req,
            180,
            &ResponseOpts {
                tag_seed: 8,
                ..Default::default()
            },
        )))
        .unwrap();
        let tag = |m: &Message| m.to_header().unwrap().tag().map(<[u8]>::to_vec);
        assert_eq!(tag(&a), tag(&b));
        assert_ne!(tag(&a), tag(&c));
        assert_eq!(tag(&a).unwrap().len(), 16);
        let trying = parse(Bytes::from(response(&req, 100, &ResponseOpts::default()))).unwrap();
        assert_eq!(tag(&trying), None);
    }

    #[test]
    fn reason_text_cannot_break_the_line() {
        let req = msg(INVITE);
        let r = response(
            &req,
            400,
            &ResponseOpts {
                reason: Some("Bad\r\nInjected: yes"),
                ..Default::default()
            },
        );
        let r = parse(Bytes::from(r)).unwrap();
        assert_eq!(r.reason_phrase(), b"Bad  Injected: yes");
        assert_eq!(r.get_other("Injected").count(), 0);
    }

    #[test]
    fn received_and_rport() {
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(
            via_with_source(
                b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKaaa;rport",
                ip,
                41234
            ),
            b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKaaa;received=203.0.113.7;rport=41234"
                .to_vec()
        );
        assert_eq!(
            via_with_source(b"SIP/2.0/UDP 203.0.113.7;branch=z9hG4bKa", ip, 5060),
            b"SIP/2.0/UDP 203.0.113.7;branch=z9hG4bKa".to_vec()
        );
        assert_eq!(
            via_with_source(b"SIP/2.0/UDP host.example.com;branch=z9hG4bKa", ip, 5060),
            b"SIP/2.0/UDP host.example.com;branch=z9hG4bKa;received=203.0.113.7".to_vec()
        );
        assert_eq!(
            via_with_source(
                b"SIP/2.0/WSS abc.invalid;branch=z9hG4bKa;received=1.2.3.4;rport=9",
                ip,
                443
            ),
            b"SIP/2.0/WSS abc.invalid;branch=z9hG4bKa;received=203.0.113.7;rport=443".to_vec()
        );
    }

    #[test]
    fn forward_request_edits_and_copies_the_rest() {
        let req = msg(INVITE);
        let out = serialize(
            &req,
            &Edits {
                push_via: Some(b"SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKedge"),
                record_route: &[b"<sip:198.51.100.1;lr;ft=abc>", b"<sip:10.0.0.1;lr;ft=abc>"],
                pop_routes: 1,
                max_forwards: MaxForwards::Decrement,
                top_via_source: Some(("203.0.113.7".parse().unwrap(), 41234)),
                ..Default::default()
            },
        );
        let text = String::from_utf8(out.clone()).unwrap();
        let fwd = parse(Bytes::from(out)).unwrap();
        let vias: Vec<_> = fwd
            .vias()
            .map(|v| v.unwrap().branch.unwrap().to_vec())
            .collect();
        assert_eq!(
            vias,
            vec![
                b"z9hG4bKedge".to_vec(),
                b"z9hG4bKaaa".to_vec(),
                b"z9hG4bKzzz".to_vec(),
                b"z9hG4bKyyy".to_vec()
            ]
        );
        assert_eq!(fwd.vias().nth(1).unwrap().unwrap().rport, Some(Some(41234)));
        assert_eq!(fwd.max_forwards(), Some(69));
        let routes: Vec<_> = fwd
            .routes(HeaderName::Route)
            .map(|r| r.unwrap().uri.host.to_vec())
            .collect();
        assert_eq!(routes, vec![b"pbx.example.com".to_vec()]);
        let rr: Vec<_> = fwd
            .routes(HeaderName::RecordRoute)
            .map(|r| r.unwrap().uri.host.to_vec())
            .collect();
        assert_eq!(rr, vec![b"198.51.100.1".to_vec(), b"10.0.0.1".to_vec()]);
        assert!(text.contains("X-Custom:   kept   as   is  \r\n"), "{text}");
        assert_eq!(fwd.body(), b"v=0\r\n");
        assert_eq!(fwd.call_id(), req.call_id());
    }

    #[test]
    fn forward_response_pops_top_via_and_unedited_is_identical() {
        let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKedge\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKaaa\r\nTo: <sip:b@example.com>;tag=2\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let m = msg(resp);
        assert_eq!(serialize(&m, &Edits::default()), resp.to_vec());
        let out = parse(Bytes::from(serialize(
            &m,
            &Edits {
                pop_via: true,
                ..Default::default()
            },
        )))
        .unwrap();
        assert_eq!(out.via_count(), 1);
        assert_eq!(out.top_via().unwrap().branch, Some(&b"z9hG4bKaaa"[..]));
    }

    #[test]
    fn ack_and_cancel_follow_the_invite() {
        let invite = msg(INVITE);
        let resp = msg(b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKaaa\r\nTo: Bob <sip:bob@example.com>;tag=b1\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n");
        let ack = parse(Bytes::from(ack_for_non_2xx(&invite, &resp))).unwrap();
        assert_eq!(ack.method(), Some(crate::sip::Method::Ack));
        assert_eq!(ack.request_uri_bytes(), invite.request_uri_bytes());
        assert_eq!(ack.via_count(), 1);
        assert_eq!(ack.top_via().unwrap().branch, Some(&b"z9hG4bKaaa"[..]));
        assert_eq!(ack.to_header().unwrap().tag(), Some(&b"b1"[..]));
        assert_eq!(
            (ack.cseq().seq, ack.cseq().method_bytes),
            (314159, &b"ACK"[..])
        );
        assert_eq!(ack.routes(HeaderName::Route).count(), 2);
        let cancel = parse(Bytes::from(cancel_for(&invite))).unwrap();
        assert_eq!(cancel.method(), Some(crate::sip::Method::Cancel));
        assert_eq!(cancel.to_header().unwrap().tag(), None);
        assert_eq!(cancel.top_via().unwrap().branch, Some(&b"z9hG4bKaaa"[..]));
        assert_eq!(cancel.cseq().method_bytes, b"CANCEL");
    }

    #[test]
    fn error_responses_to_what_did_not_parse() {
        let bad = b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 300\r\n\r\n0123456789";
        let e = parse(Bytes::from_static(bad)).unwrap_err();
        let r = parse(Bytes::from(error_response(bad, &e, 1).unwrap())).unwrap();
        assert_eq!(r.status(), Some(400));
        assert_eq!(
            std::str::from_utf8(r.reason_phrase()).unwrap(),
            "Bad Request: Content-Length 300 exceeds the 10 bytes present"
        );
        assert_eq!(r.call_id(), b"c1");
        assert!(r.to_header().unwrap().tag().is_some());
        assert_eq!(r.top_via().unwrap().branch, Some(&b"z9hG4bK1"[..]));
        let big = [&bad[..bad.len() - 10], &[b'x'; 300][..]].concat();
        let small = crate::sip::Limits {
            max_message: 200,
            ..crate::sip::Limits::DEFAULT
        };
        let e = crate::sip::parse_with(
            Bytes::from(big.clone()),
            crate::sip::Framing::Datagram,
            &small,
        )
        .unwrap_err();
        assert_eq!(
            parse(Bytes::from(error_response(&big, &e, 1).unwrap()))
                .unwrap()
                .status(),
            Some(413)
        );
        let v7 = String::from_utf8_lossy(bad).replacen("SIP/2.0\r\nVia", "SIP/7.0\r\nVia", 1);
        let e = parse(Bytes::from(v7.clone().into_bytes())).unwrap_err();
        assert_eq!(
            parse(Bytes::from(error_response(v7.as_bytes(), &e, 1).unwrap()))
                .unwrap()
                .status(),
            Some(505)
        );
        // No answer to ACKs, responses, garbage, or requests missing the lines to copy.
        let ack = String::from_utf8_lossy(bad)
            .replacen("INVITE sip", "ACK sip", 1)
            .into_bytes();
        for raw in [
            &ack[..],
            b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",
            b"\x16\x03\x01garbage\r\n",
            b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n",
        ] {
            assert!(
                error_response(raw, &e, 1).is_none(),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn datagram_without_content_length_gains_one() {
        let m = msg(b"MESSAGE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\nhello");
        let out = parse(Bytes::from(serialize(&m, &Edits::default()))).unwrap();
        assert_eq!(out.content_length(), Some(5));
        assert_eq!(out.body(), b"hello");
    }
}
