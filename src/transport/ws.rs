//! SIP over WebSocket (RFC 7118), plain (`ws`) or over TLS (`wss`): the
//! browser softphones' transport.
//!
//! The upgrade must ask for the `sip` subprotocol, and the answer echoes it;
//! anything else is refused with HTTP 400 before a flow exists. Each text or
//! binary frame carries one SIP message (so no Content-Length is needed,
//! as for a datagram); WebSocket pings are answered by the library. A
//! connection is one flow, and its loss is reported like a TCP close.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::{Message as Frame, WebSocketConfig};
use tracing::debug;

use super::{Dispatch, Event, Flows};
use crate::config::{Side, TransportKind};
use crate::proxy::Flow;
use crate::sip::{self, Framing, Limits};

/// Messages queued for one connection's writer before sends are refused.
const SEND_QUEUE: usize = 256;

#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    side: Side,
    path: String,
    tls: Option<super::tls::Acceptor>,
    flows: Arc<Flows>,
    events: Dispatch,
    limits: Limits,
    counters: Arc<crate::server::Counters>,
) {
    let path: Arc<str> = path.into();
    let kind = if tls.is_some() {
        TransportKind::Wss
    } else {
        TransportKind::Ws
    };
    loop {
        let (stream, flow) = super::accept(&listener, kind, side, &flows).await;
        let (path, flows, events, counters) = (
            path.clone(),
            flows.clone(),
            events.clone(),
            counters.clone(),
        );
        let tls = tls.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            match tls {
                None => connection(stream, flow, path, flows, events, limits, counters).await,
                Some(acceptor) => {
                    let acceptor = acceptor.current();
                    if let Some(s) = super::tls::handshake(&acceptor, stream, flow.remote).await {
                        connection(s, flow, path, flows, events, limits, counters).await;
                    }
                }
            }
        });
    }
}

/// Checks the upgrade request: the configured path and the `sip`
/// subprotocol (RFC 7118 §4.1), which the response then names.
// The large error type is tungstenite's callback signature, not ours.
#[allow(clippy::result_large_err)]
fn check_upgrade(path: &str, req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let refuse = |why: &str| {
        let mut r = ErrorResponse::new(Some(why.to_string()));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        r
    };
    if req.uri().path() != path {
        return Err(refuse("unknown path"));
    }
    let offers_sip = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("sip"));
    if !offers_sip {
        return Err(refuse("the sip subprotocol is required (RFC 7118)"));
    }
    resp.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
    Ok(resp)
}

// The upgrade callback's large error type is tungstenite's signature.
#[allow(clippy::result_large_err)]
async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    flow: Flow,
    path: Arc<str>,
    flows: Arc<Flows>,
    events: Dispatch,
    limits: Limits,
    counters: Arc<crate::server::Counters>,
) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_message))
        .max_frame_size(Some(limits.max_message));
    let ws = match tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |req: &Request, resp| check_upgrade(&path, req, resp),
        Some(config),
    )
    .await
    {
        Ok(ws) => ws,
        Err(e) => {
            debug!(remote = %flow.remote, error = %e, "WebSocket upgrade refused.");
            return;
        }
    };
    let (mut sink, mut frames) = ws.split();
    let (tx, mut outgoing) = mpsc::channel::<Bytes>(SEND_QUEUE);
    flows.insert_stream(flow.id, tx);
    let writer = tokio::spawn(async move {
        while let Some(b) = outgoing.recv().await {
            // Text when it is UTF-8 (what browsers expect), else binary.
            let frame = match tokio_tungstenite::tungstenite::Utf8Bytes::try_from(b.clone()) {
                Ok(text) => Frame::Text(text),
                Err(_) => Frame::Binary(b),
            };
            if sink.send(frame).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    while let Some(frame) = frames.next().await {
        let bytes = match frame {
            Ok(Frame::Text(t)) => Bytes::from(t),
            Ok(Frame::Binary(b)) => b,
            Ok(Frame::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if bytes.iter().all(|&b| b == b'\r' || b == b'\n') {
            continue;
        }
        match sip::parse_with(bytes.clone(), Framing::Datagram, &limits) {
            Ok(m) => {
                if events
                    .send(Event::Message(flow, Box::new(m)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Err(e) => {
                if let Some(resp) = super::refusal(&bytes, &e, &counters) {
                    let _ = flows.send(flow.id, resp);
                }
                debug!(flow = flow.id, error = %e, "Malformed message refused.");
            }
        }
    }
    super::close(flow.id, writer, &flows, &events).await;
}
