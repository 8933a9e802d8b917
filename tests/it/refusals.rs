//! Bad input through the running daemon: every refusal with its response
//! code and a reason phrase that says what was wrong; garbage is dropped.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use bytes::Bytes;
use sipedge::sip;

use super::daemon::{Scratch, Sipedge, free_port};

fn request(start: &str, call_id: &str, extra: &str, body: &str, content_length: usize) -> Vec<u8> {
    format!(
        "{start}\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK{call_id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@pbx.example.com>;tag=a\r\nTo: <sip:1002@pbx.example.com>\r\nCall-ID: {call_id}\r\nCSeq: 1 {}\r\n{extra}Content-Length: {content_length}\r\n\r\n{body}",
        start.split(' ').next().unwrap()
    )
    .into_bytes()
}

/// Sends a datagram and returns the first response whose Call-ID is `call_id`.
fn exchange(sock: &UdpSocket, to: &str, bytes: &[u8], call_id: &str) -> sip::Message {
    sock.send_to(bytes, to).unwrap();
    let mut buf = [0u8; 65536];
    loop {
        // Bounded: a missing answer fails the test after 5 s.
        let (n, _) = sock.recv_from(&mut buf).expect("no response within 5 s");
        let m = sip::parse(Bytes::copy_from_slice(&buf[..n])).expect("the response parses");
        if m.call_id() == call_id.as_bytes() {
            return m;
        }
    }
}

fn reason(m: &sip::Message) -> String {
    String::from_utf8_lossy(m.reason_phrase()).into_owned()
}

