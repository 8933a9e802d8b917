//! One interaction (a call or a chat of one agent): what is known about
//! it, how it ended, and the event data that says so.
//!
//! Times are `Instant`s (monotonic); the wall-clock timestamps in events are
//! the wall time of `invited` plus monotonic offsets, so durations are never
//! negative and `ring_ms + talk_ms = total_ms` holds exactly.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::Side;
use crate::event::rfc3339_ms;
use crate::proxy::FlowId;
use crate::proxy::registrar::Device;
use crate::sip::Method;

/// Which way the call goes, seen from the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The PBX (a contact) calls the agent.
    Inbound,
    /// The agent calls out.
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// Voice, or a chat carried as an MSRP session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Voice,
    Chat,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Chat => "chat",
        }
    }
}

/// Who ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    Agent,
    Contact,
    System,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::Agent => "agent",
            EndedBy::Contact => "contact",
            EndedBy::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<EndedBy> {
        Some(match s {
            "agent" => EndedBy::Agent,
            "contact" => EndedBy::Contact,
            "system" => EndedBy::System,
            _ => return None,
        })
    }
}

/// Why it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Bye,
    Cancel,
    Rejected,
    NoAnswer,
    Admin,
    TransportLost,
    SessionExpired,
    Timeout,
    Reaped,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Bye => "bye",
            EndReason::Cancel => "cancel",
            EndReason::Rejected => "rejected",
            EndReason::NoAnswer => "no_answer",
            EndReason::Admin => "admin",
            EndReason::TransportLost => "transport_lost",
            EndReason::SessionExpired => "session_expired",
            EndReason::Timeout => "timeout",
            EndReason::Reaped => "reaped",
        }
    }
}

/// Caller or callee of the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Caller,
    Callee,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Caller => "caller",
            Party::Callee => "callee",
        }
    }
}

/// The timer behind a system end (reported in `interaction.ended` so the
/// reaper is explainable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// 2xx sent, no ACK within the no-ACK limit.
    NoAck,
    /// No final response to the INVITE within the ring limit.
    NoFinalResponse,
    /// RFC 4028 session not refreshed.
    SessionTimer,
    /// `[dialog] max_duration`.
    MaxDuration,
    /// The agent's connection was gone longer than the grace.
    TransportGrace,
    /// The proxy's Timer C: it rang too long after its last 18x; sipedge
    /// cancelled it.
    TimerC,
}

impl Timer {
    pub fn as_str(self) -> &'static str {
        match self {
            Timer::NoAck => "no_ack",
            Timer::NoFinalResponse => "no_final_response",
            Timer::SessionTimer => "session_timer",
            Timer::MaxDuration => "max_duration",
            Timer::TransportGrace => "transport_grace",
            Timer::TimerC => "timer_c",
        }
    }
}

/// An RFC 3326 Reason: protocol, cause, text.
pub type SipReason = (Box<str>, Option<u32>, Option<Box<str>>);

/// How an interaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    pub by: EndedBy,
    pub reason: EndReason,
    pub side: Option<Party>,
    /// The final SIP code: of the INVITE when it never got a 2xx, else 200
    /// for a BYE.
    pub code: Option<u16>,
    /// RFC 3326 Reason: protocol, cause, text.
    pub sip_reason: Option<SipReason>,
    pub timer: Option<Timer>,
}

/// One line of evidence: a message of the dialog as it passed (24 bytes
/// plus the Reason text when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Method of a request, or `None` for a response.
    pub method: Option<Method>,
    /// Status code of a response, 0 for a request.
    pub code: u16,
    /// The CSeq method.
    pub cseq_method: Method,
    pub side: Side,
    /// Milliseconds after `invited`.
    pub at: u32,
    /// Thin pointer: most entries have none.
    pub reason: Option<Box<String>>,
}

/// Evidence kept per interaction (the last ones).
pub const EVIDENCE: usize = 6;

/// Where the dialog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Early,
    Confirmed,
    Ended,
}

/// What a BYE sent by sipedge needs, learned from the INVITE and its 2xx.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteInfo {
    /// The caller's From and the callee's To (with their tags), as written.
    pub caller_from: Box<str>,
    pub callee_to: Box<str>,
    /// Remote targets (Contact URIs).
    pub caller_contact: Box<str>,
    pub callee_contact: Box<str>,
    /// Record-Route entries on each side of ours: the route set toward the
    /// caller (in order) and toward the callee (in order).
    pub toward_caller: Box<[Box<str>]>,
    pub toward_callee: Box<[Box<str>]>,
    /// Highest CSeq seen from each party.
    pub caller_cseq: u32,
    pub callee_cseq: u32,
}

