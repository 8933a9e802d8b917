//! TCP and TLS: an accept loop per listener and a task per connection,
//! framing the byte stream (Content-Length, RFC 5626 CRLF keep-alives).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::debug;

use super::{Dispatch, Event, Flows};
use crate::config::{Side, TransportKind};
use crate::proxy::{Flow, FlowId};
use crate::sip::{self, Framing, Limits, stream};

/// Messages queued for one connection's writer before sends are refused.
const SEND_QUEUE: usize = 256;

/// Accepts connections on a `tcp` listener, or a `tls` one when `tls` holds
/// its acceptor.
pub async fn serve(
    listener: TcpListener,
    side: Side,
    tls: Option<super::tls::Acceptor>,
    flows: Arc<Flows>,
    events: Dispatch,
    limits: Limits,
    counters: Arc<crate::server::Counters>,
) {
    let kind = if tls.is_some() {
        TransportKind::Tls
    } else {
        TransportKind::Tcp
    };
    loop {
        let (stream, flow) = super::accept(&listener, kind, side, &flows).await;
        let (flows, events, counters) = (flows.clone(), events.clone(), counters.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            match tls {
                None => connection(stream, flow, flows, events, limits, counters).await,
                Some(acceptor) => {
                    let acceptor = acceptor.current();
                    if let Some(s) = super::tls::handshake(&acceptor, stream, flow.remote).await {
                        connection(s, flow, flows, events, limits, counters).await;
                    }
                }
            }
        });
    }
}

/// Opens an outbound connection (to the PBX) and serves it like an accepted
/// one. Returns the flow id once the connection is up.
pub async fn connect(
    remote: SocketAddr,
    flows: Arc<Flows>,
    events: Dispatch,
    limits: Limits,
    counters: Arc<crate::server::Counters>,
) -> std::io::Result<FlowId> {
    let stream = TcpStream::connect(remote).await?;
    let local = stream.local_addr()?;
    let id = flows.next_id();
    let flow = Flow {
        id,
        transport: TransportKind::Tcp,
        local,
        remote,
        side: Side::Core,
    };
    // Register before spawning so the caller can send at once.
    let _ = stream.set_nodelay(true);
    let (tx, rx) = mpsc::channel(SEND_QUEUE);
    flows.insert_stream(id, tx);
    tokio::spawn(run(stream, flow, rx, flows, events, limits, counters));
    Ok(id)
}

async fn connection<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    flow: Flow,
    flows: Arc<Flows>,
    events: Dispatch,
    limits: Limits,
    counters: Arc<crate::server::Counters>,
) {
    let (tx, rx) = mpsc::channel(SEND_QUEUE);
    flows.insert_stream(flow.id, tx);
    run(stream, flow, rx, flows, events, limits, counters).await;
}

async fn run<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    flow: Flow,
    mut outgoing: mpsc::Receiver<Bytes>,
    flows: Arc<Flows>,
    events: Dispatch,
    limits: Limits,
    counters: Arc<crate::server::Counters>,
) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        while let Some(b) = outgoing.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let mut buf = BytesMut::with_capacity(8192);
    'conn: loop {
        loop {
            match stream::next_frame(&buf, &limits) {
                Ok(stream::Frame::NeedMore) => break,
                Ok(stream::Frame::Ping) => {
                    buf.advance(4);
                    let _ = flows.send(flow.id, Bytes::from_static(b"\r\n"));
                }
                Ok(stream::Frame::Pong) => buf.advance(2),
                Ok(stream::Frame::Message { len }) => {
                    let bytes = buf.split_to(len).freeze();
                    match sip::parse_with(bytes.clone(), Framing::Stream, &limits) {
                        Ok(m) => {
                            if events
                                .send(Event::Message(flow, Box::new(m)))
                                .await
                                .is_err()
                            {
                                break 'conn;
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
                Err(e) => {
                    // The stream can no longer be trusted to be framed. A
                    // message over the size cap still gets its 413 when the
                    // start of it shows what to answer.
                    if let Some(resp) = super::refusal(&buf, &e, &counters) {
                        let _ = flows.send(flow.id, resp);
                    }
                    debug!(flow = flow.id, remote = %flow.remote, error = %e, "Stream desynchronised; closing.");
                    break 'conn;
                }
            }
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    super::close(flow.id, writer, &flows, &events).await;
}
