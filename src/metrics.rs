//! Prometheus text exposition of what the shards, the transports and the
//! event pipeline count. Every name is a constant here (the dashboards and
//! alert rules may use only these); labels have bounded values only
//! (sides, kinds, sink names, end reasons — never ids or addresses).
//!
//! Not the `prometheus` crate the design names: each shard keeps plain
//! counters and fixed-bucket histograms it owns (no atomics, no label
//! hashing on the SIP path), and a scrape asks the shards for them over the
//! control channel and writes the text here.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::admin::AdminState;
use crate::sink::SinkStats;

pub const BUILD_INFO: &str = "sipedge_build_info";
pub const UPTIME: &str = "sipedge_uptime_seconds";
pub const FORWARDED_REQUESTS: &str = "sipedge_sip_forwarded_requests_total";
pub const FORWARDED_RESPONSES: &str = "sipedge_sip_forwarded_responses_total";
pub const RETRANS_ABSORBED: &str = "sipedge_sip_retransmissions_absorbed_total";
pub const RETRANS_SENT: &str = "sipedge_sip_retransmissions_sent_total";
pub const REFUSED: &str = "sipedge_sip_refused_total";
pub const STRAY: &str = "sipedge_sip_stray_responses_total";
pub const TX_TIMEOUTS: &str = "sipedge_sip_transaction_timeouts_total";
pub const RATE_LIMITED: &str = "sipedge_sip_rate_limited_total";
pub const TRANSACTIONS: &str = "sipedge_sip_transactions";
pub const PARSE_ERRORS: &str = "sipedge_sip_parse_errors_total";
pub const REGISTRATIONS: &str = "sipedge_registrations";
pub const FLOWS: &str = "sipedge_flows";
pub const INTERACTIONS_LIVE: &str = "sipedge_interactions_live";
pub const INTERACTIONS_STARTED: &str = "sipedge_interactions_started_total";
pub const INTERACTIONS_ENDED: &str = "sipedge_interactions_ended_total";
pub const REAPED: &str = "sipedge_dialogs_reaped_total";
pub const SPOOFS: &str = "sipedge_forged_requests_refused_total";
pub const WRAP_REFUSED: &str = "sipedge_wrap_refused_invites_total";
pub const AGENTS_IN_WRAP: &str = "sipedge_agents_in_wrap";
pub const EVENTS_PUBLISHED: &str = "sipedge_events_published_total";
pub const PUBLISH_ERRORS: &str = "sipedge_events_publish_errors_total";
pub const DEAD_LETTERED: &str = "sipedge_events_dead_lettered_total";
pub const BACKLOG: &str = "sipedge_outbox_backlog_events";
pub const OUTBOX_BYTES: &str = "sipedge_outbox_bytes";
pub const OUTBOX_MAX_BYTES: &str = "sipedge_outbox_max_bytes";
pub const OUTBOX_REFUSED: &str = "sipedge_outbox_refused_total";
pub const SINK_UP: &str = "sipedge_sink_up";
pub const RECEIVED: &str = "sipedge_sip_messages_received_total";
pub const SENT: &str = "sipedge_sip_messages_sent_total";
pub const REFUSALS: &str = "sipedge_sip_refusals_total";
pub const FLOWS_BY_TRANSPORT: &str = "sipedge_flows_by_transport";
pub const RELOADS: &str = "sipedge_reloads_total";
pub const RING: &str = "sipedge_ring_duration_seconds";
pub const TALK: &str = "sipedge_talk_duration_seconds";
pub const HOLD: &str = "sipedge_hold_duration_seconds";
pub const WRAP: &str = "sipedge_wrap_duration_seconds";
pub const OLDEST_UNDELIVERED: &str = "sipedge_outbox_oldest_undelivered_seconds";
pub const DELIVERY_LATENCY: &str = "sipedge_event_delivery_seconds";
pub const PUBLISH_LATENCY: &str = "sipedge_sink_publish_seconds";
pub const COMMIT_LATENCY: &str = "sipedge_outbox_commit_seconds";
pub const EVENTS: &str = "sipedge_events_total";

