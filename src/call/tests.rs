//! The call core driven through the proxy on a simulated clock: a phone
//! (UDP flow 1) and a PBX, every way an interaction ends, wrap, the races
//! and the forgeries, with the events checked field by field.

use std::time::Duration;

use serde_json::Value;

use crate::config::{Side, TransportKind};
use crate::event::{Event, EventType};
use crate::proxy::core::tests::{CONFIG, INVITE, World, addr, cancel_of, pbx_dest, respond};
use crate::proxy::{Dest, Flow};
use crate::sip::{HeaderName, Message, Method};

use super::EndedBy;

fn of(w: &World, kind: EventType) -> Vec<&Event> {
    w.events.iter().filter(|e| e.kind == kind).collect()
}

fn kinds(w: &World) -> Vec<&'static str> {
    w.events.iter().map(|e| e.kind.short()).collect()
}

/// The one `interaction.ended`'s data.
fn ended(w: &World) -> &Value {
    let e = of(w, EventType::InteractionEnded);
    assert_eq!(e.len(), 1, "exactly one interaction.ended: {:?}", kinds(w));
    &e[0].data
}

fn field<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

fn assert_end(w: &World, by: &str, reason: &str, side: Value) {
    let d = ended(w);
    assert_eq!(
        (&d["ended_by"], &d["end_reason"], &d["end_side"]),
        (&Value::from(by), &Value::from(reason), &side),
        "{d:#}"
    );
}

fn ms(v: &Value, k: &str) -> u64 {
    v["durations"][k]
        .as_u64()
        .unwrap_or_else(|| panic!("{k} in {v:#}"))
}

/// The phone's in-dialog request toward the PBX (outbound call).
fn phone_req(method: &str, cseq: u32, branch: &str, route: &str, body: &str) -> String {
    let ct = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\n".into()
    };
    format!(
        "{method} sip:1002@127.0.0.9:5080 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch={branch};rport\nRoute: {route}\nMax-Forwards: 70\nFrom: \"Agent\" <sip:1001@pbx.example.com>;tag=ph1\nTo: <sip:1002@pbx.example.com>;tag=pbx1\nCall-ID: call-1@phone\nCSeq: {cseq} {method}\n{ct}Content-Length: {}\n\n{body}",
        body.len()
    )
}

/// The PBX's in-dialog request toward the phone (outbound call).
fn pbx_req(method: &str, cseq: u32, branch: &str, route: &str) -> String {
    format!(
        "{method} sip:1001@192.168.1.20:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch={branch}\nRoute: {route}\nMax-Forwards: 70\nFrom: <sip:1002@pbx.example.com>;tag=pbx1\nTo: \"Agent\" <sip:1001@pbx.example.com>;tag=ph1\nCall-ID: call-1@phone\nCSeq: {cseq} {method}\nReason: Q.850;cause=16;text=\"Normal call clearing\"\nContent-Length: 0\n\n"
    )
}

/// An outbound call from the phone: INVITE, 180 after 1 s, 200 after 3 s
/// more, ACK. Returns the INVITE as the PBX got it and our Record-Route.
fn outbound_answered(w: &mut World) -> (Message, String) {
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.advance(Duration::from_secs(1));
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    w.advance(Duration::from_secs(3));
    w.feed(
        w.pbx,
        &respond(
            &fwd,
            200,
            "pbx1",
            "Contact: <sip:1002@127.0.0.9:5080>\nSession-Expires: 1800;refresher=uac\n",
        ),
    );
    let rr = String::from_utf8_lossy(fwd.get(HeaderName::RecordRoute).unwrap()).into_owned();
    w.feed(w.phone, &phone_req("ACK", 1, "z9hG4bKack1", &rr, ""));
    (fwd, rr)
}

#[test]
fn outbound_call_the_agent_hangs_up() {
    let mut w = World::new();
    let (_, rr) = outbound_answered(&mut w);
    assert_eq!(kinds(&w), ["interaction.started", "interaction.answered"]);
    w.advance(Duration::from_millis(5_250));
    let out = w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
    assert_eq!(out[0].0, pbx_dest(), "the BYE is forwarded");
    assert_end(&w, "agent", "bye", "caller".into());
    let d = ended(&w);
    assert_eq!(
        (
            ms(d, "ring_ms"),
            ms(d, "talk_ms"),
            ms(d, "total_ms"),
            ms(d, "hold_ms")
        ),
        (4_000, 5_250, 9_250, 0)
    );
    assert_eq!(d["direction"], "outbound");
    assert_eq!(d["device"], "hardphone");
    assert_eq!(d["channel"], "voice");
    assert_eq!(
        d["agent"]["id"], "1001",
        "the From user of an outbound call"
    );
    assert_eq!(d["remote"]["uri"], "sip:1002@pbx.example.com");
    assert_eq!(d["call_id"], "call-1@phone");
    assert_eq!(d["sip"]["final_code"], 200);
    assert_eq!(
        field(d, "times.invited_at"),
        "2026-11-23T10:00:00.000Z",
        "wall time of the INVITE"
    );
    assert_eq!(field(d, "times.ringing_at"), "2026-11-23T10:00:01.000Z");
    assert_eq!(field(d, "times.answered_at"), "2026-11-23T10:00:04.000Z");
    assert_eq!(field(d, "times.ended_at"), "2026-11-23T10:00:09.250Z");
    assert_eq!(d["compat"]["sip_hangup_disposition"], "send_bye");
    assert_eq!(d["compat"]["disconnect_reason"], "AGENT_DISCONNECT");
    let methods: Vec<&str> = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["method"].as_str().unwrap_or("resp"))
        .collect();
    assert_eq!(methods, ["INVITE", "resp", "BYE"]);
    assert_eq!(
        kinds(&w),
        [
            "interaction.started",
            "interaction.answered",
            "interaction.ended",
            "wrap.started"
        ]
    );
    // The 200 to the BYE and a BYE retransmission change nothing.
    let bye_fwd = out[0].1.clone();
    w.feed(w.pbx, &respond(&bye_fwd, 200, "pbx1", ""));
    w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
    assert_eq!(w.events.len(), 4);
}

