//! The proxy between a simulated phone and a simulated PBX, on a simulated
//! clock: every routing rule, with the bytes on the wire checked.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::config::Config;

pub(crate) const CONFIG: &str = r#"
[[listen]]
transport = "udp"
addr = "127.0.0.1:5060"
[[listen]]
transport = "tcp"
addr = "127.0.0.1:5060"
[[listen]]
transport = "udp"
addr = "127.0.0.2:5070"
side = "core"
[pbx]
addrs = ["127.0.0.9:5080"]
"#;

const PHONE: &str = "127.0.0.50:40000";
const PBX: &str = "127.0.0.9:5080";

pub(crate) struct World {
    pub proxy: Proxy,
    pub now: Instant,
    pub phone: Flow,
    pub pbx: Flow,
    /// Events the call core emitted, in order.
    pub events: Vec<crate::event::Event>,
}

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl World {
    pub fn new() -> World {
        World::with(CONFIG)
    }

    /// A world on another configuration (wall clock anchored at
    /// 2026-11-23T10:00:00Z).
    pub fn with(config: &str) -> World {
        let config = Config::from_toml(config).unwrap();
        let now = Instant::now();
        let mut proxy = Proxy::new(&config);
        proxy.set_wall_anchor(now, 1_795_428_000_000);
        World {
            proxy,
            events: Vec::new(),
            now,
            phone: Flow {
                id: 1,
                transport: TransportKind::Udp,
                local: addr("127.0.0.1:5060"),
                remote: addr(PHONE),
                side: Side::Access,
            },
            pbx: Flow {
                id: 2,
                transport: TransportKind::Udp,
                local: addr("127.0.0.1:5060"),
                remote: addr(PBX),
                side: Side::Access,
            },
        }
    }

    pub fn feed(&mut self, flow: Flow, text: &str) -> Vec<(Dest, Message)> {
        let m = sip::parse(Bytes::from(text.replace('\n', "\r\n"))).unwrap();
        self.proxy.handle_message(self.now, flow, m);
        self.drain()
    }

    fn feed_bytes(&mut self, flow: Flow, b: Bytes) -> Vec<(Dest, Message)> {
        self.proxy
            .handle_message(self.now, flow, sip::parse(b).unwrap());
        self.drain()
    }

    pub fn drain(&mut self) -> Vec<(Dest, Message)> {
        let mut out = Vec::new();
        while let Some(a) = self.proxy.poll_action() {
            match a {
                Action::Send { dest, bytes } => out.push((
                    dest,
                    sip::parse(bytes).expect("the proxy sent a message that does not parse"),
                )),
                Action::Emit(e) => self.events.push(e),
            }
        }
        out
    }

    pub fn advance(&mut self, d: Duration) -> Vec<(Dest, Message)> {
        let until = self.now + d;
        let mut out = Vec::new();
        while let Some(t) = self.proxy.poll_timeout() {
            if t > until {
                break;
            }
            self.now = t;
            self.proxy.handle_timeout(t);
            out.extend(self.drain());
        }
        self.now = until;
        out
    }
}

pub(crate) fn pbx_dest() -> Dest {
    Dest::Addr(TransportKind::Udp, addr(PBX))
}

pub(crate) const INVITE: &str = "INVITE sip:1002@pbx.example.com SIP/2.0
Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKphone1;rport
Max-Forwards: 70
From: \"Agent\" <sip:1001@pbx.example.com>;tag=ph1
To: <sip:1002@pbx.example.com>
Call-ID: call-1@phone
CSeq: 1 INVITE
Contact: <sip:1001@192.168.1.20:5060>
Content-Type: application/sdp
Content-Length: 29

v=0
m=audio 4000 RTP/AVP 0
";

/// The phone's CANCEL of `invite` (one of the INVITEs here).
pub(crate) fn cancel_of(invite: &str) -> String {
    invite
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
        .replace("Content-Type: application/sdp\n", "")
        .replace(
            "Content-Length: 29\n\nv=0\nm=audio 4000 RTP/AVP 0\n",
            "Content-Length: 0\n\n",
        )
}

