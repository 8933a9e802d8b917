//! Sockets: the only code in sipedge that touches the network.
//!
//! Each TCP connection, and each remote address of a UDP listener, is a
//! *flow* with a [`FlowId`]. Transports frame and parse what arrives and hand
//! `(Flow, Message)` to the proxy as [`Event`]s; the driver sends what the
//! proxy returns through [`Flows`]. A closed connection becomes
//! [`Event::Closed`], which is how the proxy (and, later, the call core)
//! learns an agent's device is gone.

pub mod tcp;
pub mod tls;
pub mod udp;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::proxy::{Flow, FlowId};
use crate::sip::Message;

/// What transports tell the proxy.
#[derive(Debug)]
pub enum Event {
    Message(Flow, Box<Message>),
    Closed(FlowId),
}

/// Hands events to the proxy shards: a message to the shard its Call-ID
/// hashes to (so a dialog's transactions stay together), a closed flow to
/// every shard.
#[derive(Debug, Clone)]
pub struct Dispatch {
    shards: Arc<[mpsc::Sender<Event>]>,
}

impl Dispatch {
    pub fn new(shards: Vec<mpsc::Sender<Event>>) -> Dispatch {
        Dispatch {
            shards: shards.into(),
        }
    }

    /// Waits for room in the shard's queue; `Err` once the proxy is gone.
    /// A closed flow is told to every shard (each has calls on it).
    pub async fn send(&self, event: Event) -> Result<(), ()> {
        if let Event::Closed(flow) = event {
            for tx in self.shards.iter() {
                tx.send(Event::Closed(flow)).await.map_err(drop)?;
            }
            return Ok(());
        }
        let shard = match &event {
            Event::Message(_, m) if self.shards.len() > 1 => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                m.call_id().hash(&mut h);
                (h.finish() % self.shards.len() as u64) as usize
            }
            _ => 0,
        };
        match self.shards.get(shard) {
            Some(tx) => tx.send(event).await.map_err(drop),
            None => Err(()),
        }
    }
}

/// The next accepted connection and its new flow (a connection whose
/// addresses cannot be read is skipped).
pub(crate) async fn accept(
    listener: &tokio::net::TcpListener,
    transport: crate::config::TransportKind,
    side: crate::config::Side,
    flows: &Flows,
) -> (tokio::net::TcpStream, Flow) {
    loop {
        let Ok((stream, remote)) = listener.accept().await else {
            continue;
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        return (
            stream,
            Flow {
                id: flows.next_id(),
                transport,
                local,
                remote,
                side,
            },
        );
    }
}

/// Counts bytes that did not parse and builds the 400/413/505 to answer
/// them with, when one can be built (a request with Via/From/To/Call-ID/CSeq
/// lines to copy); `None`: drop them.
pub(crate) fn refusal(
    bytes: &[u8],
    e: &crate::sip::ParseError,
    counters: &crate::server::Counters,
) -> Option<Bytes> {
    counters.parse_error(e.kind.name());
    crate::sip::build::error_response(bytes, e, counters.tag_seed).map(Bytes::from)
}

/// Ends a connection's flow: dropping its sender lets the writer flush what
/// is queued (a final 413, say) and stop, within two seconds; then the proxy
/// learns the flow is gone.
pub(crate) async fn close(
    flow: FlowId,
    writer: tokio::task::JoinHandle<()>,
    flows: &Flows,
    events: &Dispatch,
) {
    flows.remove(flow);
    if tokio::time::timeout(std::time::Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        tracing::debug!(flow, "Writer did not drain in time.");
    }
    let _ = events.send(Event::Closed(flow)).await;
}

/// How to reach a flow.
#[derive(Debug, Clone)]
enum Handle {
    Udp {
        socket: Arc<UdpSocket>,
        remote: SocketAddr,
    },
    Stream {
        tx: mpsc::Sender<Bytes>,
    },
}

/// Why a send did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the flow is closed")]
    Closed,
    #[error("the flow's send queue is full")]
    Full,
    #[error("the datagram could not be sent")]
    Datagram,
}

/// The live flows and how to write to them.
#[derive(Debug, Default)]
pub struct Flows {
    next: AtomicU64,
    table: Mutex<HashMap<FlowId, Handle>>,
}

impl Flows {
    pub fn new() -> Flows {
        Flows {
            next: AtomicU64::new(1),
            table: Mutex::default(),
        }
    }

    pub fn next_id(&self) -> FlowId {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<FlowId, Handle>> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn insert_udp(&self, id: FlowId, socket: Arc<UdpSocket>, remote: SocketAddr) {
        self.table().insert(id, Handle::Udp { socket, remote });
    }

    pub(crate) fn insert_stream(&self, id: FlowId, tx: mpsc::Sender<Bytes>) {
        self.table().insert(id, Handle::Stream { tx });
    }

    pub(crate) fn remove(&self, id: FlowId) {
        self.table().remove(&id);
    }

    /// Sends `bytes` over flow `id` without waiting for the socket.
    pub fn send(&self, id: FlowId, bytes: Bytes) -> Result<(), SendError> {
        let handle = self.table().get(&id).cloned().ok_or(SendError::Closed)?;
        match handle {
            Handle::Udp { socket, remote } => match socket.try_send_to(&bytes, remote) {
                Ok(_) => Ok(()),
                Err(_) => Err(SendError::Datagram),
            },
            Handle::Stream { tx } => tx.try_send(bytes).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SendError::Full,
                mpsc::error::TrySendError::Closed(_) => SendError::Closed,
            }),
        }
    }
}
