//! The TOML configuration: schema, defaults, validation, and errors that
//! name the file, the line and the dotted key.
//!
//! `Config::from_toml` reads a string (tests need no files); `Config::load`
//! reads a file and resolves relative paths against the file's directory.
//! Every table refuses unknown keys, so a typo is an error, not a silent
//! default. `sipedge check-config FILE` runs the same code without binding
//! anything.
//!
//! This file holds the sections the daemon reads today: `[node]`,
//! `[[listen]]`, `[pbx]`, `[sip]`, `[agents]`, `[wrap]`, `[dialog]` and
//! `[events]` (the file sink).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::proxy::transaction::Timers;
use crate::sip::{Limits, MAX_HEADERS};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub node: Node,
    #[serde(default)]
    pub listen: Vec<Listen>,
    pub pbx: Pbx,
    #[serde(default)]
    pub sip: Sip,
    #[serde(default)]
    pub agents: Agents,
    #[serde(default)]
    pub wrap: WrapConfig,
    #[serde(default)]
    pub dialog: Dialog,
    #[serde(default)]
    pub events: Events,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub log: Log,
}

/// `[log]`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// error | warn | info | debug | trace (a reload changes it).
    pub level: LogLevel,
    /// pretty | json (a restart changes it).
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// `[metrics]`: Prometheus `/metrics`, `/live`, `/ready`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Where to serve them; empty string: off.
    pub listen: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            listen: "127.0.0.1:9464".into(),
        }
    }
}

impl Metrics {
    /// The address, when on.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }
}

/// `[admin]`: the API the `sipedge` CLI and the agent desktop use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// Unix socket (mode 0660), relative to the config file's directory.
    pub socket: PathBuf,
    /// Also serve the API on TCP here (empty: not). Off loopback a token
    /// is required.
    pub listen: String,
    /// Bearer token required on the TCP listener (never logged). Prefer
    /// `token_file`.
    pub token: String,
    /// A file holding the token (first line).
    pub token_file: Option<PathBuf>,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            socket: PathBuf::from("data/admin.sock"),
            listen: String::new(),
            token: String::new(),
            token_file: None,
        }
    }
}

impl Admin {
    pub fn addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }

    /// The token from `token` or `token_file`, if any.
    pub fn token(&self) -> std::io::Result<Option<String>> {
        if !self.token.is_empty() {
            return Ok(Some(self.token.clone()));
        }
        match &self.token_file {
            Some(p) => Ok(std::fs::read_to_string(p)?
                .lines()
                .next()
                .map(|l| l.trim().to_string())
                .filter(|t| !t.is_empty())),
            None => Ok(None),
        }
    }
}

/// `[agents]`: who the agent of an interaction is, and its id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Agents {
    /// Header naming the agent (set by the PBX or the phone); else the
    /// registered AOR's user, else the access-side From/To user.
    pub id_header: String,
    /// Header carrying the interaction id (e.g. the PBX's call id); else
    /// one derived from the dialog key.
    pub interaction_id_header: String,
}

impl Default for Agents {
    fn default() -> Self {
        Agents {
            id_header: "X-Agent-Id".into(),
            interaction_id_header: "X-Interaction-Id".into(),
        }
    }
}

/// `[wrap]`: after-call work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WrapConfig {
    /// Wrap time after each interaction.
    pub seconds: u32,
    /// Inbound INVITEs to an agent in wrap get 486 with Retry-After.
    pub enforce: bool,
    /// Per-agent wrap seconds, by agent id.
    pub agents: std::collections::HashMap<String, u32>,
}

impl Default for WrapConfig {
    fn default() -> Self {
        WrapConfig {
            seconds: 30,
            enforce: false,
            agents: Default::default(),
        }
    }
}

/// `[dialog]`: the limits that end dialogs nobody ends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dialog {
    /// How long an answered call survives its agent's lost connection
    /// (the device may come back with the same `+sip.instance`).
    pub transport_loss_grace: Dur,
    /// Longest answered call.
    pub max_duration: Dur,
    /// A 2xx without ACK for this long is reaped.
    pub no_ack_timeout: Dur,
    /// An INVITE without a final response for this long is reaped.
    pub ring_timeout: Dur,
    /// On SIGTERM/SIGINT: how long to wait for live calls to end (new ones
    /// get 503) and the outbox to be delivered before stopping.
    pub drain_deadline: Dur,
}

