//! UDP listeners: one task per socket; each remote address is a flow.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tracing::debug;

use super::{Dispatch, Event, Flows};
use crate::config::{Side, TransportKind};
use crate::proxy::{Flow, FlowId};
use crate::sip::{self, Framing, Limits};

/// Reads datagrams until the socket fails or the proxy is gone.
pub async fn serve(
    socket: Arc<UdpSocket>,
    side: Side,
    flows: Arc<Flows>,
    events: Dispatch,
    limits: Limits,
    counters: Arc<crate::server::Counters>,
) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut ids: HashMap<SocketAddr, FlowId> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, remote) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors surface here on some systems; keep serving.
                debug!(%local, error = %e, "UDP receive failed.");
                continue;
            }
        };
        let data = &buf[..n];
        // RFC 5626 §4.4.1 CRLF keep-alives and stray bytes: nothing to route.
        if data.iter().all(|&b| b == b'\r' || b == b'\n' || b == 0) {
            continue;
        }
        let id = *ids.entry(remote).or_insert_with(|| {
            let id = flows.next_id();
            flows.insert_udp(id, socket.clone(), remote);
            id
        });
        let flow = Flow {
            id,
            transport: TransportKind::Udp,
            local,
            remote,
            side,
        };
        match sip::parse_with(Bytes::copy_from_slice(data), Framing::Datagram, &limits) {
            Ok(m) => {
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