#[test]
fn outbound_call_the_contact_hangs_up_with_a_reason() {
    let mut w = World::new();
    let (_, rr) = outbound_answered(&mut w);
    w.advance(Duration::from_secs(2));
    let out = w.feed(w.pbx, &pbx_req("BYE", 1, "z9hG4bKpbye", &rr));
    assert_eq!(out[0].0, Dest::Flow(1), "the BYE reaches the phone");
    assert_end(&w, "contact", "bye", "callee".into());
    let d = ended(&w);
    assert_eq!(d["sip"]["reason"]["protocol"], "Q.850");
    assert_eq!(d["sip"]["reason"]["cause"], 16);
    assert_eq!(d["sip"]["reason"]["text"], "Normal call clearing");
    assert_eq!(d["compat"]["sip_hangup_disposition"], "recv_bye");
    assert_eq!(d["compat"]["disconnect_reason"], "CUSTOMER_DISCONNECT");
}

#[test]
fn bye_from_both_sides_at_once_ends_it_once() {
    let mut w = World::new();
    let (_, rr) = outbound_answered(&mut w);
    w.feed(w.pbx, &pbx_req("BYE", 1, "z9hG4bKpbye", &rr));
    w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
    assert_end(&w, "contact", "bye", "callee".into());
    assert_eq!(of(&w, EventType::WrapStarted).len(), 1);
}

/// A chat INVITE (MSRP offer) from the phone.
fn msrp_invite() -> String {
    let body = "v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\nm=message 7654 TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:msrp://192.168.1.20:7654/s1;tcp\r\n";
    INVITE
        .replace("Content-Length: 29\n\nv=0\nm=audio 4000 RTP/AVP 0\n", "")
        .replace(
            "Content-Type: application/sdp\n",
            &format!(
                "Content-Type: application/sdp\nX-Agent-Id: agent-7\nX-Interaction-Id: crm-42\nContent-Length: {}\n\n{body}",
                body.len()
            ),
        )
}

