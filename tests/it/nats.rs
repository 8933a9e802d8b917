//! Events to a real nats-server (Debian package nats-server, JetStream on)
//! through `sipedge run`: published with `Nats-Msg-Id`, held in the outbox
//! while the broker is down (across a `kill -9` of sipedge) and delivered
//! in order when it comes up, de-duplicated by JetStream when replayed.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;

use super::daemon::{Scratch, Sipedge, Sipp, free_port, wait_for};

/// A nats-server with JetStream, stopped by its PID on drop.
pub struct Nats {
    child: Child,
    pub port: u16,
}

pub fn nats_bin() -> &'static str {
    super::daemon::need_bin("nats-server", "--version", "nats-server")
}

impl Nats {
    pub fn start(scratch: &Scratch, port: u16) -> Nats {
        let store: PathBuf = scratch.0.join("jetstream");
        let child = Command::new(nats_bin())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(scratch.0.join("nats.log")).unwrap())
            .spawn()
            .expect("start nats-server");
        wait_for("nats-server to listen", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Nats { child, port }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The config lines that send events to NATS (and the file).
pub fn nats_config(port: u16) -> String {
    format!(
        "[events]\nsinks = [\"nats\", \"file\"]\n[events.nats]\nurl = \"nats://127.0.0.1:{port}\"\n"
    )
}

/// Every message in the SIPEDGE stream: (subject, Nats-Msg-Id, event).
pub async fn stream_messages(url: &str) -> Vec<(String, String, serde_json::Value)> {
    use async_nats::jetstream::consumer;
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("SIPEDGE").await.unwrap();
    let n = stream.info().await.unwrap().state.messages as usize;
    let c = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut msgs = c
        .fetch()
        .max_messages(n.max(1))
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    while let Some(m) = msgs.next().await {
        let m = m.unwrap();
        let id = m
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.to_string())
            .unwrap_or_default();
        out.push((
            m.subject.to_string(),
            id,
            serde_json::from_slice(&m.payload).unwrap(),
        ));
    }
    out
}

fn one_call(s: &Scratch, edge: &Sipedge) {
    Sipp::agent(s, &edge.addr(), "uac", "1", &[]).succeeds(Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_for_a_late_broker_then_arrive_in_order_once() {
    let s = Scratch::new("nats-late");
    let nats_port = free_port();
    let pbx_port = free_port();
    let _pbx = Sipp::pbx(&s, pbx_port, "uas", "2", &[]);
    let edge = Sipedge::start_with(&s, pbx_port, &nats_config(nats_port));
    tokio::task::block_in_place(|| one_call(&s, &edge));
    // The file sink has them; NATS is down, so they wait in the outbox.
    let in_file = tokio::task::block_in_place(|| edge.wait_events("wrap.started", 1));
    let written = std::time::Instant::now();
    assert_eq!(in_file.len(), 1);
    let ids: Vec<String> = edge
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4, "started, answered, ended, wrap.started");
    let cursor = s.0.join("data/outbox/cursor-nats");
    assert!(
        !cursor.exists(),
        "nothing acknowledged by a broker that is down"
    );
    let metric = |text: &str, name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}{{sink=\"nats\"}} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
    };
    let text = tokio::task::block_in_place(|| {
        let mut text = String::new();
        wait_for("the sink to report down", Duration::from_secs(10), || {
            text = super::daemon::http_get(edge.metrics_port, "/metrics").1;
            metric(&text, "sipedge_sink_up") == 0.0
        });
        text
    });
    assert_eq!(metric(&text, "sipedge_outbox_backlog_events"), 4.0);
    assert!(metric(&text, "sipedge_outbox_oldest_undelivered_seconds") > 0.0);
    assert!(metric(&text, "sipedge_events_publish_errors_total") >= 1.0);

    // sipedge is killed (SIGKILL) while they wait; the broker comes up;
    // sipedge starts again: the events flow out of the recovered outbox,
    // in order, each once.
    drop(edge);
    let nats = Nats::start(&s, nats_port);
    let waited = written.elapsed();
    let edge = Sipedge::start_with(&s, pbx_port, &nats_config(nats_port));
    tokio::task::block_in_place(|| {
        wait_for(
            "the NATS cursor to pass the events",
            Duration::from_secs(45),
            || std::fs::read_to_string(&cursor).is_ok_and(|c| c.trim() == "5"),
        )
    });
    // The delivery latency histogram counts each of them once, with at
    // least the time they waited for the broker.
    let text = super::daemon::http_get(edge.metrics_port, "/metrics").1;
    assert_eq!(metric(&text, "sipedge_event_delivery_seconds_count"), 4.0);
    let sum = metric(&text, "sipedge_event_delivery_seconds_sum");
    assert!(
        sum >= 4.0 * waited.as_secs_f64(),
        "delivery latency sum {sum} s < 4 × the {waited:?} the events waited"
    );
    assert!(metric(&text, "sipedge_sink_publish_seconds_count") >= 1.0);
    let got = stream_messages(&nats.url()).await;
    let got_ids: Vec<&str> = got.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(got_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let subjects: Vec<&str> = got.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "sipedge.interaction.started",
            "sipedge.interaction.answered",
            "sipedge.interaction.ended",
            "sipedge.wrap.started"
        ]
    );
    for (_, id, e) in &got {
        assert_eq!(
            e["id"].as_str(),
            Some(id.as_str()),
            "Nats-Msg-Id is the event id"
        );
    }
    assert_eq!(got[2].2["data"]["ended_by"], "agent");

    // A replay (the cursor lost, as after a crash before it was written)
    // publishes the same ids again: JetStream keeps one of each.
    drop(edge);
    std::fs::remove_file(&cursor).unwrap();
    let edge = Sipedge::start_with(&s, pbx_port, &nats_config(nats_port));
    tokio::task::block_in_place(|| {
        wait_for("the replay", Duration::from_secs(20), || {
            std::fs::read_to_string(&cursor).is_ok_and(|c| c.trim() == "5")
        })
    });
    let again = stream_messages(&nats.url()).await;
    assert_eq!(again.len(), 4, "duplicates were dropped by Nats-Msg-Id");
    drop(edge);
}

/// A config for the event pipeline alone (no SIP traffic): data under the
/// scratch dir, events to NATS only.
fn pipeline_config(s: &Scratch, nats_port: u16) -> sipedge::config::Config {
    let text = format!(
        "[node]\ndata_dir = \"{}\"\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[pbx]\naddrs = [\"127.0.0.1:5080\"]\n[events]\nsinks = [\"nats\"]\n[events.nats]\nurl = \"nats://127.0.0.1:{nats_port}\"\nack_timeout = \"2s\"\n",
        s.0.join("data").display()
    );
    sipedge::config::Config::from_toml(&text).unwrap()
}

/// Event `n` of interaction `n % 100`.
fn synthetic(n: u64) -> sipedge::event::Event {
    use sipedge::event::{Event, EventType};
    Event {
        id: format!("ev-{n:06}"),
        kind: EventType::InteractionEnded,
        source: "sipedge://test".into(),
        subject: format!("interaction-{}", n % 100),
        time_ms: 1_795_428_000_000 + n as i64,
        data: serde_json::json!({ "n": n }),
    }
}

fn cursor_at(s: &Scratch, want: u64) -> bool {
    std::fs::read_to_string(s.0.join("data/outbox/cursor-nats"))
        .is_ok_and(|c| c.trim().parse::<u64>().is_ok_and(|c| c >= want))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_arrive_exactly_once_in_order() {
    let s = Scratch::new("nats-10k");
    let nats = Nats::start(&s, free_port());
    let (tx, _stats) = sipedge::sink::start(&pipeline_config(&s, nats.port)).unwrap();
    for n in 0..10_000 {
        tx.send(synthetic(n));
        if n % 1000 == 999 {
            // Let the writer drain: the channel holds 65,536, no need, but
            // this also spreads the commits over several batches.
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(tx.lost(), 0);
    tokio::task::block_in_place(|| {
        wait_for("10,000 acknowledged", Duration::from_secs(60), || {
            cursor_at(&s, 10_001)
        })
    });
    let got = stream_messages(&nats.url()).await;
    let ids: Vec<&str> = got.iter().map(|(_, id, _)| id.as_str()).collect();
    let want: Vec<String> = (0..10_000).map(|n| format!("ev-{n:06}")).collect();
    assert_eq!(ids, want.iter().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_mid_stream_loses_nothing_and_duplicates_nothing() {
    let s = Scratch::new("nats-outage");
    let port = free_port();
    let nats = Nats::start(&s, port);
    let (tx, _stats) = sipedge::sink::start(&pipeline_config(&s, port)).unwrap();
    for n in 0..2_000 {
        tx.send(synthetic(n));
    }
    tokio::task::block_in_place(|| {
        wait_for(
            "the first half acknowledged",
            Duration::from_secs(30),
            || cursor_at(&s, 2_001),
        )
    });
    // The broker goes away (SIGKILL) while events keep coming.
    drop(nats);
    for n in 2_000..4_000 {
        tx.send(synthetic(n));
    }
    // Down for 30 s, as an operator restarting a broker might be.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        !cursor_at(&s, 2_002),
        "nothing acknowledged while the broker is down"
    );
    // It comes back on the same port and store.
    let nats = Nats::start(&s, port);
    tokio::task::block_in_place(|| {
        wait_for("every event acknowledged", Duration::from_secs(90), || {
            cursor_at(&s, 4_001)
        })
    });
    let got = stream_messages(&nats.url()).await;
    let ids: Vec<&str> = got.iter().map(|(_, id, _)| id.as_str()).collect();
    let want: Vec<String> = (0..4_000).map(|n| format!("ev-{n:06}")).collect();
    assert_eq!(ids.len(), 4_000, "none lost, none twice");
    assert_eq!(ids, want.iter().map(String::as_str).collect::<Vec<_>>());
}
