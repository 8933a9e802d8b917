//! From the call core to the bus without losing an event:
//!
//! ```text
//! shards ──EventTx (bounded, never waits)──▶ outbox writer thread
//!        (group commit: one fdatasync per batch) ──▶ outbox on disk
//!        ──▶ one task per sink: read from its cursor, publish, wait for
//!            the ack, persist the cursor; retry with capped backoff
//! ```
//!
//! The SIP path never waits on disk or on a broker: events go through a
//! bounded channel of [`EVENT_QUEUE`] events to the writer; if it is full
//! (the disk stalled for that long), the event is counted and logged as
//! lost. Everything the writer committed reaches every sink at least once,
//! in order, across restarts. An event a sink refuses for good (a NATS
//! server's max_payload, say) goes to `outbox/dead-<sink>.jsonl` with the
//! reason and does not block the rest.

pub mod file;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod nats;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::{Config, SinkKind};
use crate::event::Event;
use crate::outbox::{self, Outbox};

/// Events waiting for the writer before new ones are counted as lost.
pub const EVENT_QUEUE: usize = 65_536;

/// Most records a sink publishes at once.
const SINK_BATCH: usize = 256;

/// Longest wait between retries of a failing sink.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How often a moved cursor is written to disk. Not after every batch: two
/// fsyncs there would sit in front of the next event's publish. A crash
/// replays at most this much from the last written cursor, with the same
/// ids (JetStream's duplicate window drops them); a drain writes them last.
pub const CURSOR_EVERY: Duration = Duration::from_millis(200);

/// Why a publish failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying (broker down, timeout).
    #[error("{0}")]
    Transient(String),
    /// The first event of the batch will never be accepted.
    #[error("{0}")]
    Permanent(String),
}

/// The call core's side of the event channel: never waits.
#[derive(Debug, Clone)]
pub struct EventTx {
    tx: mpsc::Sender<Event>,
    lost: Arc<AtomicU64>,
    stats: Arc<PipelineStats>,
}

impl EventTx {
    fn new(tx: mpsc::Sender<Event>, stats: Arc<PipelineStats>) -> EventTx {
        EventTx {
            tx,
            lost: Default::default(),
            stats,
        }
    }

    /// Queues `e`; when the writer is this far behind, counts and logs the
    /// loss instead of blocking the SIP path.
    pub fn send(&self, e: Event) {
        let kind = e.kind as usize;
        match self.tx.try_send(e) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                if let Some(n) = self.stats.by_type.get(kind) {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(err) => self.lose(err),
        }
    }

    fn lose(&self, err: mpsc::error::TrySendError<Event>) {
        let n = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        let e = match err {
            mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => e,
        };
        tracing::error!(id = %e.id, kind = e.kind.as_str(), lost = n, "Event queue full: event lost.");
    }

    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// Counters of one sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub name: &'static str,
    /// Next sequence number not yet acknowledged.
    pub cursor: AtomicU64,
    /// The cursor as last written to disk (see [`CURSOR_EVERY`]).
    pub persisted: AtomicU64,
    pub published: AtomicU64,
    pub errors: AtomicU64,
    pub dead: AtomicU64,
    /// 1 while its last attempt succeeded (or it had nothing to do).
    pub up: std::sync::atomic::AtomicBool,
    /// Wall time (Unix ms) of the oldest event it has not delivered, 0
    /// when caught up.
    pub oldest_ms: std::sync::atomic::AtomicI64,
    /// Seconds from an event's `time` (for `interaction.ended`, the BYE's
    /// arrival) to the sink's acknowledgement of it.
    pub delivery: Latency,
    /// Seconds one publish call took (a batch, up to the broker's ack).
    pub publish: Latency,
}

/// A fixed-bucket latency histogram written by one sink task and read by
/// scrapes (relaxed atomics: a scrape may see a sample half-added, never
/// a torn count).
#[derive(Debug, Default)]
pub struct Latency {
    counts: [AtomicU64; Latency::BOUNDS.len() + 1],
    sum_us: AtomicU64,
}

impl Latency {
    /// Upper bounds in seconds.
    pub const BOUNDS: [f64; 16] = [
        0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        5.0, 30.0,
    ];

