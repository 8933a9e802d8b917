//! Parser behaviour on whole messages: the smuggling classes, limits,
//! truncation at every offset, compact forms, folding, UTF-8, IPv6, tel.

use bytes::Bytes;
use sipedge::sip::{self, ErrorKind, Framing, HeaderName, Limits, stream};

const BASE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@192.0.2.1\r\n\
CSeq: 1 INVITE\r\n\
{extra}Content-Length: {len}\r\n\r\n{body}";

fn msg(extra: &str, body: &str) -> Vec<u8> {
    BASE.replace("{extra}", extra)
        .replace("{len}", &body.len().to_string())
        .replace("{body}", body)
        .into_bytes()
}

fn parse(b: &[u8]) -> Result<sip::Message, sip::ParseError> {
    sip::parse(Bytes::copy_from_slice(b))
}

fn refused(b: &[u8]) -> ErrorKind {
    match parse(b) {
        Ok(m) => match m.validate_all() {
            Ok(()) => panic!("accepted: {}", String::from_utf8_lossy(b)),
            Err(e) => e.kind,
        },
        Err(e) => e.kind,
    }
}

#[test]
fn base_message_parses() {
    let m = parse(&msg("", "")).unwrap();
    m.validate_all().unwrap();
    assert_eq!(m.method(), Some(sip::Method::Invite));
}

#[test]
fn header_smuggling_classes_are_refused() {
    // Whitespace or control bytes inside a header name: one parser sees
    // "Content-Length", another sees an unknown header (CVE-2020-28361,
    // CVE-2016-9938).
    let cases: &[(&str, ErrorKind)] = &[
        ("Content Length: 5\r\n", ErrorKind::BadHeaderName),
        ("Content-Length\x00: 5\r\n", ErrorKind::BadHeaderName),
        ("Content-Length\x0b: 5\r\n", ErrorKind::BadHeaderName),
        (
            "Via\x01: SIP/2.0/UDP 192.0.2.66;branch=z9hG4bKevil\r\n",
            ErrorKind::BadHeaderName,
        ),
        ("X-Foo\r: bar\r\n", ErrorKind::BadHeaderName),
        ("X-No-Colon bar\r\n", ErrorKind::MissingColon),
        (": no-name\r\n", ErrorKind::BadHeaderName),
        ("X-Ctl: a\x00b\r\n", ErrorKind::ControlInValue),
        ("X-Ctl: a\x7fb\r\n", ErrorKind::ControlInValue),
        ("X-Bare-Cr: a\rb\r\n", ErrorKind::BareCr),
        // A bare LF would end the header for one parser and not another.
        (
            "X-Bare-Lf: a\nVia: SIP/2.0/UDP 192.0.2.66;branch=z9hG4bKevil\r\n",
            ErrorKind::BareLf,
        ),
        (
            "Content-Length: 0\r\n",
            ErrorKind::DuplicateHeader(HeaderName::ContentLength),
        ),
        (
            "l: 0\r\n",
            ErrorKind::DuplicateHeader(HeaderName::ContentLength),
        ),
        (
            "Call-ID: other@192.0.2.1\r\n",
            ErrorKind::DuplicateHeader(HeaderName::CallId),
        ),
        (
            "t: <sip:eve@example.com>\r\n",
            ErrorKind::DuplicateHeader(HeaderName::To),
        ),
    ];
    for (extra, kind) in cases {
        assert_eq!(refused(&msg(extra, "")), *kind, "{extra:?}");
    }
    // A continuation line with no header before it.
    let lead = String::from_utf8(msg("", ""))
        .unwrap()
        .replacen("\r\nVia:", "\r\n Via:", 1);
    assert_eq!(refused(lead.as_bytes()), ErrorKind::LeadingContinuation);
    // Whitespace before the colon is legal (RFC 3261 HCOLON).
    assert!(parse(&msg("X-Spaced   : ok\r\n", "")).is_ok());
}