/// Every metric name this module exports.
pub const ALL: &[&str] = &[
    BUILD_INFO,
    UPTIME,
    FORWARDED_REQUESTS,
    FORWARDED_RESPONSES,
    RETRANS_ABSORBED,
    RETRANS_SENT,
    REFUSED,
    STRAY,
    TX_TIMEOUTS,
    RATE_LIMITED,
    TRANSACTIONS,
    PARSE_ERRORS,
    REGISTRATIONS,
    FLOWS,
    INTERACTIONS_LIVE,
    INTERACTIONS_STARTED,
    INTERACTIONS_ENDED,
    REAPED,
    SPOOFS,
    WRAP_REFUSED,
    AGENTS_IN_WRAP,
    EVENTS_PUBLISHED,
    PUBLISH_ERRORS,
    DEAD_LETTERED,
    BACKLOG,
    OUTBOX_BYTES,
    OUTBOX_MAX_BYTES,
    OUTBOX_REFUSED,
    SINK_UP,
    OLDEST_UNDELIVERED,
    DELIVERY_LATENCY,
    PUBLISH_LATENCY,
    COMMIT_LATENCY,
    EVENTS,
    RECEIVED,
    SENT,
    REFUSALS,
    FLOWS_BY_TRANSPORT,
    RELOADS,
    RING,
    TALK,
    HOLD,
    WRAP,
];

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let val = val.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = write!(self.0, "{k}=\"{val}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {v}");
    }
    /// The samples of a latency histogram (after its `head`).
    fn latency(&mut self, name: &str, labels: &[(&str, &str)], h: &crate::sink::Latency) {
        let (cum, sum) = h.snapshot();
        let bucket = format!("{name}_bucket");
        for (i, n) in cum.iter().enumerate() {
            let le = crate::sink::Latency::BOUNDS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let mut l = labels.to_vec();
            l.push(("le", &le));
            self.sample(&bucket, &l, *n as f64);
        }
        let count = cum.last().copied().unwrap_or(0);
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count as f64);
    }
    fn one(&mut self, name: &str, kind: &str, help: &str, v: f64) {
        self.head(name, kind, help);
        self.sample(name, &[], v);
    }
}

fn sum(shards: &[Value], path: &[&str]) -> f64 {
    shards
        .iter()
        .map(|s| path.iter().fold(s, |v, k| &v[*k]).as_f64().unwrap_or(0.0))
        .sum()
}

/// A histogram merged from the shards' `histograms.<key>` objects.
fn histogram(o: &mut Out, name: &str, help: &str, shards: &[Value], key: &str) {
    let mut h = crate::call::Histogram::default();
    for s in shards {
        let v = &s["histograms"][key];
        if let Some(c) = v["counts"].as_array() {
            for (i, n) in c.iter().enumerate().take(h.counts.len()) {
                h.counts[i] += n.as_u64().unwrap_or(0);
            }
        }
        h.sum_ms += v["sum_ms"].as_u64().unwrap_or(0);
        h.count += v["count"].as_u64().unwrap_or(0);
    }
    o.head(name, "histogram", help);
    let bucket = format!("{name}_bucket");
    let mut acc = 0;
    for (i, b) in crate::call::Histogram::BOUNDS.iter().enumerate() {
        acc += h.counts[i];
        o.sample(&bucket, &[("le", &b.to_string())], acc as f64);
    }
    o.sample(&bucket, &[("le", "+Inf")], h.count as f64);
    o.sample(&format!("{name}_sum"), &[], h.sum_ms as f64 / 1000.0);
    o.sample(&format!("{name}_count"), &[], h.count as f64);
}

