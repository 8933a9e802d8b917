//! SIP over WebSocket through `sipedge run`: a Rust WebSocket client plays
//! the browser softphone, sipp plays the PBX.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sipedge::sip::{self, HeaderName, Method, build};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Message as Frame, Utf8Bytes};

use super::daemon::{Scratch, Sipedge, Sipp, free_port, scenario};

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(
    port: u16,
    subprotocol: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut req = format!("ws://127.0.0.1:{port}/")
        .into_client_request()
        .unwrap();
    if let Some(p) = subprotocol {
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
    }
    let (ws, resp) = tokio_tungstenite::client_async(req, tcp).await?;
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("sip"),
        "RFC 7118: the answer names sip"
    );
    Ok(ws)
}

async fn send(ws: &mut Ws, text: String) {
    ws.send(Frame::Text(Utf8Bytes::from(text))).await.unwrap();
}

/// The next SIP message from the WebSocket (bounded: 10 s).
async fn next(ws: &mut Ws) -> sip::Message {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no SIP message in 10 s")
            .expect("closed")
            .unwrap();
        if let Frame::Text(t) = frame {
            return sip::parse(Bytes::from(t)).expect("sipedge sent a message that does not parse");
        }
    }
}

async fn expect_request(ws: &mut Ws, method: Method) -> sip::Message {
    loop {
        let m = next(ws).await;
        if m.method() == Some(method) {
            return m;
        }
        assert!(
            m.method().is_none(),
            "unexpected request {:?} while waiting for {method:?}",
            m.method()
        );
    }
}

fn response(req: &sip::Message, code: u16, extra: &[(&str, &str)]) -> String {
    String::from_utf8(build::response(
        req,
        code,
        &build::ResponseOpts {
            to_tag: Some("wsagent"),
            headers: extra,
            ..Default::default()
        },
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_over_websocket_registers_and_takes_a_call_from_the_pbx() {
    let s = Scratch::new("ws-inbound");
    let pbx_port = free_port();
    let ws_port = free_port();
    let p = pbx_port.to_string();
    let pbx = Sipp::spawn(
        &s,
        "pbx",
        &[
            "-sf",
            &scenario("pbx_registrar_calls"),
            "-i",
            "127.0.0.1",
            "-p",
            &p,
            "-m",
            "1",
            "-timeout",
            "25s",
        ],
    );
    let _edge = Sipedge::start_with(
        &s,
        pbx_port,
        &format!("[[listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:{ws_port}\"\n"),
    );
    let mut ws = connect(ws_port, Some("sip")).await.unwrap();

    let contact = "<sip:1001@df7jal23ls0d.invalid;transport=ws>";
    send(&mut ws, format!(
        "REGISTER sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKwsreg1\r\nMax-Forwards: 69\r\nFrom: <sip:1001@pbx.example.com>;tag=wsr\r\nTo: <sip:1001@pbx.example.com>\r\nCall-ID: ws-reg-1\r\nCSeq: 1 REGISTER\r\nContact: {contact};+sip.instance=\"<urn:uuid:0000-ws>\";reg-id=1\r\nExpires: 300\r\nUser-Agent: JsSIP 3.10.1\r\nSupported: path, outbound\r\nContent-Length: 0\r\n\r\n"
    )).await;
    let ok = next(&mut ws).await;
    assert_eq!(
        (ok.status(), ok.cseq().method()),
        (Some(200), Method::Register)
    );

    // The PBX calls back along the Path: the INVITE arrives on this socket.
    let invite = expect_request(&mut ws, Method::Invite).await;
    let rr: Vec<String> = invite
        .get_all(HeaderName::RecordRoute)
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .collect();
    assert_eq!(rr.len(), 2, "WS and UDP sides differ: double Record-Route");
    assert!(
        rr[0].contains("transport=ws"),
        "the entry facing the browser is on top: {rr:?}"
    );
    send(&mut ws, response(&invite, 180, &[])).await;
    let mut extra: Vec<(&str, &str)> = rr.iter().map(|r| ("Record-Route", r.as_str())).collect();
    extra.push(("Contact", contact));
    send(&mut ws, response(&invite, 200, &extra)).await;
    let ack = expect_request(&mut ws, Method::Ack).await;
    assert_eq!(
        ack.get(HeaderName::Route),
        None,
        "sipedge popped its own Route entries"
    );
    let bye = expect_request(&mut ws, Method::Bye).await;
    send(&mut ws, response(&bye, 200, &[])).await;
    tokio::task::spawn_blocking(move || pbx.succeeds(Duration::from_secs(30)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_without_the_sip_subprotocol_is_refused() {
    let s = Scratch::new("ws-refuse");
    let ws_port = free_port();
    let _edge = Sipedge::start_with(
        &s,
        free_port(),
        &format!("[[listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:{ws_port}\"\n"),
    );
    match connect(ws_port, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 400),
        other => panic!("expected HTTP 400, got {:?}", other.map(|_| "a WebSocket")),
    }
    match connect(ws_port, Some("chat, superchat")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 400),
        other => panic!("expected HTTP 400, got {:?}", other.map(|_| "a WebSocket")),
    }
}