    pub fn observe_us(&self, us: u64) {
        let s = us as f64 / 1e6;
        let i = Self::BOUNDS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(Self::BOUNDS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Cumulative counts per bound then +Inf, and the sum in seconds.
    pub fn snapshot(&self) -> (Vec<u64>, f64) {
        let mut acc = 0;
        let cum = self
            .counts
            .iter()
            .map(|c| {
                acc += c.load(Ordering::Relaxed);
                acc
            })
            .collect();
        (cum, self.sum_us.load(Ordering::Relaxed) as f64 / 1e6)
    }
}

/// Counters of the pipeline.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Next sequence number the outbox will give.
    pub next_seq: AtomicU64,
    pub outbox_bytes: AtomicU64,
    pub outbox_max_bytes: AtomicU64,
    pub refused: AtomicU64,
    /// Events taken by the channel, and those the writer has dealt with
    /// (committed or refused): equal when nothing is in flight.
    pub queued: AtomicU64,
    pub handled: AtomicU64,
    /// Events queued for the outbox, by [`EventType`](crate::event::EventType)
    /// (in `EventType::ALL` order).
    pub by_type: [AtomicU64; crate::event::EventType::ALL.len()],
    /// Seconds one group commit (write + fdatasync) took.
    pub commit: Latency,
    pub dir: PathBuf,
    /// The sinks running now (a reload may add, restart or remove them).
    sinks: std::sync::RwLock<Vec<Arc<SinkStats>>>,
    running: std::sync::Mutex<Running>,
    /// One cursor writer at a time (they share `cursor-<sink>.tmp`).
    cursor_lock: std::sync::Mutex<()>,
}

/// The sink tasks: what each was started with (a hash of its settings, so
/// no secret is kept here), to tell on a reload which changed.
#[derive(Debug, Default)]
struct Running {
    durable: Option<watch::Receiver<u64>>,
    tasks: Vec<(SinkKind, u64, tokio::task::JoinHandle<()>)>,
}

impl PipelineStats {
    /// The sinks running now, in configuration order.
    pub fn sinks(&self) -> Vec<Arc<SinkStats>> {
        self.sinks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The lowest cursor of the running sinks (what the outbox must keep).
    fn min_cursor(&self) -> u64 {
        self.sinks()
            .iter()
            .map(|s| s.cursor.load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// What a reload to `config` would add to the sinks, read now: fails
    /// (and nothing changes) when a new sink's cursor file is unreadable.
    fn sinks_to_add(&self, config: &Config) -> Result<Vec<Arc<SinkStats>>, StartError> {
        let old = self.sinks();
        config
            .events
            .sinks
            .iter()
            .filter(|k| !old.iter().any(|s| s.name == k.as_str()))
            .map(|k| {
                new_sink_stats(&self.dir, *k).map_err(|source| StartError {
                    dir: self.dir.clone(),
                    source,
                })
            })
            .collect()
    }

    /// Checks that [`reconfigure`](Self::reconfigure) to `config` can be
    /// done (before a reload changes anything else).
    pub fn check(&self, config: &Config) -> Result<(), StartError> {
        self.sinks_to_add(config).map(drop)
    }

    /// Applies `[events] sinks` and their settings from a reloaded
    /// configuration: a sink whose settings changed restarts from its
    /// cursor (the old task is gone before the new one starts), a new one
    /// starts from its cursor file, a removed one stops and its cursor is
    /// written. While a sink is not configured the outbox does not keep
    /// events for it: if it comes back after its segments were deleted, it
    /// resumes at the oldest event kept (logged). Returns what changed,
    /// e.g. `["nats restarted", "file added"]`.
    pub async fn reconfigure(&self, config: &Config) -> Result<Vec<String>, StartError> {
        let added = self.sinks_to_add(config)?;
        let old_stats = self.sinks();
        let (durable, old_tasks) = {
            let mut running = self
                .running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (running.durable.clone(), std::mem::take(&mut running.tasks))
        };
        let Some(durable) = durable else {
            return Ok(Vec::new());
        };
        let mut changes = Vec::new();
        let mut kept = Vec::new();
        let mut stopping = Vec::new();
        for (kind, settings, handle) in old_tasks {
            let wanted = config.events.sinks.contains(&kind);
            if wanted && settings == sink_settings(config, kind) {
                kept.push((kind, settings, handle));
                continue;
            }
            handle.abort();
            stopping.push(handle);
            let what = if wanted { "restarted" } else { "removed" };
            changes.push(format!("{} {what}", kind.as_str()));
        }
        // A replacement never runs beside the task it replaces.
        for h in stopping {
            let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
        }
        let stats: Vec<Arc<SinkStats>> = config
            .events
            .sinks
            .iter()
            .filter_map(|k| {
                old_stats
                    .iter()
                    .chain(&added)
                    .find(|s| s.name == k.as_str())
                    .cloned()
            })
            .collect();
        for st in &added {
            changes.push(format!("{} added", st.name));
        }
        // The new set is what the outbox keeps events for before any new
        // task reads.
        *self
            .sinks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stats.clone();
        {
            let _one = self
                .cursor_lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for gone in old_stats
                .iter()
                .filter(|o| !stats.iter().any(|s| s.name == o.name))
            {
                let c = gone.cursor.load(Ordering::Relaxed);
                if let Err(e) = outbox::write_cursor(&self.dir, gone.name, c) {
                    tracing::error!(sink = gone.name, error = %e, "Cursor write failed.");
                }
            }
        }
        let mut tasks = Vec::new();
        for (kind, st) in config.events.sinks.iter().zip(&stats) {
            match kept.iter().position(|(k, _, _)| k == kind) {
                Some(at) => tasks.push(kept.remove(at)),
                None => {
                    let handle = spawn_sink(config, *kind, st.clone(), &self.dir, durable.clone());
                    tasks.push((*kind, sink_settings(config, *kind), handle));
                }
            }
        }
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .tasks = tasks;
        for c in &changes {
            tracing::info!(change = %c, "Event sinks reconfigured.");
        }
        Ok(changes)
    }

    /// Writes every cursor that moved since it was last written.
    pub fn persist_cursors(&self) {
        let _one = self
            .cursor_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in &self.sinks() {
            let c = s.cursor.load(Ordering::Relaxed);
            if c == s.persisted.load(Ordering::Relaxed) {
                continue;
            }
            match outbox::write_cursor(&self.dir, s.name, c) {
                Ok(()) => s.persisted.store(c, Ordering::Relaxed),
                Err(e) => tracing::error!(sink = s.name, error = %e, "Cursor write failed."),
            }
        }
    }
}

/// The outbox directory under a data dir.
pub fn outbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox")
}

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
#[error("event outbox {dir}: {source}")]
pub struct StartError {
    pub dir: PathBuf,
    pub source: std::io::Error,
}

/// Opens the outbox (recovering it), starts the writer thread and one
/// task per sink; returns the channel the shards send events into.
pub fn start(config: &Config) -> Result<(EventTx, Arc<PipelineStats>), StartError> {
    let dir = outbox_dir(&config.node.data_dir);
    let fail = |source| StartError {
        dir: dir.clone(),
        source,
    };
    let opts = outbox::Options {
        segment_bytes: config.events.segment_mb << 20,
        max_bytes: config.events.outbox_max_mb << 20,
    };
    let (mut ob, rec) = Outbox::open(&dir, opts).map_err(fail)?;
    if rec.truncated_bytes > 0 || rec.removed_segments > 0 {
        tracing::warn!(
            records = rec.records,
            truncated_bytes = rec.truncated_bytes,
            removed_segments = rec.removed_segments,
            "Outbox recovered: a torn or corrupt tail was cut off."
        );
    } else {
        tracing::info!(records = rec.records, dir = %dir.display(), "Outbox open.");
    }
    let mut sinks = Vec::new();
    for kind in &config.events.sinks {
        sinks.push(new_sink_stats(&dir, *kind).map_err(fail)?);
    }
    let stats = Arc::new(PipelineStats {
        next_seq: AtomicU64::new(ob.next_seq()),
        outbox_bytes: AtomicU64::new(ob.size()),
        outbox_max_bytes: AtomicU64::new(ob.max_bytes()),
        refused: AtomicU64::new(0),
        queued: AtomicU64::new(0),
        handled: AtomicU64::new(0),
        by_type: Default::default(),
        commit: Latency::default(),
        dir: dir.clone(),
        sinks: std::sync::RwLock::new(sinks.clone()),
        running: Default::default(),
        cursor_lock: Default::default(),
    });
    {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CURSOR_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let st = stats.clone();
                let _ = tokio::task::spawn_blocking(move || st.persist_cursors()).await;
            }
        });
    }
    let (durable_tx, durable_rx) = watch::channel(ob.next_seq());
    let (tx, mut rx) = mpsc::channel::<Event>(EVENT_QUEUE);
    {
        let stats = stats.clone();
        let dir = dir.clone();
        std::thread::Builder::new()
            .name("outbox-writer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(1024);
                while let Some(first) = rx.blocking_recv() {
                    batch.clear();
                    batch.push(first.to_line().into_bytes());
                    while batch.len() < 1024 {
                        match rx.try_recv() {
                            Ok(e) => batch.push(e.to_line().into_bytes()),
                            Err(_) => break,
                        }
                    }
                    let started = std::time::Instant::now();
                    let appended = ob.append(&batch);
                    stats.commit.observe_us(
                        started.elapsed().as_micros().try_into().unwrap_or(u64::MAX),
                    );
                    match appended {
                        Ok(a) => {
                            if a.refused > 0 {
                                stats.refused.fetch_add(a.refused as u64, Ordering::Relaxed);
                                tracing::error!(refused = a.refused, "Outbox full: events refused.");
                            }
                            let _ = durable_tx.send(a.end);
                        }
                        Err(e) => {
                            stats.refused.fetch_add(batch.len() as u64, Ordering::Relaxed);
                            tracing::error!(error = %e, dir = %dir.display(), lost = batch.len(), "Outbox write failed: events lost.");
                        }
                    }
                    if let Err(e) = ob.collect(stats.min_cursor()) {
                        tracing::warn!(error = %e, "Outbox segments could not be deleted.");
                    }
                    stats.next_seq.store(ob.next_seq(), Ordering::Relaxed);
                    stats.outbox_bytes.store(ob.size(), Ordering::Relaxed);
                    stats.handled.fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
            })
            .map_err(fail)?;
    }
    {
        let mut running = stats
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (kind, st) in config.events.sinks.iter().zip(sinks) {
            let handle = spawn_sink(config, *kind, st, &dir, durable_rx.clone());
            running
                .tasks
                .push((*kind, sink_settings(config, *kind), handle));
        }
        running.durable = Some(durable_rx);
    }
    Ok((EventTx::new(tx, stats.clone()), stats))
}