#[test]
fn a_chat_is_an_interaction_of_channel_chat_with_the_ids_from_headers() {
    let mut w = World::new();
    let text = msrp_invite();
    let out = w.feed(w.phone, &text);
    let fwd = out[1].1.clone();
    w.feed(
        w.pbx,
        &respond(&fwd, 200, "pbx1", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    let rr = String::from_utf8_lossy(fwd.get(HeaderName::RecordRoute).unwrap()).into_owned();
    w.feed(w.pbx, &pbx_req("BYE", 1, "z9hG4bKpbye", &rr));
    let d = ended(&w);
    assert_eq!(d["channel"], "chat");
    assert_eq!(d["interaction_id"], "crm-42");
    assert_eq!(d["agent"]["id"], "agent-7");
    assert_eq!(d["ended_by"], "contact");
    assert_eq!(w.events[0].subject, "crm-42");
}

#[test]
fn cancel_before_answer_from_the_agent() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.advance(Duration::from_secs(2));
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    w.advance(Duration::from_secs(1));
    let cancel = cancel_of(INVITE);
    let out = w.feed(w.phone, &cancel);
    assert!(
        out.iter()
            .any(|(d, m)| *d == pbx_dest() && m.method() == Some(Method::Cancel))
    );
    assert_end(&w, "agent", "cancel", "caller".into());
    let d = ended(&w);
    assert_eq!(
        (ms(d, "ring_ms"), ms(d, "talk_ms"), ms(d, "total_ms")),
        (3_000, 0, 3_000)
    );
    assert_eq!(d["times"]["answered_at"], Value::Null);
    assert_eq!(d["compat"]["sip_hangup_disposition"], "send_cancel");
    // The PBX's 487 that follows changes nothing; a late BYE neither.
    w.feed(w.pbx, &respond(&fwd, 487, "pbx1", ""));
    assert_eq!(of(&w, EventType::InteractionEnded).len(), 1);
    assert_eq!(of(&w, EventType::WrapStarted).len(), 1);
}

#[test]
fn final_responses_say_who_refused() {
    for (code, by, reason) in [
        (486, "contact", "rejected"),
        (603, "contact", "rejected"),
        (480, "contact", "no_answer"),
        (408, "contact", "no_answer"),
        (404, "contact", "rejected"),
        (503, "system", "rejected"),
    ] {
        let mut w = World::new();
        let out = w.feed(w.phone, INVITE);
        let fwd = out[1].1.clone();
        w.feed(w.pbx, &respond(&fwd, code, "pbx1", ""));
        assert_end(&w, by, reason, "callee".into());
        assert_eq!(ended(&w)["sip"]["final_code"], code);
    }
}

#[test]
fn no_answer_from_the_pbx_at_all_is_a_system_no_answer() {
    let mut w = World::new();
    w.feed(w.phone, INVITE);
    w.advance(Duration::from_secs(40));
    assert_end(&w, "system", "no_answer", Value::Null);
    assert_eq!(ended(&w)["sip"]["final_code"], 408);
}

/// The UDP phone (flow 1) registers through the edge; the PBX accepts.
fn register_phone(w: &mut World) {
    let reg = "REGISTER sip:pbx.example.com SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKreg1;rport\nMax-Forwards: 70\nFrom: <sip:1001@pbx.example.com>;tag=r1\nTo: <sip:1001@pbx.example.com>\nCall-ID: reg-1@phone\nCSeq: 1 REGISTER\nContact: <sip:1001@192.168.1.20:5060>\nExpires: 600\nUser-Agent: Yealink SIP-T46S\nContent-Length: 0\n\n";
    register(w, w.phone, reg, "<sip:1001@192.168.1.20:5060>");
}

/// A device registers over `flow` with `text`; the PBX grants `contact`.
fn register(w: &mut World, flow: Flow, text: &str, contact: &str) {
    let out = w.feed(flow, text);
    let fwd = out[0].1.clone();
    w.feed(
        w.pbx,
        &respond(
            &fwd,
            200,
            "reg",
            &format!("Contact: {contact};expires=600\n"),
        ),
    );
}

/// Registers the phone (flow 1) and has the PBX call it; the phone answers
/// after 2 s, the PBX ACKs. Returns the INVITE as the phone got it and
/// the route the PBX uses.
fn inbound_answered(w: &mut World, extra: &str) -> (Message, String) {
    register_phone(w);
    let invite = format!(
        "INVITE sip:1001@192.168.1.20:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKpinv\nMax-Forwards: 70\nFrom: \"Jane Contact\" <sip:+15550100@pbx.example.com>;tag=p1\nTo: <sip:1001@pbx.example.com>\nCall-ID: in-1@pbx\nCSeq: 10 INVITE\nContact: <sip:pbx@127.0.0.9:5080>\n{extra}Content-Length: 0\n\n"
    );
    let out = w.feed(w.pbx, &invite);
    let (dest, at_phone) = out
        .iter()
        .find(|(_, m)| m.method() == Some(Method::Invite))
        .cloned()
        .unwrap_or_else(|| panic!("no INVITE forwarded: {out:?}"));
    assert_eq!(dest, Dest::Flow(1));
    w.feed(w.phone, &respond(&at_phone, 180, "ag1", ""));
    w.advance(Duration::from_secs(2));
    w.feed(
        w.phone,
        &respond(
            &at_phone,
            200,
            "ag1",
            "Contact: <sip:1001@192.168.1.20:5060>\n",
        ),
    );
    let rr = String::from_utf8_lossy(at_phone.get(HeaderName::RecordRoute).unwrap()).into_owned();
    w.feed(w.pbx, &in_pbx("ACK", 10, "z9hG4bKpack", &rr));
    (at_phone, rr)
}

/// The PBX's in-dialog request of the inbound call.
fn in_pbx(method: &str, cseq: u32, branch: &str, route: &str) -> String {
    format!(
        "{method} sip:1001@192.168.1.20:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch={branch}\nRoute: {route}\nMax-Forwards: 70\nFrom: \"Jane Contact\" <sip:+15550100@pbx.example.com>;tag=p1\nTo: <sip:1001@pbx.example.com>;tag=ag1\nCall-ID: in-1@pbx\nCSeq: {cseq} {method}\nContent-Length: 0\n\n"
    )
}

/// The agent's in-dialog request of the inbound call.
fn in_phone(method: &str, cseq: u32, branch: &str, route: &str) -> String {
    format!(
        "{method} sip:pbx@127.0.0.9:5080 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch={branch};rport\nRoute: {route}\nMax-Forwards: 70\nFrom: <sip:1001@pbx.example.com>;tag=ag1\nTo: \"Jane Contact\" <sip:+15550100@pbx.example.com>;tag=p1\nCall-ID: in-1@pbx\nCSeq: {cseq} {method}\nContent-Length: 0\n\n"
    )
}

#[test]
fn inbound_call_the_contact_hangs_up() {
    let mut w = World::new();
    let (_, rr) = inbound_answered(&mut w, "");
    w.advance(Duration::from_secs(7));
    w.feed(w.pbx, &in_pbx("BYE", 11, "z9hG4bKpbye", &rr));
    assert_end(&w, "contact", "bye", "caller".into());
    let d = ended(&w);
    assert_eq!(d["direction"], "inbound");
    assert_eq!(d["agent"]["id"], "1001", "the registered AOR's user");
    assert_eq!(d["agent"]["aor"], "sip:1001@pbx.example.com");
    assert_eq!(d["agent"]["user_agent"], "Yealink SIP-T46S");
    assert_eq!(d["remote"]["display_name"], "Jane Contact");
    assert_eq!(d["remote"]["uri"], "sip:+15550100@pbx.example.com");
    assert_eq!((ms(d, "ring_ms"), ms(d, "talk_ms")), (2_000, 7_000));
}

#[test]
fn inbound_call_the_agent_hangs_up() {
    let mut w = World::new();
    let (_, rr) = inbound_answered(&mut w, "");
    w.feed(w.phone, &in_phone("BYE", 1, "z9hG4bKabye", &rr));
    assert_end(&w, "agent", "bye", "callee".into());
}

#[test]
fn inbound_call_refused_by_the_agent() {
    let mut w = World::new();
    register_phone(&mut w);
    let out = w.feed(w.pbx, "INVITE sip:1001@192.168.1.20:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKpinv\nMax-Forwards: 70\nFrom: <sip:+15550100@pbx.example.com>;tag=p1\nTo: <sip:1001@pbx.example.com>\nCall-ID: in-1@pbx\nCSeq: 10 INVITE\nContent-Length: 0\n\n");
    let at_phone = out
        .iter()
        .find(|(_, m)| m.method() == Some(Method::Invite))
        .unwrap()
        .1
        .clone();
    w.feed(w.phone, &respond(&at_phone, 486, "ag1", ""));
    assert_end(&w, "agent", "rejected", "callee".into());
    assert_eq!(ended(&w)["compat"]["sip_hangup_disposition"], "send_refuse");
}

#[test]
fn a_forged_bye_from_another_phone_is_refused_and_the_call_goes_on() {
    let mut w = World::new();
    let (_, rr) = outbound_answered(&mut w);
    let stranger = Flow {
        id: 9,
        transport: TransportKind::Udp,
        local: addr("127.0.0.1:5060"),
        remote: addr("127.0.0.77:5060"),
        side: Side::Access,
    };
    let out = w.feed(stranger, &phone_req("BYE", 2, "z9hG4bKforged", &rr, ""));
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.status()), (Dest::Flow(9), Some(403)));
    assert!(of(&w, EventType::InteractionEnded).is_empty());
    assert_eq!(w.proxy.calls().stats().spoofs_refused, 1);
    // A CANCEL copied from the INVITE, from the stranger: 403 too.
    let mut w2 = World::new();
    w2.feed(w2.phone, INVITE);
    let cancel = cancel_of(INVITE);
    let out = w2.feed(stranger, &cancel);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.status()), (Dest::Flow(9), Some(403)));
    assert!(of(&w2, EventType::InteractionEnded).is_empty());
    // The real hang-up still counts.
    w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
    assert_end(&w, "agent", "bye", "caller".into());
}