/// One interaction.
#[derive(Debug, Clone)]
pub struct Interaction {
    pub id: Box<str>,
    pub call_id: Box<[u8]>,
    pub caller_tag: Box<[u8]>,
    pub callee_tag: Option<Box<[u8]>>,
    pub invite_cseq: u32,
    pub direction: Direction,
    pub channel: Channel,
    pub device: Device,
    pub agent_flow: FlowId,
    pub agent_id: Box<str>,
    pub agent_aor: Option<Box<str>>,
    pub user_agent: Option<Box<str>>,
    pub remote_uri: Box<str>,
    pub remote_name: Option<Box<str>>,
    pub state: State,
    pub invited: Instant,
    /// Wall clock of `invited`, Unix ms.
    pub invited_ms: i64,
    pub ringing: Option<Instant>,
    pub answered: Option<Instant>,
    pub acked: bool,
    pub ended: Option<Instant>,
    pub hold_since: Option<Instant>,
    pub hold: Duration,
    /// RFC 4028 interval and when it runs out.
    pub session_interval: Option<u32>,
    pub session_deadline: Option<Instant>,
    /// When the agent's flow was lost (grace running).
    pub lost_at: Option<Instant>,
    /// The earliest deadline queued for it in the timer heap.
    pub armed: Option<Instant>,
    /// The proxy's Timer C fired and it is cancelling the INVITE: the
    /// final answer that follows (487, or 408 if none) is the system's
    /// no-answer, not the caller's cancel; a 2xx still connects the call.
    pub timer_c: bool,
    pub route: RouteInfo,
    pub evidence: Vec<Evidence>,
    /// Boxed: most of a dialog's life it is `None`.
    pub end: Option<Box<End>>,
}

impl Interaction {
    /// Which party the agent is.
    pub fn agent_party(&self) -> Party {
        match self.direction {
            Direction::Outbound => Party::Caller,
            Direction::Inbound => Party::Callee,
        }
    }

    /// Which party sent a message from `side`.
    pub fn party_of(&self, side: Side) -> Party {
        match (side, self.agent_party()) {
            (Side::Access, p) => p,
            (Side::Core, Party::Caller) => Party::Callee,
            (Side::Core, Party::Callee) => Party::Caller,
        }
    }

    /// `ended_by` for something the party on `side` did.
    pub fn by_of(side: Side) -> EndedBy {
        match side {
            Side::Access => EndedBy::Agent,
            Side::Core => EndedBy::Contact,
        }
    }

