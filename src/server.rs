//! Wiring: listeners → proxy → sends. `run` binds every `[[listen]]`,
//! starts the transports, runs the proxy loop (messages, flow events and its
//! timers) and returns when `shutdown` completes.
//!
//! Proxy shards: one task per core, each owning the transactions of the
//! Call-IDs that hash to it; registrations and the flow table are shared
//! (an INVITE from the PBX has another Call-ID than the REGISTER it is
//! routed by).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::config::{Config, TransportKind};
use crate::proxy::{Action, Dest, FlowId, Proxy, Shared};
use crate::transport::{self, Dispatch, Event, Flows};

/// Messages waiting for the proxy before transports wait.
const EVENT_QUEUE: usize = 8192;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind {transport} {addr}: {source}")]
    Bind {
        transport: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Events(crate::sink::StartError),
    #[error("{what}: {source}")]
    Admin {
        what: String,
        source: std::io::Error,
    },
    #[error("listen {addr}: {source}")]
    Tls {
        addr: SocketAddr,
        source: transport::tls::TlsError,
    },
}

/// The TLS acceptor of a `tls`/`wss` listener; `None` for the plain ones.
pub fn tls_acceptor(l: &crate::config::Listen) -> Result<Option<tokio_rustls::TlsAcceptor>, Error> {
    match (l.transport, &l.cert, &l.key) {
        (TransportKind::Tls | TransportKind::Wss, Some(cert), Some(key)) => {
            transport::tls::acceptor(cert, key)
                .map(Some)
                .map_err(|source| Error::Tls {
                    addr: l.addr,
                    source,
                })
        }
        _ => Ok(None),
    }
}

/// The bound `[[listen]]` sockets. A reload binds the new ones first (if
/// one cannot be bound, the reload is refused and nothing changes) and
/// stops accepting on the removed ones; connections already accepted on a
/// removed TCP/TLS/WS listener stay up until they close, so live calls
/// are not dropped.
pub struct Listeners {
    bound: Vec<Bound>,
    /// The UDP sockets requests to the PBX leave from.
    udp: Arc<std::sync::RwLock<Vec<Arc<UdpSocket>>>>,
    flows: Arc<Flows>,
    dispatch: Dispatch,
    limits: crate::sip::Limits,
    udp_flows: transport::udp::FlowLimits,
    counters: Arc<Counters>,
}

struct Bound {
    listen: crate::config::Listen,
    task: tokio::task::AbortHandle,
    tls: Option<transport::tls::Acceptor>,
    /// UDP: the socket, and how to stop its task (which forgets its flows).
    udp: Option<(Arc<UdpSocket>, Arc<tokio::sync::Notify>)>,
}