#[test]
fn hold_time_accumulates_from_sendonly_reinvites() {
    let mut w = World::new();
    let (_, rr) = outbound_answered(&mut w);
    let hold = "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
    let resume = "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n";
    w.advance(Duration::from_secs(1));
    w.feed(w.phone, &phone_req("INVITE", 2, "z9hG4bKhold", &rr, hold));
    w.advance(Duration::from_millis(2_500));
    w.feed(
        w.phone,
        &phone_req("INVITE", 3, "z9hG4bKresume", &rr, resume),
    );
    w.advance(Duration::from_secs(1));
    w.feed(w.phone, &phone_req("BYE", 4, "z9hG4bKbye1", &rr, ""));
    let d = ended(&w);
    assert_eq!((ms(d, "hold_ms"), ms(d, "talk_ms")), (2_500, 4_500));
}

#[test]
fn admin_end_sends_bye_both_ways_as_each_side_expects() {
    let mut w = World::new();
    let (_, rr) = outbound_answered(&mut w);
    w.feed(w.pbx, &pbx_req("INFO", 7, "z9hG4bKinfo", &rr));
    let id = w.events[0].subject.clone();
    let now = w.now;
    w.proxy.end_interaction(now, &id, EndedBy::Agent).unwrap();
    let out = w.drain();
    let byes: Vec<&(Dest, Message)> = out
        .iter()
        .filter(|(_, m)| m.method() == Some(Method::Bye))
        .collect();
    assert_eq!(byes.len(), 2, "{out:?}");
    let to_pbx = byes
        .iter()
        .find(|(d, _)| *d == pbx_dest())
        .expect("BYE to the PBX");
    let to_phone = byes
        .iter()
        .find(|(d, _)| *d == Dest::Flow(1))
        .expect("BYE to the phone");
    // To the PBX as the phone (caller) would: its tags, CSeq above its 1.
    let m = &to_pbx.1;
    assert_eq!(m.request_uri_bytes(), b"sip:1002@127.0.0.9:5080");
    assert_eq!(m.from_header().unwrap().tag(), Some(&b"ph1"[..]));
    assert_eq!(m.to_header().unwrap().tag(), Some(&b"pbx1"[..]));
    assert_eq!(m.cseq().seq, 2);
    assert_eq!(m.get(HeaderName::Route), None, "no route set beyond us");
    // To the phone as the PBX would: above the PBX's CSeq 7.
    let m = &to_phone.1;
    assert_eq!(m.request_uri_bytes(), b"sip:1001@192.168.1.20:5060");
    assert_eq!(m.from_header().unwrap().tag(), Some(&b"pbx1"[..]));
    assert_eq!(m.to_header().unwrap().tag(), Some(&b"ph1"[..]));
    assert_eq!(m.cseq().seq, 8);
    assert_end(&w, "agent", "admin", "caller".into());
    assert_eq!(ended(&w)["compat"]["disconnect_reason"], "API");
    // Their 200s are absorbed: nothing is forwarded.
    let ok = respond(&to_pbx.1, 200, "pbx1", "");
    assert!(w.feed(w.pbx, &ok).is_empty());
    // Ending it again: gone.
    assert!(w.proxy.end_interaction(w.now, &id, EndedBy::Agent).is_err());
    assert_eq!(w.proxy.calls().stats().byes_sent, 2);
}