impl Default for Dialog {
    fn default() -> Self {
        Dialog {
            transport_loss_grace: Dur(Duration::from_secs(20)),
            max_duration: Dur(Duration::from_secs(4 * 3600)),
            no_ack_timeout: Dur(Duration::from_secs(32)),
            ring_timeout: Dur(Duration::from_secs(300)),
            drain_deadline: Dur(Duration::from_secs(25)),
        }
    }
}

/// `[events]`: the outbox and where events go from it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Events {
    pub sinks: Vec<SinkKind>,
    /// Largest the outbox may grow, in MiB (undelivered events); at 80 % a
    /// warning, at 100 % new events are refused and counted.
    pub outbox_max_mb: u64,
    /// Outbox segment size in MiB.
    pub segment_mb: u64,
    pub file: FileSink,
    pub nats: NatsSink,
    pub kafka: KafkaSink,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sinks: vec![SinkKind::File],
            outbox_max_mb: 1024,
            segment_mb: 64,
            file: FileSink::default(),
            nats: NatsSink::default(),
            kafka: KafkaSink::default(),
        }
    }
}

/// A sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    File,
    Nats,
    /// Needs a build with `--features kafka`.
    Kafka,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::File => "file",
            SinkKind::Nats => "nats",
            SinkKind::Kafka => "kafka",
        }
    }
}

/// `[events.file]`: JSON lines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSink {
    /// Relative to the config file's directory.
    pub path: PathBuf,
    /// Rotate when the file passes this many MiB (`path.1` ... `path.5`).
    pub rotate_mb: u64,
}

impl Default for FileSink {
    fn default() -> Self {
        FileSink {
            path: PathBuf::from("data/events.jsonl"),
            rotate_mb: 100,
        }
    }
}

/// `[events.kafka]`: Kafka (a build with `--features kafka`). Idempotent
/// producer, `acks=all`; key = the interaction id, so one interaction's
/// events stay in order on one partition.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSink {
    /// `bootstrap.servers`: host:port[,host:port...].
    pub brokers: String,
    pub topic: String,
    pub client_id: String,
    /// How long librdkafka keeps trying one message before the sink sees
    /// an error and retries from the outbox.
    pub message_timeout: Dur,
    /// More librdkafka producer properties (e.g. `sasl.mechanism`,
    /// `sasl.username`, `sasl.password`); never logged.
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaSink {
    fn default() -> Self {
        KafkaSink {
            brokers: "127.0.0.1:9092".into(),
            topic: "sipedge.events".into(),
            client_id: "sipedge".into(),
            message_timeout: Dur(Duration::from_secs(30)),
            properties: Default::default(),
        }
    }
}

impl std::fmt::Debug for KafkaSink {
    /// Property values may be secrets: only their names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("client_id", &self.client_id)
            .field("message_timeout", &self.message_timeout)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `[events.nats]`: NATS JetStream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsSink {
    pub url: String,
    /// Subjects are `<prefix>.<type>`, e.g. `sipedge.interaction.ended`.
    pub subject_prefix: String,
    pub stream: String,
    /// Create the stream (subjects `<prefix>.>`) when it does not exist;
    /// `false`: it must exist.
    pub create_stream: bool,
    /// JetStream de-duplication window (by `Nats-Msg-Id`) of a created
    /// stream.
    pub duplicate_window: Dur,
    /// Retention of a created stream: limits | interest | workqueue.
    pub retention: Retention,
    /// How long to wait for the publish acknowledgement.
    pub ack_timeout: Dur,
}

impl Default for NatsSink {
    fn default() -> Self {
        NatsSink {
            url: "nats://127.0.0.1:4222".into(),
            subject_prefix: "sipedge".into(),
            stream: "SIPEDGE".into(),
            create_stream: true,
            duplicate_window: Dur(Duration::from_secs(120)),
            retention: Retention::Limits,
            ack_timeout: Dur(Duration::from_secs(5)),
        }
    }
}

/// JetStream retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    Limits,
    Interest,
    Workqueue,
}

impl Config {
    /// The call core's settings.
    pub fn call_config(&self) -> crate::call::CallConfig {
        crate::call::CallConfig {
            node_id: self.node.id.clone(),
            id_header: self.agents.id_header.clone(),
            interaction_id_header: self.agents.interaction_id_header.clone(),
            wrap_seconds: self.wrap.seconds,
            wrap_overrides: self.wrap.agents.clone(),
            wrap_enforce: self.wrap.enforce,
            transport_loss_grace: self.dialog.transport_loss_grace.0,
            max_duration: self.dialog.max_duration.0,
            no_ack_timeout: self.dialog.no_ack_timeout.0,
            ring_timeout: self.dialog.ring_timeout.0,
            listeners: self.listen.iter().map(|l| (l.transport, l.addr)).collect(),
        }
    }
}

