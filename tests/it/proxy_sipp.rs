//! Calls through `sipedge run` with real sipp phones and a sipp PBX, over
//! UDP and TCP: both hang-up directions, CANCEL, 486, lost packets — and the
//! events each one leaves in the file sink and on a real nats-server's
//! JetStream stream, with the counters that move with them.

use std::time::Duration;

use serde_json::Value;

use super::daemon::{Scratch, Sipedge, Sipp, free_port};

/// The one `interaction.ended` of a test's call, after its `wrap.started`.
fn the_end(edge: &Sipedge) -> Value {
    let ended = edge.wait_events("interaction.ended", 1);
    assert_eq!(ended.len(), 1, "{ended:#?}");
    let wrap = edge.wait_events("wrap.started", 1);
    assert_eq!(wrap[0]["subject"], ended[0]["subject"]);
    ended[0]["data"].clone()
}

fn assert_end(d: &Value, by: &str, reason: &str, device: &str) {
    assert_eq!(
        (
            d["ended_by"].as_str(),
            d["end_reason"].as_str(),
            d["device"].as_str()
        ),
        (Some(by), Some(reason), Some(device)),
        "{d:#}"
    );
}

const LIMIT: Duration = Duration::from_secs(30);

/// The PBX answering with sipp's built-in UAS (180, 200, waits for BYE).
fn pbx_uas(s: &Scratch, port: u16, calls: &str, extra: &[&str]) -> Sipp {
    Sipp::pbx(s, port, "uas", calls, extra)
}

fn outbound_call(transport: &str) {
    let s = Scratch::new(&format!("outbound-{transport}"));
    let pbx_port = free_port();
    let pbx = pbx_uas(&s, pbx_port, "1", &[]);
    let edge = Sipedge::on_bus(&s, pbx_port, "");
    Sipp::agent(
        &s,
        &edge.addr(),
        "uac",
        "1",
        &["-t", transport, "-d", "1000"],
    )
    .succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    let d = the_end(&edge);
    assert_end(&d, "agent", "bye", "hardphone");
    assert_eq!(d["direction"], "outbound");
    assert_eq!(d["agent"]["id"], "sipp", "the From user sipp sends");
    // sipp pauses 1 s between ACK and BYE; the edge sees the same gap.
    let talk = d["durations"]["talk_ms"].as_u64().unwrap();
    assert!((950..=1_050).contains(&talk), "talk_ms {talk}");
    let bus = edge.bus_agrees();
    assert_eq!(bus.len(), 4, "started, answered, ended, wrap.started");

    // The CLI reads the same events from the outbox.
    let config = s.0.join("sipedge.toml");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipedge"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let tail = cli(&["events", "tail", "--type", "interaction.ended"]);
    let lines: Vec<Value> = tail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{tail}");
    assert_eq!(lines[0]["data"], d);
    assert_eq!(cli(&["events", "tail", "-n", "2"]).lines().count(), 2);
    // The file sink persists its cursor right after writing the lines.
    let cursor = s.0.join("data/outbox/cursor-file");
    super::daemon::wait_for("the file cursor", LIMIT, || {
        std::fs::read_to_string(&cursor).is_ok_and(|c| c.trim() == "5")
    });
    let status: Value = serde_json::from_str(&cli(&["outbox", "status", "--json"])).unwrap();
    assert_eq!(status["next_seq"], 5);
    for sink in status["sinks"].as_array().unwrap() {
        assert_eq!(sink["backlog_events"], 0, "{sink}");
    }
    let sinks: Vec<&str> = status["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["sink"].as_str())
        .collect();
    assert_eq!(sinks, ["nats", "file"]);
}

#[test]
fn agent_calls_out_and_hangs_up_over_udp() {
    outbound_call("u1");
}

#[test]
fn agent_calls_out_and_hangs_up_over_tcp() {
    outbound_call("t1");
}

fn inbound_call(transport: &str) {
    let d = inbound(transport, "pbx_registrar_calls");
    assert_eq!(d["channel"], "voice");
}

/// The PBX offers the registered agent a chat (MSRP) and the contact
/// closes it.
#[test]
fn a_chat_offered_by_the_pbx_and_closed_by_the_contact() {
    let d = inbound("u1", "pbx_registrar_chat");
    assert_eq!(d["channel"], "chat", "{d:#}");
}

/// The agent registers, the PBX calls it back with `pbx_scenario` and
/// hangs up; returns the interaction.ended data.
fn inbound(transport: &str, pbx_scenario: &str) -> Value {
    let s = Scratch::new(&format!("inbound-{transport}-{pbx_scenario}"));
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, pbx_scenario, "1", &[]);
    let edge = Sipedge::on_bus(&s, pbx_port, "");
    let agent = Sipp::agent(
        &s,
        &edge.addr(),
        "agent_register_answer",
        "1",
        &["-t", transport],
    );
    agent.succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    let d = the_end(&edge);
    assert_end(&d, "contact", "bye", "hardphone");
    assert_eq!(d["direction"], "inbound");
    assert_eq!(d["end_side"], "caller");
    edge.bus_agrees();
    d
}

