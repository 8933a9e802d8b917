//! The call core, sans-IO: from what the proxy forwards, which interaction
//! started, rang, was answered and ended, who ended it and why, and the
//! agent's wrap (after-call work) that follows.
//!
//! The proxy consults it before forwarding a request
//! ([`Calls::on_request`]: a forged BYE or CANCEL gets 403, an INVITE to an
//! agent in enforced wrap gets 486) and tells it every response it forwards
//! ([`Calls::on_response`]), every INVITE it answered itself
//! ([`Calls::on_local_final`]) and every lost flow
//! ([`Calls::on_flow_closed`]). Time is passed in; [`Calls::poll_timeout`]
//! says when [`Calls::handle_timeout`] is due. What to do comes back from
//! [`Calls::poll_action`]: events to publish and BYEs to send.
//!
//! Ends, one per interaction whatever races (BYE from both sides, BYE
//! retransmissions, BYE after CANCEL): the first one counts, the
//! interaction then stays as a tombstone for [`TOMBSTONE`] so late messages
//! find it ended.

pub mod interaction;
pub mod wrap;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::config::{Side, TransportKind};
use crate::event::{Event, EventType, event_id, rfc3339_ms};
use crate::proxy::FlowId;
use crate::proxy::registrar::Device;
use crate::sip::header::NameAddr;
use crate::sip::{HeaderName, Message, Method};

pub use interaction::{
    Channel, Direction, End, EndReason, EndedBy, Interaction, Party, State, Timer,
};
pub use wrap::{Wrap, WrapBoard, WrapEnd};

use interaction::{Evidence, RouteInfo};

/// How long an ended interaction is remembered (absorbs late BYEs and
/// retransmissions: 64 × T1).
pub const TOMBSTONE: Duration = Duration::from_secs(32);

/// The call core's settings (from `[node]`, `[agents]`, `[wrap]`,
/// `[dialog]`).
#[derive(Debug, Clone)]
pub struct CallConfig {
    pub node_id: String,
    pub id_header: String,
    pub interaction_id_header: String,
    pub wrap_seconds: u32,
    /// Per-agent wrap seconds.
    pub wrap_overrides: HashMap<String, u32>,
    pub wrap_enforce: bool,
    pub transport_loss_grace: Duration,
    pub max_duration: Duration,
    pub no_ack_timeout: Duration,
    pub ring_timeout: Duration,
    /// Our listener addresses (to tell our Record-Route entries apart).
    pub listeners: Vec<(TransportKind, SocketAddr)>,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            node_id: "edge-1".into(),
            id_header: "X-Agent-Id".into(),
            interaction_id_header: "X-Interaction-Id".into(),
            wrap_seconds: 30,
            wrap_overrides: HashMap::new(),
            wrap_enforce: false,
            transport_loss_grace: Duration::from_secs(20),
            max_duration: Duration::from_secs(4 * 3600),
            no_ack_timeout: Duration::from_secs(32),
            ring_timeout: Duration::from_secs(300),
            listeners: Vec::new(),
        }
    }
}

/// What the proxy knows about the agent's end of an initial INVITE.
#[derive(Debug, Clone, Default)]
pub struct AgentPeer {
    pub flow: FlowId,
    pub transport: Option<TransportKind>,
    /// The AOR the device registered, when it did.
    pub aor: Option<String>,
    pub user_agent: Option<String>,
}

/// The call core's answer to a request the proxy is about to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Forward,
    Refuse {
        code: u16,
        reason: &'static str,
        retry_after: Option<u32>,
    },
}

/// Where a request sipedge originates goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    Pbx,
    Agent(FlowId),
}

/// What the call core wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum CallAction {
    Emit(Event),
    /// Send a request: the proxy writes `METHOD request_uri SIP/2.0`, its
    /// own Via, then `headers` (complete lines, ending with the blank
    /// line), and runs the client transaction.
    Send {
        toward: Toward,
        method: Method,
        request_uri: String,
        headers: String,
    },
}

/// Why an admin end was not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndError {
    #[error("no live interaction {0}")]
    NotFound(String),
    #[error("interaction {0} is not answered yet; only its caller can cancel it")]
    NotAnswered(String),
}

/// Counters for metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CallStats {
    pub started: u64,
    pub ended: u64,
    /// Ended interactions by (ended_by, end_reason, channel, device).
    pub ended_by:
        std::collections::BTreeMap<(&'static str, &'static str, &'static str, &'static str), u64>,
    pub reaped: u64,
    pub spoofs_refused: u64,
    pub wrap_refused: u64,
    pub byes_sent: u64,
    /// Seconds: ring, talk, hold of ended interactions; wrap of ended wraps.
    pub ring: Histogram,
    pub talk: Histogram,
    pub hold: Histogram,
    pub wrap: Histogram,
}

/// A fixed-bucket histogram of seconds (Prometheus `le` buckets).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Histogram {
    /// Counts per bucket of [`Histogram::BOUNDS`] (not cumulative), then
    /// the overflow.
    pub counts: [u64; 13],
    pub sum_ms: u64,
    pub count: u64,
}

impl Histogram {
    /// Upper bounds in seconds.
    pub const BOUNDS: [f64; 12] = [
        1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ];

    pub fn observe_ms(&mut self, ms: u64) {
        let s = ms as f64 / 1000.0;
        let i = Self::BOUNDS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(Self::BOUNDS.len());
        self.counts[i] += 1;
        self.sum_ms += ms;
        self.count += 1;
    }

    /// Adds another shard's counts.
    pub fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        self.sum_ms += o.sum_ms;
        self.count += o.count;
    }
}

/// A live interaction as listed by `sipedge calls`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallView {
    pub interaction_id: String,
    pub agent: String,
    pub direction: &'static str,
    pub channel: &'static str,
    pub device: &'static str,
    pub state: &'static str,
    pub remote: String,
    pub call_id: String,
    pub age_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    Interaction(u64),
    Wrap(u64),
}