/// `[node]`: who this instance is and where it keeps its state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Names this node in event ids and Record-Route (default `edge-1`).
    #[serde(default = "default_node_id")]
    pub id: String,
    /// Outbox, cursors; relative to the config file's directory.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            id: default_node_id(),
            data_dir: default_data_dir(),
        }
    }
}

fn default_node_id() -> String {
    "edge-1".into()
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// A transport sipedge can listen on or reach the PBX with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl TransportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
            TransportKind::Ws => "ws",
            TransportKind::Wss => "wss",
        }
    }

    /// Whether retransmissions are left to the transport (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        self != TransportKind::Udp
    }
}

/// Which side of the edge a listener faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Agents' devices.
    #[default]
    Access,
    /// The PBX.
    Core,
}

/// `[[listen]]`: one socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub transport: TransportKind,
    pub addr: SocketAddr,
    #[serde(default)]
    pub side: Side,
    /// TLS/WSS certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// TLS/WSS private key (PEM).
    pub key: Option<PathBuf>,
    /// WS/WSS: the HTTP path of the upgrade (default `/`).
    #[serde(default = "default_ws_path")]
    pub ws_path: String,
}

fn default_ws_path() -> String {
    "/".into()
}

/// `[pbx]`: the core side. Only these sources are trusted as the PBX.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pbx {
    /// Where requests from agents go (the first that answers).
    pub addrs: Vec<SocketAddr>,
    #[serde(default = "default_pbx_transport")]
    pub transport: TransportKind,
    /// Source networks trusted as the PBX from any port (a PBX that opens
    /// its own TCP connections, a cluster's other nodes), as CIDR:
    /// `"192.0.2.0/28"`. Without it only `addrs` (IP and port) count.
    #[serde(default)]
    pub trusted: Vec<Cidr>,
}

fn default_pbx_transport() -> TransportKind {
    TransportKind::Udp
}

/// `[sip]`: protocol timers and the parser's hard limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sip {
    /// RFC 3261 T1 (round-trip estimate).
    pub t1: Dur,
    /// RFC 3261 T2 (longest retransmit interval).
    pub t2: Dur,
    /// RFC 3261 T4 (longest a message lives in the network).
    pub t4: Dur,
    /// RFC 3261 Timer C: how long a forwarded INVITE may ring after its
    /// last provisional response before sipedge CANCELs it.
    pub timer_c: Dur,
    /// Largest message in bytes (413 beyond).
    pub max_message: usize,
    /// Most header values per message (at most 128; default 120).
    pub max_headers: usize,
    /// Longest header line in bytes.
    pub max_line: usize,
    /// Most Via values per message.
    pub max_vias: usize,
    /// Requests per second one access-side source IP may send (token
    /// bucket); 0 turns the limit off. The PBX is never limited.
    pub rate_limit: u32,
    /// How many requests a source may send at once above the rate.
    pub rate_burst: u32,
    /// Over the limit: `reply` (503 with Retry-After) or `drop`.
    pub rate_limit_action: RateAction,
    /// A UDP source not heard from this long is forgotten.
    pub udp_flow_idle: Dur,
    /// Most UDP sources one listener tracks.
    pub udp_max_flows: usize,
}

/// What happens to a request over the per-source rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateAction {
    /// 503 Service Unavailable with Retry-After.
    #[default]
    Reply,
    /// Nothing (a flooding source learns nothing).
    Drop,
}

impl Default for Sip {
    fn default() -> Self {
        let t = Timers::default();
        let l = Limits::DEFAULT;
        Sip {
            t1: Dur(t.t1),
            t2: Dur(t.t2),
            t4: Dur(t.t4),
            timer_c: Dur(t.c),
            max_message: l.max_message,
            max_headers: l.max_headers,
            max_line: l.max_line,
            max_vias: l.max_vias,
            rate_limit: 200,
            rate_burst: 400,
            rate_limit_action: RateAction::Reply,
            udp_flow_idle: Dur(Duration::from_secs(4 * 3600)),
            udp_max_flows: 100_000,
        }
    }
}

impl Sip {
    pub fn timers(&self) -> Timers {
        Timers {
            t1: self.t1.0,
            t2: self.t2.0,
            t4: self.t4.0,
            c: self.timer_c.0,
        }
    }

