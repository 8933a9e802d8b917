//! A real browser softphone through `sipedge run`: Chromium (Debian
//! package) runs examples/softphone (JsSIP over WSS), driven by
//! playwright-core (examples/softphone/e2e.mjs); a sipp PBX registers it
//! through the Path and calls it with a WebRTC offer; events are asserted on
//! a real nats-server JetStream consumer and in `/metrics`. Screenshots of the
//! page in call and after the call go to target/test-output/browser/.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::client::TestCa;
use super::daemon::{Scratch, Sipedge, Sipp, free_port, need_bin};
use super::nats::{Nats, nats_config, stream_messages};

fn softphone_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/softphone")
}

/// Runs one browser call; `mode` is who hangs up (agent: the End call
/// button; contact: the PBX). Returns the interaction.ended data.
fn browser_call(name: &str, pbx_scenario: &str, mode: &str) -> serde_json::Value {
    browser_call_with(name, pbx_scenario, mode, "")
}

/// One Chromium at a time: on two cores, browsers started together starve
/// each other's WebRTC setup.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn browser_call_with(name: &str, pbx_scenario: &str, mode: &str, extra: &str) -> serde_json::Value {
    let _one = ONE_BROWSER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    need_bin("chromium", "--version", "chromium");
    let node = need_bin("node", "--version", "nodejs");
    let modules = softphone_dir().join("node_modules");
    assert!(
        modules.join("jssip").is_dir() && modules.join("playwright-core").is_dir(),
        "run scripts/test.sh (it runs npm ci in examples/softphone) or npm ci there"
    );
    let s = Scratch::new(name);
    let ca = TestCa::new(&s);
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, pbx_scenario, "1", &[]);
    let wss = free_port();
    let nats = Nats::start(&s, free_port());
    let edge = Sipedge::start_with(
        &s,
        pbx_port,
        &(ca.listen("wss", wss) + &nats_config(nats.port) + extra),
    );
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-output/browser")
        .join(name);
    std::fs::create_dir_all(&shots).unwrap();
    let page = format!(
        "file://{}/index.html?ws=wss://127.0.0.1:{wss}/&user=1001&domain=pbx.example.com",
        softphone_dir().display()
    );
    let mut child = Command::new(node)
        .arg(softphone_dir().join("e2e.mjs"))
        .args([&page, &shots.display().to_string(), mode])
        .stdout(std::fs::File::create(s.0.join("e2e.out")).unwrap())
        .stderr(std::fs::File::create(s.0.join("e2e.err")).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser run did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(s.0.join("e2e.out")).unwrap_or_default();
    let err = std::fs::read_to_string(s.0.join("e2e.err")).unwrap_or_default();
    assert!(status.success(), "browser: {out}\n{err}");
    let done = if mode == "close" { "CLOSED" } else { "ENDED" };
    assert!(
        out.contains("IN_CALL") && out.contains(done),
        "{out}\n{err}"
    );
    pbx.succeeds(Duration::from_secs(30));
    assert!(shots.join("in-call.png").is_file());
    if mode != "close" {
        assert!(shots.join("ended.png").is_file());
    }
    let ended = edge.wait_events("interaction.ended", 1);
    let d = ended[0]["data"].clone();
    // The same events on a JetStream consumer, once each, in order.
    edge.wait_events("wrap.started", 1);
    super::daemon::wait_for("the NATS cursor", Duration::from_secs(20), || {
        std::fs::read_to_string(s.0.join("data/outbox/cursor-nats")).is_ok_and(|c| c.trim() == "5")
    });
    let on_bus = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(stream_messages(&nats.url()));
    let kinds: Vec<&str> = on_bus
        .iter()
        .map(|(subject, _, _)| subject.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "sipedge.interaction.started",
            "sipedge.interaction.answered",
            "sipedge.interaction.ended",
            "sipedge.wrap.started"
        ]
    );
    assert_eq!(on_bus[2].2["data"], d, "the bus and the file agree");
    // And the counter that moves with it.
    let (_, metrics) = super::daemon::http_get(edge.metrics_port, "/metrics");
    let line = format!(
        "sipedge_interactions_ended_total{{ended_by=\"{}\",end_reason=\"{}\",channel=\"voice\",device=\"webrtc\"}} 1",
        d["ended_by"].as_str().unwrap(),
        d["end_reason"].as_str().unwrap()
    );
    assert!(metrics.contains(&line), "{line} not in:\n{metrics}");
    assert_eq!(d["device"], "webrtc", "{d:#}");
    assert_eq!(d["direction"], "inbound");
    assert_eq!(d["agent"]["user_agent"], "sipedge-softphone (JsSIP)");
    d
}

#[test]
fn browser_agent_clicks_end_call() {
    let d = browser_call("browser-agent", "pbx_webrtc_agent_ends", "agent");
    assert_eq!(
        (d["ended_by"].as_str(), d["end_reason"].as_str()),
        (Some("agent"), Some("bye")),
        "{d:#}"
    );
    let talk = d["durations"]["talk_ms"].as_u64().unwrap();
    assert!(talk >= 1_000, "talk_ms {talk}");
}

#[test]
fn browser_contact_hangs_up() {
    let d = browser_call("browser-contact", "pbx_webrtc_contact_ends", "contact");
    assert_eq!(
        (d["ended_by"].as_str(), d["end_reason"].as_str()),
        (Some("contact"), Some("bye")),
        "{d:#}"
    );
}

/// The agent closes the browser tab mid-call: after the grace sipedge
/// sends BYE to the PBX (the sipp scenario waits for it) and reports
/// `transport_lost`.
#[test]
fn browser_tab_closed_mid_call() {
    let d = browser_call_with(
        "browser-closed",
        "pbx_webrtc_agent_ends",
        "close",
        "[dialog]\ntransport_loss_grace = \"1s\"\n",
    );
    assert_eq!(
        (
            d["ended_by"].as_str(),
            d["end_reason"].as_str(),
            d["timer"].as_str()
        ),
        (
            Some("system"),
            Some("transport_lost"),
            Some("transport_grace")
        ),
        "{d:#}"
    );
}
