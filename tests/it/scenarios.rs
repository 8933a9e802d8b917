//! The rest of "what happens to one call", each through `sipedge run` with
//! real peers and each checked on a real nats-server's JetStream stream
//! (`Sipedge::on_bus` / `bus_agrees`): a BYE forged from a stranger, the
//! desktop's end-call button, wrap completed from the CLI, wrap timing
//! out, and an enforced wrap refusing the next call with 486.

use std::net::UdpSocket;
use std::time::Duration;

use serde_json::Value;
use sipedge::sip::{self, HeaderName, Method};

use super::client::{SipClient, StreamClient, expect_request, register_and_answer, response};
use super::daemon::{Scratch, Sipedge, Sipp, free_port, http_get, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

fn json(out: &(i32, String, String)) -> Value {
    assert_eq!(out.0, 0, "{out:?}");
    serde_json::from_str(&out.1).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// The value of an unlabelled metric line.
fn metric(edge: &Sipedge, name: &str) -> f64 {
    let text = http_get(edge.metrics_port, "/metrics").1;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The PBX (sipp) calls the registered agent (a Rust UA over TCP); while
/// they talk, a stranger on another port sends a BYE with the dialog's
/// exact Call-ID and tags: 403, nothing reaches the agent, the call goes
/// on. Then the desktop's end-call button (`sipedge end ID`) ends it: BYE
/// to both sides, `end_reason=admin`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_bye_gets_403_and_the_call_goes_on_until_the_desktop_ends_it() {
    let s = Scratch::new("forged-bye");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "pbx_registrar_calls_wait_bye", "1", &[]);
    let edge = Sipedge::on_bus(&s, pbx_port, "");
    let tcp = tokio::net::TcpStream::connect(edge.addr()).await.unwrap();
    let mut agent = StreamClient::new(tcp);
    let invite = register_and_answer(&mut agent, "TCP", "tcp").await;

    // The forger knows everything about the dialog but is not the PBX.
    let forger = UdpSocket::bind("127.0.0.1:0").unwrap();
    forger
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let from = text(invite.get(HeaderName::From).unwrap());
    let to = text(invite.get(HeaderName::To).unwrap());
    let bye = format!(
        "BYE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKforged1;rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to};tag=agent\r\nCall-ID: {}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        forger.local_addr().unwrap(),
        text(invite.call_id())
    );
    forger.send_to(bye.as_bytes(), edge.addr()).unwrap();
    let mut buf = vec![0u8; 65_535];
    let n = forger.recv(&mut buf).expect("an answer to the forged BYE");
    let answer = sip::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
    assert_eq!(
        (answer.status(), answer.cseq().method()),
        (Some(403), Method::Bye),
        "{answer:?}"
    );

    let calls = tokio::task::block_in_place(|| {
        assert_eq!(metric(&edge, "sipedge_forged_requests_refused_total"), 1.0);
        assert!(
            edge.events()
                .iter()
                .all(|e| e["type"] != "sipedge.interaction.ended")
        );
        json(&edge.cli(&["calls", "--json"]))
    });
    assert_eq!(calls[0]["state"], "talking", "the call goes on: {calls:#}");
    let id = calls[0]["interaction_id"].as_str().unwrap().to_string();

    // The end-call button: both sides get a BYE from sipedge.
    let ended = tokio::task::spawn_blocking({
        let config = edge.config();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_sipedge"))
                .args(["end", &id, "--config"])
                .arg(config)
                .output()
                .unwrap()
        }
    });
    let bye = expect_request(&mut agent, Method::Bye).await;
    assert_eq!(
        bye.call_id(),
        invite.call_id(),
        "the first request the agent saw since the ACK"
    );
    agent.send(response(&bye, 200, &[])).await;
    let out = ended.await.unwrap();
    assert!(out.status.success(), "{out:?}");
    tokio::task::block_in_place(|| {
        pbx.succeeds(LIMIT);
        let ended = edge.wait_events("interaction.ended", 1);
        let d = &ended[0]["data"];
        assert_eq!(
            (
                d["ended_by"].as_str(),
                d["end_reason"].as_str(),
                d["device"].as_str(),
                d["direction"].as_str()
            ),
            (
                Some("agent"),
                Some("admin"),
                Some("hardphone"),
                Some("inbound")
            ),
            "{d:#}"
        );
        edge.wait_events("wrap.started", 1);
        let bus = edge.bus_agrees();
        let kinds: Vec<&str> = bus.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "sipedge.interaction.started",
                "sipedge.interaction.answered",
                "sipedge.interaction.ended",
                "sipedge.wrap.started"
            ]
        );
    });
}