/// The PBX's response to the request it received (`req`), as it would send it.
pub(crate) fn respond(req: &Message, code: u16, to_tag: &str, extra: &str) -> String {
    let mut s = format!("SIP/2.0 {code} X\n");
    for v in req.get_all(HeaderName::Via) {
        s += &format!("Via: {}\n", String::from_utf8_lossy(v.value));
    }
    for rr in req.get_all(HeaderName::RecordRoute) {
        s += &format!("Record-Route: {}\n", String::from_utf8_lossy(rr.value));
    }
    s += &format!(
        "From: {}\n",
        String::from_utf8_lossy(req.get(HeaderName::From).unwrap())
    );
    s += &format!(
        "To: {};tag={to_tag}\n",
        String::from_utf8_lossy(req.get(HeaderName::To).unwrap())
    );
    s += &format!(
        "Call-ID: {}\nCSeq: {} {}\n{extra}Content-Length: 0\n\n",
        String::from_utf8_lossy(req.call_id()),
        req.cseq().seq,
        String::from_utf8_lossy(req.cseq().method_bytes)
    );
    s
}

#[test]
fn outbound_call_agent_hangs_up() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].0, out[0].1.status()), (Dest::Flow(1), Some(100)));
    let echoed = out[0].1.top_via().unwrap();
    assert_eq!(
        (echoed.received, echoed.rport),
        (Some(&b"127.0.0.50"[..]), Some(Some(40000))),
        "RFC 3581 in the 100 too"
    );
    let (dest, fwd) = &out[1];
    assert_eq!(*dest, pbx_dest());
    assert_eq!(fwd.via_count(), 2);
    let top = fwd.top_via().unwrap();
    assert_eq!((top.host, top.port), (&b"127.0.0.1"[..], Some(5060)));
    assert!(top.has_rfc3261_branch());
    let second = fwd.vias().nth(1).unwrap().unwrap();
    assert_eq!(
        (second.received, second.rport),
        (Some(&b"127.0.0.50"[..]), Some(Some(40000)))
    );
    assert_eq!(fwd.max_forwards(), Some(69));
    let rr: Vec<_> = fwd
        .routes(HeaderName::RecordRoute)
        .map(|r| r.unwrap().uri.raw.to_vec())
        .collect();
    assert_eq!(
        rr.len(),
        1,
        "one interface faces both sides: single Record-Route"
    );
    assert!(String::from_utf8_lossy(&rr[0]).contains(";lr"));
    assert_eq!(fwd.body(), b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n");

    // 180 and 200 from the PBX go back to the phone, our Via popped.
    let ringing = w.feed(w.pbx, &respond(fwd, 180, "pbx1", ""));
    assert_eq!(ringing.len(), 1);
    assert_eq!(
        (
            ringing[0].0,
            ringing[0].1.status(),
            ringing[0].1.via_count()
        ),
        (Dest::Flow(1), Some(180), 1)
    );
    let ok = w.feed(
        w.pbx,
        &respond(fwd, 200, "pbx1", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    assert_eq!((ok[0].0, ok[0].1.status()), (Dest::Flow(1), Some(200)));
    let route_set: Vec<String> = ok[0]
        .1
        .get_all(HeaderName::RecordRoute)
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .collect();
    assert_eq!(route_set.len(), 1);

    // ACK and BYE from the phone along the route set go to the PBX.
    let in_dialog = |method: &str, cseq: u32, branch: &str| {
        format!(
            "{method} sip:1002@127.0.0.9:5080 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch={branch};rport\nRoute: {}\nMax-Forwards: 70\nFrom: \"Agent\" <sip:1001@pbx.example.com>;tag=ph1\nTo: <sip:1002@pbx.example.com>;tag=pbx1\nCall-ID: call-1@phone\nCSeq: {cseq} {method}\nContent-Length: 0\n\n",
            route_set[0]
        )
    };
    let ack = w.feed(w.phone, &in_dialog("ACK", 1, "z9hG4bKack1"));
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].0, pbx_dest());
    assert_eq!(
        ack[0].1.get(HeaderName::Route),
        None,
        "our Route entry is popped"
    );
    let bye = w.feed(w.phone, &in_dialog("BYE", 2, "z9hG4bKbye1"));
    assert_eq!(bye.len(), 1);
    let (dest, bye_fwd) = &bye[0];
    assert_eq!(*dest, pbx_dest());
    let ok = w.feed(w.pbx, &respond(bye_fwd, 200, "pbx1", ""));
    assert_eq!(
        (ok[0].0, ok[0].1.status(), ok[0].1.cseq().method()),
        (Dest::Flow(1), Some(200), Method::Bye)
    );
    assert_eq!(w.proxy.stats().forwarded_requests, 3);
}

