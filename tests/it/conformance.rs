//! The RFC 4475 / RFC 5118 torture messages from `../shared` (byte-exact;
//! never copied into this repository): every valid one parses and passes
//! every typed view; every invalid one is refused, for the reason expected.

use bytes::Bytes;
use sipedge::sip::{self, ErrorKind, HeaderName, Message, StartLine};

struct Row {
    file: String,
    expected: String,
}

fn rows() -> Option<(std::path::PathBuf, Vec<Row>)> {
    let Some(dir) = super::support::torture_dir() else {
        println!(
            "SKIPPED: ../shared/conformance/torture is absent; the RFC 4475/5118 torture tests did not run"
        );
        return None;
    };
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).unwrap();
    let rows = index
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Row {
                file: cols[0].to_string(),
                expected: cols[2].to_string(),
            }
        })
        // RFC 5118 archive copies use bare LF and stale Content-Lengths; the
        // README says to test the wire-form copies in rfc5118-crlf/.
        .filter(|r| r.file.starts_with("rfc5118-crlf/") || !is_rfc5118_archive(&r.file))
        .collect();
    Some((dir, rows))
}

fn is_rfc5118_archive(file: &str) -> bool {
    ["ipv6-", "port-", "via-received", "mult-ip", "ipv4-mapped"]
        .iter()
        .any(|p| file.starts_with(p))
}

fn parse_full(data: &[u8]) -> Result<Message, sip::ParseError> {
    let m = sip::parse(Bytes::copy_from_slice(data))?;
    m.validate_all()?;
    Ok(m)
}

/// Why each invalid message must be refused.
fn expected_refusal(file: &str) -> ErrorKind {
    use ErrorKind::*;
    match file {
        "badinv01.dat" => BadHeaderValue(HeaderName::Via),
        "clerr.dat" => ContentLengthExceeds {
            declared: 9999,
            present: 154,
        },
        "ncl.dat" => BadContentLength,
        "scalar02.dat" | "scalarlg.dat" => BadCSeq,
        "quotbal.dat" => UnterminatedQuote,
        "ltgtruri.dat" | "lwsruri.dat" => BadRequestUri,
        "lwsstart.dat" | "trws.dat" => StartLineWhitespace,
        "escruri.dat" => RequestUriHeaders,
        "baddate.dat" => BadHeaderValue(HeaderName::Date),
        "regbadct.dat" => BadHeaderValue(HeaderName::Contact),
        "badaspec.dat" => BadUri,
        // The archive copy ends without the empty line that closes the header
        // section, which is refused before the display name is looked at.
        "baddn.dat" => UnterminatedHeaders,
        "badvers.dat" => UnsupportedVersion,
        "mismatch01.dat" | "mismatch02.dat" => CSeqMethodMismatch,
        "bigcode.dat" => BadStatusCode,
        "insuf.dat" => MissingHeader(HeaderName::To),
        "multi01.dat" => DuplicateHeader(HeaderName::CSeq),
        "mcl01.dat" => DuplicateHeader(HeaderName::ContentLength),
        "test.dat" => BadStartLine,
        "rfc5118-crlf/ipv6-bad.dat" => BadRequestUri,
        other => panic!("no expected refusal written down for {other}"),
    }
}

#[test]
fn every_torture_message_gets_its_verdict() {
    let Some((dir, rows)) = rows() else { return };
    assert!(rows.len() >= 55, "only {} rows", rows.len());
    let mut checked = 0;
    for row in &rows {
        let data = std::fs::read(dir.join(&row.file)).unwrap();
        let got = parse_full(&data);
        match row.expected.as_str() {
            "valid" | "valid-but-semantically-odd" => {
                if let Err(e) = &got {
                    panic!("{} ({}) refused: {e}", row.file, row.expected);
                }
            }
            "invalid" => {
                let want = expected_refusal(&row.file);
                match got {
                    Ok(_) => panic!("{} is invalid but was accepted", row.file),
                    Err(e) => assert_eq!(
                        e.kind, want,
                        "{}: refused for the wrong reason: {e}",
                        row.file
                    ),
                }
            }
            other => panic!("unknown verdict {other}"),
        }
        checked += 1;
    }
    println!("torture: {checked} messages checked");
}

fn load(file: &str) -> Option<Message> {
    let dir = super::support::torture_dir()?;
    Some(parse_full(&std::fs::read(dir.join(file)).unwrap()).unwrap())
}

#[test]
fn wsinv_fields_survive_folding_and_odd_spacing() {
    let Some(m) = load("wsinv.dat") else { return };
    assert_eq!(m.to_header().unwrap().tag(), Some(&b"1918181833n"[..]));
    let from = m.from_header().unwrap();
    assert_eq!(from.tag(), Some(&b"98asjd8"[..]));
    assert_eq!(from.display_name_text().unwrap(), "J Rosenberg \\\"");
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!((m.cseq().seq, m.cseq().method_bytes), (9, &b"INVITE"[..]));
    let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch, Some(&b"390skdjuw"[..]));
    assert_eq!(vias[1].host, b"spindle.example.com");
    assert_eq!(vias[2].branch, Some(&b"z9hG4bK30239"[..]));
    assert_eq!(m.get(HeaderName::Subject), Some(&b""[..]));
    assert_eq!(
        m.get_other("UnknownHeaderWithUnusualValue").next(),
        Some(&b";;,,;;,;"[..])
    );
    let contact = m.contacts().next().unwrap().unwrap();
    assert_eq!(contact.q(), Some(&b"0.33"[..]));
    assert_eq!(m.body().len(), 150);
    assert_eq!(m.sdp().map(|s| (s.audio, s.video)), Some((1, 1)));
}