impl Listeners {
    async fn bind(
        &self,
        l: &crate::config::Listen,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Result<Bound, Error> {
        let bind_err = |source| Error::Bind {
            transport: l.transport.as_str(),
            addr: l.addr,
            source,
        };
        let tls = tls.map(transport::tls::Acceptor::new);
        let (task, udp) = match l.transport {
            TransportKind::Udp => {
                let s = Arc::new(UdpSocket::bind(l.addr).await.map_err(bind_err)?);
                self.udp
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(s.clone());
                let stop = Arc::new(tokio::sync::Notify::new());
                let task = tokio::spawn(transport::udp::serve(
                    s.clone(),
                    l.side,
                    self.flows.clone(),
                    self.dispatch.clone(),
                    self.limits,
                    self.udp_flows,
                    self.counters.clone(),
                    stop.clone(),
                ));
                (task.abort_handle(), Some((s, stop)))
            }
            TransportKind::Tcp | TransportKind::Tls => {
                let s = TcpListener::bind(l.addr).await.map_err(bind_err)?;
                let task = tokio::spawn(transport::tcp::serve(
                    s,
                    l.side,
                    tls.clone(),
                    self.flows.clone(),
                    self.dispatch.clone(),
                    self.limits,
                    self.counters.clone(),
                ));
                (task.abort_handle(), None)
            }
            TransportKind::Ws | TransportKind::Wss => {
                let s = TcpListener::bind(l.addr).await.map_err(bind_err)?;
                let task = tokio::spawn(transport::ws::serve(
                    s,
                    l.side,
                    l.ws_path.clone(),
                    tls.clone(),
                    self.flows.clone(),
                    self.dispatch.clone(),
                    self.limits,
                    self.counters.clone(),
                ));
                (task.abort_handle(), None)
            }
        };
        info!(transport = l.transport.as_str(), addr = %l.addr, side = ?l.side, "Listening.");
        Ok(Bound {
            listen: l.clone(),
            task,
            tls,
            udp,
        })
    }

    /// Makes the bound listeners those of `new` (whose TLS acceptors,
    /// built from the new files, are in `certs`, by index). Returns what
    /// changed, e.g. `["added tcp 127.0.0.1:5070", "certificate tls
    /// 127.0.0.1:5061"]`, and what needs a restart.
    pub async fn apply(
        &mut self,
        new: &[crate::config::Listen],
        mut certs: Vec<Option<tokio_rustls::TlsAcceptor>>,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let same = |a: &crate::config::Listen, b: &crate::config::Listen| {
            a.transport == b.transport && a.addr == b.addr
        };
        let mut changes = Vec::new();
        let mut restart = Vec::new();
        // Bind what is new first: a failure leaves everything as it was.
        let mut added = Vec::new();
        for (i, l) in new.iter().enumerate() {
            if self.bound.iter().any(|b| same(&b.listen, l)) {
                continue;
            }
            let tls = certs.get_mut(i).and_then(Option::take);
            match self.bind(l, tls).await {
                Ok(b) => added.push(b),
                Err(e) => {
                    for b in added {
                        self.unbind(&b);
                    }
                    return Err(format!("listen[{i}]: {e}"));
                }
            }
        }
        for b in &added {
            changes.push(format!(
                "added {} {}",
                b.listen.transport.as_str(),
                b.listen.addr
            ));
        }
        let mut kept = Vec::new();
        for b in std::mem::take(&mut self.bound) {
            let Some(i) = new.iter().position(|l| same(&b.listen, l)) else {
                self.unbind(&b);
                changes.push(format!(
                    "removed {} {}",
                    b.listen.transport.as_str(),
                    b.listen.addr
                ));
                continue;
            };
            let l = &new[i];
            if l.side != b.listen.side || l.ws_path != b.listen.ws_path {
                restart.push(format!(
                    "listen {} {} side/ws_path",
                    l.transport.as_str(),
                    l.addr
                ));
            }
            // New handshakes use the certificate read now.
            if let (Some(slot), Some(a)) = (&b.tls, certs.get_mut(i).and_then(Option::take)) {
                slot.replace(a);
                changes.push(format!("certificate {} {}", l.transport.as_str(), l.addr));
            }
            kept.push(b);
        }
        kept.extend(added);
        // Configuration order (the proxy names the first of a transport).
        kept.sort_by_key(|b| {
            new.iter()
                .position(|l| same(&b.listen, l))
                .unwrap_or(usize::MAX)
        });
        self.bound = kept;
        // Requests to the PBX leave from the first UDP listener in
        // configuration order, as the proxy's Via names it.
        *self.udp.write().unwrap_or_else(PoisonError::into_inner) = self
            .bound
            .iter()
            .filter_map(|b| b.udp.as_ref().map(|(s, _)| s.clone()))
            .collect();
        Ok((changes, restart))
    }

    /// Stops accepting on `b`: accepted TCP/TLS/WS connections stay; a
    /// UDP listener forgets its flows and closes its socket.
    fn unbind(&self, b: &Bound) {
        match &b.udp {
            Some((s, stop)) => {
                stop.notify_one();
                self.udp
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|u| !Arc::ptr_eq(u, s));
            }
            None => b.task.abort(),
        }
        info!(transport = b.listen.transport.as_str(), addr = %b.listen.addr, "Stopped listening.");
    }
}

/// Counters shared by transports and the proxy loop (exported as metrics
/// once the metrics endpoint exists).
#[derive(Debug, Default)]
pub struct Counters {
    parse_errors: Mutex<HashMap<&'static str, u64>>,
    /// A per-process key for the To tags of error responses.
    pub tag_seed: u64,
}

impl Counters {
    pub fn new() -> Counters {
        use std::hash::BuildHasher;
        let tag_seed = std::hash::RandomState::new().hash_one("sipedge-tag");
        Counters {
            parse_errors: Mutex::default(),
            tag_seed,
        }
    }

    pub fn parse_error(&self, kind: &'static str) {
        *self
            .parse_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(kind)
            .or_default() += 1;
    }

