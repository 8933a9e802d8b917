//! Registrations seen through the edge: which agent device (contact) is
//! reachable over which flow, learned from the PBX's 200 OK to a REGISTER
//! that came from that flow (RFC 3327 Path brings the PBX's requests back
//! here; this table also serves PBXs that ignore Path and send to the
//! Contact).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::TransportKind;
use crate::sip::header::Uri;
use crate::sip::{HeaderName, Message};

use super::FlowId;

/// What kind of device registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// SIP over UDP, TCP or TLS.
    Hardphone,
    /// SIP over WebSocket (a browser softphone).
    Webrtc,
}

impl Device {
    pub fn of(t: TransportKind) -> Device {
        match t {
            TransportKind::Ws | TransportKind::Wss => Device::Webrtc,
            _ => Device::Hardphone,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Device::Hardphone => "hardphone",
            Device::Webrtc => "webrtc",
        }
    }
}

/// One contact of one AOR, reachable over one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Address of record (the REGISTER's To URI).
    pub aor: String,
    /// The contact URI as registered.
    pub contact: String,
    pub flow: FlowId,
    pub device: Device,
    pub user_agent: String,
    pub expires_at: Instant,
    /// RFC 5626 `+sip.instance`.
    pub instance: Option<String>,
    /// RFC 5626 `reg-id`.
    pub reg_id: Option<u32>,
}

/// The bindings, keyed by contact `user@host:port`.
#[derive(Debug, Default)]
pub struct Registrar {
    by_contact: HashMap<String, Binding>,
    /// `+sip.instance` of bindings whose flow was lost, by that flow, and
    /// when: a device that registers again from a new flow is the same
    /// device ([`Registrar::successor`]).
    lost: HashMap<FlowId, (String, Instant)>,
}

/// How long a lost flow's instance is remembered.
const LOST_MEMORY: Duration = Duration::from_secs(600);

/// `user@host:port` of a SIP URI, lowercased host, default port filled in:
/// how a Request-URI is matched to a registered contact.
pub fn contact_key(uri: &Uri<'_>) -> String {
    let user = uri
        .user
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .unwrap_or_default();
    let host = String::from_utf8_lossy(uri.host).to_ascii_lowercase();
    let port = uri
        .port
        .unwrap_or(if uri.scheme == crate::sip::header::Scheme::Sips {
            5061
        } else {
            5060
        });
    format!("{user}@{host}:{port}")
}

impl Registrar {
    /// Records the outcome of a REGISTER (`request`, as received on `flow`)
    /// that the PBX accepted with `ok`. Returns the number of live bindings
    /// changed.
    pub fn on_register_ok(
        &mut self,
        now: Instant,
        request: &Message,
        ok: &Message,
        flow: FlowId,
        transport: TransportKind,
    ) -> usize {
        let Ok(to) = request.to_header() else {
            return 0;
        };
        let aor = String::from_utf8_lossy(to.uri.raw).into_owned();
        let default_expires = ok
            .expires()
            .and_then(Result::ok)
            .or_else(|| request.expires().and_then(Result::ok))
            .unwrap_or(3600);
        let user_agent = request
            .get(HeaderName::UserAgent)
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .unwrap_or_default();
        let mut changed = 0;
        for c in request.contacts().flatten() {
            let Some(na) = c.name_addr() else {
                // `Contact: *` with Expires 0: the AOR's bindings through this edge go.
                let before = self.by_contact.len();
                self.by_contact.retain(|_, b| b.aor != aor);
                changed += before - self.by_contact.len();
                continue;
            };
            let key = contact_key(&na.uri);
            // The registrar's answer for this contact (it may shorten expires).
            let granted = ok
                .contacts()
                .flatten()
                .filter_map(|oc| oc.name_addr().map(|n| (contact_key(&n.uri), oc.expires())))
                .find(|(k, _)| *k == key)
                .map(|(_, e)| e.unwrap_or(default_expires));
            // Absent from the 200 OK: the registrar removed it.
            let expires = granted.unwrap_or_default();
            if expires == 0 {
                changed += usize::from(self.by_contact.remove(&key).is_some());
                continue;
            }
            let binding = Binding {
                aor: aor.clone(),
                contact: String::from_utf8_lossy(na.uri.raw).into_owned(),
                flow,
                device: Device::of(transport),
                user_agent: user_agent.clone(),
                expires_at: now + Duration::from_secs(expires as u64),
                instance: c.instance(),
                reg_id: c.reg_id(),
            };
            self.by_contact.insert(key, binding);
            changed += 1;
        }
        changed
    }

    /// The binding a Request-URI names: its contact, else the only live
    /// binding whose AOR user matches the URI's user.
    pub fn lookup(&self, uri: &Uri<'_>) -> Option<&Binding> {
        if let Some(b) = self.by_contact.get(&contact_key(uri)) {
            return Some(b);
        }
        let user = uri.user?;
        let mut by_user = self.by_contact.values().filter(|b| {
            Uri::parse(b.aor.as_bytes())
                .ok()
                .and_then(|a| a.user)
                .is_some_and(|u| u == user)
        });
        let first = by_user.next()?;
        // Several devices of one AOR: Path or the exact contact must decide.
        if by_user.next().is_some() {
            None
        } else {
            Some(first)
        }
    }

    /// Forgets the bindings of a lost flow; returns how many.
    pub fn remove_flow(&mut self, now: Instant, flow: FlowId) -> usize {
        let before = self.by_contact.len();
        let lost = &mut self.lost;
        self.by_contact.retain(|_, b| {
            if b.flow != flow {
                return true;
            }
            if let Some(i) = &b.instance {
                lost.insert(flow, (i.clone(), now));
            }
            false
        });
        before - self.by_contact.len()
    }

    /// The flow a device lost on `flow` registered from since (same
    /// `+sip.instance`, RFC 5626), if it did.
    pub fn successor(&self, flow: FlowId) -> Option<FlowId> {
        let (instance, _) = self.lost.get(&flow)?;
        self.by_contact
            .values()
            .find(|b| b.flow != flow && b.instance.as_ref() == Some(instance))
            .map(|b| b.flow)
    }

    /// Forgets expired bindings; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.lost
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < LOST_MEMORY);
        let before = self.by_contact.len();
        self.by_contact.retain(|_, b| b.expires_at > now);
        before - self.by_contact.len()
    }

    /// The earliest expiry.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.by_contact.values().map(|b| b.expires_at).min()
    }

    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.by_contact.values()
    }

    pub fn len(&self) -> usize {
        self.by_contact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_contact.is_empty()
    }
}