/// A sink's counters, its cursor read from disk.
fn new_sink_stats(dir: &Path, kind: SinkKind) -> std::io::Result<Arc<SinkStats>> {
    let cursor = outbox::read_cursor(dir, kind.as_str())?;
    Ok(Arc::new(SinkStats {
        name: kind.as_str(),
        cursor: AtomicU64::new(cursor),
        persisted: AtomicU64::new(cursor),
        up: std::sync::atomic::AtomicBool::new(true),
        ..Default::default()
    }))
}

/// What a sink of `kind` is started with, comparable across reloads (a
/// hash: Kafka properties may hold secrets).
fn sink_settings(config: &Config, kind: SinkKind) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let text = match kind {
        SinkKind::File => format!("{:?}", config.events.file),
        SinkKind::Nats => format!("{:?}", config.events.nats),
        SinkKind::Kafka => format!(
            "{:?}{:?}",
            config.events.kafka,
            config.events.kafka.properties.values().collect::<Vec<_>>()
        ),
    };
    BuildHasherDefault::<DefaultHasher>::default().hash_one(text)
}

fn spawn_sink(
    config: &Config,
    kind: SinkKind,
    st: Arc<SinkStats>,
    dir: &Path,
    durable: watch::Receiver<u64>,
) -> tokio::task::JoinHandle<()> {
    let sink = match kind {
        SinkKind::File => Sink::File(file::FileSink::new(
            config.events.file.path.clone(),
            config.events.file.rotate_mb << 20,
        )),
        SinkKind::Nats => Sink::Nats(Box::new(nats::NatsSink::new(config.events.nats.clone()))),
        #[cfg(feature = "kafka")]
        SinkKind::Kafka => {
            Sink::Kafka(Box::new(kafka::KafkaSink::new(config.events.kafka.clone())))
        }
        // Config validation refuses kafka in a build without the feature.
        #[cfg(not(feature = "kafka"))]
        SinkKind::Kafka => Sink::Unavailable("kafka"),
    };
    tokio::spawn(run_sink(sink, st, dir.to_path_buf(), durable))
}