    pub fn parse_errors(&self) -> HashMap<&'static str, u64> {
        self.parse_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Binds everything, then serves until `shutdown` completes. `path` is
/// the file `config` came from: SIGHUP and `sipedge reload` read it again.
pub async fn run(
    config: Config,
    path: Option<std::path::PathBuf>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let shards = std::thread::available_parallelism().map_or(1, |n| n.get());
    run_with_shards(config, path, shards, shutdown).await
}

/// [`run`] with a chosen number of proxy shards.
pub async fn run_with_shards(
    config: Config,
    path: Option<std::path::PathBuf>,
    shards: usize,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let flows = Arc::new(Flows::new());
    let counters = Arc::new(Counters::new());
    let limits = config.sip.limits();
    let shards = shards.max(1);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..shards)
        .map(|_| mpsc::channel(EVENT_QUEUE / shards))
        .unzip();
    let dispatch = Dispatch::new(senders);
    let mut listeners = Listeners {
        bound: Vec::new(),
        udp: Arc::default(),
        flows: flows.clone(),
        dispatch: dispatch.clone(),
        limits,
        udp_flows: config.sip.udp_flows(),
        counters: counters.clone(),
    };
    for l in &config.listen {
        let b = listeners.bind(l, tls_acceptor(l)?).await?;
        listeners.bound.push(b);
    }
    let (events, pipeline) = crate::sink::start(&config).map_err(Error::Events)?;
    let shared = Arc::new(Mutex::new(Shared::default()));
    let mut tasks = tokio::task::JoinSet::new();
    let (control_tx, control_rx): (Vec<_>, Vec<_>) = (0..shards).map(|_| mpsc::channel(64)).unzip();
    for (i, (rx, control)) in receivers.into_iter().zip(control_rx).enumerate() {
        let mut proxy = Proxy::shard(&config, shared.clone(), i == 0);
        proxy.set_wall_anchor_us(Instant::now(), unix_us());
        let out = Outbound {
            flows: flows.clone(),
            udp: listeners.udp.clone(),
            pbx_tcp: HashMap::new(),
            dispatch: dispatch.clone(),
            limits,
            counters: counters.clone(),
            events: events.clone(),
        };
        tasks.spawn(proxy_loop(proxy, rx, control, out));
    }
    let admin = Arc::new(crate::admin::AdminState {
        shards: control_tx,
        shared: shared.clone(),
        pipeline,
        counters: counters.clone(),
        ready: std::sync::atomic::AtomicBool::new(false),
        started: Instant::now(),
        config_path: path,
        running: Mutex::new(config.clone()),
        draining: std::sync::atomic::AtomicBool::new(false),
        reloads_ok: Default::default(),
        reloads_failed: Default::default(),
        listeners: tokio::sync::Mutex::new(listeners),
        stop: tokio::sync::Notify::new(),
    });
    let socket = config.admin.socket.clone();
    crate::admin::serve_unix(&socket, crate::admin::api(admin.clone()))
        .await
        .map_err(|source| Error::Admin {
            what: format!("admin socket {}", socket.display()),
            source,
        })?;
    info!(socket = %socket.display(), "Admin API on the Unix socket.");
    if let Some(addr) = config.admin.addr() {
        let token = config.admin.token().map_err(|source| Error::Admin {
            what: "admin token_file".into(),
            source,
        })?;
        let bound = crate::admin::serve_tcp(addr, crate::admin::api(admin.clone()), token.clone())
            .await
            .map_err(|source| Error::Admin {
                what: format!("admin listen {addr}"),
                source,
            })?;
        info!(addr = %bound, token = token.is_some(), "Admin API on TCP.");
    }
    if let Some(addr) = config.metrics.addr() {
        let bound = crate::admin::serve_tcp(addr, crate::admin::ops(admin.clone()), None)
            .await
            .map_err(|source| Error::Admin {
                what: format!("metrics listen {addr}"),
                source,
            })?;
        info!(addr = %bound, "Metrics on /metrics, /live, /ready.");
    }
    admin
        .ready
        .store(true, std::sync::atomic::Ordering::Relaxed);
    info!(shards, "Proxy running.");
    if let Err(e) = crate::notify::notify("READY=1\nSTATUS=running") {
        warn!(error = %e, "systemd notification failed.");
    }
    if let Some(every) = crate::notify::watchdog_interval() {
        tokio::spawn(watchdog(admin.clone(), every));
    }
    tokio::spawn(reload_on_sighup(admin.clone()));
    tokio::select! {
        _ = tasks.join_next() => warn!("A proxy shard stopped."),
        () = admin.stop.notified() => info!("Drained; stopping."),
        () = shutdown => {
            // SIGTERM/SIGINT: drain within the deadline (a second signal
            // stops at once).
            if !admin.draining.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let deadline = config.dialog.drain_deadline.0;
                info!(deadline_s = deadline.as_secs(), "Stop requested: draining.");
                tokio::select! {
                    _ = crate::admin::drain(&admin, deadline) => {}
                    () = stop_signal() => warn!("Second signal: stopping now."),
                }
            }
        }
    }
    let _ = crate::notify::notify("STOPPING=1");
    Ok(())
}

