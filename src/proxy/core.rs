//! The edge proxy: transaction-stateful forwarding between agents' devices
//! (the access side) and the PBX (the core side), RFC 3261 §16, sans-IO.
//!
//! Feed it what arrived ([`Proxy::handle_message`], [`Proxy::handle_flow_closed`])
//! and the time ([`Proxy::handle_timeout`] at [`Proxy::poll_timeout`]); take
//! what to do from [`Proxy::poll_action`]: bytes to send to a flow or an
//! address, and [`Action::Emit`] for the call core's events. The call core
//! ([`crate::call`]) sees every request before it is forwarded (it may
//! refuse a forged BYE or CANCEL, or an INVITE to an agent in wrap) and
//! every response forwarded; the BYEs it originates run as client
//! transactions here.
//!
//! Routing rules:
//! - a request from the access side goes to the PBX (`[pbx] addrs[0]`),
//!   whatever its Request-URI names: the edge is no open relay;
//! - a request from the PBX goes to the agent flow named by the flow token
//!   in our Route entry (Record-Route or Path), else to the flow of the
//!   registration its Request-URI names; a request that claims the core side
//!   from any other source is refused (403);
//! - responses follow the transactions back.
//!
//! Our Record-Route and Path URIs carry a flow token in their user part:
//! the flow id and a keyed hash of it, so a stranger cannot point a request
//! at someone else's connection.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;

use crate::config::{Config, Side, TransportKind};
use crate::sip::build::{self, Edits, MaxForwards, ResponseOpts};
use crate::sip::header::Uri;
use crate::sip::{self, HeaderName, Message, Method};

use super::registrar::{Binding, Registrar};
use super::transaction::{ClientState, ClientTx, Kind, Output, ServerState, ServerTx, Timers};
use crate::call::{AgentPeer, CallAction, Calls, EndedBy, Toward, Verdict, WrapBoard};

/// Prefix of the branches this proxy writes.
const BRANCH_PREFIX: &str = "z9hG4bK-se";

/// A connection (TCP/TLS/WS) or a UDP remote address, as the transports
/// number them.
pub type FlowId = u64;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub id: FlowId,
    pub transport: TransportKind,
    /// Our address it arrived on.
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The side of the listener it arrived on.
    pub side: Side,
}

/// Where to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// Over an existing flow.
    Flow(FlowId),
    /// To an address (the PBX), opening a connection if the transport needs one.
    Addr(TransportKind, SocketAddr),
}

/// What the proxy asks its driver to do.
#[derive(Debug, Clone)]
pub enum Action {
    Send {
        dest: Dest,
        bytes: Bytes,
    },
    /// An event from the call core, for the outbox.
    Emit(crate::event::Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    Invite,
    Cancel,
    Other,
}

fn class_of(m: Option<Method>) -> Class {
    match m {
        Some(Method::Invite) | Some(Method::Ack) => Class::Invite,
        Some(Method::Cancel) => Class::Cancel,
        _ => Class::Other,
    }
}

/// Identifies a server transaction (RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ServerKey {
    branch: Box<[u8]>,
    sent_by: Box<[u8]>,
    class: Class,
}

/// Identifies a client transaction: our branch, and whether it is the CANCEL
/// that shares the INVITE's branch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    branch: Box<[u8]>,
    cancel: bool,
}

#[derive(Debug)]
struct ServerEntry {
    tx: ServerTx,
    flow: Flow,
    side: Side,
    /// The request's bytes (not its parsed index: entries live 32 s after
    /// the final response, and the index is 1 KiB); re-parsed on the rare
    /// paths that build a response from it.
    request: Bytes,
    is_register: bool,
    client: Option<ClientKey>,
    agent_flow: Option<FlowId>,
}

impl ServerEntry {
    /// A server transaction for `req`, received on `flow`, not yet forwarded.
    fn new(tx: ServerTx, flow: Flow, side: Side, req: &Message) -> ServerEntry {
        ServerEntry {
            tx,
            flow,
            side,
            request: req.wire_bytes(),
            is_register: req.method() == Some(Method::Register),
            client: None,
            agent_flow: None,
        }
    }
}