#[test]
fn retransmissions_are_absorbed_and_answered() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    // The phone repeats its INVITE: it gets the 100 again, the PBX nothing.
    let again = w.feed(w.phone, INVITE);
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].0, again[0].1.status()),
        (Dest::Flow(1), Some(100))
    );
    // Our INVITE to the PBX (UDP) is retransmitted on Timer A until a 1xx.
    let resent = w.advance(Duration::from_millis(600));
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].0, pbx_dest());
    assert_eq!(
        resent[0].1.top_via().unwrap().branch,
        fwd.top_via().unwrap().branch
    );
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    assert!(
        w.advance(Duration::from_secs(5)).is_empty(),
        "no INVITE retransmission after 180"
    );
    // A repeated 180 from the PBX reaches the phone (provisionals pass).
    assert_eq!(w.feed(w.pbx, &respond(&fwd, 180, "pbx1", "")).len(), 1);
    assert!(w.proxy.stats().retransmissions_absorbed >= 1);
}

#[test]
fn cancel_before_answer() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    let cancel = cancel_of(INVITE);
    let out = w.feed(w.phone, &cancel);
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].0, out[0].1.status(), out[0].1.cseq().method()),
        (Dest::Flow(1), Some(200), Method::Cancel)
    );
    let (dest, our_cancel) = &out[1];
    assert_eq!(*dest, pbx_dest());
    assert_eq!(our_cancel.method(), Some(Method::Cancel));
    assert_eq!(
        our_cancel.top_via().unwrap().branch,
        fwd.top_via().unwrap().branch,
        "CANCEL shares the INVITE's branch"
    );
    assert!(
        w.feed(w.pbx, &respond(our_cancel, 200, "pbx1", ""))
            .is_empty(),
        "200 to our CANCEL stays here"
    );
    let out = w.feed(w.pbx, &respond(&fwd, 487, "pbx1", ""));
    let ack: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.method() == Some(Method::Ack))
        .collect();
    assert_eq!(ack.len(), 1, "hop-by-hop ACK for the 487");
    assert_eq!(ack[0].0, pbx_dest());
    let up: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.status() == Some(487))
        .collect();
    assert_eq!(up[0].0, Dest::Flow(1));
    // The phone's ACK for the 487 is absorbed by our server transaction.
    let phone_ack = INVITE
        .replacen("INVITE sip", "ACK sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace(
            "To: <sip:1002@pbx.example.com>",
            "To: <sip:1002@pbx.example.com>;tag=pbx1",
        );
    assert!(w.feed(w.phone, &phone_ack).is_empty());
}

/// A PBX that builds its 487 from our CANCEL (only our Via in it): the
/// phone still gets a 487 with its own Via, built from our transaction,
/// never a response with no Via at all.
#[test]
fn a_487_carrying_only_our_via_is_answered_from_our_transaction() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    let cancel = cancel_of(INVITE);
    let out = w.feed(w.phone, &cancel);
    let our_cancel = out[1].1.clone();
    w.feed(w.pbx, &respond(&our_cancel, 200, "pbx1", ""));
    // The 487 "to the INVITE" with the CANCEL's (our) single Via.
    let bad = respond(&our_cancel, 487, "pbx1", "").replace("CSeq: 1 CANCEL", "CSeq: 1 INVITE");
    let out = w.feed(w.pbx, &bad);
    let up: Vec<_> = out.iter().filter(|(d, _)| *d == Dest::Flow(1)).collect();
    assert_eq!(up.len(), 1, "{out:?}");
    let m = &up[0].1;
    assert_eq!(m.status(), Some(487));
    assert_eq!(m.via_count(), 1);
    assert_eq!(
        m.top_via().unwrap().branch,
        Some(&b"z9hG4bKphone1"[..]),
        "the phone's own Via"
    );
}