/// Wall-clock now, Unix milliseconds.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Wall clock, Unix microseconds.
pub fn unix_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// How often the call core's wall clock is re-anchored (NTP may move it).
const ANCHOR_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

async fn proxy_loop(
    mut proxy: Proxy,
    mut events: mpsc::Receiver<Event>,
    mut control: mpsc::Receiver<crate::admin::Control>,
    mut out: Outbound,
) {
    let mut anchored = Instant::now();
    loop {
        if anchored.elapsed() >= ANCHOR_EVERY {
            anchored = Instant::now();
            proxy.set_wall_anchor_us(anchored, unix_us());
        }
        let deadline = proxy.poll_timeout();
        tokio::select! {
            ev = events.recv() => match ev {
                Some(Event::Message(flow, msg)) => proxy.handle_message(Instant::now(), flow, *msg),
                Some(Event::Closed(id)) => {
                    let gone = proxy.handle_flow_closed(Instant::now(), id);
                    out.pbx_tcp.retain(|_, f| *f != id);
                    debug!(flow = id, bindings = gone, "Flow closed.");
                }
                None => return,
            },
            () = sleep_until(deadline) => proxy.handle_timeout(Instant::now()),
            Some(c) = control.recv() => handle_control(&mut proxy, c),
        }
        while let Some(a) = proxy.poll_action() {
            if let Err(dest) = out.perform(a).await {
                proxy.handle_send_failed(Instant::now(), dest);
            }
        }
    }
}

/// The next SIGINT or SIGTERM.
pub async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// SIGHUP: reload the configuration file (as `sipedge reload` does).
async fn reload_on_sighup(admin: Arc<crate::admin::AdminState>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        warn!("SIGHUP cannot be handled: reload with `sipedge reload`.");
        return;
    };
    while hup.recv().await.is_some() {
        let _ = crate::admin::reload(&admin).await;
    }
}

/// WATCHDOG=1 only while every shard loop answers a ping within the
/// interval; STATUS= says how many calls are live.
async fn watchdog(admin: Arc<crate::admin::AdminState>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let pings = tokio::time::timeout(
            every,
            crate::admin::ask_all(&admin, crate::admin::Control::Ping),
        )
        .await;
        match pings {
            Ok(live) if live.len() == admin.shards.len() => {
                let calls: usize = live.iter().sum();
                let _ = crate::notify::notify(&format!(
                    "WATCHDOG=1\nSTATUS=running, {calls} live calls"
                ));
            }
            _ => warn!("A shard did not answer the watchdog ping; no heartbeat sent."),
        }
    }
}