    pub fn udp_flows(&self) -> crate::transport::udp::FlowLimits {
        crate::transport::udp::FlowLimits {
            idle: self.udp_flow_idle.0,
            max: self.udp_max_flows.max(1),
        }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_message: self.max_message,
            max_headers: self.max_headers,
            max_line: self.max_line,
            max_vias: self.max_vias,
        }
    }
}

/// A duration written as `500ms`, `20s`, `5m` or `4h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (n, unit) = s.split_at(split);
        let n: u64 = n
            .parse()
            .map_err(|_| format!("`{s}` is not a duration like 500ms, 20s, 5m or 4h"))?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(format!("`{s}` is not a duration like 500ms, 20s, 5m or 4h")),
        };
        // Every duration is added to a clock reading somewhere: a year is
        // far beyond any SIP or call timer and cannot overflow it.
        if d > Duration::from_secs(365 * 24 * 3600) {
            return Err(format!("`{s}` is longer than a year"));
        }
        Ok(Dur(d))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An IP network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a network like 192.0.2.0/24 or 2001:db8::/32");
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.parse::<u8>().map_err(|_| bad())?
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A configuration problem: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    /// Dotted key, e.g. `listen[1].transport` (empty for the whole file).
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        } else if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses and validates configuration text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(text, "", e))?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            toml_error(text, &key, e.into_inner())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a file; relative paths (`node.data_dir`,
    /// listeners' `cert` and `key`) are made relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        let mut config = Config::from_toml(&text).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.node.data_dir);
        resolve(&mut config.events.file.path);
        resolve(&mut config.admin.socket);
        if let Some(p) = config.admin.token_file.as_mut() {
            resolve(p);
        }
        for l in &mut config.listen {
            for p in [&mut l.cert, &mut l.key].into_iter().flatten() {
                resolve(p);
            }
        }
        Ok(config)
    }

    /// Checks what the schema cannot: cross-field rules and ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key: String, message: String| {
            Err(ConfigError {
                file: None,
                line: None,
                key,
                message,
            })
        };
        if self.listen.is_empty() {
            return err("listen".into(), "at least one [[listen]] is needed".into());
        }
        for (i, l) in self.listen.iter().enumerate() {
            if matches!(l.transport, TransportKind::Tls | TransportKind::Wss)
                && (l.cert.is_none() || l.key.is_none())
            {
                return err(
                    format!("listen[{i}]"),
                    format!("transport {} needs cert and key", l.transport.as_str()),
                );
            }
            if let Some(j) = self.listen[..i].iter().position(|o| {
                o.addr == l.addr && o.transport.is_reliable() == l.transport.is_reliable()
            }) {
                return err(
                    format!("listen[{i}].addr"),
                    format!("{} is already used by listen[{j}]", l.addr),
                );
            }
            if !l.ws_path.starts_with('/') {
                return err(format!("listen[{i}].ws_path"), "must start with /".into());
            }
        }
        if self.pbx.addrs.is_empty() {
            return err(
                "pbx.addrs".into(),
                "at least one PBX address is needed".into(),
            );
        }
        if self.pbx.transport == TransportKind::Udp
            && !self
                .listen
                .iter()
                .any(|l| l.transport == TransportKind::Udp)
        {
            return err(
                "pbx.transport".into(),
                "udp needs a [[listen]] of transport udp to send from (or set pbx.transport = \"tcp\")"
                    .into(),
            );
        }
        if self.node.id.is_empty()
            || !self
                .node
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return err("node.id".into(), "use letters, digits, '-' and '_'".into());
        }
        let s = &self.sip;
        if s.t1.0.is_zero() || s.t1.0 > s.t2.0 {
            return err(
                "sip.t1".into(),
                "must be above zero and at most sip.t2".into(),
            );
        }
        if s.timer_c.0 < std::time::Duration::from_secs(1)
            || s.timer_c.0 > std::time::Duration::from_secs(24 * 3600)
        {
            return err(
                "sip.timer_c".into(),
                "must be from 1s to 24h (RFC 3261 wants more than 3 minutes)".into(),
            );
        }
        if !(1..=MAX_HEADERS).contains(&s.max_headers) {
            return err(
                "sip.max_headers".into(),
                format!("must be from 1 to {MAX_HEADERS}"),
            );
        }
        if !(512..=1 << 20).contains(&s.max_message) {
            return err(
                "sip.max_message".into(),
                "must be from 512 to 1048576 bytes".into(),
            );
        }
        if !(80..=65_535).contains(&s.max_line) {
            return err(
                "sip.max_line".into(),
                "must be from 80 to 65535 bytes".into(),
            );
        }
        if s.rate_limit > 0 && s.rate_burst == 0 {
            return err(
                "sip.rate_burst".into(),
                "must be at least 1 when sip.rate_limit is on".into(),
            );
        }
        if !self.metrics.listen.is_empty() && self.metrics.addr().is_none() {
            return err(
                "metrics.listen".into(),
                format!(
                    "`{}` is not an address like 127.0.0.1:9464",
                    self.metrics.listen
                ),
            );
        }
        let a = &self.admin;
        if !a.listen.is_empty() {
            let Some(addr) = a.addr() else {
                return err(
                    "admin.listen".into(),
                    format!("`{}` is not an address like 127.0.0.1:9465", a.listen),
                );
            };
            if !addr.ip().is_loopback() && a.token.is_empty() && a.token_file.is_none() {
                return err(
                    "admin.listen".into(),
                    format!("{addr} is off loopback: set admin.token_file (or admin.token)"),
                );
            }
        }
        let e = &self.events;
        if e.sinks.is_empty() {
            return err(
                "events.sinks".into(),
                "name at least one sink: file, nats, kafka".into(),
            );
        }
        if e.sinks.contains(&SinkKind::Kafka) {
            if !cfg!(feature = "kafka") {
                return err(
                    "events.sinks".into(),
                    "kafka needs a sipedge built with `cargo build --release --features kafka`"
                        .into(),
                );
            }
            if e.kafka.brokers.trim().is_empty() || e.kafka.topic.trim().is_empty() {
                return err(
                    "events.kafka".into(),
                    "brokers and topic must not be empty".into(),
                );
            }
            for key in ["bootstrap.servers", "enable.idempotence", "acks"] {
                if e.kafka.properties.contains_key(key) {
                    return err(
                        format!("events.kafka.properties.{key}"),
                        "is set by sipedge (brokers; idempotent, acks=all)".into(),
                    );
                }
            }
        }
        if e.segment_mb == 0 || e.outbox_max_mb < e.segment_mb {
            return err(
                "events.outbox_max_mb".into(),
                "must be at least events.segment_mb (and that above 0)".into(),
            );
        }
        if e.sinks.contains(&SinkKind::Nats) {
            let subject_ok = |t: &str| {
                !t.is_empty()
                    && t.split('.').all(|p| {
                        !p.is_empty()
                            && p.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    })
            };
            if !subject_ok(&e.nats.subject_prefix) {
                return err(
                    "events.nats.subject_prefix".into(),
                    "use dot-separated tokens of letters, digits, '-' and '_'".into(),
                );
            }
            if !subject_ok(&e.nats.stream) || e.nats.stream.contains('.') {
                return err(
                    "events.nats.stream".into(),
                    "use letters, digits, '-' and '_'".into(),
                );
            }
        }
        if !(1..=u16::MAX as usize).contains(&s.max_vias) {
            return err("sip.max_vias".into(), "must be from 1 to 65535".into());
        }
        Ok(())
    }

    /// Whether a message from `source` comes from the PBX: one of its
    /// addresses exactly (IP and port, so a PBX and phones can share a host),
    /// or any port of a `trusted` network (a PBX that opens its own TCP
    /// connections uses ephemeral ports: list it there).
    pub fn is_pbx(&self, source: SocketAddr) -> bool {
        self.pbx.addrs.contains(&source) || self.pbx.trusted.iter().any(|n| n.contains(source.ip()))
    }
}