/// The agent's phone rings 5 s, past Timer B (3.2 s with T1 = 50 ms),
/// then answers: the call connects (Timer B stops at the first 18x; only
/// Timer C limits ringing), ring_ms ≈ 5 s.
#[test]
fn an_agent_that_rings_past_timer_b_still_connects() {
    let s = Scratch::new("long-ring");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "pbx_registrar_calls", "1", &[]);
    let edge = Sipedge::start_with(&s, pbx_port, "[sip]\nt1 = \"50ms\"\nt2 = \"400ms\"\n");
    Sipp::agent(&s, &edge.addr(), "agent_register_answer_late", "1", &[]).succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    let d = the_end(&edge);
    assert_end(&d, "contact", "bye", "hardphone");
    let ring = d["durations"]["ring_ms"].as_u64().unwrap();
    assert!((4_900..=5_500).contains(&ring), "ring_ms {ring}");
}

/// The agent registers through sipedge (Path), the PBX calls it back along
/// the Path and hangs up: requests from the PBX reach the agent's own flow.
#[test]
fn pbx_calls_the_registered_agent_and_hangs_up_over_udp() {
    inbound_call("u1");
}

#[test]
fn pbx_calls_the_registered_agent_and_hangs_up_over_tcp() {
    inbound_call("t1");
}

fn pair(name: &str, pbx_scenario: &str, agent_scenario: &str) -> Value {
    let s = Scratch::new(name);
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, pbx_scenario, "1", &[]);
    let edge = Sipedge::on_bus(&s, pbx_port, "");
    Sipp::agent(&s, &edge.addr(), agent_scenario, "1", &[]).succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    let d = the_end(&edge);
    edge.bus_agrees();
    d
}

/// CANCEL before answer: 200 to the CANCEL, CANCEL hop by hop to the PBX,
/// its 487 back to the agent, ACKs on both hops.
#[test]
fn agent_cancels_before_answer() {
    let d = pair("cancel", "uas_ring_until_cancel", "uac_cancel");
    assert_end(&d, "agent", "cancel", "hardphone");
    assert_eq!(d["durations"]["talk_ms"], 0);
}

#[test]
fn callee_busy_486() {
    let d = pair("busy", "uas_busy", "uac_expect_486");
    assert_end(&d, "contact", "rejected", "hardphone");
    assert_eq!(d["sip"]["final_code"], 486);
}

/// Five percent of sipp's packets are dropped on both ends: transactions
/// retransmit and absorb until every call completes.
#[test]
fn lost_packets_are_recovered_by_retransmission() {
    let s = Scratch::new("lost");
    let pbx_port = free_port();
    // Under simulated loss sipp's UAS can wait on a retransmission of its
    // own; it gives up at 25 s, inside the 30 s bound.
    let pbx = pbx_uas(&s, pbx_port, "10", &["-lost", "5", "-timeout", "25s"]);
    let edge = Sipedge::start(&s, pbx_port);
    Sipp::agent(&s, &edge.addr(), "uac", "10", &["-r", "20", "-lost", "5"]).succeeds(LIMIT);
    pbx.succeeds(LIMIT);
}

/// An agent on IPv6 calls a PBX on IPv4 through the edge (double
/// Record-Route: the two sides use different addresses), and hangs up.
#[test]
fn ipv6_agent_to_ipv4_pbx() {
    let s = Scratch::new("ipv6");
    let pbx_port = free_port();
    let p = pbx_port.to_string();
    let pbx = Sipp::spawn(
        &s,
        "pbx",
        &[
            "-sf",
            &format!("{}/benches/load/uas_rr.xml", env!("CARGO_MANIFEST_DIR")),
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
    let v6 = free_port_v6();
    let _edge = Sipedge::start_with(
        &s,
        pbx_port,
        &format!("[[listen]]\ntransport = \"udp\"\naddr = \"[::1]:{v6}\"\n"),
    );
    let agent_port = free_port_v6().to_string();
    Sipp::spawn(
        &s,
        "agent",
        &[
            "-sf",
            &format!("{}/benches/load/uac_rr.xml", env!("CARGO_MANIFEST_DIR")),
            &format!("[::1]:{v6}"),
            "-s",
            "1002",
            "-i",
            "::1",
            "-p",
            &agent_port,
            "-m",
            "1",
            "-timeout",
            "25s",
        ],
    )
    .succeeds(LIMIT);
    pbx.succeeds(LIMIT);
}

fn free_port_v6() -> u16 {
    let s = std::net::UdpSocket::bind("[::1]:0").expect("IPv6 loopback");
    s.local_addr().unwrap().port()
}