/// `[wrap] enforce = true`: after the PBX's call ends, the agent is in
/// wrap; the PBX's next INVITE to the agent is answered by sipedge with
/// 486 and a Retry-After (sipp checks both) and creates no interaction.
/// `sipedge wrap complete` then ends the wrap: `reason=completed`.
#[test]
fn an_enforced_wrap_refuses_the_next_call_with_486_until_completed() {
    let s = Scratch::new("wrap-enforced");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "pbx_registrar_calls_during_wrap", "1", &[]);
    let edge = Sipedge::on_bus(&s, pbx_port, "[wrap]\nseconds = 60\nenforce = true\n");
    let agent = Sipp::agent(&s, &edge.addr(), "agent_register_answer", "1", &[]);
    agent.succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    let ended = edge.wait_events("interaction.ended", 1);
    assert_eq!(ended[0]["data"]["ended_by"], "contact");
    assert_eq!(metric(&edge, "sipedge_wrap_refused_invites_total"), 1.0);
    assert_eq!(metric(&edge, "sipedge_agents_in_wrap"), 1.0);
    let started: Vec<Value> = edge
        .events()
        .into_iter()
        .filter(|e| e["type"] == "sipedge.interaction.started")
        .collect();
    assert_eq!(started.len(), 1, "the refused INVITE made no interaction");

    let agents = json(&edge.cli(&["agents", "--json"]));
    let me = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["wrap"].is_object())
        .unwrap_or_else(|| panic!("an agent in wrap: {agents:#}"));
    let who = me["agent"].as_str().unwrap().to_string();
    assert_eq!(edge.cli(&["wrap", "complete", &who]).0, 0);
    let wrap = edge.wait_events("wrap.ended", 1);
    assert_eq!(wrap[0]["data"]["reason"], "completed");
    assert_eq!(wrap[0]["subject"], ended[0]["subject"]);
    assert_eq!(metric(&edge, "sipedge_agents_in_wrap"), 0.0);
    let bus = edge.bus_agrees();
    assert_eq!(
        bus.len(),
        5,
        "started, answered, ended, wrap.started, wrap.ended"
    );
}

/// Wrap of one second: `wrap.ended reason=timeout` about a second after
/// `wrap.started`, with nobody completing it.
#[test]
fn a_wrap_nobody_completes_times_out() {
    let s = Scratch::new("wrap-timeout");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "uas", "1", &[]);
    let edge = Sipedge::on_bus(&s, pbx_port, "[wrap]\nseconds = 1\n");
    Sipp::agent(&s, &edge.addr(), "uac", "1", &["-d", "200"]).succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    let wrap = edge.wait_events("wrap.ended", 1);
    let d = &wrap[0]["data"];
    assert_eq!(d["reason"], "timeout", "{d:#}");
    let acw = d["acw_ms"].as_u64().unwrap();
    assert!((1_000..=1_100).contains(&acw), "acw_ms {acw}");
    wait_for("the wrap gauge to drop", LIMIT, || {
        metric(&edge, "sipedge_agents_in_wrap") == 0.0
    });
    let bus = edge.bus_agrees();
    assert_eq!(
        bus.len(),
        5,
        "started, answered, ended, wrap.started, wrap.ended"
    );
}

/// The end-call button on a call that only rings: 409 (nothing to hang
/// up yet; the caller cancels a ringing call); the call goes on, and the
/// agent's CANCEL then ends it as usual.
#[test]
fn ending_a_call_that_only_rings_is_409() {
    let s = Scratch::new("end-ringing");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "uas_ring_until_cancel", "1", &[]);
    let edge = Sipedge::on_bus(&s, pbx_port, "");
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    phone
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let me = phone.local_addr().unwrap();
    let request = |method: &str| {
        format!(
            "{method} sip:1002@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKring1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@pbx.example.com>;tag=r1\r\nTo: <sip:1002@pbx.example.com>\r\nCall-ID: ringing-1\r\nCSeq: 1 {method}\r\nContact: <sip:1001@{me}>\r\nContent-Length: 0\r\n\r\n"
        )
    };
    phone
        .send_to(request("INVITE").as_bytes(), edge.addr())
        .unwrap();
    let mut calls = Value::Null;
    wait_for("the call to be ringing", LIMIT, || {
        calls = json(&edge.cli(&["calls", "--json"]));
        calls[0]["state"] == "ringing"
    });
    let id = calls[0]["interaction_id"].as_str().unwrap().to_string();
    let (code, _, err) = edge.cli(&["end", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("409"), "{err}");
    assert_eq!(json(&edge.cli(&["calls", "--json"]))[0]["state"], "ringing");

    phone
        .send_to(request("CANCEL").as_bytes(), edge.addr())
        .unwrap();
    // 200 for the CANCEL, then the PBX's 487, which the phone ACKs.
    let mut buf = vec![0u8; 65_535];
    let terminated = loop {
        let n = phone.recv(&mut buf).expect("the 487");
        let m = sip::parse(bytes::Bytes::copy_from_slice(&buf[..n]))
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&buf[..n])));
        if m.status() == Some(487) {
            break m;
        }
    };
    let to = text(terminated.get(HeaderName::To).unwrap());
    let ack = request("ACK").replace("To: <sip:1002@pbx.example.com>", &format!("To: {to}"));
    phone.send_to(ack.as_bytes(), edge.addr()).unwrap();
    pbx.succeeds(LIMIT);
    let ended = edge.wait_events("interaction.ended", 1);
    let d = &ended[0]["data"];
    assert_eq!(
        (d["ended_by"].as_str(), d["end_reason"].as_str()),
        (Some("agent"), Some("cancel")),
        "{d:#}"
    );
    edge.wait_events("wrap.started", 1);
    edge.bus_agrees();
}