fn toml_error(text: &str, key: &str, e: toml::de::Error) -> ConfigError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    ConfigError {
        file: None,
        line,
        key: key.to_string(),
        message: plain(e.message().trim()),
    }
}

/// serde says "unknown variant `wsx`, expected one of `udp`, `tcp`"; an
/// operator reads "unknown value `wsx`, expected one of udp, tcp".
fn plain(message: &str) -> String {
    match message.split_once(", expected one of ") {
        Some((head, list)) if head.starts_with("unknown variant") => {
            format!(
                "{}, expected one of {}",
                head.replacen("unknown variant", "unknown value", 1),
                list.replace('`', "")
            )
        }
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n\n[pbx]\naddrs = [\"127.0.0.1:5080\"]\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::from_toml(MIN).unwrap();
        assert_eq!(c.node.id, "edge-1");
        assert_eq!(c.listen[0].side, Side::Access);
        assert_eq!(c.pbx.transport, TransportKind::Udp);
        assert_eq!(c.sip.timers(), Timers::default());
        assert_eq!(c.sip.limits(), Limits::DEFAULT);
    }

    #[test]
    fn errors_name_line_key_and_allowed_values() {
        let text = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[[listen]]\ntransport = \"wsx\"\naddr = \"127.0.0.1:8080\"\n[pbx]\naddrs = [\"127.0.0.1:5080\"]\n";
        let e = Config::from_toml(text).unwrap_err();
        assert_eq!(e.key, "listen[1].transport");
        assert_eq!(e.line, Some(5));
        assert_eq!(
            e.to_string(),
            "line 5: listen[1].transport: unknown value `wsx`, expected one of udp, tcp, tls, ws, wss"
        );
        let e = Config::from_toml(&format!("{MIN}[sip]\nt1 = \"fast\"\n")).unwrap_err();
        assert_eq!(e.key, "sip.t1");
        assert!(e.message.contains("not a duration"), "{e}");
        let e = Config::from_toml(&format!("{MIN}[sip]\nmax_headrs = 10\n")).unwrap_err();
        assert!(e.message.contains("max_headrs"), "{e}");
        assert_eq!(e.line, Some(8));
        let e = Config::from_toml("[pbx]\naddrs = [\"127.0.0.1:5080\"]\n").unwrap_err();
        assert_eq!(e.key, "listen");
    }

    #[test]
    fn validation_rules() {
        let cases: &[(&str, &str)] = &[
            (
                "[[listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:5061\"\n",
                "listen[1]",
            ),
            (
                "[[listen]]\ntransport = \"tcp\"\naddr = \"127.0.0.1:5060\"\n",
                "",
            ),
            (
                "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n",
                "listen[1].addr",
            ),
            ("[sip]\nt1 = \"5s\"\n", "sip.t1"),
            ("[sip]\nmax_headers = 500\n", "sip.max_headers"),
            ("[node]\nid = \"edge 1\"\n", "node.id"),
            ("[sip]\ntimer_c = \"0s\"\n", "sip.timer_c"),
            ("[sip]\ntimer_c = \"25h\"\n", "sip.timer_c"),
            (
                "[dialog]\nmax_duration = \"18446744073709551615h\"\n",
                "dialog.max_duration",
            ),
            (
                "[events]\nsinks = [\"kafka\"]\n[events.kafka.properties]\nacks = \"1\"\n",
                if cfg!(feature = "kafka") {
                    "events.kafka.properties.acks"
                } else {
                    "events.sinks"
                },
            ),
        ];
        for (extra, key) in cases {
            let r = Config::from_toml(&format!("{MIN}{extra}"));
            if key.is_empty() {
                // UDP and TCP may share an address.
                assert!(r.is_ok(), "{extra}: {r:?}");
            } else {
                assert_eq!(r.unwrap_err().key, *key, "{extra}");
            }
        }
    }

    #[test]
    fn durations_and_networks() {
        assert_eq!(
            "500ms".parse::<Dur>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!("4h".parse::<Dur>().unwrap().0, Duration::from_secs(14400));
        assert!(
            "4 hours".parse::<Dur>().is_err()
                && "".parse::<Dur>().is_err()
                && "-1s".parse::<Dur>().is_err()
        );
        let n: Cidr = "192.0.2.0/28".parse().unwrap();
        assert!(
            n.contains("192.0.2.15".parse().unwrap()) && !n.contains("192.0.2.16".parse().unwrap())
        );
        let n: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(
            n.contains("2001:db8::1".parse().unwrap()) && !n.contains("192.0.2.1".parse().unwrap())
        );
        assert!("192.0.2.0/33".parse::<Cidr>().is_err());
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        let c =
            Config::from_toml(&MIN.replace("[pbx]\n", "[pbx]\ntrusted = [\"198.51.100.0/24\"]\n"))
                .unwrap();
        assert!(
            c.is_pbx("127.0.0.1:5080".parse().unwrap())
                && c.is_pbx("198.51.100.7:40000".parse().unwrap())
        );
        assert!(
            !c.is_pbx("127.0.0.1:5060".parse().unwrap()),
            "same host, another port: not the PBX"
        );
        assert!(!c.is_pbx("127.0.0.2:5080".parse().unwrap()));
    }
}
