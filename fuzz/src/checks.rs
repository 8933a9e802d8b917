//! The properties each fuzz target checks, as plain functions so that the
//! main crate's test suite replays the checked-in corpus through exactly the
//! same code (`tests/it/fuzz_replay.rs` includes this file).
//!
//! Every check panics on a violated property; libFuzzer reports the panic.

use bytes::Bytes;
use sipedge::sip::{self, Framing, HeaderName, Limits, build, header, sdp, stream};

/// Any bytes: parsing never panics, and when a message parses, every typed
/// view, the SDP sniff and the builders run without panicking either.
pub fn parse_message(data: &[u8]) {
    for framing in [Framing::Datagram, Framing::Stream] {
        let Ok(m) = sip::parse_with(Bytes::copy_from_slice(data), framing, &Limits::DEFAULT) else {
            continue;
        };
        let _ = m.validate_all();
        let _ = m.request_uri();
        for v in m.vias() {
            let _ = v.map(|v| v.has_rfc3261_branch());
        }
        let _ = m.from_header().map(|f| f.display_name_text());
        let _ = m.to_header().map(|t| t.tag());
        for c in m.contacts().flatten() {
            let _ = (c.expires(), c.instance(), c.reg_id(), c.q());
        }
        for name in [HeaderName::Route, HeaderName::RecordRoute, HeaderName::Path] {
            m.routes(name).for_each(drop);
        }
        let _ = (
            m.content_type(),
            m.session_expires(),
            m.min_se(),
            m.expires(),
            m.sdp(),
        );
        m.reasons().flatten().for_each(|r| drop(r.text_str()));
        m.option_tags(HeaderName::Supported).iter().for_each(drop);
        m.headers().for_each(|h| drop(sip::unfold(h.value)));
        if m.is_request() {
            let resp = build::response(&m, 400, &build::ResponseOpts::default());
            sip::parse(Bytes::from(resp)).expect("a response we built must parse");
        }
    }
}

/// The stream framer cuts the same frames whatever the chunking: the first
/// byte seeds the chunk sizes, the rest is the stream.
pub fn stream_split(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_message: 4096,
        ..Limits::DEFAULT
    };
    let one_shot = frames(&[input], &limits);
    let mut chunks = Vec::new();
    let mut rest = input;
    let mut size = (seed as usize % 13) + 1;
    while !rest.is_empty() {
        let n = size.min(rest.len());
        chunks.push(&rest[..n]);
        rest = &rest[n..];
        size = (size * 7 + seed as usize) % 29 + 1;
    }
    assert_eq!(
        frames(&chunks, &limits),
        one_shot,
        "chunking changed the frames"
    );
}

/// What a transport would make of a byte stream delivered in `chunks`:
/// frames until the first error (which closes the connection).
fn frames(chunks: &[&[u8]], limits: &Limits) -> Vec<Result<Vec<u8>, sip::ErrorKind>> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match stream::next_frame(&buf, limits) {
                Ok(stream::Frame::NeedMore) => break,
                Ok(stream::Frame::Ping) => {
                    out.push(Ok(b"ping".to_vec()));
                    buf.drain(..4);
                }
                Ok(stream::Frame::Pong) => {
                    out.push(Ok(b"pong".to_vec()));
                    buf.drain(..2);
                }
                Ok(stream::Frame::Message { len }) => {
                    assert!(len <= buf.len() && len <= limits.max_message);
                    out.push(Ok(buf.drain(..len).collect()));
                }
                Err(e) => {
                    out.push(Err(e.kind));
                    return out;
                }
            }
        }
    }
    out
}

/// parse → serialise (no edits) → parse gives the same message, and
/// serialising twice gives the same bytes.
pub fn roundtrip(data: &[u8]) {
    let Ok(a) = sip::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let bytes = build::serialize(&a, &build::Edits::default());
    // Serialising may add Content-Length: re-parse at the index's ceiling,
    // which the default limit leaves room for.
    let ceiling = Limits {
        max_headers: sip::MAX_HEADERS,
        ..Limits::DEFAULT
    };
    let b = sip::parse_with(Bytes::from(bytes.clone()), Framing::Datagram, &ceiling)
        .expect("a serialised message must parse");
    assert_eq!(a.start_line_bytes(), b.start_line_bytes());
    let ha: Vec<_> = a
        .headers()
        .map(|h| (h.name, h.raw_name.to_vec(), h.value.to_vec()))
        .collect();
    let hb: Vec<_> = b
        .headers()
        .map(|h| (h.name, h.raw_name.to_vec(), h.value.to_vec()))
        .collect();
    let added = usize::from(a.content_length().is_none());
    assert_eq!(ha[..], hb[..hb.len() - added], "headers changed");
    assert_eq!(a.body(), b.body(), "body changed");
    assert_eq!(
        build::serialize(&b, &build::Edits::default()),
        bytes,
        "not idempotent"
    );
}

