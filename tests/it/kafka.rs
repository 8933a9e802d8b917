//! Events to a real Kafka-protocol broker through `sipedge run` (built with
//! `--features kafka`): tansu (the `tansu` crate's broker, in-memory
//! storage, installed by `scripts/test.sh --kafka`), read back with an
//! rdkafka consumer. Key = interaction id, `ce_id` header = event id, the
//! same events as the file sink, in order; events wait in the outbox while
//! the broker is down and arrive once it is back.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;

use super::daemon::{Scratch, Sipedge, Sipp, free_port, http_get, wait_for};

const TOPIC: &str = "sipedge.events";

/// `SIPEDGE_TANSU`, else `tansu` on the PATH.
fn tansu_bin() -> String {
    let bin = std::env::var("SIPEDGE_TANSU").unwrap_or_else(|_| "tansu".into());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{bin} is not installed: `scripts/test.sh --kafka` installs it (cargo install tansu --features dynostore), or set SIPEDGE_TANSU"
    );
    bin
}

/// A tansu broker on `port` with in-memory storage, stopped by PID on drop.
struct Tansu {
    child: Child,
    port: u16,
}

impl Tansu {
    fn start(s: &Scratch, port: u16) -> Tansu {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(s.0.join(format!("tansu-{port}.log"))).unwrap())
            .spawn()
            .expect("start tansu");
        wait_for("tansu to listen", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let out = Command::new(tansu_bin())
            .args([
                "topic",
                "create",
                "--broker",
                &url,
                "--partitions",
                "1",
                TOPIC,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "tansu topic create: {out:?}");
        Tansu { child, port }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (key, ce_id header, event) of every message on the topic, waiting
/// (bounded) until there are `n`.
fn consume(port: u16, n: usize) -> Vec<(String, String, Value)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("group.id", "sipedge-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < n && Instant::now() < deadline {
        let Some(m) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let Ok(m) = m else { continue };
        let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        let id = m
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|h| h.key == "ce_id")
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            })
            .unwrap_or_default();
        got.push((
            key,
            id,
            serde_json::from_slice(m.payload().unwrap()).unwrap(),
        ));
    }
    got
}

fn kafka_config(port: u16) -> String {
    format!(
        "[events]\nsinks = [\"kafka\", \"file\"]\n[events.kafka]\nbrokers = \"127.0.0.1:{port}\"\nmessage_timeout = \"3s\"\n"
    )
}

fn metric(edge: &Sipedge, line: &str) -> Option<f64> {
    http_get(edge.metrics_port, "/metrics")
        .1
        .lines()
        .find_map(|l| l.strip_prefix(line))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn a_call_reaches_kafka_keyed_by_interaction_and_waits_out_an_outage() {
    let s = Scratch::new("kafka");
    let port = free_port();
    let broker = Tansu::start(&s, port);
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "uas", "2", &[]);
    let edge = Sipedge::start_with(&s, pbx_port, &kafka_config(port));
    Sipp::agent(&s, &edge.addr(), "uac", "1", &["-d", "200"]).succeeds(Duration::from_secs(30));
    edge.wait_events("wrap.started", 1);
    let file = edge.events();
    assert_eq!(file.len(), 4, "started, answered, ended, wrap.started");
    let got = consume(broker.port, 4);
    assert_eq!(got.len(), 4, "{got:#?}");
    for ((key, id, e), f) in got.iter().zip(&file) {
        assert_eq!(e, f, "Kafka and the file sink agree");
        assert_eq!(
            Some(key.as_str()),
            f["subject"].as_str(),
            "key = interaction id"
        );
        assert_eq!(Some(id.as_str()), f["id"].as_str(), "ce_id = event id");
    }
    assert_eq!(
        metric(&edge, "sipedge_events_published_total{sink=\"kafka\"} "),
        Some(4.0)
    );

    // The broker goes away; a call ends meanwhile: its events wait.
    drop(broker);
    Sipp::agent(&s, &edge.addr(), "uac", "1", &["-d", "200"]).succeeds(Duration::from_secs(30));
    pbx.succeeds(Duration::from_secs(30));
    edge.wait_events("wrap.started", 2);
    wait_for(
        "the kafka sink to report down",
        Duration::from_secs(20),
        || metric(&edge, "sipedge_sink_up{sink=\"kafka\"} ") == Some(0.0),
    );
    assert!(metric(&edge, "sipedge_outbox_backlog_events{sink=\"kafka\"} ").unwrap_or(0.0) >= 3.0);

    // Back (empty: in-memory storage): the waiting events arrive, in order.
    let broker = Tansu::start(&s, port);
    let file = edge.events();
    let waiting: Vec<&Value> = file[4..].iter().collect();
    let got = consume(broker.port, waiting.len());
    let ids: Vec<&str> = got.iter().map(|(_, id, _)| id.as_str()).collect();
    let want: Vec<&str> = waiting.iter().filter_map(|e| e["id"].as_str()).collect();
    // A retry may repeat an event (same ce_id); none may be missing.
    let mut unique: Vec<&str> = Vec::new();
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    assert_eq!(unique, want, "{got:#?}");
    wait_for("the backlog to drain", Duration::from_secs(20), || {
        metric(&edge, "sipedge_outbox_backlog_events{sink=\"kafka\"} ") == Some(0.0)
    });
}