#[test]
fn numbers_are_checked() {
    let cases: &[(&str, &str, ErrorKind)] = &[
        (
            "Content-Length: 0",
            "Content-Length: -1",
            ErrorKind::BadContentLength,
        ),
        (
            "Content-Length: 0",
            "Content-Length: 99999999999999999999999",
            ErrorKind::BadContentLength,
        ),
        (
            "Content-Length: 0",
            "Content-Length: 1 2",
            ErrorKind::BadContentLength,
        ),
        (
            "Content-Length: 0",
            "Content-Length: 10",
            ErrorKind::ContentLengthExceeds {
                declared: 10,
                present: 0,
            },
        ),
        (
            "CSeq: 1 INVITE",
            "CSeq: 4294967296 INVITE",
            ErrorKind::BadCSeq,
        ),
        ("CSeq: 1 INVITE", "CSeq: -1 INVITE", ErrorKind::BadCSeq),
        (
            "CSeq: 1 INVITE",
            "CSeq: 1 BYE",
            ErrorKind::CSeqMethodMismatch,
        ),
        (
            "CSeq: 1 INVITE",
            "CSeq: 1 invite",
            ErrorKind::CSeqMethodMismatch,
        ),
        (
            "Max-Forwards: 70",
            "Max-Forwards: 256",
            ErrorKind::BadMaxForwards,
        ),
        (
            "Max-Forwards: 70",
            "Max-Forwards: -1",
            ErrorKind::BadMaxForwards,
        ),
        (
            "Call-ID: 3848276298220188511@192.0.2.1",
            "Call-ID: a b",
            ErrorKind::BadCallId,
        ),
        (
            "Call-ID: 3848276298220188511@192.0.2.1",
            "Call-ID: a@b@c",
            ErrorKind::BadCallId,
        ),
        (
            "SIP/2.0\r\nVia",
            "SIP/3.0\r\nVia",
            ErrorKind::UnsupportedVersion,
        ),
        ("SIP/2.0\r\nVia", "SIP/2\r\nVia", ErrorKind::BadVersion),
        ("SIP/2.0\r\nVia", "HTTP/1.1\r\nVia", ErrorKind::BadVersion),
    ];
    let good = String::from_utf8(msg("", "")).unwrap();
    for (from, to, kind) in cases {
        assert!(good.contains(from), "{from}");
        let bad = good.replacen(from, to, 1);
        assert_eq!(refused(bad.as_bytes()), *kind, "{to}");
    }
    let e = parse(
        &good
            .replacen("Content-Length: 0", "Content-Length: 300", 1)
            .into_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        e.kind.to_string(),
        "Content-Length 300 exceeds the 0 bytes present"
    );
}

#[test]
fn every_mandatory_header_is_required() {
    let good = String::from_utf8(msg("", "")).unwrap();
    for (line, h) in [
        ("To: Bob <sip:bob@example.com>\r\n", HeaderName::To),
        (
            "From: Alice <sip:alice@example.com>;tag=9fxced76sl\r\n",
            HeaderName::From,
        ),
        (
            "Call-ID: 3848276298220188511@192.0.2.1\r\n",
            HeaderName::CallId,
        ),
        ("CSeq: 1 INVITE\r\n", HeaderName::CSeq),
        (
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n",
            HeaderName::Via,
        ),
    ] {
        let bad = good.replacen(line, "", 1);
        assert_eq!(
            refused(bad.as_bytes()),
            ErrorKind::MissingHeader(h),
            "{h:?}"
        );
    }
    // Max-Forwards is optional.
    assert!(parse(good.replacen("Max-Forwards: 70\r\n", "", 1).as_bytes()).is_ok());
}

#[test]
fn limits_are_enforced() {
    let many_vias: String = (0..71)
        .map(|i| format!("Via: SIP/2.0/UDP 192.0.2.{};branch=z9hG4bK{i}\r\n", i % 250))
        .collect();
    assert_eq!(
        refused(&msg(&many_vias, "")),
        ErrorKind::TooManyVias { limit: 70 }
    );
    let many: String = (0..130).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(
        refused(&msg(&many, "")),
        ErrorKind::TooManyHeaders { limit: 120 }
    );
    let long = format!("X-Long: {}\r\n", "a".repeat(9000));
    assert_eq!(
        refused(&msg(&long, "")),
        ErrorKind::LineTooLong { limit: 8192 }
    );
    let small = Limits {
        max_message: 300,
        ..Limits::DEFAULT
    };
    let e = sip::parse_with(
        Bytes::from(msg("", &"x".repeat(200))),
        Framing::Datagram,
        &small,
    )
    .unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::MessageTooLarge { limit: 300, .. }),
        "{e}"
    );
    assert_eq!(e.kind.status(), 413);
    let few = Limits {
        max_headers: 4,
        ..Limits::DEFAULT
    };
    let e = sip::parse_with(Bytes::from(msg("", "")), Framing::Datagram, &few).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyHeaders { limit: 4 });
}