#[test]
fn busy_from_the_pbx_is_acked_and_passed_on() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    let out = w.feed(w.pbx, &respond(&fwd, 486, "pbx1", ""));
    assert_eq!(out.len(), 2);
    assert!(
        out.iter()
            .any(|(d, m)| *d == pbx_dest() && m.method() == Some(Method::Ack))
    );
    assert!(
        out.iter()
            .any(|(d, m)| *d == Dest::Flow(1) && m.status() == Some(486))
    );
    // The 486 to the phone is retransmitted (UDP) until the phone ACKs.
    let resent = w.advance(Duration::from_millis(600));
    assert!(
        resent
            .iter()
            .any(|(d, m)| *d == Dest::Flow(1) && m.status() == Some(486))
    );
}

#[test]
fn no_answer_from_the_pbx_is_408() {
    let mut w = World::new();
    w.feed(w.phone, INVITE);
    let out = w.advance(Duration::from_secs(33));
    // The 408 goes to the phone, and (UDP) is retransmitted until ACKed.
    let to_phone: Vec<_> = out.iter().filter(|(d, _)| *d == Dest::Flow(1)).collect();
    assert!(
        !to_phone.is_empty() && to_phone.iter().all(|(_, m)| m.status() == Some(408)),
        "{out:?}"
    );
    assert_eq!(w.proxy.stats().timeouts, 1);
}

/// A callee that rings on and on: Timer B does not apply once it rang;
/// Timer C (restarted by each 18x) ends it with our CANCEL, the callee's
/// 487 goes to the caller, and the interaction is the system's no-answer.
#[test]
fn ringing_past_timer_c_is_cancelled_downstream() {
    let mut w = World::with(&format!("{CONFIG}[sip]\ntimer_c = \"60s\"\n"));
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    // Well past Timer B (32 s): still ringing, nothing sent.
    let out = w.advance(Duration::from_secs(40));
    assert!(out.is_empty(), "{out:?}");
    // Another 18x restarts Timer C.
    w.feed(w.pbx, &respond(&fwd, 183, "pbx1", ""));
    let out = w.advance(Duration::from_secs(59));
    assert!(out.is_empty(), "{out:?}");
    let out = w.advance(Duration::from_secs(2));
    let cancels: Vec<_> = out
        .iter()
        .filter(|(d, m)| *d == pbx_dest() && m.method() == Some(Method::Cancel))
        .collect();
    // Sent at 100 s (40 + 60), retransmitted at T1 over UDP.
    assert!(!cancels.is_empty(), "{out:?}");
    assert!(
        cancels
            .iter()
            .all(|(_, c)| c.top_via().unwrap().branch == fwd.top_via().unwrap().branch),
        "our CANCEL shares the INVITE's branch"
    );
    assert!(
        out.iter().all(|(d, _)| *d == pbx_dest()),
        "nothing to the phone yet: {out:?}"
    );
    let ended = |w: &World| -> Vec<serde_json::Value> {
        w.events
            .iter()
            .filter(|e| e.kind == crate::event::EventType::InteractionEnded)
            .map(|e| e.data.clone())
            .collect()
    };
    assert!(
        ended(&w).is_empty(),
        "not over until the callee answers the CANCEL"
    );
    // The callee answers our CANCEL and its INVITE with 487: that goes up,
    // and the interaction is the system's no-answer.
    let our_cancel = cancels[0].1.clone();
    w.feed(w.pbx, &respond(&our_cancel, 200, "pbx1", ""));
    let out = w.feed(w.pbx, &respond(&fwd, 487, "pbx1", ""));
    assert!(
        out.iter()
            .any(|(d, m)| *d == Dest::Flow(1) && m.status() == Some(487)),
        "{out:?}"
    );
    let ended = ended(&w);
    assert_eq!(ended.len(), 1);
    let d = &ended[0];
    assert_eq!(
        (&d["ended_by"], &d["end_reason"], &d["timer"]),
        (
            &serde_json::json!("system"),
            &serde_json::json!("no_answer"),
            &serde_json::json!("timer_c")
        )
    );
    // Rang from the INVITE to the 487 (Timer C fired at 100 s, the 487
    // came at 101 s).
    assert_eq!(d["durations"]["ring_ms"], 101_000);
}