#[test]
fn escapes_are_kept_as_written() {
    let Some(m) = load("esc01.dat") else { return };
    assert_eq!(
        m.request_uri().unwrap().user,
        Some(&b"sips%3Auser%40example.com"[..])
    );
    let Some(m) = load("escnull.dat") else { return };
    assert_eq!(m.to_header().unwrap().uri.user, Some(&b"null-%00-null"[..]));
    let Some(m) = load("esc02.dat") else { return };
    assert_eq!(m.method_bytes(), b"RE%47IST%45R");
    assert_eq!(m.cseq().method_bytes, b"RE%47IST%45R");
}

#[test]
fn odd_but_valid_messages() {
    let Some(m) = load("intmeth.dat") else { return };
    assert_eq!(
        m.method_bytes(),
        b"!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert!(m.to_header().unwrap().display_name.unwrap().contains(&0));
    let Some(m) = load("dblreq.dat") else { return };
    assert_eq!(m.body(), b"");
    assert_eq!(m.method(), Some(sip::Method::Register));
    let Some(m) = load("mpart01.dat") else { return };
    assert_eq!(m.body().len() as u32, m.content_length().unwrap());
    let Some(m) = load("unreason.dat") else {
        return;
    };
    assert!(
        std::str::from_utf8(m.reason_phrase())
            .unwrap()
            .ends_with("простое")
    );
    let Some(m) = load("noreason.dat") else {
        return;
    };
    assert_eq!((m.status(), m.reason_phrase()), (Some(100), &b""[..]));
    let Some(m) = load("inv2543.dat") else { return };
    assert_eq!(m.content_length(), None);
    assert!(!m.body().is_empty());
    assert_eq!(m.from_header().unwrap().tag(), None);
    let Some(m) = load("longreq.dat") else { return };
    assert_eq!(m.via_count(), 34);
    let Some(m) = load("lwsdisp.dat") else { return };
    assert_eq!(m.from_header().unwrap().display_name, Some(&b"caller"[..]));
    let Some(m) = load("semiuri.dat") else { return };
    assert_eq!(
        m.request_uri().unwrap().user,
        Some(&b"user;par=u%40example.net"[..])
    );
    let Some(m) = load("transports.dat") else {
        return;
    };
    let t: Vec<_> = m.vias().map(|v| v.unwrap().transport).collect();
    use sip::header::Transport::*;
    assert_eq!(t, vec![Udp, Sctp, Tls, Other, Tcp]);
    let Some(m) = load("unkscm.dat") else { return };
    assert_eq!(m.request_uri().unwrap().scheme, sip::header::Scheme::Other);
    let Some(m) = load("zeromf.dat") else { return };
    assert_eq!(m.max_forwards(), Some(0));
    let Some(m) = load("badbranch.dat") else {
        return;
    };
    assert!(!m.top_via().unwrap().has_rfc3261_branch());
    assert!(matches!(m.start_line(), StartLine::Request { .. }));
}

#[test]
fn rfc5118_ipv6() {
    use sip::header::Host;
    let Some(m) = load("rfc5118-crlf/ipv6-good.dat") else {
        return;
    };
    assert_eq!(m.request_uri().unwrap().host, b"[2001:db8::10]");
    let Some(m) = load("rfc5118-crlf/port-unambiguous.dat") else {
        return;
    };
    assert_eq!(m.request_uri().unwrap().port, Some(5070));
    let Some(m) = load("rfc5118-crlf/port-ambiguous.dat") else {
        return;
    };
    let u = m.request_uri().unwrap();
    assert_eq!((u.host, u.port), (&b"[2001:db8::10:5070]"[..], None));
    let Some(m) = load("rfc5118-crlf/via-received-param-no-delim.dat") else {
        return;
    };
    assert_eq!(m.top_via().unwrap().received, Some(&b"2001:db8::9:255"[..]));
    let Some(m) = load("rfc5118-crlf/via-received-param-with-delim.dat") else {
        return;
    };
    assert_eq!(
        m.top_via().unwrap().received,
        Some(&b"[2001:db8::9:255]"[..])
    );
    let Some(m) = load("rfc5118-crlf/ipv6-bug-abnf-3-colons.dat") else {
        return;
    };
    assert!(matches!(
        m.request_uri().unwrap().host_kind(),
        Host::OddIpv6(_)
    ));
    let Some(m) = load("rfc5118-crlf/ipv4-mapped-ipv6.dat") else {
        return;
    };
    assert_eq!(
        m.top_via().unwrap().host_kind(),
        Host::Ip("::ffff:192.0.2.10".parse().unwrap())
    );
}