#[test]
fn truncation_at_every_offset_never_panics_and_is_refused() {
    for (name, data) in super::support::corpus() {
        for cut in 0..data.len() {
            let prefix = &data[..cut];
            assert!(
                parse(prefix).is_err(),
                "{name}: prefix of {cut} bytes accepted"
            );
            assert_eq!(
                stream::next_frame(prefix, &Limits::DEFAULT).unwrap(),
                stream::Frame::NeedMore,
                "{name}: stream prefix {cut}"
            );
        }
        assert!(parse(&data).is_ok(), "{name}");
    }
}

#[test]
fn compact_forms_and_folding() {
    let m = parse(
        b"INVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
t: <sip:bob@example.com>\r\n\
f: <sip:alice@example.com>\r\n  ;tag=a1\r\n\
i: cid@192.0.2.1\r\n\
CSeq: 7\r\n  INVITE\r\n\
m: <sip:alice@192.0.2.1>\r\n\
k: timer\r\n\
x: 1800;refresher=uac\r\n\
c: application/sdp\r\n\
l: 27\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\n",
    )
    .unwrap();
    m.validate_all().unwrap();
    assert_eq!(m.from_header().unwrap().tag(), Some(&b"a1"[..]));
    assert_eq!(m.cseq().seq, 7);
    assert_eq!(m.call_id(), b"cid@192.0.2.1");
    assert!(m.option_tags(HeaderName::Supported).contains("timer"));
    assert_eq!(m.session_expires().unwrap().unwrap().seconds, 1800);
    assert_eq!(m.sdp().unwrap().audio, 1);
}

#[test]
fn several_vias_on_one_line_and_commas_inside_quotes_and_angles() {
    let m = parse(&msg(
        "Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2 , SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK3\r\n\
         Contact: \"Smith, John\" <sip:j,r@192.0.2.1;x=a>;note=\"a, b\";expires=60, <sip:j2@192.0.2.1>\r\n\
         Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\r\n",
        "",
    ))
    .unwrap();
    m.validate_all().unwrap();
    assert_eq!(m.via_count(), 3);
    let hosts: Vec<_> = m.vias().map(|v| v.unwrap().host.to_vec()).collect();
    assert_eq!(
        hosts,
        vec![
            b"192.0.2.1".to_vec(),
            b"192.0.2.2".to_vec(),
            b"[2001:db8::1]".to_vec()
        ]
    );
    let contacts: Vec<_> = m.contacts().map(|c| c.unwrap()).collect();
    assert_eq!(contacts.len(), 2);
    assert_eq!(
        contacts[0]
            .name_addr()
            .unwrap()
            .display_name_text()
            .unwrap(),
        "Smith, John"
    );
    assert_eq!(contacts[0].expires(), Some(60));
    assert_eq!(m.routes(HeaderName::Route).count(), 2);
    assert_eq!(
        refused(&msg("Contact: \"open <sip:j@192.0.2.1>\r\n", "")),
        ErrorKind::UnterminatedQuote
    );
    assert_eq!(
        refused(&msg("Route: <sip:p1.example.com;lr\r\n", "")),
        ErrorKind::UnterminatedAngle
    );
}

#[test]
fn utf8_and_quoted_controls() {
    let m = parse("SIP/2.0 480 Временно недоступен\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: \"Zoë Ünal\" <sip:z@example.com>;tag=1\r\nFrom: <sip:a@example.com>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n".as_bytes()).unwrap();
    m.validate_all().unwrap();
    assert_eq!(
        std::str::from_utf8(m.reason_phrase()).unwrap(),
        "Временно недоступен"
    );
    assert_eq!(
        m.to_header().unwrap().display_name_text().unwrap(),
        "Zoë Ünal"
    );
    // NUL and BEL are allowed only as quoted-pairs inside a quoted string.
    let ok = msg("", "");
    let with = String::from_utf8(ok)
        .unwrap()
        .replacen("To: Bob <", "To: \"B\\\x00o\\\x07b\" <", 1);
    let m = parse(with.as_bytes()).unwrap();
    assert_eq!(
        m.to_header().unwrap().display_name.unwrap(),
        b"\"B\\\x00o\\\x07b\""
    );
    let raw = String::from_utf8(msg("", ""))
        .unwrap()
        .replacen("To: Bob <", "To: \"B\x00ob\" <", 1);
    assert_eq!(refused(raw.as_bytes()), ErrorKind::ControlInValue);
}