/// Answers the admin API.
fn handle_control(proxy: &mut Proxy, c: crate::admin::Control) {
    use crate::admin::Control;
    let now = Instant::now();
    match c {
        Control::Calls(tx) => {
            let _ = tx.send(proxy.calls().calls(now));
        }
        Control::Call(id, tx) => {
            let _ = tx.send(proxy.calls().call_detail(&id));
        }
        Control::End { id, by, reply } => {
            let _ = reply.send(proxy.end_interaction(now, &id, by));
        }
        Control::WrapComplete { who, reply } => {
            let _ = reply.send(proxy.complete_wrap(now, &who));
        }
        Control::Drain(done) => {
            proxy.drain();
            let _ = done.send(());
        }
        Control::Reload(config, done) => {
            proxy.reload(&config);
            let _ = done.send(());
        }
        Control::Ping(tx) => {
            let _ = tx.send(proxy.calls().live_count());
        }
        Control::Stats(tx) => {
            let p = proxy.stats();
            let c = proxy.calls().stats();
            let (server, client) = proxy.transactions();
            let ended: Vec<serde_json::Value> = c
                .ended_by
                .iter()
                .map(|((by, reason, channel, device), n)| {
                    serde_json::json!({"ended_by": by, "end_reason": reason, "channel": channel, "device": device, "n": n})
                })
                .collect();
            let live: Vec<serde_json::Value> = proxy
                .calls()
                .live_by_kind()
                .iter()
                .map(|((channel, device), n)| serde_json::json!({"channel": channel, "device": device, "n": n}))
                .collect();
            let hist = |h: &crate::call::Histogram| serde_json::json!({"counts": h.counts.to_vec(), "sum_ms": h.sum_ms, "count": h.count});
            let by_kind = |m: &std::collections::BTreeMap<(&str, &str, &str), u64>| -> Vec<serde_json::Value> {
                m.iter()
                    .map(|((what, side, transport), n)| {
                        serde_json::json!({"message": what, "side": side, "transport": transport, "n": n})
                    })
                    .collect()
            };
            let received = by_kind(&p.received);
            let sent = by_kind(&p.sent);
            let refusals: Vec<serde_json::Value> = p
                .refusals
                .iter()
                .map(|(code, n)| serde_json::json!({"code": code, "n": n}))
                .collect();
            let _ = tx.send(serde_json::json!({
                "received": received,
                "sent": sent,
                "refusals": refusals,
                "histograms": {
                    "ring": hist(&c.ring),
                    "talk": hist(&c.talk),
                    "hold": hist(&c.hold),
                    "wrap": hist(&c.wrap),
                },
                "proxy": {
                    "forwarded_requests": p.forwarded_requests,
                    "forwarded_responses": p.forwarded_responses,
                    "retransmissions_absorbed": p.retransmissions_absorbed,
                    "retransmissions_sent": p.retransmissions_sent,
                    "refused": p.refused,
                    "stray_responses": p.stray_responses,
                    "timeouts": p.timeouts,
                    "rate_limited": p.rate_limited,
                },
                "transactions": { "server": server, "client": client },
                "calls": {
                    "live": proxy.calls().live_count(),
                    "started": c.started,
                    "ended": c.ended,
                    "reaped": c.reaped,
                    "spoofs_refused": c.spoofs_refused,
                    "wrap_refused": c.wrap_refused,
                    "byes_sent": c.byes_sent,
                    "ended_by": ended,
                    "live_by_kind": live,
                },
            }));
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Sends what the proxy decided.
struct Outbound {
    flows: Arc<Flows>,
    udp: Arc<std::sync::RwLock<Vec<Arc<UdpSocket>>>>,
    /// Connections we opened to the PBX, by address.
    pbx_tcp: HashMap<SocketAddr, FlowId>,
    dispatch: Dispatch,
    limits: crate::sip::Limits,
    counters: Arc<Counters>,
    events: crate::sink::EventTx,
}

impl Outbound {
    /// Sends; `Err(dest)` when an address (the PBX) could not be reached,
    /// so the proxy can answer 503.
    async fn perform(&mut self, action: Action) -> Result<(), Dest> {
        let (dest, bytes) = match action {
            Action::Send { dest, bytes } => (dest, bytes),
            Action::Emit(e) => {
                self.events.send(e);
                return Ok(());
            }
        };
        let result = match dest {
            Dest::Flow(id) => self.flows.send(id, bytes).map_err(|e| e.to_string()),
            Dest::Addr(TransportKind::Udp, addr) => self.send_udp(addr, bytes),
            Dest::Addr(TransportKind::Tcp, addr) => self.send_tcp(addr, bytes).await,
            Dest::Addr(t, _) => Err(format!("no {} client transport", t.as_str())),
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                warn!(?dest, error = %e, "Send failed.");
                match dest {
                    Dest::Addr(..) => Err(dest),
                    // A flow that is gone is reported by its transport.
                    Dest::Flow(_) => Ok(()),
                }
            }
        }
    }

    fn send_udp(&self, addr: SocketAddr, bytes: Bytes) -> Result<(), String> {
        let socket = self
            .udp
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|s| s.local_addr().is_ok_and(|l| l.is_ipv4() == addr.is_ipv4()))
            .cloned()
            .ok_or("no UDP listener of this address family")?;
        socket
            .try_send_to(&bytes, addr)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn send_tcp(&mut self, addr: SocketAddr, bytes: Bytes) -> Result<(), String> {
        let id = match self.pbx_tcp.get(&addr) {
            Some(&id) => id,
            None => {
                let id = transport::tcp::connect(
                    addr,
                    self.flows.clone(),
                    self.dispatch.clone(),
                    self.limits,
                    self.counters.clone(),
                )
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?;
                self.pbx_tcp.insert(addr, id);
                id
            }
        };
        self.flows.send(id, bytes).map_err(|e| e.to_string())
    }
}