/// A fixed-key hash (FNV-1a 64) of byte strings: the indexes keep 8-byte
/// keys, not copies of Call-IDs and tags; a lookup checks the
/// interaction's own fields, so a collision finds nothing rather than the
/// wrong call.
fn key_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for &b in p.iter().chain(std::iter::once(&0xff)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// The call core of one shard.
pub struct Calls {
    cfg: CallConfig,
    /// Wall clock (Unix µs) at a monotonic instant: wall(t) = µs +
    /// (t − instant); unset, times read as the Unix epoch.
    anchor: Option<(Instant, i64)>,
    next_seq: u64,
    live: HashMap<u64, Box<Interaction>>,
    /// hash(Call-ID, caller tag) → interaction.
    by_caller: HashMap<u64, u64>,
    /// hash(interaction id) → interaction.
    by_id: HashMap<u64, u64>,
    timers: BinaryHeap<Reverse<(Instant, TimerKey)>>,
    /// Wraps this shard started: epoch → agent.
    wrap_timers: HashMap<u64, String>,
    board: Arc<Mutex<WrapBoard>>,
    actions: VecDeque<CallAction>,
    stats: CallStats,
}

impl Calls {
    /// A call core on its own.
    pub fn new(cfg: CallConfig, now: Instant, unix_ms: i64) -> Calls {
        let mut c = Calls::shard(cfg, Arc::default());
        c.set_wall_anchor(now, unix_ms);
        c
    }

    /// One shard's call core sharing the wrap `board` with the others.
    pub fn shard(cfg: CallConfig, board: Arc<Mutex<WrapBoard>>) -> Calls {
        Calls {
            cfg,
            anchor: None,
            next_seq: 1,
            live: HashMap::new(),
            by_caller: HashMap::new(),
            by_id: HashMap::new(),
            timers: BinaryHeap::new(),
            wrap_timers: HashMap::new(),
            board,
            actions: VecDeque::new(),
            stats: CallStats::default(),
        }
    }

    /// Takes new settings (a reload): wrap, dialog limits and identity
    /// headers apply to what happens next; live interactions keep going.
    pub fn reconfigure(&mut self, cfg: CallConfig) {
        self.cfg = cfg;
        let live: Vec<u64> = self.live.keys().copied().collect();
        for seq in live {
            if let Some(i) = self.live.get_mut(&seq) {
                i.armed = None;
            }
            self.arm(seq);
        }
    }

    /// Re-anchors the wall clock (the driver does this now and then, so
    /// long uptimes follow NTP; durations never depend on it).
    pub fn set_wall_anchor(&mut self, now: Instant, unix_ms: i64) {
        self.set_wall_anchor_us(now, unix_ms.saturating_mul(1000));
    }

    /// The same to the microsecond (event times are whole milliseconds,
    /// truncated from this, not from an already truncated anchor).
    pub fn set_wall_anchor_us(&mut self, now: Instant, unix_us: i64) {
        self.anchor = Some((now, unix_us));
    }

    /// Unix ms at `t`.
    fn wall(&self, t: Instant) -> i64 {
        let Some((i, us)) = self.anchor else { return 0 };
        let at = match t.checked_duration_since(i) {
            Some(d) => us + d.as_micros() as i64,
            None => us - i.saturating_duration_since(t).as_micros() as i64,
        };
        at.div_euclid(1000)
    }

    fn board(&self) -> MutexGuard<'_, WrapBoard> {
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// Interactions not yet ended.
    pub fn live_count(&self) -> usize {
        self.live.values().filter(|i| i.end.is_none()).count()
    }

    /// Live interactions by (channel, device).
    pub fn live_by_kind(&self) -> std::collections::BTreeMap<(&'static str, &'static str), u64> {
        let mut m = std::collections::BTreeMap::new();
        for i in self.live.values().filter(|i| i.end.is_none()) {
            *m.entry((i.channel.as_str(), i.device.as_str()))
                .or_default() += 1;
        }
        m
    }

    /// Interactions held (live and tombstones).
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    pub fn poll_action(&mut self) -> Option<CallAction> {
        self.actions.pop_front()
    }

    /// The live interactions.
    pub fn calls(&self, now: Instant) -> Vec<CallView> {
        let mut v: Vec<CallView> = self
            .live
            .values()
            .filter(|i| i.end.is_none())
            .map(|i| CallView {
                interaction_id: i.id.to_string(),
                agent: i.agent_id.to_string(),
                direction: i.direction.as_str(),
                channel: i.channel.as_str(),
                device: i.device.as_str(),
                state: match (i.state, i.hold_since.is_some(), i.lost_at.is_some()) {
                    (_, _, true) => "transport_lost_grace",
                    (State::Early, ..) => "ringing",
                    (State::Confirmed, true, _) => "held",
                    (State::Confirmed, false, _) => "talking",
                    (State::Ended, ..) => "ended",
                },
                remote: i.remote_uri.to_string(),
                call_id: String::from_utf8_lossy(&i.call_id).into_owned(),
                age_ms: now.saturating_duration_since(i.invited).as_millis() as u64,
            })
            .collect();
        v.sort_by_key(|c| Reverse(c.age_ms));
        v
    }

    /// One live interaction's `interaction.ended`-shaped detail so far.
    pub fn call_detail(&self, id: &str) -> Option<serde_json::Value> {
        let seq = self.seq_of_id(id)?;
        let i = self.live.get(&seq)?;
        let mut m = i.base();
        m.insert("times".into(), i.times());
        m.insert(
            "state".into(),
            json!(match i.state {
                State::Early => "early",
                State::Confirmed => "confirmed",
                State::Ended => "ended",
            }),
        );
        m.insert(
            "evidence".into(),
            json!(
                i.evidence
                    .iter()
                    .map(|e| json!({"method": e.method.and_then(Method::as_str), "code": e.code, "side": interaction::side_str(e.side)}))
                    .collect::<Vec<_>>()
            ),
        );
        Some(serde_json::Value::Object(m))
    }

    fn lookup(&self, call_id: &[u8], tag: Option<&[u8]>) -> Option<u64> {
        let tag = tag?;
        let seq = *self.by_caller.get(&key_hash(&[call_id, tag]))?;
        let i = self.live.get(&seq)?;
        (*i.call_id == *call_id && *i.caller_tag == *tag).then_some(seq)
    }

    fn seq_of_id(&self, id: &str) -> Option<u64> {
        let seq = *self.by_id.get(&key_hash(&[id.as_bytes()]))?;
        self.live.get(&seq).filter(|i| &*i.id == id).map(|_| seq)
    }

    /// The interaction an in-dialog message belongs to, and which party
    /// sent it according to its tags: (seq, sender is caller).
    fn find_dialog(&self, msg: &Message, is_request: bool) -> Option<(u64, bool)> {
        let from = msg.from_header().ok()?;
        let to = msg.to_header().ok()?;
        let (ftag, ttag) = (from.tag(), to.tag());
        let call_id = msg.call_id();
        // A request's From is its sender; a response's From is the request's
        // sender.
        if let Some(seq) = self.lookup(call_id, ftag) {
            let i = self.live.get(&seq)?;
            let ok = match (&i.callee_tag, ttag) {
                (Some(c), Some(t)) => **c == *t,
                _ => true,
            };
            return ok.then_some((seq, is_request));
        }
        if let Some(seq) = self.lookup(call_id, ttag) {
            let i = self.live.get(&seq)?;
            let ok = match (&i.callee_tag, ftag) {
                (Some(c), Some(t)) => **c == *t,
                (None, _) => false,
                (Some(_), None) => false,
            };
            return ok.then_some((seq, !is_request));
        }
        None
    }

    /// A request the proxy is about to forward. `side` is where it came
    /// from, `source` its flow, `agent` the agent's end of the exchange.
    pub fn on_request(
        &mut self,
        now: Instant,
        msg: &Message,
        side: Side,
        source: FlowId,
        agent: Option<&AgentPeer>,
    ) -> Verdict {
        let Some(method) = msg.method() else {
            return Verdict::Forward;
        };
        let has_to_tag = msg.to_header().ok().and_then(|t| t.tag()).is_some();
        if method == Method::Invite && !has_to_tag {
            return self.on_initial_invite(now, msg, side, agent);
        }
        if method == Method::Cancel {
            let from_tag = msg.from_header().ok().and_then(|f| f.tag());
            let Some(seq) = self.lookup(msg.call_id(), from_tag) else {
                return Verdict::Forward;
            };
            let Some(i) = self.live.get(&seq) else {
                return Verdict::Forward;
            };
            // Only the caller cancels, from where it called.
            if i.party_of(side) != Party::Caller || !self.is_peer(i, side, source) {
                self.stats.spoofs_refused += 1;
                return refuse_forged();
            }
            self.note(now, seq, msg, side);
            if self.live.get(&seq).is_some_and(|i| i.state == State::Early) {
                let reason = sip_reason(msg);
                self.finish(
                    now,
                    seq,
                    End {
                        by: Interaction::by_of(side),
                        reason: EndReason::Cancel,
                        side: Some(Party::Caller),
                        code: Some(487),
                        sip_reason: reason,
                        timer: None,
                    },
                    false,
                );
            }
            return Verdict::Forward;
        }
        let Some((seq, sender_is_caller)) = self.find_dialog(msg, true) else {
            return Verdict::Forward;
        };
        let Some(i) = self.live.get(&seq) else {
            return Verdict::Forward;
        };
        if method == Method::Bye && !self.is_peer(i, side, source) {
            self.stats.spoofs_refused += 1;
            return refuse_forged();
        }
        let seqno = msg.cseq().seq;
        if let Some(i) = self.live.get_mut(&seq) {
            let r = &mut i.route;
            let c = if sender_is_caller {
                &mut r.caller_cseq
            } else {
                &mut r.callee_cseq
            };
            *c = (*c).max(seqno);
        }
        match method {
            Method::Ack => {
                if let Some(i) = self.live.get_mut(&seq) {
                    i.acked = true;
                }
                self.arm(seq);
            }
            Method::Bye => {
                self.note(now, seq, msg, side);
                let by = Interaction::by_of(side);
                let party = if sender_is_caller {
                    Party::Caller
                } else {
                    Party::Callee
                };
                let reason = sip_reason(msg);
                self.finish(
                    now,
                    seq,
                    End {
                        by,
                        reason: EndReason::Bye,
                        side: Some(party),
                        code: Some(200),
                        sip_reason: reason,
                        timer: None,
                    },
                    false,
                );
            }
            Method::Invite | Method::Update => {
                self.note(now, seq, msg, side);
                if let Some(sdp) = msg.sdp() {
                    if let Some(i) = self.live.get_mut(&seq) {
                        i.set_hold(now, sdp.direction.is_hold());
                    }
                }
            }
            _ => {}
        }
        Verdict::Forward
    }

    /// Whether `source` on `side` is one of the interaction's two peers:
    /// the PBX (the proxy has checked the core side's address) or the
    /// agent's flow.
    fn is_peer(&self, i: &Interaction, side: Side, source: FlowId) -> bool {
        side == Side::Core || source == i.agent_flow
    }

    fn on_initial_invite(
        &mut self,
        now: Instant,
        msg: &Message,
        side: Side,
        agent: Option<&AgentPeer>,
    ) -> Verdict {
        let Ok(from) = msg.from_header() else {
            return Verdict::Forward;
        };
        let Some(tag) = from.tag() else {
            return Verdict::Forward;
        };
        if self.lookup(msg.call_id(), Some(tag)).is_some() {
            // The same INVITE again on a new transaction (a spiral, or a
            // retransmission with another branch): one interaction.
            return Verdict::Forward;
        }
        let Ok(to) = msg.to_header() else {
            return Verdict::Forward;
        };
        let direction = match side {
            Side::Access => Direction::Outbound,
            Side::Core => Direction::Inbound,
        };
        let (agent_na, remote_na) = match direction {
            Direction::Outbound => (&from, &to),
            Direction::Inbound => (&to, &from),
        };
        let peer = agent.cloned().unwrap_or_default();
        let agent_id = msg
            .get_other(&self.cfg.id_header)
            .next()
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .filter(|v| !v.is_empty())
            .or_else(|| peer.aor.as_deref().and_then(uri_user))
            .or_else(|| agent_na.uri.user_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(agent_na.uri.host).into_owned());
        if direction == Direction::Inbound && self.cfg.wrap_enforce {
            let left = self
                .board()
                .get(&agent_id)
                .map(|w| w.deadline.saturating_duration_since(now));
            if let Some(left) = left {
                self.stats.wrap_refused += 1;
                return Verdict::Refuse {
                    code: 486,
                    reason: "Busy Here: agent in wrap-up",
                    retry_after: Some(left.as_secs_f64().ceil().max(1.0) as u32),
                };
            }
        }
        let id = msg
            .get_other(&self.cfg.interaction_id_header)
            .next()
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .unwrap_or_else(|| event_id(&self.cfg.node_id, msg.call_id(), tag, "interaction"));
        let sdp = msg.sdp();
        let channel = if sdp.is_some_and(|s| s.is_chat()) {
            Channel::Chat
        } else {
            Channel::Voice
        };
        let device = peer.transport.map_or(Device::Hardphone, Device::of);
        let contact = msg
            .contacts()
            .flatten()
            .find_map(|c| {
                c.name_addr()
                    .map(|n| String::from_utf8_lossy(n.uri.raw).into_owned())
            })
            .unwrap_or_else(|| String::from_utf8_lossy(from.uri.raw).into_owned());
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut i = Interaction {
            id: id.into(),
            call_id: msg.call_id().into(),
            caller_tag: tag.into(),
            callee_tag: None,
            invite_cseq: msg.cseq().seq,
            direction,
            channel,
            device,
            agent_flow: peer.flow,
            agent_id: agent_id.into(),
            agent_aor: peer.aor.map(Into::into),
            user_agent: match direction {
                Direction::Outbound => msg
                    .get(HeaderName::UserAgent)
                    .map(|u| String::from_utf8_lossy(u).into_owned())
                    .or(peer.user_agent),
                Direction::Inbound => peer.user_agent,
            }
            .map(Into::into),
            remote_uri: String::from_utf8_lossy(remote_na.uri.raw).into(),
            remote_name: remote_na.display_name_text().map(Into::into),
            state: State::Early,
            invited: now,
            invited_ms: self.wall(now),
            ringing: None,
            answered: None,
            acked: false,
            ended: None,
            hold_since: None,
            hold: Duration::ZERO,
            session_interval: None,
            session_deadline: None,
            lost_at: None,
            armed: None,
            timer_c: false,
            route: RouteInfo {
                caller_from: header_text(msg.get(HeaderName::From)),
                caller_contact: contact.into(),
                caller_cseq: msg.cseq().seq,
                ..RouteInfo::default()
            },
            evidence: Vec::new(),
            end: None,
        };
        i.note(now, evidence(msg, side));
        let data = {
            let mut m = i.base();
            m.insert("times".into(), i.times());
            serde_json::Value::Object(m)
        };
        self.emit(&i, EventType::InteractionStarted, now, data);
        self.by_id.insert(key_hash(&[i.id.as_bytes()]), seq);
        self.by_caller
            .insert(key_hash(&[&i.call_id, &i.caller_tag]), seq);
        self.live.insert(seq, Box::new(i));
        self.stats.started += 1;
        self.arm(seq);
        Verdict::Forward
    }

    /// A response the proxy forwarded; `side` is where it came from.
    pub fn on_response(&mut self, now: Instant, msg: &Message, side: Side) {
        let Some(code) = msg.status() else { return };
        let cseq = msg.cseq();
        let method = cseq.method();
        if !matches!(method, Method::Invite | Method::Update) {
            return;
        }
        let Some((seq, _)) = self.find_dialog(msg, false).or_else(|| {
            // The first 2xx/18x carries a To tag the interaction does not
            // know yet: match on the caller's tag alone.
            let tag = msg.from_header().ok().and_then(|f| f.tag());
            self.lookup(msg.call_id(), tag).map(|s| (s, true))
        }) else {
            return;
        };
        let Some(i) = self.live.get(&seq) else { return };
        let initial = method == Method::Invite && cseq.seq == i.invite_cseq;
        if i.end.is_some() {
            return;
        }
        if initial && i.state == State::Early {
            if code >= 200 {
                self.note(now, seq, msg, side);
            }
            match code {
                100 => {}
                101..=199 => {
                    if let Some(i) = self.live.get_mut(&seq) {
                        if i.ringing.is_none() && code != 100 {
                            i.ringing = Some(now);
                        }
                    }
                }
                200..=299 => self.answer(now, seq, msg),
                _ => {
                    let i = &self.live[&seq];
                    let end = if i.timer_c {
                        End {
                            by: EndedBy::System,
                            reason: EndReason::NoAnswer,
                            side: None,
                            code: Some(code),
                            sip_reason: sip_reason(msg),
                            timer: Some(Timer::TimerC),
                        }
                    } else {
                        classify_final(code, side, i.party_of(side), msg)
                    };
                    self.finish(now, seq, end, false);
                }
            }
            return;
        }
        // Re-INVITE or UPDATE answered: the session is refreshed.
        if (200..300).contains(&code) && i.state == State::Confirmed {
            let interval = msg
                .session_expires()
                .and_then(Result::ok)
                .map(|s| s.seconds)
                .or(i.session_interval);
            if let Some(i) = self.live.get_mut(&seq) {
                i.session_interval = interval;
                i.session_deadline = interval.map(|s| now + Duration::from_secs(s as u64));
            }
            self.arm(seq);
        }
    }

    fn answer(&mut self, now: Instant, seq: u64, msg: &Message) {
        let listeners = self.cfg.listeners.clone();
        let Some(i) = self.live.get_mut(&seq) else {
            return;
        };
        let Some(tag) = msg.to_header().ok().and_then(|t| t.tag()) else {
            return;
        };
        i.state = State::Confirmed;
        i.answered = Some(now);
        i.callee_tag = Some(tag.into());
        i.route.callee_to = header_text(msg.get(HeaderName::To));
        i.route.callee_contact = msg
            .contacts()
            .flatten()
            .find_map(|c| {
                c.name_addr()
                    .map(|n| String::from_utf8_lossy(n.uri.raw).into())
            })
            .or_else(|| {
                // A 2xx without Contact is broken; the To URI is the best
                // target left for a BYE.
                msg.to_header()
                    .ok()
                    .map(|t| String::from_utf8_lossy(t.uri.raw).into())
            })
            .unwrap_or_default();
        // Record-Route entries above ours are the callee's side, below ours
        // the caller's.
        let rr: Vec<(bool, Box<str>)> = msg
            .get_all(HeaderName::RecordRoute)
            .map(|h| {
                let ours = NameAddr::parse(h.value, HeaderName::RecordRoute)
                    .is_ok_and(|na| crate::proxy::core::uri_is_ours(&listeners, &na.uri));
                (ours, header_text(Some(h.value)))
            })
            .collect();
        if let (Some(first), Some(last)) = (
            rr.iter().position(|(o, _)| *o),
            rr.iter().rposition(|(o, _)| *o),
        ) {
            i.route.toward_callee = rr[..first].iter().rev().map(|(_, v)| v.clone()).collect();
            i.route.toward_caller = rr[last + 1..].iter().map(|(_, v)| v.clone()).collect();
        }
        i.session_interval = msg
            .session_expires()
            .and_then(Result::ok)
            .map(|s| s.seconds);
        i.session_deadline = i
            .session_interval
            .map(|s| now + Duration::from_secs(s as u64));
        let agent = i.agent_id.to_string();
        let mut data = i.base();
        data.insert("times".into(), i.times());
        data.insert(
            "durations".into(),
            json!({ "ring_ms": i.ms_since_invite(now) }),
        );
        let e = make_event(
            &self.cfg.node_id,
            i,
            EventType::InteractionAnswered,
            now,
            serde_json::Value::Object(data),
        );
        self.actions.push_back(CallAction::Emit(e));
        // Taking the next interaction ends the agent's wrap.
        let prev = self.board().take(&agent);
        if let Some(w) = prev {
            self.emit_wrap_ended(now, w, WrapEnd::NextInteraction);
        }
        self.arm(seq);
    }

    /// The proxy answered an INVITE it had forwarded with `code` itself
    /// (408: no answer from the next hop; 503: the PBX cannot be reached).
    pub fn on_local_final(&mut self, now: Instant, request: &Message, code: u16) {
        if request.method() != Some(Method::Invite) || code < 300 {
            return;
        }
        let tag = request.from_header().ok().and_then(|f| f.tag());
        let Some(seq) = self.lookup(request.call_id(), tag) else {
            return;
        };
        let Some(i) = self.live.get(&seq).filter(|i| i.state == State::Early) else {
            return;
        };
        let (reason, timer) = match code {
            408 if i.timer_c => (EndReason::NoAnswer, Some(Timer::TimerC)),
            408 => (EndReason::NoAnswer, None),
            _ => (EndReason::Rejected, None),
        };
        self.finish(
            now,
            seq,
            End {
                by: EndedBy::System,
                reason,
                side: None,
                code: Some(code),
                sip_reason: None,
                timer,
            },
            false,
        );
    }

    /// The proxy's Timer C fired for the INVITE `request` (it rang too long
    /// after its last 18x) and sipedge is cancelling it. The interaction
    /// ends with the final answer that follows, as the system's
    /// no-answer (`timer_c`); if the callee answers first, the call
    /// connects as usual.
    pub fn on_timer_c(&mut self, request: &Message) {
        let tag = request.from_header().ok().and_then(|f| f.tag());
        let Some(seq) = self.lookup(request.call_id(), tag) else {
            return;
        };
        if let Some(i) = self.live.get_mut(&seq).filter(|i| i.state == State::Early) {
            i.timer_c = true;
        }
    }

    /// The agent's flow is gone: an unanswered interaction on it ends now
    /// (the proxy cancels or refuses its INVITE); an answered one gets the
    /// grace to come back on a new flow.
    pub fn on_flow_closed(&mut self, now: Instant, flow: FlowId) {
        let hit: Vec<u64> = self
            .live
            .iter()
            .filter(|(_, i)| i.agent_flow == flow && i.end.is_none())
            .map(|(s, _)| *s)
            .collect();
        for seq in hit {
            let early = self.live.get(&seq).is_some_and(|i| i.state == State::Early);
            if early {
                let party = self.live[&seq].agent_party();
                self.finish(
                    now,
                    seq,
                    End {
                        by: EndedBy::System,
                        reason: EndReason::TransportLost,
                        side: Some(party),
                        code: None,
                        sip_reason: None,
                        timer: None,
                    },
                    false,
                );
            } else if let Some(i) = self.live.get_mut(&seq) {
                i.lost_at.get_or_insert(now);
                self.arm(seq);
            }
        }
    }

    /// The desktop's end-call button: BYE both ways, `end_reason=admin`.
    pub fn end(&mut self, now: Instant, id: &str, by: EndedBy) -> Result<(), EndError> {
        let seq = self
            .seq_of_id(id)
            .ok_or_else(|| EndError::NotFound(id.to_string()))?;
        let Some(i) = self.live.get(&seq).filter(|i| i.end.is_none()) else {
            return Err(EndError::NotFound(id.to_string()));
        };
        if i.state != State::Confirmed {
            return Err(EndError::NotAnswered(id.to_string()));
        }
        let side = match by {
            EndedBy::Agent => Some(i.agent_party()),
            EndedBy::Contact => Some(i.party_of(Side::Core)),
            EndedBy::System => None,
        };
        self.finish(
            now,
            seq,
            End {
                by,
                reason: EndReason::Admin,
                side,
                code: None,
                sip_reason: None,
                timer: None,
            },
            true,
        );
        Ok(())
    }

    /// The agent finished after-call work (`sipedge wrap complete`).
    /// `who` is an agent id or the interaction id that started the wrap.
    pub fn complete_wrap(&mut self, now: Instant, who: &str) -> bool {
        let w = {
            let mut b = self.board();
            let agent = b
                .get(who)
                .map(|w| w.agent.clone())
                .or_else(|| b.agent_of_interaction(who).map(str::to_string));
            agent.and_then(|a| b.take(&a))
        };
        match w {
            Some(w) => {
                self.emit_wrap_ended(now, w, WrapEnd::Completed);
                true
            }
            None => false,
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, k))) = self.timers.peek().copied() {
            let live = match k {
                // An interaction's entry may be early (its deadline moved
                // later): handle_timeout re-arms it then.
                TimerKey::Interaction(seq) => self
                    .live
                    .get(&seq)
                    .is_some_and(|i| i.armed.is_some_and(|a| a <= at)),
                TimerKey::Wrap(epoch) => match self.wrap_deadline(k) {
                    Some(d) => d == at,
                    // Ended already, maybe by another shard's interaction
                    // (the board is shared, this map is ours): forget it.
                    None => {
                        self.wrap_timers.remove(&epoch);
                        false
                    }
                },
            };
            if live {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    /// Runs what is due at `now`. `successor` names the flow that replaced
    /// a lost one (the same `+sip.instance` registered again), if any.
    pub fn handle_timeout(&mut self, now: Instant, successor: &dyn Fn(FlowId) -> Option<FlowId>) {
        while let Some(Reverse((at, k))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match k {
                TimerKey::Wrap(epoch) => match self.wrap_deadline(k) {
                    Some(d) if d == at => self.wrap_timeout(now, epoch),
                    Some(_) => {}
                    // Ended already, maybe by another shard's interaction
                    // (the board is shared, this map is ours): forget it.
                    None => {
                        self.wrap_timers.remove(&epoch);
                    }
                },
                TimerKey::Interaction(seq) => {
                    let Some(i) = self.live.get_mut(&seq) else {
                        continue;
                    };
                    if i.armed != Some(at) {
                        // Superseded by an earlier entry.
                        continue;
                    }
                    i.armed = None;
                    match self.deadline(&self.live[&seq]) {
                        Some((d, _)) if d <= now => self.interaction_timeout(now, seq, successor),
                        _ => self.arm(seq),
                    }
                }
            }
        }
    }

    fn wrap_deadline(&self, k: TimerKey) -> Option<Instant> {
        let TimerKey::Wrap(epoch) = k else {
            return None;
        };
        let agent = self.wrap_timers.get(&epoch)?;
        self.board()
            .get(agent)
            .filter(|w| w.epoch == epoch)
            .map(|w| w.deadline)
    }

    /// The interaction's next deadline and what it is.
    fn deadline(&self, i: &Interaction) -> Option<(Instant, Option<Timer>)> {
        if let Some(ended) = i.ended {
            return Some((ended + TOMBSTONE, None));
        }
        let mut best: Option<(Instant, Option<Timer>)> = None;
        let mut consider = |at: Instant, t: Timer| {
            if best.is_none_or(|b| at < b.0) {
                best = Some((at, Some(t)));
            }
        };
        match i.state {
            State::Early => consider(i.invited + self.cfg.ring_timeout, Timer::NoFinalResponse),
            State::Confirmed => {
                let answered = i.answered.unwrap_or(i.invited);
                if !i.acked {
                    consider(answered + self.cfg.no_ack_timeout, Timer::NoAck);
                }
                consider(answered + self.cfg.max_duration, Timer::MaxDuration);
                if let Some(s) = i.session_deadline {
                    consider(s, Timer::SessionTimer);
                }
                if let Some(l) = i.lost_at {
                    consider(l + self.cfg.transport_loss_grace, Timer::TransportGrace);
                }
            }
            State::Ended => {}
        }
        best
    }

    /// Queues the interaction's deadline unless an earlier entry is queued
    /// (which re-arms when it fires early): one heap entry per interaction
    /// in the common case.
    fn arm(&mut self, seq: u64) {
        let Some(d) = self
            .live
            .get(&seq)
            .and_then(|i| self.deadline(i))
            .map(|d| d.0)
        else {
            return;
        };
        let Some(i) = self.live.get_mut(&seq) else {
            return;
        };
        if i.armed.is_none_or(|a| d < a) {
            i.armed = Some(d);
            self.push_timer(d, TimerKey::Interaction(seq));
        }
    }

    /// Queues a timer entry. Superseded entries are skipped when they come
    /// up, but a call's `max_duration` entry (hours ahead) would otherwise
    /// stay queued long after the call ended: when stale entries outnumber
    /// the live ones, the heap is rebuilt from the current ones (amortized
    /// O(1) per push).
    fn push_timer(&mut self, at: Instant, k: TimerKey) {
        self.timers.push(Reverse((at, k)));
        if self.timers.len() > 2 * (self.live.len() + self.wrap_timers.len()) + 1024 {
            let queued = std::mem::take(&mut self.timers).into_vec();
            let current: Vec<_> = queued
                .into_iter()
                .filter(|Reverse((at, k))| match *k {
                    TimerKey::Interaction(seq) => {
                        self.live.get(&seq).is_some_and(|i| i.armed == Some(*at))
                    }
                    TimerKey::Wrap(_) => self.wrap_deadline(*k) == Some(*at),
                })
                .collect();
            self.timers = BinaryHeap::from(current);
            // Wraps this shard started that ended elsewhere.
            let board = self.board.clone();
            let board = board
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.wrap_timers
                .retain(|epoch, agent| board.get(agent).is_some_and(|w| w.epoch == *epoch));
        }
    }

    /// Wraps this shard started and still tracks.
    pub fn wraps_tracked(&self) -> usize {
        self.wrap_timers.len()
    }

    /// Timer entries queued (live, tombstones, wraps and superseded ones).
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }

    fn interaction_timeout(
        &mut self,
        now: Instant,
        seq: u64,
        successor: &dyn Fn(FlowId) -> Option<FlowId>,
    ) {
        let Some(i) = self.live.get(&seq) else { return };
        let Some((_, timer)) = self.deadline(i) else {
            return;
        };
        let Some(timer) = timer else {
            // The tombstone's time is up.
            if let Some(i) = self.live.remove(&seq) {
                for (map, k) in [
                    (&mut self.by_caller, key_hash(&[&i.call_id, &i.caller_tag])),
                    (&mut self.by_id, key_hash(&[i.id.as_bytes()])),
                ] {
                    if map.get(&k) == Some(&seq) {
                        map.remove(&k);
                    }
                }
            }
            return;
        };
        let (reason, bye) = match timer {
            Timer::TransportGrace => {
                if let Some(next) = successor(i.agent_flow) {
                    // The device came back on a new flow: the call goes on.
                    if let Some(i) = self.live.get_mut(&seq) {
                        i.agent_flow = next;
                        i.lost_at = None;
                    }
                    self.arm(seq);
                    return;
                }
                (EndReason::TransportLost, ByeTo::Pbx)
            }
            Timer::SessionTimer => (EndReason::SessionExpired, ByeTo::Both),
            Timer::MaxDuration => (EndReason::Timeout, ByeTo::Both),
            Timer::NoAck => {
                self.stats.reaped += 1;
                (EndReason::Reaped, ByeTo::Both)
            }
            Timer::NoFinalResponse => {
                self.stats.reaped += 1;
                (EndReason::Reaped, ByeTo::None)
            }
            // Never armed here: the proxy's transaction runs Timer C.
            Timer::TimerC => (EndReason::NoAnswer, ByeTo::None),
        };
        let side = (timer == Timer::TransportGrace).then(|| i.agent_party());
        let end = End {
            by: EndedBy::System,
            reason,
            side,
            code: None,
            sip_reason: None,
            timer: Some(timer),
        };
        match bye {
            ByeTo::None => self.finish(now, seq, end, false),
            ByeTo::Both => self.finish(now, seq, end, true),
            ByeTo::Pbx => {
                self.finish(now, seq, end, false);
                self.send_bye(seq, false, "transport lost");
            }
        }
    }

    fn wrap_timeout(&mut self, now: Instant, epoch: u64) {
        let Some(agent) = self.wrap_timers.remove(&epoch) else {
            return;
        };
        let w = self.board().take_epoch(&agent, epoch);
        if let Some(w) = w {
            self.emit_wrap_ended(now, w, WrapEnd::Timeout);
        }
    }

    fn note(&mut self, now: Instant, seq: u64, msg: &Message, side: Side) {
        if let Some(i) = self.live.get_mut(&seq) {
            i.note(now, evidence(msg, side));
        }
    }

    /// Ends interaction `seq` (once), emits `interaction.ended`, starts the
    /// agent's wrap, and with `bye_both` sends BYE to both parties.
    fn finish(&mut self, now: Instant, seq: u64, end: End, bye_both: bool) {
        let Some(i) = self.live.get_mut(&seq) else {
            return;
        };
        if i.end.is_some() {
            return;
        }
        if let Some(since) = i.hold_since.take() {
            i.hold += now.saturating_duration_since(since);
        }
        i.ended = Some(now);
        i.state = State::Ended;
        let why = end.reason.as_str();
        let key = (end.by.as_str(), why, i.channel.as_str(), i.device.as_str());
        i.end = Some(Box::new(end));
        let e = make_event(
            &self.cfg.node_id,
            i,
            EventType::InteractionEnded,
            now,
            i.ended_data(),
        );
        let who = WrapOf {
            at_ms: e.time_ms,
            agent: i.agent_id.to_string(),
            id: i.id.to_string(),
            call_id: i.call_id.clone(),
            caller_tag: i.caller_tag.clone(),
        };
        self.actions.push_back(CallAction::Emit(e));
        self.stats.ended += 1;
        *self.stats.ended_by.entry(key).or_default() += 1;
        if let Some(i) = self.live.get(&seq) {
            let (ring, talk, hold, _) = i.durations();
            self.stats.ring.observe_ms(ring);
            if i.answered.is_some() {
                self.stats.talk.observe_ms(talk);
                self.stats.hold.observe_ms(hold);
            }
        }
        if bye_both {
            self.send_bye(seq, true, why);
            self.send_bye(seq, false, why);
        }
        self.start_wrap(now, who);
        self.arm(seq);
    }

    fn start_wrap(&mut self, now: Instant, i: WrapOf) {
        let secs = self
            .cfg
            .wrap_overrides
            .get(&i.agent)
            .copied()
            .unwrap_or(self.cfg.wrap_seconds);
        let deadline = now + Duration::from_secs(secs as u64);
        let data = json!({
            "agent": { "id": i.agent },
            "interaction_id": i.id,
            "seconds": secs,
            "started_at": rfc3339_ms(i.at_ms),
            "deadline_at": rfc3339_ms(i.at_ms + secs as i64 * 1000),
        });
        let event = event_of(
            &self.cfg.node_id,
            (&i.call_id, &i.caller_tag),
            &i.id,
            EventType::WrapStarted,
            i.at_ms,
            data,
        );
        let agent = i.agent.clone();
        let wrap = Wrap {
            epoch: 0,
            agent: i.agent,
            interaction_id: i.id,
            call_id: i.call_id,
            caller_tag: i.caller_tag,
            started: now,
            started_ms: i.at_ms,
            deadline,
        };
        let (epoch, replaced) = self.board().start(wrap);
        if let Some(old) = replaced {
            self.emit_wrap_ended(now, old, WrapEnd::NextInteraction);
        }
        self.actions.push_back(CallAction::Emit(event));
        self.wrap_timers.insert(epoch, agent);
        self.push_timer(deadline, TimerKey::Wrap(epoch));
    }

    fn emit_wrap_ended(&mut self, now: Instant, w: Wrap, why: WrapEnd) {
        self.wrap_timers.remove(&w.epoch);
        let acw = now.saturating_duration_since(w.started).as_millis() as u64;
        self.stats.wrap.observe_ms(acw);
        let data = json!({
            "agent": { "id": w.agent },
            "interaction_id": w.interaction_id,
            "reason": why.as_str(),
            "started_at": rfc3339_ms(w.started_ms),
            "ended_at": rfc3339_ms(w.started_ms + acw as i64),
            "acw_ms": acw,
        });
        self.actions.push_back(CallAction::Emit(event_of(
            &self.cfg.node_id,
            (&w.call_id, &w.caller_tag),
            &w.interaction_id,
            EventType::WrapEnded,
            w.started_ms + acw as i64,
            data,
        )));
    }

    fn emit(&mut self, i: &Interaction, kind: EventType, now: Instant, data: serde_json::Value) {
        let e = make_event(&self.cfg.node_id, i, kind, now, data);
        self.actions.push_back(CallAction::Emit(e));
    }

    /// A BYE inside the dialog toward the agent (`to_agent`) or the PBX,
    /// written as the other party would: its From/To tags, its next CSeq,
    /// the route set on that side of us.
    fn send_bye(&mut self, seq: u64, to_agent: bool, why: &str) {
        let Some(i) = self.live.get_mut(&seq) else {
            return;
        };
        if i.callee_tag.is_none() {
            return;
        }
        let target = if to_agent {
            i.agent_party()
        } else {
            match i.agent_party() {
                Party::Caller => Party::Callee,
                Party::Callee => Party::Caller,
            }
        };
        let r = &mut i.route;
        let (ruri, routes, from, to, cseq) = match target {
            Party::Callee => {
                r.caller_cseq += 1;
                (
                    &r.callee_contact,
                    &r.toward_callee,
                    &r.caller_from,
                    &r.callee_to,
                    r.caller_cseq,
                )
            }
            Party::Caller => {
                r.callee_cseq += 1;
                (
                    &r.caller_contact,
                    &r.toward_caller,
                    &r.callee_to,
                    &r.caller_from,
                    r.callee_cseq,
                )
            }
        };
        if ruri.is_empty() {
            return;
        }
        let mut h = String::with_capacity(256);
        for route in routes {
            let _ = write!(h, "Route: {route}\r\n");
        }
        let _ = write!(
            h,
            "Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {cseq} BYE\r\nReason: SIP;text=\"sipedge: {why}\"\r\nContent-Length: 0\r\n\r\n",
            String::from_utf8_lossy(&i.call_id)
        );
        let toward = if to_agent {
            Toward::Agent(i.agent_flow)
        } else {
            Toward::Pbx
        };
        let request_uri = ruri.to_string();
        self.stats.byes_sent += 1;
        self.actions.push_back(CallAction::Send {
            toward,
            method: Method::Bye,
            request_uri,
            headers: h,
        });
    }
}

/// An event about interaction `i`.
fn make_event(
    node: &str,
    i: &Interaction,
    kind: EventType,
    now: Instant,
    data: serde_json::Value,
) -> Event {
    let time_ms = i.invited_ms + i.ms_since_invite(now) as i64;
    event_of(
        node,
        (&i.call_id, &i.caller_tag),
        &i.id,
        kind,
        time_ms,
        data,
    )
}

/// An event of the dialog `(call_id, caller_tag)` (which makes its id)
/// about interaction `subject`.
fn event_of(
    node: &str,
    (call_id, caller_tag): (&[u8], &[u8]),
    subject: &str,
    kind: EventType,
    time_ms: i64,
    data: serde_json::Value,
) -> Event {
    Event {
        id: event_id(node, call_id, caller_tag, kind.as_str()),
        kind,
        source: format!("sipedge://{node}"),
        subject: subject.to_string(),
        time_ms,
        data,
    }
}

/// What a wrap needs to know about the interaction that started it.
struct WrapOf {
    /// When the interaction ended (wall clock, Unix ms).
    at_ms: i64,
    agent: String,
    id: String,
    call_id: Box<[u8]>,
    caller_tag: Box<[u8]>,
}

enum ByeTo {
    None,
    Pbx,
    Both,
}

fn refuse_forged() -> Verdict {
    Verdict::Refuse {
        code: 403,
        reason: "Forbidden: not a party of this dialog",
        retry_after: None,
    }
}

/// How a final non-2xx to the INVITE ends the interaction. `party` is who
/// answered it (the callee, or sipedge's upstream on its behalf).
fn classify_final(code: u16, side: Side, party: Party, msg: &Message) -> End {
    let by = Interaction::by_of(side);
    let (by, reason) = match code {
        486 | 600 | 603 | 606 => (by, EndReason::Rejected),
        408 | 480 => (by, EndReason::NoAnswer),
        // The caller cancelled somewhere we did not see (the PBX's own
        // CANCEL to the agent arrives as a CANCEL; this is its echo).
        487 => (
            match side {
                Side::Access => EndedBy::Contact,
                Side::Core => EndedBy::Agent,
            },
            EndReason::Cancel,
        ),
        300..=499 => (by, EndReason::Rejected),
        _ => (EndedBy::System, EndReason::Rejected),
    };
    let side = if code == 487 { Party::Caller } else { party };
    End {
        by,
        reason,
        side: Some(side),
        code: Some(code),
        sip_reason: sip_reason(msg),
        timer: None,
    }
}

fn sip_reason(msg: &Message) -> Option<interaction::SipReason> {
    let r = msg.reasons().next()?.ok()?;
    Some((
        String::from_utf8_lossy(r.protocol).into(),
        r.cause,
        r.text_str().map(Into::into),
    ))
}

fn evidence(msg: &Message, side: Side) -> Evidence {
    Evidence {
        method: msg.method(),
        code: msg.status().unwrap_or(0),
        cseq_method: msg.cseq().method(),
        side,
        at: 0,
        reason: msg.reasons().next().and_then(Result::ok).map(|r| {
            let mut s = String::from_utf8_lossy(r.protocol).into_owned();
            if let Some(c) = r.cause {
                let _ = write!(s, ";cause={c}");
            }
            if let Some(t) = r.text_str() {
                let _ = write!(s, ";text=\"{t}\"");
            }
            s.into()
        }),
    }
}

/// A header value as one line (folds become spaces).
fn header_text(v: Option<&[u8]>) -> Box<str> {
    let v = v.unwrap_or_default();
    String::from_utf8_lossy(&crate::sip::unfold(v))
        .replace(['\r', '\n'], " ")
        .into()
}

/// The user part of a URI written as text.
fn uri_user(uri: &str) -> Option<String> {
    crate::sip::header::Uri::parse(uri.as_bytes())
        .ok()
        .and_then(|u| u.user_str().map(str::to_string))
}

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;
