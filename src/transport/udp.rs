//! UDP listeners: one task per socket; each remote address is a flow.
//!
//! A flow is created for a remote address only once a datagram from it
//! parses. Flows nobody has heard from for `[sip] udp_flow_idle` are
//! forgotten (swept once a minute; the proxy is told, as for a closed
//! connection), and a listener holds at most `[sip] udp_max_flows`: at the
//! cap it sweeps with half the idle time, and if that frees nothing, the
//! datagrams of new sources are dropped and counted — the ones it already
//! knows keep working. A listener a reload removes forgets all its flows
//! (the proxy is told) and closes its socket: phones registered through it
//! must register again on another.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tracing::debug;

use super::{Dispatch, Event, Flows};
use crate::config::{Side, TransportKind};
use crate::proxy::{Flow, FlowId};
use crate::sip::{self, Framing, Limits};

/// How often idle flows are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Limits on a listener's flows.
#[derive(Debug, Clone, Copy)]
pub struct FlowLimits {
    pub idle: Duration,
    pub max: usize,
}

/// The remote addresses a listener knows.
struct Known {
    ids: HashMap<SocketAddr, (FlowId, Instant)>,
    limits: FlowLimits,
}

impl Known {
    /// Forgets flows idle for `idle`; returns their ids.
    fn sweep(&mut self, now: Instant, idle: Duration) -> Vec<FlowId> {
        let mut gone = Vec::new();
        self.ids.retain(|_, (id, seen)| {
            let keep = now.saturating_duration_since(*seen) < idle;
            if !keep {
                gone.push(*id);
            }
            keep
        });
        gone
    }
}

async fn forget(gone: Vec<FlowId>, flows: &Flows, events: &Dispatch) -> Result<(), ()> {
    for id in gone {
        flows.remove(id);
        events.send(Event::Closed(id)).await?;
    }
    Ok(())
}

/// Reads datagrams until the socket fails, the proxy is gone, or `stop`
/// is notified (then its flows are forgotten and the socket let go).
#[allow(clippy::too_many_arguments)] // the listener's whole context, each used once
pub async fn serve(
    socket: Arc<UdpSocket>,
    side: Side,
    flows: Arc<Flows>,
    events: Dispatch,
    limits: Limits,
    flow_limits: FlowLimits,
    counters: Arc<crate::server::Counters>,
    stop: Arc<tokio::sync::Notify>,
) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut known = Known {
        ids: HashMap::new(),
        limits: flow_limits,
    };
    let mut buf = vec![0u8; 65_536];
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (n, remote) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors surface here on some systems; keep serving.
                    debug!(%local, error = %e, "UDP receive failed.");
                    continue;
                }
            },
            () = stop.notified() => {
                let gone: Vec<FlowId> = known.ids.values().map(|(id, _)| *id).collect();
                debug!(%local, flows = gone.len(), "UDP listener removed: its flows are forgotten.");
                let _ = forget(gone, &flows, &events).await;
                return;
            }
            _ = sweep.tick() => {
                let gone = known.sweep(Instant::now(), known.limits.idle);
                if !gone.is_empty() {
                    debug!(%local, flows = gone.len(), "Idle UDP flows forgotten.");
                }
                if forget(gone, &flows, &events).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let data = &buf[..n];
        // RFC 5626 §4.4.1 CRLF keep-alives and stray bytes: nothing to route.
        if data.iter().all(|&b| b == b'\r' || b == b'\n' || b == 0) {
            continue;
        }
        match sip::parse_with(Bytes::copy_from_slice(data), Framing::Datagram, &limits) {
            Ok(m) => {
                let now = Instant::now();
                let id = match known.ids.get_mut(&remote) {
                    Some((id, seen)) => {
                        *seen = now;
                        *id
                    }
                    None => {
                        if known.ids.len() >= known.limits.max {
                            let gone = known.sweep(now, known.limits.idle / 2);
                            if forget(gone, &flows, &events).await.is_err() {
                                return;
                            }
                        }
                        if known.ids.len() >= known.limits.max {
                            counters.parse_error("udp_flow_table_full");
                            debug!(%remote, "UDP flow table full: new source dropped.");
                            continue;
                        }
                        let id = flows.next_id();
                        flows.insert_udp(id, socket.clone(), remote);
                        known.ids.insert(remote, (id, now));
                        id
                    }
                };
                let flow = Flow {
                    id,
                    transport: TransportKind::Udp,
                    local,
                    remote,
                    side,
                };
                if events
                    .send(Event::Message(flow, Box::new(m)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => match super::refusal(data, &e, &counters) {
                Some(resp) => {
                    debug!(%remote, error = %e, "Malformed request refused.");
                    let _ = socket.try_send_to(&resp, remote);
                }
                None => debug!(%remote, error = %e, "Unparseable datagram dropped."),
            },
        }
    }
}
