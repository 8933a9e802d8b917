//! Where events go. Today: the JSON-lines file, fed straight from the call
//! core through a bounded channel. The durable outbox in front of the sinks
//! (and the NATS and Kafka sinks) is the next step; until then an event the
//! channel cannot take is counted and logged, not kept.

pub mod file;

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::event::Event;

/// Events waiting for the writer before new ones are counted as dropped.
pub const EVENT_QUEUE: usize = 65_536;

/// The call core's side of the event channel: never waits.
#[derive(Debug, Clone)]
pub struct EventTx {
    tx: mpsc::Sender<Event>,
    dropped: std::sync::Arc<AtomicU64>,
}

impl EventTx {
    pub fn new(tx: mpsc::Sender<Event>) -> EventTx {
        EventTx {
            tx,
            dropped: Default::default(),
        }
    }

    /// Queues `e`; when the writer is this far behind, counts and logs the
    /// loss instead of blocking the SIP path.
    pub fn send(&self, e: Event) {
        if let Err(err) = self.tx.try_send(e) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let e = match err {
                mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e) => e,
            };
            tracing::error!(id = %e.id, kind = e.kind.as_str(), dropped = n, "Event queue full: event dropped.");
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