#[test]
fn malformed_requests_get_400_413_505_and_garbage_is_dropped() {
    let s = Scratch::new("refusals");
    let edge = Sipedge::start_with(&s, free_port(), "[sip]\nmax_message = 2000\n");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let to = edge.addr();

    let r = exchange(
        &sock,
        &to,
        &request(
            "INVITE sip:1002@pbx.example.com SIP/2.0",
            "cl",
            "",
            "0123456789",
            300,
        ),
        "cl",
    );
    assert_eq!(r.status(), Some(400));
    assert_eq!(
        reason(&r),
        "Bad Request: Content-Length 300 exceeds the 10 bytes present"
    );

    let big = "x".repeat(3000);
    let r = exchange(
        &sock,
        &to,
        &request(
            "MESSAGE sip:1002@pbx.example.com SIP/2.0",
            "big",
            "",
            &big,
            big.len(),
        ),
        "big",
    );
    assert_eq!(r.status(), Some(413));
    assert!(
        reason(&r).contains("over the 2000-byte limit"),
        "{}",
        reason(&r)
    );

    let r = exchange(
        &sock,
        &to,
        &request("INVITE sip:1002@pbx.example.com SIP/3.0", "v3", "", "", 0),
        "v3",
    );
    assert_eq!(r.status(), Some(505));

    let r = exchange(
        &sock,
        &to,
        &request(
            "INVITE sip:1002@pbx.example.com SIP/2.0",
            "smuggle",
            "Content Length: 5\r\n",
            "",
            0,
        ),
        "smuggle",
    );
    assert_eq!(r.status(), Some(400));
    assert!(reason(&r).contains("header name"), "{}", reason(&r));

    let mf0 = String::from_utf8(request(
        "INVITE sip:1002@pbx.example.com SIP/2.0",
        "mf0",
        "",
        "",
        0,
    ))
    .unwrap()
    .replacen("Max-Forwards: 70", "Max-Forwards: 0", 1);
    let r = exchange(&sock, &to, mf0.as_bytes(), "mf0");
    assert_eq!(r.status(), Some(483));

    // Garbage gets nothing: the next answer on this socket is to the OPTIONS
    // that follows it.
    sock.send_to(b"\x16\x03\x01\x02\x00\x01\x00 not SIP at all\r\n\r\n", &to)
        .unwrap();
    let options = format!(
        "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKping\r\nFrom: <sip:probe@example.com>;tag=p\r\nTo: <sip:{to}>\r\nCall-ID: ping\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(options.as_bytes(), &to).unwrap();
    let mut buf = [0u8; 65536];
    let (n, _) = sock.recv_from(&mut buf).expect("no answer to OPTIONS");
    let m = sip::parse(Bytes::copy_from_slice(&buf[..n])).unwrap();
    assert_eq!(
        (m.call_id(), m.status()),
        (&b"ping"[..], Some(200)),
        "garbage was answered"
    );
}

#[test]
fn oversized_message_on_tcp_gets_413_and_the_connection_closes() {
    let s = Scratch::new("refusals-tcp");
    let edge = Sipedge::start_with(&s, free_port(), "[sip]\nmax_message = 2000\n");
    let mut tcp = TcpStream::connect(edge.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let big = "x".repeat(3000);
    tcp.write_all(&request(
        "MESSAGE sip:1002@pbx.example.com SIP/2.0",
        "bigtcp",
        "",
        &big,
        big.len(),
    ))
    .unwrap();
    let mut got = Vec::new();
    // read_to_end returns when sipedge closes the connection.
    tcp.read_to_end(&mut got).unwrap();
    let m = sip::parse(Bytes::from(got)).expect("a 413 before the close");
    assert_eq!(m.status(), Some(413));
}

#[test]
fn a_stranger_on_the_core_listener_gets_403() {
    let s = Scratch::new("refusals-core");
    let core_port = free_port();
    let edge = Sipedge::start_with(
        &s,
        free_port(),
        &format!(
            "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:{core_port}\"\nside = \"core\"\n"
        ),
    );
    drop(edge.addr());
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = exchange(
        &sock,
        &format!("127.0.0.1:{core_port}"),
        &request(
            "INVITE sip:1001@pbx.example.com SIP/2.0",
            "stranger",
            "",
            "",
            0,
        ),
        "stranger",
    );
    assert_eq!(r.status(), Some(403));
    assert!(reason(&r).contains("not a configured PBX address"));
}

#[test]
fn an_unreachable_pbx_over_tcp_is_503() {
    let s = Scratch::new("refusals-pbx-down");
    // The PBX is reached over TCP and nothing listens there: connect refused.
    // (The text lands inside [pbx], right after its addrs line.)
    let edge = Sipedge::start_with(&s, free_port(), "transport = \"tcp\"\n");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(
        &request("INVITE sip:1002@pbx.example.com SIP/2.0", "down", "", "", 0),
        edge.addr(),
    )
    .unwrap();
    let mut buf = [0u8; 65536];
    let final_response = loop {
        // Bounded: each read waits at most 5 s.
        let (n, _) = sock
            .recv_from(&mut buf)
            .expect("no final response within 5 s");
        let m = sip::parse(Bytes::copy_from_slice(&buf[..n])).unwrap();
        if m.status().is_some_and(|c| c >= 200) {
            break m;
        }
    };
    assert_eq!(
        final_response.status(),
        Some(503),
        "{}",
        reason(&final_response)
    );
    assert!(reason(&final_response).contains("cannot be reached"));
}

/// A listener tracks at most `udp_max_flows` sources: at the cap a new
/// source is dropped (and counted) while the known ones keep working.
#[test]
fn the_udp_flow_table_is_bounded() {
    let s = Scratch::new("udp-cap");
    let edge = Sipedge::start_with(&s, free_port(), "[sip]\nudp_max_flows = 2\n");
    let to = edge.addr();
    let options = |id: &str| request(&format!("OPTIONS sip:{to} SIP/2.0"), id, "", "", 0);
    let socks: Vec<UdpSocket> = (0..3)
        .map(|_| {
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            u
        })
        .collect();
    for (i, u) in socks[..2].iter().enumerate() {
        let id = format!("cap{i}");
        assert_eq!(exchange(u, &to, &options(&id), &id).status(), Some(200));
    }
    // The third source: no answer.
    socks[2]
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    socks[2].send_to(&options("cap2"), &to).unwrap();
    let mut buf = [0u8; 2048];
    assert!(
        socks[2].recv_from(&mut buf).is_err(),
        "a third source was served"
    );
    // The first two still are.
    assert_eq!(
        exchange(&socks[0], &to, &options("cap0b"), "cap0b").status(),
        Some(200)
    );
    let (_, text) = super::daemon::http_get(edge.metrics_port, "/metrics");
    assert!(
        text.contains("sipedge_sip_parse_errors_total{kind=\"udp_flow_table_full\"} 1"),
        "{text}"
    );
}