    pub fn ms_since_invite(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.invited).as_millis() as u64
    }

    fn wall(&self, t: Instant) -> String {
        rfc3339_ms(self.invited_ms + self.ms_since_invite(t) as i64)
    }

    pub fn note(&mut self, now: Instant, ev: Evidence) {
        let ev = Evidence {
            at: self.ms_since_invite(now).min(u32::MAX as u64) as u32,
            ..ev
        };
        if self.evidence.len() == EVIDENCE {
            self.evidence.remove(0);
        }
        self.evidence.push(ev);
    }

    /// Starts or stops the hold clock (only while answered).
    pub fn set_hold(&mut self, now: Instant, hold: bool) {
        match (hold, self.hold_since) {
            (true, None) if self.answered.is_some() => self.hold_since = Some(now),
            (false, Some(since)) => {
                self.hold += now.saturating_duration_since(since);
                self.hold_since = None;
            }
            _ => {}
        }
    }

    /// The fields every event about this interaction carries.
    pub fn base(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("interaction_id".into(), json!(self.id));
        m.insert("channel".into(), json!(self.channel.as_str()));
        m.insert("direction".into(), json!(self.direction.as_str()));
        m.insert("device".into(), json!(self.device.as_str()));
        m.insert(
            "agent".into(),
            json!({
                "id": self.agent_id,
                "aor": self.agent_aor,
                "user_agent": self.user_agent,
            }),
        );
        m.insert(
            "remote".into(),
            json!({ "uri": self.remote_uri, "display_name": self.remote_name }),
        );
        m.insert(
            "call_id".into(),
            json!(String::from_utf8_lossy(&self.call_id)),
        );
        m
    }

    /// Wall-clock stage times.
    pub fn times(&self) -> Value {
        json!({
            "invited_at": self.wall(self.invited),
            "ringing_at": self.ringing.map(|t| self.wall(t)),
            "answered_at": self.answered.map(|t| self.wall(t)),
            "ended_at": self.ended.map(|t| self.wall(t)),
        })
    }

    /// `ring_ms`, `talk_ms`, `hold_ms`, `total_ms` at `ended` (all from
    /// monotonic offsets of `invited`, so ring + talk = total, hold ≤ talk).
    pub fn durations(&self) -> (u64, u64, u64, u64) {
        let ended = self.ended.unwrap_or(self.invited);
        let total = self.ms_since_invite(ended);
        let answered = self.answered.map(|a| self.ms_since_invite(a).min(total));
        let ring = answered.unwrap_or(total);
        let talk = total - ring;
        let mut hold = self.hold;
        if let Some(since) = self.hold_since {
            hold += ended.saturating_duration_since(since);
        }
        let hold = (hold.as_millis() as u64).min(talk);
        (ring, talk, hold, total)
    }

    /// The `interaction.ended` data.
    pub fn ended_data(&self) -> Value {
        let mut m = self.base();
        let Some(end) = &self.end else {
            return Value::Object(m);
        };
        let (ring, talk, hold, total) = self.durations();
        m.insert("ended_by".into(), json!(end.by.as_str()));
        m.insert("end_reason".into(), json!(end.reason.as_str()));
        m.insert("end_side".into(), json!(end.side.map(Party::as_str)));
        m.insert("timer".into(), json!(end.timer.map(Timer::as_str)));
        m.insert(
            "sip".into(),
            json!({
                "final_code": end.code,
                "reason": end.sip_reason.as_ref().map(|(p, c, t)| json!({
                    "protocol": p, "cause": c, "text": t,
                })),
            }),
        );
        m.insert("times".into(), self.times());
        m.insert(
            "durations".into(),
            json!({ "ring_ms": ring, "talk_ms": talk, "hold_ms": hold, "total_ms": total }),
        );
        m.insert(
            "compat".into(),
            json!({
                "sip_hangup_disposition": self.hangup_disposition(end),
                "disconnect_reason": disconnect_reason(end),
            }),
        );
        m.insert(
            "evidence".into(),
            Value::Array(
                self.evidence
                    .iter()
                    .map(|e| {
                        json!({
                            "method": e.method.and_then(Method::as_str),
                            "code": (e.code != 0).then_some(e.code),
                            "cseq_method": e.cseq_method.as_str().unwrap_or("OTHER"),
                            "side": side_str(e.side),
                            "reason": e.reason.as_deref(),
                            "at": rfc3339_ms(self.invited_ms + e.at as i64),
                        })
                    })
                    .collect(),
            ),
        );
        Value::Object(m)
    }

    /// FreeSWITCH's `sip_hangup_disposition`, from the agent's leg: what
    /// the agent's side sent (`send_*`) or received (`recv_*`). sipedge
    /// ending the call on the agent's behalf counts as the agent's side.
    fn hangup_disposition(&self, end: &End) -> &'static str {
        let ours = end.by != EndedBy::Contact;
        match (end.reason, ours) {
            (EndReason::Cancel, true) => "send_cancel",
            (EndReason::Cancel, false) => "recv_cancel",
            (EndReason::Rejected | EndReason::NoAnswer, true) => "send_refuse",
            (EndReason::Rejected | EndReason::NoAnswer, false) => "recv_refuse",
            (_, true) => "send_bye",
            (_, false) => "recv_bye",
        }
    }
}

/// Amazon Connect style `disconnect_reason`.
fn disconnect_reason(end: &End) -> &'static str {
    match (end.reason, end.by) {
        (EndReason::Admin, _) => "API",
        (EndReason::TransportLost, _) => "TELECOM_PROBLEM",
        (EndReason::SessionExpired | EndReason::Timeout | EndReason::Reaped, _) => "EXPIRED",
        (_, EndedBy::Agent) => "AGENT_DISCONNECT",
        (_, EndedBy::Contact) => "CUSTOMER_DISCONNECT",
        (_, EndedBy::System) => "TELECOM_PROBLEM",
    }
}

pub fn side_str(s: Side) -> &'static str {
    match s {
        Side::Access => "access",
        Side::Core => "core",
    }
}
