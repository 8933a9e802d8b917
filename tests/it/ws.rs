//! SIP over WebSocket and WSS through `sipedge run`: a Rust WebSocket
//! client plays the browser softphone, sipp plays the PBX.

use std::time::Duration;

use super::client::{
    TestCa, WsClient, register_and_answer, register_and_take_call, tls_connect, ws_handshake,
};
use super::daemon::{Scratch, Sipedge, Sipp, free_port};

/// A sipp PBX on a free port that accepts one REGISTER, calls the agent
/// back along the Path and hangs up.
pub fn pbx_registrar(s: &Scratch) -> (u16, Sipp) {
    pbx_with(s, "pbx_registrar_calls")
}

fn pbx_with(s: &Scratch, name: &str) -> (u16, Sipp) {
    let pbx_port = free_port();
    (pbx_port, Sipp::pbx(s, pbx_port, name, "1", &[]))
}

async fn pbx_done(pbx: Sipp) {
    tokio::task::spawn_blocking(move || pbx.succeeds(Duration::from_secs(30)))
        .await
        .unwrap();
}

/// The call ended by the PBX, as the file sink has it.
pub fn assert_contact_ended(edge: &Sipedge, device: &str) {
    let ended = edge.wait_events("interaction.ended", 1);
    let d = &ended[0]["data"];
    assert_eq!(
        (
            d["ended_by"].as_str(),
            d["end_reason"].as_str(),
            d["device"].as_str(),
            d["direction"].as_str()
        ),
        (Some("contact"), Some("bye"), Some(device), Some("inbound")),
        "{d:#}"
    );
    assert_eq!(d["agent"]["user_agent"], "JsSIP 3.10.1");
}

/// A plain WebSocket to 127.0.0.1:`port` offering `subprotocol`.
async fn plain(
    port: u16,
    subprotocol: Option<&str>,
) -> Result<WsClient<tokio::net::TcpStream>, tokio_tungstenite::tungstenite::Error> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    ws_handshake(tcp, &format!("ws://127.0.0.1:{port}/"), subprotocol).await
}

/// The `[[listen]]` table of a plain WebSocket listener.
fn ws_listen(port: u16) -> String {
    format!("[[listen]]\ntransport = \"ws\"\naddr = \"127.0.0.1:{port}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_over_websocket_registers_and_takes_a_call_from_the_pbx() {
    let s = Scratch::new("ws-inbound");
    let (pbx_port, pbx) = pbx_registrar(&s);
    let ws_port = free_port();
    let edge = Sipedge::start_with(&s, pbx_port, &ws_listen(ws_port));
    let mut ws = plain(ws_port, Some("sip")).await.unwrap();
    register_and_take_call(&mut ws, "WS", "ws").await;
    pbx_done(pbx).await;
    assert_contact_ended(&edge, "webrtc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_over_wss_registers_and_takes_a_call_from_the_pbx() {
    let s = Scratch::new("wss-inbound");
    let ca = TestCa::new(&s);
    let (pbx_port, pbx) = pbx_registrar(&s);
    let port = free_port();
    let edge = Sipedge::start_with(&s, pbx_port, &ca.listen("wss", port));
    let tls = tls_connect(port, &ca.ca)
        .await
        .expect("TLS handshake with the configured certificate");
    let mut ws = ws_handshake(tls, &format!("wss://localhost:{port}/"), Some("sip"))
        .await
        .unwrap();
    register_and_take_call(&mut ws, "WSS", "wss").await;
    pbx_done(pbx).await;
    assert_contact_ended(&edge, "webrtc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_without_the_sip_subprotocol_is_refused() {
    let s = Scratch::new("ws-refuse");
    let ws_port = free_port();
    let _edge = Sipedge::start_with(&s, free_port(), &ws_listen(ws_port));
    for offer in [None, Some("chat, superchat")] {
        match plain(ws_port, offer).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 400, "{offer:?}")
            }
            other => panic!(
                "expected HTTP 400 for {offer:?}, got {:?}",
                other.map(|_| "a WebSocket")
            ),
        }
    }
}

/// The browser tab closes mid-call: after the grace sipedge hangs up
/// toward the PBX and reports `transport_lost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_browser_tab_ends_the_call_after_the_grace() {
    let s = Scratch::new("ws-lost");
    let (pbx_port, pbx) = pbx_with(&s, "pbx_registrar_calls_wait_bye");
    let ws_port = free_port();
    let edge = Sipedge::start_with(
        &s,
        pbx_port,
        &(ws_listen(ws_port) + "[dialog]\ntransport_loss_grace = \"1s\"\n"),
    );
    let mut ws = plain(ws_port, Some("sip")).await.unwrap();
    register_and_answer(&mut ws, "WS", "ws").await;
    let closed = std::time::Instant::now();
    drop(ws);
    pbx_done(pbx).await;
    assert!(
        closed.elapsed() >= Duration::from_millis(900),
        "the BYE waited for the grace"
    );
    let ended = edge.wait_events("interaction.ended", 1);
    let d = &ended[0]["data"];
    assert_eq!(
        (
            d["ended_by"].as_str(),
            d["end_reason"].as_str(),
            d["timer"].as_str(),
            d["device"].as_str()
        ),
        (
            Some("system"),
            Some("transport_lost"),
            Some("transport_grace"),
            Some("webrtc")
        ),
        "{d:#}"
    );
}