#[derive(Debug)]
struct ClientEntry {
    tx: ClientTx,
    server: Option<ServerKey>,
    dest: Dest,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TimerRef {
    Server(Box<[u8]>, Box<[u8]>, u8),
    Client(Box<[u8]>, bool),
    Registrar,
}

/// Counters the driver exports as metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Messages received, by (method or status class, side, transport).
    pub received: std::collections::BTreeMap<(&'static str, &'static str, &'static str), u64>,
    /// Messages sent, by (method or status class, side, transport).
    pub sent: std::collections::BTreeMap<(&'static str, &'static str, &'static str), u64>,
    /// Error responses the edge itself answered, by code.
    pub refusals: std::collections::BTreeMap<u16, u64>,
    pub forwarded_requests: u64,
    pub forwarded_responses: u64,
    pub retransmissions_absorbed: u64,
    pub retransmissions_sent: u64,
    pub refused: u64,
    pub stray_responses: u64,
    pub timeouts: u64,
    pub rate_limited: u64,
}

/// The proxy's state.
pub struct Proxy {
    pbx: Vec<SocketAddr>,
    pbx_transport: TransportKind,
    config: Config,
    timers: Timers,
    /// Our addresses, by transport.
    listeners: Vec<(TransportKind, SocketAddr)>,
    /// Listeners a reload removed: still ours when a Route names them.
    retired: Vec<(TransportKind, SocketAddr)>,
    secret: RandomState,
    tag_seed: u64,
    servers: HashMap<ServerKey, ServerEntry>,
    clients: HashMap<ClientKey, ClientEntry>,
    timers_heap: BinaryHeap<Reverse<(Instant, TimerRef)>>,
    /// Registrations and live flows, shared with the other shards.
    shared: Arc<Mutex<Shared>>,
    /// Whether this shard runs the registration expiry timer (one does).
    owns_registrar: bool,
    limiter: RateLimiter,
    actions: VecDeque<Action>,
    stats: Stats,
    calls: Calls,
    /// New INVITEs get 503 (the process is about to stop).
    draining: bool,
}

/// What every proxy shard shares: the registrations (an INVITE from the PBX
/// has another Call-ID, so another shard, than the REGISTER it is routed by)
/// and the live flows.
#[derive(Debug, Default)]
pub struct Shared {
    pub registrar: Registrar,
    pub flows: HashMap<FlowId, Flow>,
    /// Agents in wrap (an agent's calls land on any shard).
    pub wraps: Arc<Mutex<WrapBoard>>,
}

/// Per-source token buckets for access-side requests.
struct RateLimiter {
    rate: f64,
    burst: f64,
    action: crate::config::RateAction,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

/// Most sources tracked at once; beyond it idle buckets are swept first.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// Takes a token for `ip`; `false` when its bucket is empty.
    fn admit(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(&ip) {
            let full_after = std::time::Duration::from_secs_f64(self.burst / self.rate);
            self.buckets
                .retain(|_, (_, last)| now.saturating_duration_since(*last) < full_after);
        }
        let (tokens, last) = self.buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * self.rate)
            .min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn server_timer(k: &ServerKey) -> TimerRef {
    TimerRef::Server(k.branch.clone(), k.sent_by.clone(), k.class as u8)
}

impl Proxy {
    /// A proxy on its own (one shard).
    pub fn new(config: &Config) -> Proxy {
        Proxy::shard(config, Arc::default(), true)
    }

    /// One shard of several sharing `shared`; exactly one shard should own
    /// the registration expiry timer.
    pub fn shard(config: &Config, shared: Arc<Mutex<Shared>>, owns_registrar: bool) -> Proxy {
        let secret = RandomState::new();
        let tag_seed = secret.hash_one("tag-seed");
        let board = shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wraps
            .clone();
        Proxy {
            pbx: config.pbx.addrs.clone(),
            pbx_transport: config.pbx.transport,
            config: config.clone(),
            timers: config.sip.timers(),
            listeners: config
                .listen
                .iter()
                .map(|l| (l.transport, l.addr))
                .collect(),
            retired: Vec::new(),
            secret,
            tag_seed,
            servers: HashMap::new(),
            clients: HashMap::new(),
            timers_heap: BinaryHeap::new(),
            shared,
            owns_registrar,
            limiter: RateLimiter {
                rate: config.sip.rate_limit as f64,
                burst: config.sip.rate_burst as f64,
                action: config.sip.rate_limit_action,
                buckets: HashMap::new(),
            },
            actions: VecDeque::new(),
            stats: Stats::default(),
            calls: Calls::shard(config.call_config(), board),
            draining: false,
        }
    }

    /// Stops taking new calls (503 + Retry-After to initial INVITEs); live
    /// calls and everything in them go on.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Takes a reloaded configuration: timers, limits, rate limits, the
    /// PBX addresses and trusted networks, and the call core's settings.
    /// Listeners are what the process bound at start and stay as they are.
    pub fn reload(&mut self, config: &Config) {
        self.pbx = config.pbx.addrs.clone();
        self.pbx_transport = config.pbx.transport;
        self.timers = config.sip.timers();
        self.limiter.rate = config.sip.rate_limit as f64;
        self.limiter.burst = config.sip.rate_burst as f64;
        self.limiter.action = config.sip.rate_limit_action;
        // Listeners a reload removed stay known as ours (live dialogs'
        // Record-Routes name them) but are no longer used for new ones.
        for l in &self.listeners {
            if !config.listen.iter().any(|n| (n.transport, n.addr) == *l)
                && !self.retired.contains(l)
            {
                self.retired.push(*l);
            }
        }
        self.listeners = config
            .listen
            .iter()
            .map(|l| (l.transport, l.addr))
            .collect();
        self.retired.retain(|l| !self.listeners.contains(l));
        self.config = config.clone();
        let mut calls = config.call_config();
        calls.listeners = self
            .listeners
            .iter()
            .chain(&self.retired)
            .copied()
            .collect();
        self.calls.reconfigure(calls);
    }

    /// Ties the call core's wall clock to the monotonic one (the driver
    /// calls this at start and now and then; durations never use it).
    pub fn set_wall_anchor(&mut self, now: Instant, unix_ms: i64) {
        self.calls.set_wall_anchor(now, unix_ms);
    }

    /// The same to the microsecond.
    pub fn set_wall_anchor_us(&mut self, now: Instant, unix_us: i64) {
        self.calls.set_wall_anchor_us(now, unix_us);
    }

    /// The call core (read-only: live calls, stats).
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Ends a live interaction from outside (the desktop's end-call
    /// button): BYE both ways.
    pub fn end_interaction(
        &mut self,
        now: Instant,
        id: &str,
        by: EndedBy,
    ) -> Result<(), crate::call::EndError> {
        let r = self.calls.end(now, id, by);
        self.drain_calls(now);
        r
    }

    /// The agent (or the wrap of interaction `who`) completed wrap-up.
    pub fn complete_wrap(&mut self, now: Instant, who: &str) -> bool {
        let r = self.calls.complete_wrap(now, who);
        self.drain_calls(now);
        r
    }

    /// Moves what the call core decided into the proxy's actions: events
    /// out, BYEs through client transactions.
    fn drain_calls(&mut self, now: Instant) {
        while let Some(a) = self.calls.poll_action() {
            match a {
                CallAction::Emit(e) => self.actions.push_back(Action::Emit(e)),
                CallAction::Send {
                    toward,
                    method,
                    request_uri,
                    headers,
                } => self.originate(now, toward, method, &request_uri, &headers),
            }
        }
    }

    /// Sends a request of our own (a BYE the call core decided) and runs
    /// its client transaction; the response ends there.
    fn originate(
        &mut self,
        now: Instant,
        toward: Toward,
        method: Method,
        request_uri: &str,
        headers: &str,
    ) {
        let (dest, transport) = match toward {
            Toward::Pbx => {
                let Some(&pbx) = self.pbx.first() else { return };
                (Dest::Addr(self.pbx_transport, pbx), self.pbx_transport)
            }
            Toward::Agent(f) => {
                let Some(flow) = self.shared().flows.get(&f).copied() else {
                    return;
                };
                (Dest::Flow(f), flow.transport)
            }
        };
        let Some(local) = self
            .local_for(transport)
            .or_else(|| self.listeners.first().map(|l| l.1))
        else {
            return;
        };
        let h = self.secret.hash_one(("originate", request_uri, headers));
        let branch = format!("{BRANCH_PREFIX}{h:016x}00000000");
        let host = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let bytes = Bytes::from(format!(
            "{} {request_uri} SIP/2.0\r\nVia: SIP/2.0/{} {host}:{};branch={branch};rport\r\n{headers}",
            method.as_str().unwrap_or("BYE"),
            transport.as_str().to_ascii_uppercase(),
            local.port(),
        ));
        let ckey = ClientKey {
            branch: branch.into_bytes().into(),
            cancel: false,
        };
        let reliable = self.is_reliable(dest);
        let kind = if method == Method::Invite {
            Kind::Invite
        } else {
            Kind::NonInvite
        };
        let tx = ClientTx::new(kind, bytes.clone(), reliable, now, self.timers);
        self.clients.insert(
            ckey.clone(),
            ClientEntry {
                tx,
                server: None,
                dest,
            },
        );
        self.actions.push_back(Action::Send { dest, bytes });
        self.arm_client(&ckey);
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        // A panicking shard must not take routing down with it.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live registrations (a snapshot).
    pub fn bindings(&self) -> Vec<Binding> {
        self.shared().registrar.bindings().cloned().collect()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Live transactions (server, client).
    pub fn transactions(&self) -> (usize, usize) {
        (self.servers.len(), self.clients.len())
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        let a = self.actions.pop_front()?;
        if let Action::Send { dest, bytes } = &a {
            let (side, transport) = match dest {
                Dest::Addr(t, _) => ("core", t.as_str()),
                Dest::Flow(f) => match self.shared().flows.get(f) {
                    Some(flow) if self.config.is_pbx(flow.remote) => {
                        ("core", flow.transport.as_str())
                    }
                    Some(flow) => ("access", flow.transport.as_str()),
                    None => ("access", "unknown"),
                },
            };
            *self
                .stats
                .sent
                .entry((message_kind(bytes), side, transport))
                .or_default() += 1;
        }
        Some(a)
    }

    /// A message parsed from `flow`.
    pub fn handle_message(&mut self, now: Instant, flow: Flow, msg: Message) {
        self.shared().flows.insert(flow.id, flow);
        let what = match (msg.method(), msg.status()) {
            (Some(m), _) => m.as_str().unwrap_or("OTHER"),
            (None, Some(c)) => ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"]
                .get((c / 100).saturating_sub(1) as usize)
                .copied()
                .unwrap_or("other"),
            _ => "other",
        };
        let side = if self.is_pbx(flow.remote) {
            "core"
        } else {
            "access"
        };
        *self
            .stats
            .received
            .entry((what, side, flow.transport.as_str()))
            .or_default() += 1;
        if msg.is_request() {
            self.on_request(now, flow, msg);
        } else {
            self.on_response(now, flow, msg);
        }
        self.drain_calls(now);
    }

    /// A connection closed (or a UDP flow was forgotten): its registrations
    /// go (every shard is told; the first does the registrar's part), its
    /// unanswered INVITEs are cancelled or refused, and the call core starts
    /// the grace of its answered calls. Returns the number of bindings
    /// removed.
    pub fn handle_flow_closed(&mut self, now: Instant, flow: FlowId) -> usize {
        let removed = {
            let mut shared = self.shared();
            shared.flows.remove(&flow);
            shared.registrar.remove_flow(now, flow)
        };
        // INVITEs the agent sent: CANCEL them downstream.
        let sent: Vec<ClientKey> = self
            .servers
            .values()
            .filter(|e| e.flow.id == flow && e.tx.state() == ServerState::Proceeding)
            .filter_map(|e| e.client.clone())
            .collect();
        for ckey in sent {
            self.cancel_client(now, &ckey);
        }
        // INVITEs to the agent: 480 upstream.
        self.fail_clients(
            now,
            Dest::Flow(flow),
            480,
            "Temporarily Unavailable: the agent's connection was lost",
        );
        self.calls.on_flow_closed(now, flow);
        self.drain_calls(now);
        removed
    }

    /// Sending to `dest` failed (connection refused, no route): the client
    /// transactions waiting on it end, and their requests get 503 upstream
    /// (RFC 3261 §16.7: the next hop cannot be reached).
    pub fn handle_send_failed(&mut self, now: Instant, dest: Dest) {
        self.fail_clients(
            now,
            dest,
            503,
            "Service Unavailable: the PBX cannot be reached",
        );
        self.drain_calls(now);
    }

    /// Ends the client transactions waiting on `dest` and answers their
    /// server transactions with `code`.
    fn fail_clients(&mut self, now: Instant, dest: Dest, code: u16, reason: &str) {
        let waiting: Vec<ClientKey> = self
            .clients
            .iter()
            .filter(|(_, c)| {
                c.dest == dest && matches!(c.tx.state(), ClientState::Calling | ClientState::Trying)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in waiting {
            let Some(c) = self.clients.remove(&k) else {
                continue;
            };
            if let (false, Some(server)) = (k.cancel, c.server) {
                self.stats.refused += 1;
                self.answer(now, &server, code, Some(reason));
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let mut next = None;
        while let Some(Reverse((at, r))) = self.timers_heap.peek() {
            if self.timer_current(r) == Some(*at) {
                next = Some(*at);
                break;
            }
            self.timers_heap.pop();
        }
        match (next, self.calls.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers_heap.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, r))) = self.timers_heap.pop() else {
                break;
            };
            if self.timer_current(&r) != Some(at) {
                continue;
            }
            match r {
                TimerRef::Registrar => {
                    self.shared().registrar.expire(now);
                    self.arm_registrar();
                }
                TimerRef::Server(branch, sent_by, class) => {
                    let class = match class {
                        0 => Class::Invite,
                        1 => Class::Cancel,
                        _ => Class::Other,
                    };
                    let key = ServerKey {
                        branch,
                        sent_by,
                        class,
                    };
                    self.server_timeout(now, key);
                }
                TimerRef::Client(branch, cancel) => {
                    self.client_timeout(now, ClientKey { branch, cancel })
                }
            }
        }
        let shared = self.shared.clone();
        let successor = move |f: FlowId| {
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .registrar
                .successor(f)
        };
        self.calls.handle_timeout(now, &successor);
        self.drain_calls(now);
    }

    fn timer_current(&self, r: &TimerRef) -> Option<Instant> {
        match r {
            TimerRef::Registrar => self.shared().registrar.next_expiry(),
            TimerRef::Server(b, s, c) => {
                let class = match c {
                    0 => Class::Invite,
                    1 => Class::Cancel,
                    _ => Class::Other,
                };
                self.servers
                    .get(&ServerKey {
                        branch: b.clone(),
                        sent_by: s.clone(),
                        class,
                    })
                    .and_then(|e| e.tx.poll_timeout())
            }
            TimerRef::Client(b, c) => self
                .clients
                .get(&ClientKey {
                    branch: b.clone(),
                    cancel: *c,
                })
                .and_then(|e| e.tx.poll_timeout()),
        }
    }

    /// Queues a timer entry; when superseded entries (a transaction's
    /// earlier deadlines, Timer C after the 2xx) outnumber the current
    /// ones, rebuilds the heap from the current ones.
    fn push_timer(&mut self, at: Instant, r: TimerRef) {
        self.timers_heap.push(Reverse((at, r)));
        if self.timers_heap.len() > 2 * (self.servers.len() + self.clients.len()) + 1024 {
            let queued = std::mem::take(&mut self.timers_heap).into_vec();
            let current: Vec<_> = queued
                .into_iter()
                .filter(|Reverse((at, r))| self.timer_current(r) == Some(*at))
                .collect();
            self.timers_heap = BinaryHeap::from(current);
        }
    }

    /// Timer entries queued (current and superseded).
    pub fn timer_entries(&self) -> usize {
        self.timers_heap.len()
    }

    fn arm_server(&mut self, key: &ServerKey) {
        if let Some(at) = self.servers.get(key).and_then(|e| e.tx.poll_timeout()) {
            self.push_timer(at, server_timer(key));
        }
    }

    fn arm_client(&mut self, key: &ClientKey) {
        if let Some(at) = self.clients.get(key).and_then(|e| e.tx.poll_timeout()) {
            self.push_timer(at, TimerRef::Client(key.branch.clone(), key.cancel));
        }
    }

    fn arm_registrar(&mut self) {
        if !self.owns_registrar {
            return;
        }
        let next = self.shared().registrar.next_expiry();
        if let Some(at) = next {
            self.timers_heap.push(Reverse((at, TimerRef::Registrar)));
        }
    }

    fn server_timeout(&mut self, now: Instant, key: ServerKey) {
        let Some(e) = self.servers.get_mut(&key) else {
            return;
        };
        let out = e.tx.handle_timeout(now);
        let flow = e.flow.id;
        if let Some(Output::Retransmit(b)) = out {
            self.stats.retransmissions_sent += 1;
            self.actions.push_back(Action::Send {
                dest: Dest::Flow(flow),
                bytes: b,
            });
        }
        if self.servers.get(&key).is_some_and(|e| e.tx.is_terminated()) {
            self.servers.remove(&key);
        } else {
            self.arm_server(&key);
        }
    }

    fn client_timeout(&mut self, now: Instant, key: ClientKey) {
        let Some(e) = self.clients.get_mut(&key) else {
            return;
        };
        match e.tx.handle_timeout(now) {
            Some(Output::Retransmit(b)) => {
                self.stats.retransmissions_sent += 1;
                let dest = e.dest;
                self.actions.push_back(Action::Send { dest, bytes: b });
            }
            Some(Output::TimerC) if !key.cancel => {
                if let Some(invite) = reparse(e.tx.request()) {
                    self.calls.on_timer_c(&invite);
                }
                self.cancel_client(now, &key);
            }
            Some(Output::Timeout) => {
                self.stats.timeouts += 1;
                // RFC 3261 §16.8: no answer downstream is a 408 upstream.
                if let (false, Some(server)) = (key.cancel, e.server.clone()) {
                    self.answer(
                        now,
                        &server,
                        408,
                        Some("Request Timeout: no answer from the next hop"),
                    );
                }
            }
            _ => {}
        }
        if self.clients.get(&key).is_some_and(|e| e.tx.is_terminated()) {
            self.clients.remove(&key);
        } else {
            self.arm_client(&key);
        }
    }

    /// Sends a final (or provisional) response through a server transaction.
    fn answer(&mut self, now: Instant, key: &ServerKey, code: u16, reason: Option<&str>) {
        self.answer_with(now, key, code, reason, &[]);
    }

    /// [`answer`](Self::answer) with extra header lines.
    fn answer_with(
        &mut self,
        now: Instant,
        key: &ServerKey,
        code: u16,
        reason: Option<&str>,
        headers: &[(&str, &str)],
    ) {
        let Some(e) = self.servers.get_mut(key) else {
            return;
        };
        let Some(request) = reparse(&e.request) else {
            return;
        };
        let bytes = Bytes::from(build::response(
            &request,
            code,
            &ResponseOpts {
                reason,
                tag_seed: self.tag_seed,
                headers,
                source: Some((e.flow.remote.ip(), e.flow.remote.port())),
                ..Default::default()
            },
        ));
        let forwarded = e.client.is_some();
        if code >= 300 {
            *self.stats.refusals.entry(code).or_default() += 1;
        }
        if e.tx.send_response(now, code, bytes.clone()) {
            let flow = e.flow.id;
            self.actions.push_back(Action::Send {
                dest: Dest::Flow(flow),
                bytes,
            });
            if forwarded && code >= 300 {
                self.calls.on_local_final(now, &request, code);
            }
        }
        self.arm_server(key);
    }

    /// A response outside any transaction (403, 483, 482, ...): sent once.
    fn reply_stateless(
        &mut self,
        flow: &Flow,
        req: &Message,
        code: u16,
        reason: &str,
        headers: &[(&str, &str)],
    ) {
        self.stats.refused += 1;
        if code >= 300 {
            *self.stats.refusals.entry(code).or_default() += 1;
        }
        if req.method() == Some(Method::Ack) {
            return;
        }
        let bytes = build::response(
            req,
            code,
            &ResponseOpts {
                reason: Some(reason),
                tag_seed: self.tag_seed,
                headers,
                source: Some((flow.remote.ip(), flow.remote.port())),
                ..Default::default()
            },
        );
        self.actions.push_back(Action::Send {
            dest: Dest::Flow(flow.id),
            bytes: Bytes::from(bytes),
        });
    }

    /// Whether retransmissions to `dest` are left to its transport.
    fn is_reliable(&self, dest: Dest) -> bool {
        match dest {
            Dest::Flow(f) => self
                .shared()
                .flows
                .get(&f)
                .is_some_and(|f| f.transport.is_reliable()),
            Dest::Addr(t, _) => t.is_reliable(),
        }
    }

    /// What the registrar knows about the device on `flow`.
    fn agent_peer(&self, flow: FlowId) -> AgentPeer {
        let shared = self.shared();
        let binding = shared.registrar.bindings().find(|b| b.flow == flow);
        AgentPeer {
            flow,
            transport: shared.flows.get(&flow).map(|f| f.transport),
            aor: binding.map(|b| b.aor.clone()),
            user_agent: binding
                .map(|b| b.user_agent.clone())
                .filter(|u| !u.is_empty()),
        }
    }

    fn is_pbx(&self, source: SocketAddr) -> bool {
        self.config.is_pbx(source)
    }

    /// Our address for `transport` (the listener of that transport).
    fn local_for(&self, transport: TransportKind) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }

    fn is_ours(&self, uri: &Uri<'_>) -> bool {
        uri_is_ours(&self.listeners, uri) || uri_is_ours(&self.retired, uri)
    }

    fn token_for(&self, flow: FlowId) -> String {
        format!(
            "f{flow:x}x{:08x}",
            self.secret.hash_one(("flow", flow)) as u32
        )
    }

    fn flow_from_token(&self, user: &[u8]) -> Option<FlowId> {
        let s = std::str::from_utf8(user).ok()?.strip_prefix('f')?;
        let (id, mac) = s.split_once('x')?;
        let id = u64::from_str_radix(id, 16).ok()?;
        (self.token_for(id).as_bytes() == user && mac.len() == 8).then_some(id)
    }

    /// Our URI on the interface for `transport`, carrying `token`.
    fn our_uri(&self, transport: TransportKind, token: &str, extra: &str) -> Option<String> {
        let a = self.local_for(transport)?;
        let host = match a.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        Some(format!(
            "<sip:{token}@{host}:{};transport={};lr{extra}>",
            a.port(),
            transport.as_str()
        ))
    }

    /// The branch for forwarding `req`: the same for its retransmissions and
    /// for a CANCEL of it (RFC 3261 §16.6 step 8), so those find the same
    /// client transaction. Its last eight hex digits are the loop hash
    /// ([`Self::loop_hash`]).
    fn branch_for(&self, req: &Message) -> String {
        let mut h = self.secret.build_hasher();
        match req
            .top_via()
            .ok()
            .and_then(|v| v.has_rfc3261_branch().then_some(v))
        {
            Some(v) => {
                v.branch.hash(&mut h);
                v.host.hash(&mut h);
                v.port.hash(&mut h);
            }
            None => {
                // RFC 2543 peers: derive from what identifies the request.
                req.call_id().hash(&mut h);
                req.cseq().seq.hash(&mut h);
                req.from_header().ok().and_then(|f| f.tag()).hash(&mut h);
                req.request_uri_bytes().hash(&mut h);
                req.get(HeaderName::Via).hash(&mut h);
            }
        }
        format!(
            "{BRANCH_PREFIX}{:016x}{:08x}",
            h.finish(),
            self.loop_hash(req)
        )
    }

    /// What a request that comes back unchanged still has in common with
    /// itself (RFC 3261 §16.3 step 4): Request-URI, From tag, Call-ID and
    /// CSeq number — not the Vias, which every hop changes. A request that
    /// spirals back with a new Request-URI is not a loop.
    fn loop_hash(&self, req: &Message) -> u32 {
        let mut h = self.secret.build_hasher();
        "loop".hash(&mut h);
        req.request_uri_bytes().hash(&mut h);
        req.from_header().ok().and_then(|f| f.tag()).hash(&mut h);
        req.call_id().hash(&mut h);
        req.cseq().seq.hash(&mut h);
        h.finish() as u32
    }

    /// Whether one of `req`'s Vias is ours with this request's loop hash.
    fn is_loop(&self, req: &Message) -> bool {
        let want = format!("{:08x}", self.loop_hash(req));
        req.vias().flatten().any(|v| {
            v.branch.is_some_and(|b| {
                b.len() == BRANCH_PREFIX.len() + 24
                    && b.starts_with(BRANCH_PREFIX.as_bytes())
                    && b.ends_with(want.as_bytes())
            }) && self
                .listeners
                .iter()
                .chain(&self.retired)
                .any(|(_, a)| a.port() == v.port.unwrap_or(5060))
        })
    }

    fn server_key(&self, req: &Message) -> Option<ServerKey> {
        let via = req.top_via().ok()?;
        let class = class_of(req.method());
        let branch: Box<[u8]> = if via.has_rfc3261_branch() {
            via.branch.unwrap_or_default().into()
        } else {
            self.branch_for(req).into_bytes().into()
        };
        let mut sent_by = via.host.to_vec();
        if let Some(p) = via.port {
            let _ = write!(Vec8(&mut sent_by), ":{p}");
        }
        Some(ServerKey {
            branch,
            sent_by: sent_by.into(),
            class,
        })
    }

    fn on_request(&mut self, now: Instant, flow: Flow, req: Message) {
        let from_pbx = self.is_pbx(flow.remote);
        let side = if from_pbx { Side::Core } else { Side::Access };
        if flow.side == Side::Core && !from_pbx {
            self.reply_stateless(
                &flow,
                &req,
                403,
                "Forbidden: not a configured PBX address",
                &[],
            );
            return;
        }
        // One flooding phone must not starve the rest (ACKs complete
        // transactions already counted, so they pass).
        if !from_pbx
            && req.method() != Some(Method::Ack)
            && !self.limiter.admit(flow.remote.ip(), now)
        {
            self.stats.rate_limited += 1;
            if self.limiter.action == crate::config::RateAction::Reply {
                self.reply_stateless(
                    &flow,
                    &req,
                    503,
                    "Service Unavailable: rate limit",
                    &[("Retry-After", "1")],
                );
            }
            return;
        }
        // Every Via must parse: a malformed lower Via (`host,junk;branch=`)
        // is read differently by different parsers, and responses are routed
        // by it after ours is popped.
        if req.vias().any(|v| v.is_err()) {
            self.reply_stateless(&flow, &req, 400, "Bad Request: malformed Via", &[]);
            return;
        }
        let Some(key) = self.server_key(&req) else {
            self.reply_stateless(&flow, &req, 400, "Bad Request: malformed top Via", &[]);
            return;
        };
        let method = req.method();
        if method == Some(Method::Ack) {
            if let Some(e) = self.servers.get_mut(&key) {
                if e.tx.on_ack(now) {
                    self.stats.retransmissions_absorbed += 1;
                    self.arm_server(&key);
                    return;
                }
            }
            // The ACK for a 2xx is end to end: route it like any in-dialog
            // request, without a transaction.
            self.forward_request(now, flow, side, req, None);
            return;
        }
        if let Some(e) = self.servers.get(&key) {
            self.stats.retransmissions_absorbed += 1;
            if let Some(last) = e.tx.on_request_retransmission() {
                let dest = Dest::Flow(e.flow.id);
                self.actions.push_back(Action::Send { dest, bytes: last });
            }
            return;
        }
        if method == Some(Method::Cancel) {
            self.on_cancel(now, flow, side, req, key);
            return;
        }
        // Keep-alive pings addressed to the edge itself.
        if method == Some(Method::Options)
            && req.get(HeaderName::Route).is_none()
            && req
                .request_uri()
                .is_ok_and(|u| self.is_ours(&u) && u.user.is_none())
        {
            self.reply_stateless(&flow, &req, 200, "OK", &[("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, PRACK, REFER, NOTIFY, SUBSCRIBE, MESSAGE")]);
            self.stats.refused -= 1;
            return;
        }
        if req.max_forwards() == Some(0) {
            self.reply_stateless(&flow, &req, 483, "Too Many Hops", &[]);
            return;
        }
        // Draining: no new calls; the live ones go on.
        if self.draining
            && method == Some(Method::Invite)
            && req.to_header().ok().and_then(|t| t.tag()).is_none()
        {
            self.reply_stateless(
                &flow,
                &req,
                503,
                "Service Unavailable: draining",
                &[("Retry-After", "60")],
            );
            return;
        }
        let kind = if method == Some(Method::Invite) {
            Kind::Invite
        } else {
            Kind::NonInvite
        };
        let mut stx = ServerTx::new(kind, flow.transport.is_reliable(), self.timers);
        if kind == Kind::Invite {
            // RFC 3261 §16.2: a stateful proxy answers an INVITE with 100
            // at once, which stops the upstream retransmitting.
            // RFC 3581: the source goes into the echoed Via, as on every
            // response this edge writes, so a phone behind NAT learns it.
            let source = Some((flow.remote.ip(), flow.remote.port()));
            let trying = Bytes::from(build::response(
                &req,
                100,
                &ResponseOpts {
                    source,
                    ..Default::default()
                },
            ));
            stx.send_response(now, 100, trying.clone());
            self.actions.push_back(Action::Send {
                dest: Dest::Flow(flow.id),
                bytes: trying,
            });
        }
        self.servers
            .insert(key.clone(), ServerEntry::new(stx, flow, side, &req));
        self.forward_request(now, flow, side, req, Some(key.clone()));
        self.arm_server(&key);
        if self.servers.get(&key).is_some_and(|e| e.tx.is_terminated()) {
            self.servers.remove(&key);
        }
    }

    /// Routes and sends `req`; with a server transaction `skey`, opens the
    /// client transaction for it, else sends it statelessly (2xx ACK).
    fn forward_request(
        &mut self,
        now: Instant,
        flow: Flow,
        side: Side,
        req: Message,
        skey: Option<ServerKey>,
    ) {
        // Our own Route entries on top: pop them, learn the flow token.
        let mut pops = 0;
        let mut token_flow = None;
        for r in req.routes(HeaderName::Route) {
            let Ok(r) = r else { break };
            if !self.is_ours(&r.uri) {
                break;
            }
            pops += 1;
            if let Some(f) = r.uri.user.and_then(|u| self.flow_from_token(u)) {
                token_flow = Some(f);
            }
        }
        let method = req.method();
        let initial = req.to_header().ok().and_then(|t| t.tag()).is_none();
        let (dest, agent_flow, out_transport) = match side {
            Side::Access => {
                let Some(&pbx) = self.pbx.first() else { return };
                (
                    Dest::Addr(self.pbx_transport, pbx),
                    Some(flow.id),
                    self.pbx_transport,
                )
            }
            Side::Core => {
                let agent = {
                    let shared = self.shared();
                    let target = match token_flow {
                        // A device back on a new flow (same +sip.instance,
                        // RFC 5626) is reached there.
                        Some(f) if !shared.flows.contains_key(&f) => {
                            shared.registrar.successor(f).or(Some(f))
                        }
                        Some(f) => Some(f),
                        None => req
                            .request_uri()
                            .ok()
                            .and_then(|u| shared.registrar.lookup(&u).map(|b| b.flow)),
                    };
                    target.and_then(|f| shared.flows.get(&f).copied())
                };
                match agent {
                    Some(agent) => (Dest::Flow(agent.id), Some(agent.id), agent.transport),
                    None => {
                        if let Some(k) = skey {
                            let (code, reason) = if token_flow.is_some() {
                                (430, "Flow Failed")
                            } else {
                                (
                                    480,
                                    "Temporarily Unavailable: no registered device for this URI",
                                )
                            };
                            self.stats.refused += 1;
                            self.answer(now, &k, code, Some(reason));
                        }
                        return;
                    }
                }
            }
        };
        let branch = self.branch_for(&req);
        if self.is_loop(&req) {
            if let Some(k) = skey {
                self.stats.refused += 1;
                self.answer(now, &k, 482, Some("Loop Detected"));
            }
            return;
        }
        // The call core sees the request before it leaves (and may refuse it).
        let peer = (method == Some(Method::Invite) && initial)
            .then(|| agent_flow.map(|f| self.agent_peer(f)))
            .flatten();
        if let Verdict::Refuse {
            code,
            reason,
            retry_after,
        } = self
            .calls
            .on_request(now, &req, side, flow.id, peer.as_ref())
        {
            let retry = retry_after.map(|r| r.to_string());
            let headers: Vec<(&str, &str)> = retry
                .as_deref()
                .map(|r| ("Retry-After", r))
                .into_iter()
                .collect();
            match skey {
                Some(k) => {
                    self.stats.refused += 1;
                    self.answer_with(now, &k, code, Some(reason), &headers);
                }
                None => self.reply_stateless(&flow, &req, code, reason, &headers),
            }
            return;
        }
        let Some(local) = self
            .local_for(out_transport)
            .or_else(|| self.listeners.first().map(|l| l.1))
        else {
            return;
        };
        let host = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let via = format!(
            "SIP/2.0/{} {host}:{};branch={branch};rport",
            out_transport.as_str().to_ascii_uppercase(),
            local.port()
        );
        let token = agent_flow.map(|f| self.token_for(f)).unwrap_or_default();
        let mut rr: Vec<String> = Vec::new();
        let dialog_creating = matches!(
            method,
            Some(Method::Invite | Method::Subscribe | Method::Refer | Method::Notify)
        );
        if initial && dialog_creating {
            // Double Record-Route (RFC 5658) when the two sides use different
            // transports or addresses: the entry facing the next hop on top.
            let inbound = self.our_uri(flow.transport, &token, "");
            let outbound = self.our_uri(out_transport, &token, "");
            match (outbound, inbound) {
                (Some(o), Some(i)) if o != i => rr.extend([o, i]),
                (Some(o), _) => rr.push(o),
                (None, Some(i)) => rr.push(i),
                (None, None) => {}
            }
        }
        let mut add: Vec<(&str, &[u8])> = Vec::new();
        let path;
        if method == Some(Method::Register) && side == Side::Access {
            // RFC 3327/5626: the PBX reaches this device through us, over this flow.
            path = self
                .our_uri(self.pbx_transport, &token, ";ob")
                .unwrap_or_default();
            add.push(("Path", path.as_bytes()));
        }
        let rr_refs: Vec<&[u8]> = rr.iter().map(|s| s.as_bytes()).collect();
        let source = (!flow.transport.is_reliable() || side == Side::Access)
            .then_some((flow.remote.ip(), flow.remote.port()));
        let bytes = Bytes::from(build::serialize(
            &req,
            &Edits {
                push_via: Some(via.as_bytes()),
                top_via_source: source,
                record_route: &rr_refs,
                pop_routes: pops,
                max_forwards: MaxForwards::Decrement,
                add: &add,
                ..Default::default()
            },
        ));
        self.stats.forwarded_requests += 1;
        self.actions.push_back(Action::Send {
            dest,
            bytes: bytes.clone(),
        });
        let Some(skey) = skey else { return };
        let kind = if method == Some(Method::Invite) {
            Kind::Invite
        } else {
            Kind::NonInvite
        };
        let reliable = self.is_reliable(dest);
        let ckey = ClientKey {
            branch: branch.into_bytes().into(),
            cancel: false,
        };
        let ctx = ClientTx::new(kind, bytes, reliable, now, self.timers);
        self.clients.insert(
            ckey.clone(),
            ClientEntry {
                tx: ctx,
                server: Some(skey.clone()),
                dest,
            },
        );
        if let Some(e) = self.servers.get_mut(&skey) {
            e.client = Some(ckey.clone());
            e.agent_flow = agent_flow;
        }
        self.arm_client(&ckey);
    }

    fn on_cancel(&mut self, now: Instant, flow: Flow, side: Side, req: Message, key: ServerKey) {
        let invite_key = ServerKey {
            class: Class::Invite,
            ..key.clone()
        };
        let found = self
            .servers
            .get(&invite_key)
            .map(|e| (e.tx.state(), e.client.clone()));
        // Only the INVITE's sender may cancel it (a stranger who copied the
        // Via must not end someone else's call).
        let same_source = self
            .servers
            .get(&invite_key)
            .is_some_and(|e| e.flow.id == flow.id);
        if found.is_some()
            && (!same_source
                || self.calls.on_request(now, &req, side, flow.id, None) != Verdict::Forward)
        {
            self.reply_stateless(
                &flow,
                &req,
                403,
                "Forbidden: not a party of this dialog",
                &[],
            );
            return;
        }
        let mut stx = ServerTx::new(Kind::NonInvite, flow.transport.is_reliable(), self.timers);
        let (code, reason) = if found.is_some() {
            (200, "OK")
        } else {
            (481, "Call/Transaction Does Not Exist")
        };
        let resp = Bytes::from(build::response(
            &req,
            code,
            &ResponseOpts {
                reason: Some(reason),
                tag_seed: self.tag_seed,
                ..Default::default()
            },
        ));
        stx.send_response(now, code, resp.clone());
        self.actions.push_back(Action::Send {
            dest: Dest::Flow(flow.id),
            bytes: resp,
        });
        self.servers
            .insert(key.clone(), ServerEntry::new(stx, flow, side, &req));
        self.arm_server(&key);
        let Some((ServerState::Proceeding, Some(ckey))) = found else {
            return;
        };
        self.cancel_client(now, &ckey);
    }

    /// Sends our CANCEL for the INVITE client transaction `ckey` (CANCEL is
    /// hop by hop, RFC 3261 §16.10), unless it has its final response.
    fn cancel_client(&mut self, now: Instant, ckey: &ClientKey) {
        let Some(c) = self.clients.get(ckey) else {
            return;
        };
        if !matches!(c.tx.state(), ClientState::Calling | ClientState::Proceeding) {
            return;
        }
        // CANCEL is hop by hop (RFC 3261 §16.10): our own, for our INVITE.
        let Some(invite) = reparse(c.tx.request()) else {
            return;
        };
        let cancel = Bytes::from(build::cancel_for(&invite));
        let dest = c.dest;
        let reliable = self.is_reliable(dest);
        let cancel_key = ClientKey {
            branch: ckey.branch.clone(),
            cancel: true,
        };
        if self.clients.contains_key(&cancel_key) {
            return;
        }
        let ctx = ClientTx::new(Kind::NonInvite, cancel.clone(), reliable, now, self.timers);
        self.clients.insert(
            cancel_key.clone(),
            ClientEntry {
                tx: ctx,
                server: None,
                dest,
            },
        );
        self.actions.push_back(Action::Send {
            dest,
            bytes: cancel,
        });
        self.arm_client(&cancel_key);
    }

    fn on_response(&mut self, now: Instant, flow: Flow, resp: Message) {
        let from_pbx = self.is_pbx(flow.remote);
        let Ok(via) = resp.top_via() else {
            self.stats.stray_responses += 1;
            return;
        };
        let cancel = resp.cseq().method() == Method::Cancel;
        let ckey = ClientKey {
            branch: via.branch.unwrap_or_default().into(),
            cancel,
        };
        let Some(c) = self.clients.get_mut(&ckey) else {
            self.stats.stray_responses += 1;
            return;
        };
        // A response must come back from where the request went.
        let expected = match c.dest {
            Dest::Flow(f) => f == flow.id,
            Dest::Addr(_, _) => from_pbx,
        };
        if !expected {
            self.stats.stray_responses += 1;
            return;
        }
        let code = resp.status().unwrap_or(500);
        let request = c.tx.request().clone();
        let rx = c.tx.on_response(now, code, || {
            reparse(&request).map_or_else(Bytes::new, |invite| {
                Bytes::from(build::ack_for_non_2xx(&invite, &resp))
            })
        });
        let dest = c.dest;
        let server = c.server.clone();
        if let Some(ack) = rx.ack.filter(|a| !a.is_empty()) {
            self.actions.push_back(Action::Send { dest, bytes: ack });
        }
        self.arm_client(&ckey);
        if !rx.forward || cancel {
            if !rx.forward {
                self.stats.retransmissions_absorbed += 1;
            }
            return;
        }
        let Some(skey) = server else { return };
        let Some(s) = self.servers.get_mut(&skey) else {
            return;
        };
        if code == 200 && s.is_register && s.side == Side::Access {
            let (req, f) = (reparse(&s.request), s.flow);
            if let Some(req) = req {
                self.shared()
                    .registrar
                    .on_register_ok(now, &req, &resp, f.id, f.transport);
            }
            self.arm_registrar();
        }
        let Some(s) = self.servers.get_mut(&skey) else {
            return;
        };
        if resp.via_count() < 2 {
            // Only our Via: the next hop answered with the wrong Via set
            // (a 487 built from our CANCEL's, say). RFC 3261 §16.7: not
            // forwarded as is. A final non-2xx is answered to the caller
            // from our server transaction instead, so it still learns it.
            let side = if from_pbx { Side::Core } else { Side::Access };
            if code >= 300 {
                self.calls.on_response(now, &resp, side);
                let reason = String::from_utf8_lossy(resp.reason_phrase()).into_owned();
                self.answer(now, &skey, code, Some(&reason));
            }
            return;
        }
        let bytes = Bytes::from(build::serialize(
            &resp,
            &Edits {
                pop_via: true,
                ..Default::default()
            },
        ));
        if s.tx.send_response(now, code, bytes.clone()) {
            let (to, side, agent_flow) = (
                s.flow.id,
                if from_pbx { Side::Core } else { Side::Access },
                s.agent_flow,
            );
            self.stats.forwarded_responses += 1;
            let _ = agent_flow;
            self.calls.on_response(now, &resp, side);
            self.actions.push_back(Action::Send {
                dest: Dest::Flow(to),
                bytes,
            });
        }
        self.arm_server(&skey);
        if self
            .servers
            .get(&skey)
            .is_some_and(|e| e.tx.is_terminated())
        {
            self.servers.remove(&skey);
        }
    }
}

/// The method or status class a message's start line names (bounded
/// values, for metrics).
fn message_kind(bytes: &[u8]) -> &'static str {
    if let Some(rest) = bytes.strip_prefix(b"SIP/2.0 ") {
        return match rest.first() {
            Some(b'1') => "1xx",
            Some(b'2') => "2xx",
            Some(b'3') => "3xx",
            Some(b'4') => "4xx",
            Some(b'5') => "5xx",
            Some(b'6') => "6xx",
            _ => "other",
        };
    }
    let token = bytes.split(|&b| b == b' ').next().unwrap_or_default();
    Method::from_bytes(token).as_str().unwrap_or("OTHER")
}

/// Whether `uri` names one of our listeners (IP literal and port).
pub(crate) fn uri_is_ours(listeners: &[(TransportKind, SocketAddr)], uri: &Uri<'_>) -> bool {
    let default = if uri.scheme == sip::header::Scheme::Sips {
        5061
    } else {
        5060
    };
    let port = uri.port.unwrap_or(default);
    let host = uri.host;
    listeners.iter().any(|(_, a)| {
        a.port() == port && {
            let ip = a.ip().to_string();
            host == ip.as_bytes()
                || (a.is_ipv6()
                    && host.len() == ip.len() + 2
                    && &host[1..host.len() - 1] == ip.as_bytes())
        }
    })
}

/// Parses bytes this proxy already parsed (or wrote) once, at the index's
/// ceiling: what forwarding added must not make them fail now.
fn reparse(bytes: &Bytes) -> Option<Message> {
    let limits = sip::Limits {
        max_headers: sip::MAX_HEADERS,
        max_message: usize::MAX,
        max_line: usize::MAX,
        max_vias: usize::MAX,
    };
    sip::parse_with(bytes.clone(), sip::Framing::Datagram, &limits).ok()
}

/// `fmt::Write` into a byte vector.
struct Vec8<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Vec8<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
pub(crate) mod tests;