/// Every typed view on an arbitrary value: the first byte picks the view.
pub fn typed_headers(data: &[u8]) {
    let Some((&which, v)) = data.split_first() else {
        return;
    };
    match which % 14 {
        0 => drop(header::Via::parse(v)),
        1 => drop(
            header::NameAddr::parse(v, HeaderName::From).map(|n| (n.tag(), n.display_name_text())),
        ),
        2 => drop(header::Contact::parse(v).map(|c| (c.expires(), c.instance(), c.reg_id()))),
        3 => drop(header::CSeq::parse(v)),
        4 => drop(header::ContentType::parse(v)),
        5 => drop(header::SessionExpires::parse(v)),
        6 => drop(header::min_se(v)),
        7 => drop(header::Reason::parse(v).map(|r| r.text_str())),
        8 => drop(header::Uri::parse(v).map(|u| (u.host_kind(), u.param("transport")))),
        9 => drop(header::delta_seconds(v, HeaderName::Expires)),
        10 => drop(header::date(v)),
        11 => drop(header::option_tag(v, HeaderName::Require)),
        12 => drop(sdp::summarize(v)),
        _ => drop((sip::unquote(v), sip::unfold(v))),
    }
}

/// On input both sipedge and rsip accept, they agree on what a proxy keys on:
/// Call-ID, CSeq number and method, top Via branch, From and To tags.
/// Known, explained differences are filtered first (fuzz/README.md).
pub fn differential_rsip(data: &[u8]) {
    use rsip::prelude::*;
    let Ok(ours) = sip::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    // The hot path parses headers lazily; what sipedge accepts is what
    // passes every typed view (the proxy refuses a request whose Vias do
    // not all parse).
    if ours.validate_all().is_err() {
        return;
    }
    let (Ok(via), Ok(from), Ok(to)) = (ours.top_via(), ours.from_header(), ours.to_header()) else {
        return;
    };
    // Without Content-Length a datagram's body is the rest of it (RFC 3261
    // §18.3); rsip goes on reading header-like lines from that body and
    // takes a later Call-ID or Via from it. Known rsip behaviour.
    if ours.content_length().is_none() && !ours.body().is_empty() {
        return;
    }
    // rsip reads only UTF-8 text.
    if std::str::from_utf8(data).is_err() {
        return;
    }
    // rsip loses the Via parameters after whitespace around a ';' or the
    // port's ':' in sent-by, which RFC 3261 allows (SEMI and COLON are
    // SWS-wrapped; RFC 4475 wsinv does it): a known rsip limitation, not a
    // disagreement to report (fuzz/README.md).
    let top_via = ours.get(HeaderName::Via).unwrap_or_default();
    let after_protocol = top_via
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .map_or(&[][..], |i| top_via[i..].trim_ascii_start());
    if after_protocol
        .iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return;
    }
    // The same for From/To parameters (`sip:a@b ;tag=x`, `tag = x`).
    let sws_around_params = |v: &[u8]| {
        v.windows(2).any(|w| {
            matches!(
                w,
                [b' ' | b'\t' | b'\n', b';' | b'='] | [b';' | b'=', b' ' | b'\t' | b'\r']
            )
        })
    };
    if [HeaderName::From, HeaderName::To]
        .iter()
        .any(|&h| ours.get(h).is_some_and(sws_around_params))
    {
        return;
    }
    let Ok(theirs) = rsip::SipMessage::try_from(data) else {
        return;
    };
    let (Ok(t_via), Ok(t_from), Ok(t_to), Ok(t_call), Ok(t_cseq)) = (
        theirs.via_header().and_then(|v| v.typed()),
        theirs.from_header().and_then(|f| f.typed()),
        theirs.to_header().and_then(|t| t.typed()),
        theirs.call_id_header(),
        theirs.cseq_header().and_then(|c| c.typed()),
    ) else {
        return;
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(text(ours.call_id()), t_call.value().trim(), "Call-ID");
    assert_eq!(ours.cseq().seq, t_cseq.seq, "CSeq number");
    // Methods are case-sensitive (RFC 3261 §7.1): rsip folds `REGISTEr` to
    // REGISTER, sipedge keeps it an extension method. Known rsip behaviour.
    let (ours_method, theirs_method) = (text(ours.cseq().method_bytes), t_cseq.method.to_string());
    if ours_method != theirs_method && ours_method.eq_ignore_ascii_case(&theirs_method) {
        return;
    }
    assert_eq!(ours_method, theirs_method, "CSeq method");
    let t_branch = t_via.branch().map(|b| b.to_string());
    assert_eq!(via.branch.map(text), t_branch, "top Via branch");
    let t_from_tag = t_from.tag().map(|t| t.value().to_string());
    let t_to_tag = t_to.tag().map(|t| t.value().to_string());
    // rsip's reading of a From/To tag can depend on the other headers of
    // the message; asked about the header alone it agrees with sipedge.
    // Only a disagreement on the header alone is a finding.
    let alone = |name: &str, value: &[u8]| -> Option<String> {
        let msg = format!(
            "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n{name}: {}\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            String::from_utf8_lossy(value)
        );
        let m = rsip::SipMessage::try_from(msg.as_str()).ok()?;
        if name == "From" {
            m.from_header()
                .ok()?
                .typed()
                .ok()?
                .tag()
                .map(|t| t.value().to_string())
        } else {
            m.to_header()
                .ok()?
                .typed()
                .ok()?
                .tag()
                .map(|t| t.value().to_string())
        }
    };
    if from.tag().map(text) != t_from_tag {
        assert_eq!(
            from.tag().map(text),
            alone("From", ours.get(HeaderName::From).unwrap_or_default()),
            "From tag"
        );
    }
    if to.tag().map(text) != t_to_tag {
        assert_eq!(
            to.tag().map(text),
            alone("To", ours.get(HeaderName::To).unwrap_or_default()),
            "To tag"
        );
    }
}