/// The callee answers after all, while our CANCEL is on its way: the 2xx
/// goes up (RFC 3261 §16.7) and the call connects as any other.
#[test]
fn a_2xx_racing_our_timer_c_cancel_connects_the_call() {
    let mut w = World::with(&format!("{CONFIG}[sip]\ntimer_c = \"10s\"\n"));
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    let out = w.advance(Duration::from_secs(11));
    assert!(out.iter().any(|(_, m)| m.method() == Some(Method::Cancel)));
    let out = w.feed(
        w.pbx,
        &respond(&fwd, 200, "pbx1", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    assert!(
        out.iter()
            .any(|(d, m)| *d == Dest::Flow(1) && m.status() == Some(200)),
        "{out:?}"
    );
    let kinds: Vec<_> = w.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "sipedge.interaction.started",
            "sipedge.interaction.answered"
        ]
    );
}

/// Timer C fired and the callee ignores the CANCEL too: 408 upstream
/// after 64·T1 more.
#[test]
fn a_callee_deaf_to_our_cancel_gets_the_caller_a_408() {
    let mut w = World::with(&format!("{CONFIG}[sip]\ntimer_c = \"10s\"\n"));
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    let out = w.advance(Duration::from_secs(11));
    assert!(out.iter().any(|(_, m)| m.method() == Some(Method::Cancel)));
    let out = w.advance(Duration::from_secs(33));
    assert!(
        out.iter()
            .any(|(d, m)| *d == Dest::Flow(1) && m.status() == Some(408)),
        "{out:?}"
    );
    let ended: Vec<_> = w
        .events
        .iter()
        .filter(|e| e.kind == crate::event::EventType::InteractionEnded)
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].data["timer"], "timer_c");
    assert_eq!(ended[0].data["sip"]["final_code"], 408);
}

/// Thousands of calls the PBX rejects after ringing: each leaves timer
/// entries it superseded (Timer C after the final, the call core's ring
/// limit after the end). They must not pile up for as long as those
/// timers run (an hour of Timer C here, five minutes of ring limit).
#[test]
fn superseded_timers_do_not_pile_up() {
    let mut w = World::with(&format!("{CONFIG}[sip]\ntimer_c = \"3600s\"\n"));
    for i in 0..4_000 {
        let invite = INVITE
            .replace("call-1@phone", &format!("call-{i}@phone"))
            .replace("z9hG4bKphone1", &format!("z9hG4bKphone{i}x"))
            .replace("tag=ph1", &format!("tag=ph{i}"));
        let out = w.feed(w.phone, &invite);
        let fwd = out
            .iter()
            .find(|(d, _)| *d == pbx_dest())
            .map(|(_, m)| m.clone())
            .unwrap();
        w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
        w.feed(w.pbx, &respond(&fwd, 486, "pbx1", ""));
        w.advance(Duration::from_millis(100));
    }
    // 400 s of calls: about 320 within the last 32 s still hold
    // transactions and tombstones; without compaction each of the 4,000
    // would still have its superseded entries queued.
    let (proxy, calls) = (w.proxy.timer_entries(), w.proxy.calls().timer_entries());
    assert!(proxy < 2_600, "proxy timer entries: {proxy}");
    assert!(calls < 2_600, "call core timer entries: {calls}");
}

/// The agent's next call lands on the other shard and ends the wrap this
/// shard started (the board is shared): this shard forgets it when its
/// wrap timer comes up, not never (the soak's RSS grew by one entry per
/// such wrap).
#[test]
fn a_wrap_ended_on_another_shard_is_forgotten_here() {
    let config = Config::from_toml(CONFIG).unwrap();
    let shared = Arc::new(std::sync::Mutex::new(Shared::default()));
    let mut a = World::new();
    a.proxy = Proxy::shard(&config, shared.clone(), true);
    a.proxy.set_wall_anchor(a.now, 1_795_428_000_000);
    let mut b = World::new();
    b.proxy = Proxy::shard(&config, shared, false);
    b.proxy.set_wall_anchor(b.now, 1_795_428_000_000);
    let busy_call = |w: &mut World, n: u32| {
        let invite = INVITE
            .replace("call-1@phone", &format!("call-{n}@phone"))
            .replace("z9hG4bKphone1", &format!("z9hG4bKphone{n}x"))
            .replace("tag=ph1", &format!("tag=ph{n}"));
        let out = w.feed(w.phone, &invite);
        let fwd = out[1].1.clone();
        w.feed(w.pbx, &respond(&fwd, 486, "pbx1", ""));
    };
    busy_call(&mut a, 1);
    assert_eq!(a.proxy.calls().wraps_tracked(), 1);
    // The same agent's next call, on the other shard, replaces the wrap.
    busy_call(&mut b, 2);
    assert_eq!(b.proxy.calls().wraps_tracked(), 1);
    // Past the wrap time (30 s): each shard tracks nothing.
    a.advance(Duration::from_secs(31));
    b.advance(Duration::from_secs(31));
    assert_eq!(a.proxy.calls().wraps_tracked(), 0);
    assert_eq!(b.proxy.calls().wraps_tracked(), 0);
}