enum Sink {
    File(file::FileSink),
    Nats(Box<nats::NatsSink>),
    #[cfg(feature = "kafka")]
    Kafka(Box<kafka::KafkaSink>),
    #[cfg(not(feature = "kafka"))]
    Unavailable(&'static str),
}

impl Sink {
    async fn publish(&mut self, batch: &[(u64, Vec<u8>)]) -> Result<usize, SinkError> {
        match self {
            Sink::File(f) => {
                let lines: Vec<&[u8]> = batch.iter().map(|(_, p)| p.as_slice()).collect();
                tokio::task::block_in_place(|| f.write(&lines))
                    .map(|()| batch.len())
                    .map_err(|e| SinkError::Transient(e.to_string()))
            }
            Sink::Nats(n) => n.publish(batch).await,
            #[cfg(feature = "kafka")]
            Sink::Kafka(k) => k.publish(batch).await,
            #[cfg(not(feature = "kafka"))]
            Sink::Unavailable(what) => Err(SinkError::Transient(format!(
                "this sipedge was built without {what}"
            ))),
        }
    }
}

async fn run_sink(
    mut sink: Sink,
    st: Arc<SinkStats>,
    dir: PathBuf,
    mut durable: watch::Receiver<u64>,
) {
    let name = st.name;
    let mut reader = outbox::Reader::new(&dir, st.cursor.load(Ordering::Relaxed));
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    loop {
        let end = *durable.borrow_and_update();
        if reader.position() >= end {
            st.oldest_ms.store(0, Ordering::Relaxed);
            if durable.changed().await.is_err() {
                return;
            }
            continue;
        }
        let batch = match tokio::task::block_in_place(|| reader.read(SINK_BATCH, end)) {
            Ok(b) if !b.is_empty() => b,
            Ok(_) => {
                // Committed but not readable yet: look again shortly.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => {
                tracing::error!(sink = name, error = %e, "Outbox read failed.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                reader = outbox::Reader::new(&dir, st.cursor.load(Ordering::Relaxed));
                continue;
            }
        };
        if let Some(t) = batch.first().and_then(|(_, p)| event_time_ms(p)) {
            st.oldest_ms.store(t, Ordering::Relaxed);
        }
        let mut done = 0;
        while done < batch.len() {
            let started = std::time::Instant::now();
            let res = sink.publish(&batch[done..]).await;
            st.publish
                .observe_us(started.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
            match res {
                Ok(n) if n > 0 => {
                    let acked_us = crate::server::unix_us();
                    for (_, p) in batch.iter().skip(done).take(n) {
                        if let Some(t) = event_time_ms(p) {
                            let us = acked_us.saturating_sub(t.saturating_mul(1000));
                            st.delivery.observe_us(us.max(0) as u64);
                        }
                    }
                    done += n;
                    st.published.fetch_add(n as u64, Ordering::Relaxed);
                    if failing {
                        tracing::info!(sink = name, "Sink delivering again.");
                        failing = false;
                    }
                    st.up.store(true, Ordering::Relaxed);
                    if let Some(t) = batch.get(done).and_then(|(_, p)| event_time_ms(p)) {
                        st.oldest_ms.store(t, Ordering::Relaxed);
                    }
                    backoff = Duration::from_millis(100);
                }
                Ok(_) => {
                    tokio::time::sleep(backoff).await;
                }
                Err(SinkError::Permanent(reason)) => {
                    let (seq, payload) = &batch[done];
                    st.dead.fetch_add(1, Ordering::Relaxed);
                    st.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(sink = name, seq, reason = %reason, "Event refused for good: dead-lettered.");
                    if let Err(e) = tokio::task::block_in_place(|| {
                        outbox::dead_letter(&dir, name, *seq, &reason, payload)
                    }) {
                        tracing::error!(sink = name, error = %e, "Dead-letter write failed.");
                    }
                    done += 1;
                }
                Err(SinkError::Transient(e)) => {
                    st.errors.fetch_add(1, Ordering::Relaxed);
                    st.up.store(false, Ordering::Relaxed);
                    if !failing {
                        tracing::warn!(sink = name, error = %e, "Sink failing; events wait in the outbox.");
                        failing = true;
                    } else {
                        tracing::debug!(sink = name, error = %e, "Sink still failing.");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            let next = batch[done.saturating_sub(1).min(batch.len() - 1)].0 + 1;
            if done > 0 {
                st.cursor.fetch_max(next, Ordering::Relaxed);
            }
        }
    }
}

/// The `time` of a stored event, Unix ms.
fn event_time_ms(payload: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct T<'a> {
        #[serde(borrow)]
        time: std::borrow::Cow<'a, str>,
    }
    let t: T<'_> = serde_json::from_slice(payload).ok()?;
    crate::event::parse_rfc3339_ms(&t.time)
}