#[test]
fn ipv6_and_tel_uris() {
    let m = parse(b"INVITE sip:[2001:db8::10]:5070;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP [2001:db8::9:1]:5070;branch=z9hG4bK1\r\nTo: <tel:+1-201-555-0123>\r\nFrom: <sip:a@[2001:db8::9:1]>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").unwrap();
    m.validate_all().unwrap();
    let ru = m.request_uri().unwrap();
    assert_eq!(
        (ru.host, ru.port, ru.param("transport")),
        (&b"[2001:db8::10]"[..], Some(5070), Some(Some(&b"tcp"[..])))
    );
    assert_eq!(
        m.to_header().unwrap().uri.user,
        Some(&b"+1-201-555-0123"[..])
    );
    let tel = parse(b"INVITE tel:+12015550123 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: <tel:+12015550123>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!(tel.request_uri().unwrap().scheme, sip::header::Scheme::Tel);
    assert_eq!(refused(b"INVITE tel:abc;; SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"), ErrorKind::BadRequestUri);
}

#[test]
fn escapes_at_the_end_and_bad_escapes_are_refused() {
    let good = String::from_utf8(msg("", "")).unwrap();
    for (from, to) in [
        ("INVITE sip:bob@", "INVITE sip:bob%@"),
        ("INVITE sip:bob@", "INVITE sip:bob%4@"),
        (
            "INVITE sip:bob@example.com SIP",
            "INVITE sip:bob@example.com;p=% SIP",
        ),
    ] {
        let bad = good.replacen(from, to, 1);
        assert_eq!(refused(bad.as_bytes()), ErrorKind::BadRequestUri, "{to}");
    }
    let bad = good.replacen("To: Bob <sip:bob@", "To: Bob <sip:bob%zz@", 1);
    assert_eq!(refused(bad.as_bytes()), ErrorKind::BadEscape);
}

#[test]
fn datagram_and_stream_body_rules() {
    // No Content-Length on a datagram: the body is the rest.
    let no_cl = b"MESSAGE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\nhello";
    assert_eq!(parse(no_cl).unwrap().body(), b"hello");
    let e =
        sip::parse_with(Bytes::from_static(no_cl), Framing::Stream, &Limits::DEFAULT).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingContentLength);
    // Bytes after Content-Length are ignored on a datagram.
    let mut extra = msg("", "v=0\r\n");
    extra.extend_from_slice(b"garbage after the body");
    let m = parse(&extra).unwrap();
    assert_eq!(m.body(), b"v=0\r\n");
    assert_eq!(m.as_bytes().len(), extra.len() - 22);
}

#[test]
fn stream_split_matches_one_shot_for_every_chunking_point() {
    let corpus = super::support::corpus();
    let mut all = Vec::new();
    for (_, d) in &corpus {
        all.extend_from_slice(b"\r\n\r\n");
        all.extend_from_slice(d);
    }
    let one_shot = split(&[&all[..]]);
    assert_eq!(
        one_shot.iter().filter(|f| f.starts_with(b"ping")).count(),
        corpus.len()
    );
    for cut in (1..all.len()).step_by(97) {
        let (a, b) = all.split_at(cut);
        assert_eq!(split(&[a, b]), one_shot, "cut at {cut}");
    }
}

/// Feeds chunks to the framer the way a transport would and returns what it
/// cut out.
fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match stream::next_frame(&buf, &Limits::DEFAULT).unwrap() {
                stream::Frame::NeedMore => break,
                stream::Frame::Ping => {
                    out.push(b"ping".to_vec());
                    buf.drain(..4);
                }
                stream::Frame::Pong => {
                    out.push(b"pong".to_vec());
                    buf.drain(..2);
                }
                stream::Frame::Message { len } => {
                    let m: Vec<u8> = buf.drain(..len).collect();
                    sip::parse_with(Bytes::from(m.clone()), Framing::Stream, &Limits::DEFAULT)
                        .unwrap();
                    out.push(m);
                }
            }
        }
    }
    assert!(buf.is_empty());
    out
}