#[test]
fn max_forwards_zero_is_483() {
    let mut w = World::new();
    let out = w.feed(
        w.phone,
        &INVITE.replace("Max-Forwards: 70", "Max-Forwards: 0"),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.status(), Some(483));
}

#[test]
fn a_request_that_comes_back_is_a_loop() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    // The same request arrives again with our Via on it (a misrouted PBX
    // sending it back to the edge), from the phone's side.
    let out = w.feed_bytes(w.phone, fwd.bytes().clone());
    assert!(out.iter().any(|(_, m)| m.status() == Some(482)), "{out:?}");
}

#[test]
fn strangers_on_the_core_listener_are_refused() {
    let mut w = World::new();
    let stranger = Flow {
        id: 7,
        transport: TransportKind::Udp,
        local: addr("127.0.0.2:5070"),
        remote: addr("127.0.0.66:5060"),
        side: Side::Core,
    };
    let out = w.feed(stranger, INVITE);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.status()), (Dest::Flow(7), Some(403)));
}

const REGISTER: &str = "REGISTER sip:pbx.example.com SIP/2.0
Via: SIP/2.0/TCP 192.168.1.20:5062;branch=z9hG4bKreg1;rport
Max-Forwards: 70
From: <sip:1001@pbx.example.com>;tag=r1
To: <sip:1001@pbx.example.com>
Call-ID: reg-1@phone
CSeq: 1 REGISTER
Contact: <sip:1001@192.168.1.20:5062;transport=tcp;ob>;+sip.instance=\"<urn:uuid:0000-1>\";reg-id=1
Expires: 600
User-Agent: Yealink SIP-T46S
Content-Length: 0

";