/// A config with the phone on TCP (flow 3) and shorter limits.
const TCP_PHONE: Flow = Flow {
    id: 3,
    transport: TransportKind::Tcp,
    local: std::net::SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::new(127, 0, 0, 1),
        5060,
    )),
    remote: std::net::SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::new(127, 0, 0, 50),
        40001,
    )),
    side: Side::Access,
};

fn tcp_invite() -> String {
    INVITE.replace(
        "SIP/2.0/UDP 192.168.1.20:5060",
        "SIP/2.0/TCP 192.168.1.20:5062",
    )
}

fn tcp_register(branch: &str) -> String {
    format!(
        "REGISTER sip:pbx.example.com SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.20:5062;branch={branch};rport\nMax-Forwards: 70\nFrom: <sip:1001@pbx.example.com>;tag=r1\nTo: <sip:1001@pbx.example.com>\nCall-ID: reg-1@phone\nCSeq: 1 REGISTER\nContact: <sip:1001@192.168.1.20:5062;transport=tcp;ob>;+sip.instance=\"<urn:uuid:0000-1>\";reg-id=1\nContent-Length: 0\n\n"
    )
}

fn register_on(w: &mut World, flow: Flow, branch: &str) {
    register(
        w,
        flow,
        &tcp_register(branch),
        "<sip:1001@192.168.1.20:5062;transport=tcp;ob>",
    );
}