/// The exposition text. `shards` are the shards' stats objects.
pub async fn render(st: &AdminState, shards: Vec<Value>) -> String {
    let mut o = Out(String::with_capacity(8192));
    for (name, key, help) in [
        (
            RECEIVED,
            "received",
            "SIP messages received, by method or status class, side and transport.",
        ),
        (
            SENT,
            "sent",
            "SIP messages sent, by method or status class, side and transport.",
        ),
    ] {
        o.head(name, "counter", help);
        let mut by = std::collections::BTreeMap::<[String; 3], f64>::new();
        for s in &shards {
            for x in s[key].as_array().into_iter().flatten() {
                let k = ["message", "side", "transport"]
                    .map(|f| x[f].as_str().unwrap_or("").to_string());
                *by.entry(k).or_default() += x["n"].as_f64().unwrap_or(0.0);
            }
        }
        for ([m, side, t], n) in by {
            o.sample(
                name,
                &[("message", &m), ("side", &side), ("transport", &t)],
                n,
            );
        }
    }
    o.head(
        REFUSALS,
        "counter",
        "Error responses the edge answered itself, by code.",
    );
    let mut codes = std::collections::BTreeMap::<u64, f64>::new();
    for s in &shards {
        for x in s["refusals"].as_array().into_iter().flatten() {
            *codes.entry(x["code"].as_u64().unwrap_or(0)).or_default() +=
                x["n"].as_f64().unwrap_or(0.0);
        }
    }
    for (code, n) in codes {
        o.sample(REFUSALS, &[("code", &code.to_string())], n);
    }
    o.head(RELOADS, "counter", "Configuration reloads, by result.");
    o.sample(
        RELOADS,
        &[("result", "ok")],
        st.reloads_ok.load(Ordering::Relaxed) as f64,
    );
    o.sample(
        RELOADS,
        &[("result", "failed")],
        st.reloads_failed.load(Ordering::Relaxed) as f64,
    );
    histogram(
        &mut o,
        RING,
        "Ring time of ended interactions (until answer or end).",
        &shards,
        "ring",
    );
    histogram(
        &mut o,
        TALK,
        "Talk time of answered interactions.",
        &shards,
        "talk",
    );
    histogram(
        &mut o,
        HOLD,
        "Hold time of answered interactions.",
        &shards,
        "hold",
    );
    histogram(
        &mut o,
        WRAP,
        "After-call work of ended wraps.",
        &shards,
        "wrap",
    );
    o.head(BUILD_INFO, "gauge", "Build information.");
    o.sample(BUILD_INFO, &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    o.one(
        UPTIME,
        "gauge",
        "Seconds since start.",
        st.started.elapsed().as_secs_f64(),
    );
    for (name, key, help) in [
        (
            FORWARDED_REQUESTS,
            "forwarded_requests",
            "Requests forwarded.",
        ),
        (
            FORWARDED_RESPONSES,
            "forwarded_responses",
            "Responses forwarded.",
        ),
        (
            RETRANS_ABSORBED,
            "retransmissions_absorbed",
            "Retransmissions absorbed by transactions.",
        ),
        (
            RETRANS_SENT,
            "retransmissions_sent",
            "Retransmissions sent by transactions.",
        ),
        (
            REFUSED,
            "refused",
            "Requests answered with an error by the edge itself.",
        ),
        (
            STRAY,
            "stray_responses",
            "Responses that matched no transaction.",
        ),
        (
            TX_TIMEOUTS,
            "timeouts",
            "Client transactions that timed out.",
        ),
        (
            RATE_LIMITED,
            "rate_limited",
            "Requests over the per-source rate limit.",
        ),
    ] {
        o.one(name, "counter", help, sum(&shards, &["proxy", key]));
    }
    o.head(TRANSACTIONS, "gauge", "Live transactions.");
    o.sample(
        TRANSACTIONS,
        &[("kind", "server")],
        sum(&shards, &["transactions", "server"]),
    );
    o.sample(
        TRANSACTIONS,
        &[("kind", "client")],
        sum(&shards, &["transactions", "client"]),
    );
    o.head(
        PARSE_ERRORS,
        "counter",
        "Bytes that did not parse, by error kind.",
    );
    let mut errs: Vec<_> = st.counters.parse_errors().into_iter().collect();
    errs.sort();
    for (kind, n) in errs {
        o.sample(PARSE_ERRORS, &[("kind", kind)], n as f64);
    }
    let (bindings, flows, in_wrap) = {
        let shared = st
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let w = shared
            .wraps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        (shared.registrar.len(), shared.flows.len(), w)
    };
    let flows_by: std::collections::BTreeMap<&'static str, usize> = {
        let shared = st
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut m = std::collections::BTreeMap::new();
        for f in shared.flows.values() {
            *m.entry(f.transport.as_str()).or_default() += 1;
        }
        m
    };
    o.one(
        REGISTRATIONS,
        "gauge",
        "Registrations through this edge.",
        bindings as f64,
    );
    o.one(
        FLOWS,
        "gauge",
        "Known flows (connections and UDP sources).",
        flows as f64,
    );
    o.head(FLOWS_BY_TRANSPORT, "gauge", "Known flows by transport.");
    for (t, n) in &flows_by {
        o.sample(FLOWS_BY_TRANSPORT, &[("transport", t)], *n as f64);
    }
    o.head(
        INTERACTIONS_LIVE,
        "gauge",
        "Live interactions by channel and device.",
    );
    let mut live = std::collections::BTreeMap::<(String, String), f64>::new();
    for s in &shards {
        if let Some(a) = s["calls"]["live_by_kind"].as_array() {
            for x in a {
                *live
                    .entry((
                        x["channel"].as_str().unwrap_or("").into(),
                        x["device"].as_str().unwrap_or("").into(),
                    ))
                    .or_default() += x["n"].as_f64().unwrap_or(0.0);
            }
        }
    }
    for ((c, d), n) in live {
        o.sample(INTERACTIONS_LIVE, &[("channel", &c), ("device", &d)], n);
    }
    o.one(
        INTERACTIONS_STARTED,
        "counter",
        "Interactions started.",
        sum(&shards, &["calls", "started"]),
    );
    o.head(
        INTERACTIONS_ENDED,
        "counter",
        "Interactions ended by who, why, channel and device.",
    );
    let mut ended = std::collections::BTreeMap::<[String; 4], f64>::new();
    for s in &shards {
        if let Some(a) = s["calls"]["ended_by"].as_array() {
            for x in a {
                let k = ["ended_by", "end_reason", "channel", "device"]
                    .map(|f| x[f].as_str().unwrap_or("").to_string());
                *ended.entry(k).or_default() += x["n"].as_f64().unwrap_or(0.0);
            }
        }
    }
    for ([by, reason, channel, device], n) in ended {
        o.sample(
            INTERACTIONS_ENDED,
            &[
                ("ended_by", &by),
                ("end_reason", &reason),
                ("channel", &channel),
                ("device", &device),
            ],
            n,
        );
    }
    o.one(
        REAPED,
        "counter",
        "Dialogs ended by the reaper.",
        sum(&shards, &["calls", "reaped"]),
    );
    o.one(
        SPOOFS,
        "counter",
        "BYE/CANCEL from a stranger refused with 403.",
        sum(&shards, &["calls", "spoofs_refused"]),
    );
    o.one(
        WRAP_REFUSED,
        "counter",
        "INVITEs refused with 486 during enforced wrap.",
        sum(&shards, &["calls", "wrap_refused"]),
    );
    o.one(
        AGENTS_IN_WRAP,
        "gauge",
        "Agents in after-call work.",
        in_wrap as f64,
    );
    let p = &st.pipeline;
    let next = p.next_seq.load(Ordering::Relaxed);
    let now_ms = crate::server::unix_ms();
    type PerSink<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Box<dyn Fn(&SinkStats) -> f64 + 'a>,
    );
    let per_sink: [PerSink<'_>; 6] = [
        (
            EVENTS_PUBLISHED,
            "counter",
            "Events a sink delivered and had acknowledged.",
            Box::new(|s| s.published.load(Ordering::Relaxed) as f64),
        ),
        (
            PUBLISH_ERRORS,
            "counter",
            "Failed publish attempts.",
            Box::new(|s| s.errors.load(Ordering::Relaxed) as f64),
        ),
        (
            DEAD_LETTERED,
            "counter",
            "Events a sink refused for good.",
            Box::new(|s| s.dead.load(Ordering::Relaxed) as f64),
        ),
        (
            BACKLOG,
            "gauge",
            "Events committed but not yet acknowledged, by sink.",
            Box::new(|s| next.saturating_sub(s.cursor.load(Ordering::Relaxed)) as f64),
        ),
        (
            SINK_UP,
            "gauge",
            "1 while the sink's last attempt succeeded.",
            Box::new(|s| f64::from(u8::from(s.up.load(Ordering::Relaxed)))),
        ),
        (
            OLDEST_UNDELIVERED,
            "gauge",
            "Age of the oldest event a sink has not delivered (0 when caught up).",
            Box::new(|s| match s.oldest_ms.load(Ordering::Relaxed) {
                0 => 0.0,
                t => (now_ms - t).max(0) as f64 / 1000.0,
            }),
        ),
    ];
    for (name, kind, help, value) in &per_sink {
        o.head(name, kind, help);
        for s in &p.sinks() {
            o.sample(name, &[("sink", s.name)], value(s));
        }
    }
    type Pick = fn(&SinkStats) -> &crate::sink::Latency;
    let latencies: [(&str, &str, Pick); 2] = [
        (
            DELIVERY_LATENCY,
            "Seconds from an event's time (for interaction.ended, the BYE's arrival) to the sink's acknowledgement.",
            |s| &s.delivery,
        ),
        (
            PUBLISH_LATENCY,
            "Seconds one publish to a sink took, up to its acknowledgement.",
            |s| &s.publish,
        ),
    ];
    for (name, help, pick) in latencies {
        o.head(name, "histogram", help);
        for s in &p.sinks() {
            o.latency(name, &[("sink", s.name)], pick(s));
        }
    }
    o.head(
        COMMIT_LATENCY,
        "histogram",
        "Seconds one outbox group commit (write and fdatasync) took.",
    );
    o.latency(COMMIT_LATENCY, &[], &p.commit);
    o.one(
        OUTBOX_BYTES,
        "gauge",
        "Bytes in the outbox.",
        p.outbox_bytes.load(Ordering::Relaxed) as f64,
    );
    o.one(
        OUTBOX_MAX_BYTES,
        "gauge",
        "The outbox's bound.",
        p.outbox_max_bytes.load(Ordering::Relaxed) as f64,
    );
    o.head(
        EVENTS,
        "counter",
        "Events the call core emitted into the outbox, by type.",
    );
    for (t, n) in crate::event::EventType::ALL.iter().zip(&p.by_type) {
        o.sample(
            EVENTS,
            &[("type", t.as_str())],
            n.load(Ordering::Relaxed) as f64,
        );
    }
    o.one(
        OUTBOX_REFUSED,
        "counter",
        "Events refused (outbox full or unwritable) or lost to a full queue.",
        p.refused.load(Ordering::Relaxed) as f64,
    );
    o.0
}

#[cfg(test)]
mod tests {
    /// Every `sipedge_*` name the dashboard and the alert rules use is one
    /// this module exports.
    #[test]
    fn dashboards_and_alerts_use_exported_names_only() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ops");
        let mut seen = 0;
        for file in ["grafana-dashboard.json", "prometheus-alerts.yml"] {
            let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
            let mut rest = text.as_str();
            while let Some(at) = rest.find("sipedge_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|sfx| name.strip_suffix(sfx))
                    .filter(|b| super::ALL.contains(b))
                    .unwrap_or(&name);
                assert!(super::ALL.contains(&base), "{file}: {name} is not exported");
                seen += 1;
                rest = &rest[at + name.len()..];
            }
        }
        assert!(seen > 20, "only {seen} metric references found");
        // And the dashboard is JSON.
        let _: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/grafana-dashboard.json")).unwrap(),
        )
        .unwrap();
    }
}