#[test]
fn registration_path_binding_and_inbound_call() {
    let mut w = World::new();
    let tcp_phone = Flow {
        id: 3,
        transport: TransportKind::Tcp,
        local: addr("127.0.0.1:5060"),
        remote: addr("127.0.0.50:40001"),
        side: Side::Access,
    };
    let out = w.feed(tcp_phone, REGISTER);
    assert_eq!(out.len(), 1);
    let (dest, fwd) = &out[0];
    assert_eq!(*dest, pbx_dest());
    let path = fwd.routes(HeaderName::Path).next().unwrap().unwrap();
    assert!(path.uri.user.is_some(), "Path carries the flow token");
    assert_eq!(path.uri.param("ob"), Some(None));
    let ok = respond(
        fwd,
        200,
        "reg",
        "Contact: <sip:1001@192.168.1.20:5062;transport=tcp;ob>;expires=300\n",
    );
    let up = w.feed(w.pbx, &ok);
    assert_eq!((up[0].0, up[0].1.status()), (Dest::Flow(3), Some(200)));
    let b = w.proxy.bindings().pop().unwrap();
    assert_eq!(
        (b.flow, b.aor.as_str(), b.user_agent.as_str(), b.reg_id),
        (3, "sip:1001@pbx.example.com", "Yealink SIP-T46S", Some(1))
    );
    assert_eq!(b.instance.as_deref(), Some("urn:uuid:0000-1"));
    assert_eq!(
        b.expires_at,
        w.now + Duration::from_secs(300),
        "the registrar's expires wins"
    );

    // The PBX calls the agent: with Path, it sends through our token.
    let inbound = format!(
        "INVITE sip:1001@192.168.1.20:5062;transport=tcp SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKpbx1\nRoute: {}\nMax-Forwards: 70\nFrom: <sip:+15550100@pbx.example.com>;tag=p1\nTo: <sip:1001@pbx.example.com>\nCall-ID: in-1@pbx\nCSeq: 10 INVITE\nContact: <sip:pbx@127.0.0.9:5080>\nContent-Length: 0\n\n",
        String::from_utf8_lossy(path.uri.raw).replace("sip:", "<sip:") + ">"
    );
    let out = w.feed(w.pbx, &inbound);
    let to_phone: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.method() == Some(Method::Invite))
        .collect();
    assert_eq!(to_phone.len(), 1);
    assert_eq!(to_phone[0].0, Dest::Flow(3));
    let rr: Vec<_> = to_phone[0]
        .1
        .routes(HeaderName::RecordRoute)
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        rr.len(),
        2,
        "PBX over UDP, phone over TCP: double Record-Route"
    );
    assert_eq!(
        rr[0].uri.param("transport"),
        Some(Some(&b"tcp"[..])),
        "the entry facing the phone is on top"
    );
    assert_eq!(rr[1].uri.param("transport"), Some(Some(&b"udp"[..])));

    // Without Path the Request-URI (the registered contact) finds the flow too.
    let no_path = inbound
        .lines()
        .filter(|l| !l.starts_with("Route:"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("branch=z9hG4bKpbx1", "branch=z9hG4bKpbx2")
        .replace("in-1@pbx", "in-2@pbx")
        + "\n\n";
    let out = w.feed(w.pbx, &no_path);
    assert!(
        out.iter()
            .any(|(d, m)| *d == Dest::Flow(3) && m.method() == Some(Method::Invite))
    );

    // The flow is lost: the binding goes, and a new call gets 480.
    assert_eq!(w.proxy.handle_flow_closed(w.now, 3), 1);
    let again = no_path
        .replace("branch=z9hG4bKpbx2", "branch=z9hG4bKpbx3")
        .replace("in-2@pbx", "in-3@pbx");
    let out = w.feed(w.pbx, &again);
    assert!(
        out.iter()
            .any(|(d, m)| *d == pbx_dest_flow() && m.status() == Some(480)),
        "{out:?}"
    );
}

fn pbx_dest_flow() -> Dest {
    Dest::Flow(2)
}

#[test]
fn a_forged_flow_token_reaches_nobody() {
    let mut w = World::new();
    w.feed(w.phone, "OPTIONS sip:127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKo1\nFrom: <sip:1001@pbx.example.com>;tag=o\nTo: <sip:127.0.0.1:5060>\nCall-ID: o1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    let forged = "BYE sip:1001@192.168.1.20 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKforged\nRoute: <sip:f1x00000000@127.0.0.1:5060;transport=udp;lr>\nFrom: <sip:x@pbx.example.com>;tag=a\nTo: <sip:1001@pbx.example.com>;tag=b\nCall-ID: c\nCSeq: 5 BYE\nContent-Length: 0\n\n";
    let out = w.feed(w.pbx, forged);
    assert!(
        out.iter().all(|(d, _)| *d != Dest::Flow(1)),
        "the phone's flow got a forged request"
    );
    assert!(out.iter().any(|(_, m)| m.status() == Some(480)));
}

#[test]
fn options_to_the_edge_is_answered_here() {
    let mut w = World::new();
    let out = w.feed(w.phone, "OPTIONS sip:127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKo1\nFrom: <sip:1001@pbx.example.com>;tag=o\nTo: <sip:127.0.0.1:5060>\nCall-ID: o1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.status()), (Dest::Flow(1), Some(200)));
}

#[test]
fn transactions_are_reaped() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.feed(w.pbx, &respond(&fwd, 200, "pbx1", ""));
    assert!(w.proxy.transactions() != (0, 0));
    // No ACK ever comes: after 32 s the call core reaps the dialog with a
    // BYE each way; those transactions time out in turn.
    let byes = w.advance(Duration::from_secs(40));
    let mut to: Vec<Dest> = byes
        .iter()
        .filter(|(_, m)| m.method() == Some(Method::Bye))
        .map(|(d, _)| *d)
        .collect();
    to.sort_by_key(|d| format!("{d:?}"));
    to.dedup();
    assert_eq!(
        to,
        [pbx_dest(), Dest::Flow(1)],
        "a BYE (and its UDP retransmissions) each way"
    );
    w.advance(Duration::from_secs(60));
    assert_eq!(w.proxy.transactions(), (0, 0));
    assert_eq!(w.proxy.poll_timeout(), None);
}

#[test]
fn a_flooding_source_is_limited_and_recovers() {
    let config =
        Config::from_toml(&format!("{CONFIG}[sip]\nrate_limit = 2\nrate_burst = 3\n")).unwrap();
    let mut w = World::new();
    w.proxy = Proxy::new(&config);
    let options = |n: u32| {
        format!(
            "OPTIONS sip:127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKo{n}\nFrom: <sip:1001@pbx.example.com>;tag=o\nTo: <sip:127.0.0.1:5060>\nCall-ID: o{n}\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"
        )
    };
    let codes: Vec<u16> = (0..5)
        .map(|n| w.feed(w.phone, &options(n))[0].1.status().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![200, 200, 200, 503, 503],
        "burst of 3, then refused"
    );
    let refused = w.feed(w.phone, &options(9));
    assert_eq!(refused[0].1.get(HeaderName::RetryAfter), Some(&b"1"[..]));
    // The PBX is never limited.
    let from_pbx = w.feed(
        w.pbx,
        &options(10).replace("192.168.1.20:5060", "127.0.0.9:5080"),
    );
    assert_eq!(from_pbx[0].1.status(), Some(200));
    // Half a second later one token (2/s) is back.
    w.advance(Duration::from_millis(500));
    assert_eq!(w.feed(w.phone, &options(11))[0].1.status(), Some(200));
    assert_eq!(w.feed(w.phone, &options(12))[0].1.status(), Some(503));
    assert_eq!(w.proxy.stats().rate_limited, 4);
}

#[test]
fn a_registration_on_one_shard_routes_calls_on_another() {
    let config = Config::from_toml(CONFIG).unwrap();
    let shared = std::sync::Arc::default();
    let mut a = World::new();
    a.proxy = Proxy::shard(&config, std::sync::Arc::clone(&shared), true);
    let mut b = World::new();
    b.proxy = Proxy::shard(&config, shared, false);
    let tcp_phone = Flow {
        id: 3,
        transport: TransportKind::Tcp,
        local: addr("127.0.0.1:5060"),
        remote: addr("127.0.0.50:40001"),
        side: Side::Access,
    };
    let fwd = a.feed(tcp_phone, REGISTER).pop().unwrap().1;
    a.feed(
        a.pbx,
        &respond(
            &fwd,
            200,
            "reg",
            "Contact: <sip:1001@192.168.1.20:5062;transport=tcp;ob>;expires=300\n",
        ),
    );
    assert_eq!(
        b.proxy.bindings().len(),
        1,
        "the other shard sees the binding"
    );
    let invite = "INVITE sip:1001@192.168.1.20:5062;transport=tcp SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKpbxS\nMax-Forwards: 70\nFrom: <sip:+15550100@pbx.example.com>;tag=p1\nTo: <sip:1001@pbx.example.com>\nCall-ID: other-shard@pbx\nCSeq: 10 INVITE\nContent-Length: 0\n\n";
    let out = b.feed(b.pbx, invite);
    assert!(
        out.iter()
            .any(|(d, m)| *d == Dest::Flow(3) && m.method() == Some(Method::Invite)),
        "{out:?}"
    );
    // The flow closing on one shard removes the binding for all.
    b.proxy.handle_flow_closed(b.now, 3);
    assert!(a.proxy.bindings().is_empty());
}

#[test]
fn a_request_with_a_malformed_lower_via_is_refused() {
    let mut w = World::new();
    let bad = INVITE.replace(
        "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKphone1;rport",
        "Via: SIP/2.0/UDP abc123,xyz.invalid;branch=z9hG4bKphone1",
    );
    let out = w.feed(w.phone, &bad);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].1.status(), out[0].1.reason_phrase()),
        (Some(400), &b"Bad Request: malformed Via"[..])
    );
}

#[test]
fn an_unreachable_pbx_is_503() {
    let mut w = World::new();
    w.feed(w.phone, INVITE);
    w.proxy.handle_send_failed(w.now, pbx_dest());
    let out = w.drain();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.status()), (Dest::Flow(1), Some(503)));
    assert!(
        w.advance(Duration::from_secs(40))
            .iter()
            .all(|(_, m)| m.status() == Some(503)),
        "no retransmission to the PBX after the failure"
    );
}