/// A call from the TCP phone, answered and ACKed; returns the route set
/// the PBX uses in the dialog.
fn tcp_call(w: &mut World) -> String {
    register_on(w, TCP_PHONE, "z9hG4bKr1");
    let out = w.feed(TCP_PHONE, &tcp_invite());
    let fwd = out[1].1.clone();
    w.feed(
        w.pbx,
        &respond(&fwd, 200, "pbx1", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    let rr = String::from_utf8_lossy(fwd.get(HeaderName::RecordRoute).unwrap()).into_owned();
    w.feed(
        TCP_PHONE,
        &phone_req("ACK", 1, "z9hG4bKack1", &rr, "").replace(
            "SIP/2.0/UDP 192.168.1.20:5060",
            "SIP/2.0/TCP 192.168.1.20:5062",
        ),
    );
    fwd.get_all(HeaderName::RecordRoute)
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn a_lost_connection_ends_the_call_after_the_grace_with_a_bye_to_the_pbx() {
    let mut w = World::with(&format!(
        "{CONFIG}[dialog]\ntransport_loss_grace = \"5s\"\n"
    ));
    tcp_call(&mut w);
    w.advance(Duration::from_secs(3));
    let now = w.now;
    w.proxy.handle_flow_closed(now, 3);
    let out = w.advance(Duration::from_secs(4));
    assert!(
        of(&w, EventType::InteractionEnded).is_empty(),
        "still in grace"
    );
    assert!(out.iter().all(|(_, m)| m.method() != Some(Method::Bye)));
    let out = w.advance(Duration::from_secs(2));
    let bye = out
        .iter()
        .find(|(_, m)| m.method() == Some(Method::Bye))
        .expect("BYE after the grace");
    assert_eq!(bye.0, pbx_dest());
    assert_end(&w, "system", "transport_lost", "caller".into());
    let d = ended(&w);
    assert_eq!(d["timer"], "transport_grace");
    assert_eq!(d["compat"]["disconnect_reason"], "TELECOM_PROBLEM");
    assert_eq!(ms(d, "talk_ms"), 8_000, "ends when the grace ran out");
}

#[test]
fn the_same_device_back_on_a_new_connection_keeps_the_call() {
    let mut w = World::with(&format!(
        "{CONFIG}[dialog]\ntransport_loss_grace = \"5s\"\n"
    ));
    let route = tcp_call(&mut w);
    let now = w.now;
    w.proxy.handle_flow_closed(now, 3);
    w.advance(Duration::from_secs(2));
    let back = Flow {
        id: 4,
        remote: addr("127.0.0.50:40002"),
        ..TCP_PHONE
    };
    register_on(&mut w, back, "z9hG4bKr2");
    w.advance(Duration::from_secs(10));
    assert!(
        of(&w, EventType::InteractionEnded).is_empty(),
        "{:?}",
        kinds(&w)
    );
    assert_eq!(w.proxy.calls().calls(w.now)[0].state, "talking");
    // The PBX's BYE, routed by the old flow's token, reaches the new flow.
    let out = w.feed(w.pbx, &pbx_req("BYE", 1, "z9hG4bKpbye", &route));
    assert!(
        out.iter()
            .any(|(d, m)| *d == Dest::Flow(4) && m.method() == Some(Method::Bye)),
        "{out:?}"
    );
    assert_end(&w, "contact", "bye", "callee".into());
}

#[test]
fn a_lost_connection_before_answer_cancels_toward_the_pbx() {
    let mut w = World::new();
    register_on(&mut w, TCP_PHONE, "z9hG4bKr1");
    w.feed(TCP_PHONE, &tcp_invite());
    let now = w.now;
    w.proxy.handle_flow_closed(now, 3);
    let out = w.drain();
    assert!(
        out.iter()
            .any(|(d, m)| *d == pbx_dest() && m.method() == Some(Method::Cancel)),
        "{out:?}"
    );
    assert_end(&w, "system", "transport_lost", "caller".into());
}

#[test]
fn session_timer_not_refreshed_ends_it_with_bye_both_ways() {
    let mut w = World::new();
    let (_, rr) = outbound_answered(&mut w);
    // Refreshed once at 1000 s with a shorter interval...
    w.advance(Duration::from_secs(1000));
    let out = w.feed(w.phone, &phone_req("UPDATE", 2, "z9hG4bKupd", &rr, ""));
    let upd = out[0].1.clone();
    w.feed(
        w.pbx,
        &respond(&upd, 200, "pbx1", "Session-Expires: 90;refresher=uac\n"),
    );
    w.advance(Duration::from_secs(89));
    assert!(of(&w, EventType::InteractionEnded).is_empty());
    // ...then never again.
    let out = w.advance(Duration::from_secs(2));
    let mut to: Vec<String> = out
        .iter()
        .filter(|(_, m)| m.method() == Some(Method::Bye))
        .map(|(d, _)| format!("{d:?}"))
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 2, "a BYE (with its UDP retransmissions) each way");
    assert_end(&w, "system", "session_expired", Value::Null);
    assert_eq!(ended(&w)["timer"], "session_timer");
}

#[test]
fn max_duration_and_missing_ack_are_explained() {
    let mut w = World::with(&format!("{CONFIG}[dialog]\nmax_duration = \"60s\"\n"));
    let (_, _) = outbound_answered(&mut w);
    w.advance(Duration::from_secs(61));
    assert_end(&w, "system", "timeout", Value::Null);
    assert_eq!(ended(&w)["timer"], "max_duration");

    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.feed(
        w.pbx,
        &respond(&fwd, 200, "pbx1", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    w.advance(Duration::from_secs(33));
    assert_end(&w, "system", "reaped", Value::Null);
    assert_eq!(ended(&w)["timer"], "no_ack");
    assert_eq!(w.proxy.calls().stats().reaped, 1);
}

#[test]
fn wrap_times_out_or_is_completed_or_ends_with_the_next_interaction() {
    // Timeout.
    let mut w = World::with(&format!("{CONFIG}[wrap]\nseconds = 10\n"));
    let (_, rr) = outbound_answered(&mut w);
    w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
    let started = of(&w, EventType::WrapStarted)[0].data.clone();
    assert_eq!(started["agent"]["id"], "1001");
    assert_eq!(started["seconds"], 10);
    w.advance(Duration::from_secs(11));
    let e = of(&w, EventType::WrapEnded);
    assert_eq!(e.len(), 1);
    assert_eq!(
        (&e[0].data["reason"], &e[0].data["acw_ms"]),
        (&Value::from("timeout"), &Value::from(10_000))
    );

    // Completed by the agent (by agent id, or by interaction id).
    for who in ["1001", "interaction"] {
        let mut w = World::new();
        let (_, rr) = outbound_answered(&mut w);
        w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
        w.advance(Duration::from_secs(4));
        let who = if who == "interaction" {
            w.events[0].subject.clone()
        } else {
            who.to_string()
        };
        let now = w.now;
        assert!(w.proxy.complete_wrap(now, &who));
        w.drain();
        let e = of(&w, EventType::WrapEnded);
        assert_eq!(
            (&e[0].data["reason"], &e[0].data["acw_ms"]),
            (&Value::from("completed"), &Value::from(4_000))
        );
        assert!(!w.proxy.complete_wrap(now, &who), "once");
        w.advance(Duration::from_secs(60));
        assert_eq!(
            of(&w, EventType::WrapEnded).len(),
            1,
            "no timeout after completion"
        );
    }

    // The next answered call ends it.
    let mut w = World::new();
    let (_, rr) = outbound_answered(&mut w);
    w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
    let second = INVITE
        .replace("call-1@phone", "call-2@phone")
        .replace("z9hG4bKphone1", "z9hG4bKphone2");
    let out = w.feed(w.phone, &second);
    let fwd = out[1].1.clone();
    w.feed(
        w.pbx,
        &respond(&fwd, 200, "pbx2", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    let e = of(&w, EventType::WrapEnded);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].data["reason"], "next_interaction");
}

#[test]
fn enforced_wrap_refuses_inbound_calls_with_retry_after() {
    let mut w = World::with(&format!("{CONFIG}[wrap]\nseconds = 30\nenforce = true\n"));
    let (_, rr) = inbound_answered(&mut w, "");
    w.feed(w.phone, &in_phone("BYE", 1, "z9hG4bKabye", &rr));
    w.advance(Duration::from_millis(10_500));
    let second = "INVITE sip:1001@192.168.1.20:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKpinv2\nMax-Forwards: 70\nFrom: <sip:+15550199@pbx.example.com>;tag=p2\nTo: <sip:1001@pbx.example.com>\nCall-ID: in-2@pbx\nCSeq: 10 INVITE\nContent-Length: 0\n\n";
    let out = w.feed(w.pbx, second);
    let busy = out
        .iter()
        .find(|(_, m)| m.status() == Some(486))
        .expect("486");
    assert_eq!(busy.0, Dest::Flow(2), "back to the PBX");
    assert_eq!(busy.1.get(HeaderName::RetryAfter), Some(&b"20"[..]));
    assert!(
        out.iter().all(|(d, _)| *d != Dest::Flow(1)),
        "the phone is not rung"
    );
    assert_eq!(
        of(&w, EventType::InteractionStarted).len(),
        1,
        "no interaction for the refused call"
    );
    assert_eq!(w.proxy.calls().stats().wrap_refused, 1);
}

#[test]
fn event_ids_are_deterministic_and_distinct() {
    let run = || {
        let mut w = World::new();
        let (_, rr) = outbound_answered(&mut w);
        w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
        w.events.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run(), "a replay gives the same ids");
    let mut u = a.clone();
    u.sort();
    u.dedup();
    assert_eq!(u.len(), a.len());
}

mod prop {
    //! Random but well-formed message sequences for up to three calls of
    //! one agent, in any order, with time passing: the invariants hold.

    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Invite,
        Ringing,
        Answer,
        Reject,
        Ack,
        ByePhone,
        ByePbx,
        Cancel,
        Hold(bool),
        Wait(u64),
        CompleteWrap,
    }

    fn op() -> impl Strategy<Value = (Op, usize)> {
        let op = prop_oneof![
            Just(Op::Invite),
            Just(Op::Ringing),
            Just(Op::Answer),
            Just(Op::Reject),
            Just(Op::Ack),
            Just(Op::ByePhone),
            Just(Op::ByePbx),
            Just(Op::Cancel),
            any::<bool>().prop_map(Op::Hold),
            (0u64..40_000).prop_map(Op::Wait),
            Just(Op::CompleteWrap),
        ];
        (op, 0usize..3)
    }

    fn call_invite(k: usize) -> String {
        INVITE
            .replace("call-1@phone", &format!("call-{k}@phone"))
            .replace("z9hG4bKphone1", &format!("z9hG4bKphone{k}"))
    }

    fn run(ops: &[(Op, usize)]) -> World {
        let mut w = World::new();
        let mut fwd: HashMap<usize, Message> = HashMap::new();
        let mut cseq: HashMap<usize, u32> = HashMap::new();
        for (n, &(op, k)) in ops.iter().enumerate() {
            let rr = |m: &Message| {
                String::from_utf8_lossy(m.get(HeaderName::RecordRoute).unwrap_or_default())
                    .into_owned()
            };
            let mut next = |k: usize| {
                let c = cseq.entry(k).or_insert(1);
                *c += 1;
                *c
            };
            let in_call = |text: String| text.replace("call-1@phone", &format!("call-{k}@phone"));
            match op {
                // A phone sends a call's INVITE once (its retransmissions are
                // the proxy's business, tested there).
                Op::Invite if !fwd.contains_key(&k) => {
                    let out = w.feed(w.phone, &call_invite(k));
                    if let Some((_, m)) = out.iter().find(|(d, _)| *d == pbx_dest()) {
                        fwd.entry(k).or_insert_with(|| m.clone());
                    }
                }
                Op::Ringing | Op::Answer | Op::Reject => {
                    if let Some(f) = fwd.get(&k) {
                        let code = match op {
                            Op::Ringing => 180,
                            Op::Answer => 200,
                            _ => 486,
                        };
                        w.feed(
                            w.pbx,
                            &respond(f, code, "pbx1", "Contact: <sip:1002@127.0.0.9:5080>\n"),
                        );
                    }
                }
                Op::Ack => {
                    if let Some(f) = fwd.get(&k) {
                        let t = in_call(phone_req("ACK", 1, &format!("z9hG4bKa{n}"), &rr(f), ""));
                        w.feed(w.phone, &t);
                    }
                }
                Op::ByePhone => {
                    if let Some(f) = fwd.get(&k) {
                        let c = next(k);
                        let t = in_call(phone_req("BYE", c, &format!("z9hG4bKb{n}"), &rr(f), ""));
                        w.feed(w.phone, &t);
                    }
                }
                Op::ByePbx => {
                    if let Some(f) = fwd.get(&k) {
                        let t = in_call(pbx_req(
                            "BYE",
                            100 + n as u32,
                            &format!("z9hG4bKp{n}"),
                            &rr(f),
                        ));
                        w.feed(w.pbx, &t);
                    }
                }
                Op::Cancel => {
                    let cancel = cancel_of(&call_invite(k));
                    w.feed(w.phone, &cancel);
                }
                Op::Hold(on) => {
                    if let Some(f) = fwd.get(&k) {
                        let dir = if on { "sendonly" } else { "sendrecv" };
                        let body = format!("v=0\r\nm=audio 4000 RTP/AVP 0\r\na={dir}\r\n");
                        let c = next(k);
                        let t = in_call(phone_req(
                            "INVITE",
                            c,
                            &format!("z9hG4bKh{n}"),
                            &rr(f),
                            &body,
                        ));
                        w.feed(w.phone, &t);
                    }
                }
                Op::Invite => {}
                Op::Wait(ms) => {
                    w.advance(Duration::from_millis(ms));
                }
                Op::CompleteWrap => {
                    let now = w.now;
                    w.proxy.complete_wrap(now, "1001");
                    w.drain();
                }
            }
        }
        w.advance(Duration::from_secs(6 * 3600));
        w
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn invariants_hold(ops in proptest::collection::vec(op(), 0..40)) {
            let w = run(&ops);
            let mut ended: HashMap<String, usize> = HashMap::new();
            let mut started: HashMap<String, usize> = HashMap::new();
            let mut wraps: HashMap<String, usize> = HashMap::new();
            for (i, e) in w.events.iter().enumerate() {
                match e.kind {
                    EventType::InteractionStarted => *started.entry(e.subject.clone()).or_default() += 1,
                    EventType::InteractionEnded => {
                        *ended.entry(e.subject.clone()).or_default() += 1;
                        let d = &e.data["durations"];
                        let (ring, talk, hold, total) = (
                            d["ring_ms"].as_u64().unwrap(),
                            d["talk_ms"].as_u64().unwrap(),
                            d["hold_ms"].as_u64().unwrap(),
                            d["total_ms"].as_u64().unwrap(),
                        );
                        prop_assert_eq!(ring + talk, total);
                        prop_assert!(hold <= talk);
                        // The next event about this interaction is its
                        // wrap.started (a wrap it replaces may end between).
                        let next = w.events[i + 1..].iter().find(|n| n.subject == e.subject);
                        prop_assert!(next.is_some_and(|n| n.kind == EventType::WrapStarted));
                    }
                    EventType::WrapStarted => *wraps.entry(e.subject.clone()).or_default() += 1,
                    _ => {}
                }
            }
            // Six hours later every interaction has ended, exactly once.
            prop_assert_eq!(&ended.keys().collect::<std::collections::BTreeSet<_>>(), &started.keys().collect());
            prop_assert!(ended.values().all(|&n| n == 1), "{:?}", ended);
            prop_assert_eq!(&wraps, &ended);
            prop_assert_eq!(w.proxy.calls().live_count(), 0);
        }
    }
}

#[test]
fn forked_early_dialogs_count_once_and_only_the_answered_one_ends_it() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    // Two forks ring with their own To tags; the second answers.
    w.feed(w.pbx, &respond(&fwd, 180, "forkA", ""));
    w.advance(Duration::from_secs(1));
    w.feed(w.pbx, &respond(&fwd, 183, "forkB", ""));
    w.advance(Duration::from_secs(1));
    w.feed(
        w.pbx,
        &respond(&fwd, 200, "forkB", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    let answered = of(&w, EventType::InteractionAnswered);
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].data["durations"]["ring_ms"], 2_000);
    // A late 200 from the other fork is not a second answer.
    w.feed(
        w.pbx,
        &respond(&fwd, 200, "forkA", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    assert_eq!(of(&w, EventType::InteractionAnswered).len(), 1);
    let rr = String::from_utf8_lossy(fwd.get(HeaderName::RecordRoute).unwrap()).into_owned();
    // A BYE in the other fork's dialog does not end this one...
    let other = pbx_req("BYE", 1, "z9hG4bKforkA", &rr).replace("tag=pbx1", "tag=forkA");
    w.feed(w.pbx, &other);
    assert!(of(&w, EventType::InteractionEnded).is_empty());
    // ...the answered dialog's BYE does.
    let mine = pbx_req("BYE", 1, "z9hG4bKforkB", &rr).replace("tag=pbx1", "tag=forkB");
    w.feed(w.pbx, &mine);
    assert_end(&w, "contact", "bye", "callee".into());
    assert_eq!(
        ended(&w)["times"]["ringing_at"],
        "2026-11-23T10:00:00.000Z",
        "the first fork's ringing counts"
    );
}

#[test]
fn a_per_agent_wrap_time_overrides_the_default() {
    let mut w = World::with(&format!(
        "{CONFIG}[wrap]\nseconds = 30\n[wrap.agents]\n\"1001\" = 5\n"
    ));
    let (_, rr) = outbound_answered(&mut w);
    w.feed(w.phone, &phone_req("BYE", 2, "z9hG4bKbye1", &rr, ""));
    assert_eq!(of(&w, EventType::WrapStarted)[0].data["seconds"], 5);
    w.advance(Duration::from_secs(6));
    let e = of(&w, EventType::WrapEnded);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].data["reason"], "timeout");
}