/// A proxy (with its call core) fed a sequence of messages from a phone,
/// the PBX, a stranger and a TCP phone, with time passing, flows closing,
/// admin ends and wrap completions in between. Input: records of
/// `[op][len u16 LE][len bytes]`. Nothing panics; everything the proxy
/// sends parses; no interaction ends twice.
pub fn proxy_sequence(data: &[u8]) {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    use sipedge::config::{Config, Side, TransportKind};
    use sipedge::proxy::{Action, Flow, Proxy};

    let config = Config::from_toml(
        "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[[listen]]\ntransport = \"tcp\"\naddr = \"127.0.0.1:5060\"\n[pbx]\naddrs = [\"127.0.0.9:5080\"]\n",
    )
    .expect("the fuzz config is valid");
    let mut proxy = Proxy::new(&config);
    let mut now = Instant::now();
    proxy.set_wall_anchor(now, 1_795_428_000_000);
    let flow = |id: u64, transport: TransportKind, remote: &str| Flow {
        id,
        transport,
        local: "127.0.0.1:5060".parse().expect("address"),
        remote: remote.parse().expect("address"),
        side: Side::Access,
    };
    let flows = [
        flow(1, TransportKind::Udp, "127.0.0.50:40000"),
        flow(2, TransportKind::Udp, "127.0.0.9:5080"),
        flow(9, TransportKind::Udp, "127.0.0.77:5060"),
        flow(3, TransportKind::Tcp, "127.0.0.50:40001"),
    ];
    let relaxed = Limits {
        max_headers: sip::MAX_HEADERS,
        max_message: usize::MAX,
        max_line: usize::MAX,
        max_vias: usize::MAX,
    };
    let mut ended: HashMap<String, u32> = HashMap::new();
    let mut subjects: Vec<String> = Vec::new();
    let mut rest = data;
    while rest.len() >= 3 {
        let op = rest[0];
        let len = u16::from_le_bytes([rest[1], rest[2]]) as usize;
        let body = &rest[3..(3 + len).min(rest.len())];
        rest = &rest[(3 + len).min(rest.len())..];
        match op % 8 {
            k @ 0..=3 => {
                if let Ok(m) = sip::parse_with(
                    Bytes::copy_from_slice(body),
                    Framing::Datagram,
                    &Limits::DEFAULT,
                ) {
                    proxy.handle_message(now, flows[k as usize], m);
                }
            }
            4 => {
                now += Duration::from_millis(len as u64 * 10);
                proxy.handle_timeout(now);
            }
            5 => {
                proxy.handle_flow_closed(now, flows[len % 4].id);
            }
            6 => {
                if let Some(s) = subjects.get(len % subjects.len().max(1)).cloned() {
                    let _ = proxy.end_interaction(now, &s, sipedge::call::EndedBy::Agent);
                }
            }
            _ => {
                let _ = proxy.complete_wrap(now, "1001");
            }
        }
        while let Some(a) = proxy.poll_action() {
            match a {
                Action::Send { bytes, .. } => {
                    assert!(
                        sip::parse_with(bytes.clone(), Framing::Datagram, &relaxed).is_ok(),
                        "the proxy sent bytes that do not parse: {:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
                Action::Emit(e) => {
                    if e.kind == sipedge::event::EventType::InteractionStarted {
                        subjects.push(e.subject.clone());
                    }
                    if e.kind == sipedge::event::EventType::InteractionEnded {
                        let n = ended.entry(e.id.clone()).or_default();
                        *n += 1;
                        assert_eq!(*n, 1, "interaction.ended twice: {}", e.id);
                    }
                }
            }
        }
    }
}
