//! JSON rendering of parsed messages for `sipedge parse`: the start line,
//! every header as written, the typed views that apply, the body length and
//! what the SDP offers. Cold path; allocation is fine here.

use serde_json::{Map, Value, json};

use crate::sip::header::{Contact, NameAddr, Via};
use crate::sip::{HeaderName, Message, ParseError, StartLine, unfold, unquote};

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(&unfold(b)).into_owned())
}

fn opt_text(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, text)
}

/// `{"error": KIND, "offset": N, "message": ...}`
pub fn error_json(e: &ParseError) -> Value {
    json!({ "error": e.kind.name(), "offset": e.offset, "message": e.kind.to_string() })
}

fn name_addr(n: &NameAddr<'_>) -> Value {
    let mut m = Map::new();
    if let Some(d) = n.display_name_text() {
        m.insert("display_name".into(), Value::String(d));
    }
    m.insert("uri".into(), uri(&n.uri));
    if let Some(t) = n.tag() {
        m.insert("tag".into(), text(t));
    }
    let params: Map<String, Value> = n
        .params
        .iter()
        .map(|p| {
            (
                String::from_utf8_lossy(p.name).into_owned(),
                p.value.map_or(Value::Bool(true), |v| {
                    Value::String(unquote(v).into_owned())
                }),
            )
        })
        .collect();
    if !params.is_empty() {
        m.insert("params".into(), Value::Object(params));
    }
    Value::Object(m)
}

fn uri(u: &crate::sip::header::Uri<'_>) -> Value {
    let mut m = Map::new();
    m.insert("raw".into(), text(u.raw));
    m.insert(
        "scheme".into(),
        json!(format!("{:?}", u.scheme).to_lowercase()),
    );
    if let Some(user) = u.user {
        m.insert("user".into(), text(user));
    }
    if !u.host.is_empty() {
        m.insert("host".into(), text(u.host));
    }
    if let Some(p) = u.port {
        m.insert("port".into(), json!(p));
    }
    if !u.params.is_empty() {
        m.insert("params".into(), text(u.params));
    }
    if let Some(h) = u.headers {
        m.insert("headers".into(), text(h));
    }
    Value::Object(m)
}

fn via(v: &Via<'_>) -> Value {
    json!({
        "transport": v.transport.as_str(),
        "host": text(v.host),
        "port": v.port,
        "branch": opt_text(v.branch),
        "received": opt_text(v.received),
        "rport": v.rport.map(|p| p.map_or(Value::Bool(true), |p| json!(p))),
        "maddr": opt_text(v.maddr),
    })
}

fn contact(c: &Contact<'_>) -> Value {
    match c {
        Contact::Star => json!("*"),
        Contact::Addr(na) => {
            let mut v = name_addr(na);
            if let Value::Object(m) = &mut v {
                if let Some(e) = c.expires() {
                    m.insert("expires".into(), json!(e));
                }
                if let Some(q) = c.q() {
                    m.insert("q".into(), text(q));
                }
                if let Some(i) = c.instance() {
                    m.insert("instance".into(), json!(i));
                }
                if let Some(r) = c.reg_id() {
                    m.insert("reg_id".into(), json!(r));
                }
            }
            v
        }
    }
}

/// Renders a message that parsed and validated.
pub fn message_json(m: &Message) -> Value {
    let mut out = Map::new();
    match m.start_line() {
        StartLine::Request { .. } => {
            out.insert("kind".into(), json!("request"));
            out.insert("method".into(), text(m.method_bytes()));
            out.insert("request_uri".into(), text(m.request_uri_bytes()));
        }
        StartLine::Response { code, .. } => {
            out.insert("kind".into(), json!("response"));
            out.insert("status".into(), json!(code));
            out.insert("reason".into(), text(m.reason_phrase()));
        }
    }
    let headers: Vec<Value> = m
        .headers()
        .map(|h| json!({ "name": text(h.raw_name), "value": text(h.value) }))
        .collect();
    out.insert("headers".into(), Value::Array(headers));

    let mut t = Map::new();
    if let Ok(u) = m.request_uri() {
        t.insert("request_uri".into(), uri(&u));
    }
    t.insert(
        "via".into(),
        Value::Array(m.vias().filter_map(Result::ok).map(|v| via(&v)).collect()),
    );
    if let Ok(f) = m.from_header() {
        t.insert("from".into(), name_addr(&f));
    }
    if let Ok(to) = m.to_header() {
        t.insert("to".into(), name_addr(&to));
    }
    t.insert("call_id".into(), text(m.call_id()));
    let cseq = m.cseq();
    t.insert(
        "cseq".into(),
        json!({ "seq": cseq.seq, "method": text(cseq.method_bytes) }),
    );
    if let Some(mf) = m.max_forwards() {
        t.insert("max_forwards".into(), json!(mf));
    }
    if let Some(cl) = m.content_length() {
        t.insert("content_length".into(), json!(cl));
    }
    let contacts: Vec<Value> = m
        .contacts()
        .filter_map(Result::ok)
        .map(|c| contact(&c))
        .collect();
    if !contacts.is_empty() {
        t.insert("contact".into(), Value::Array(contacts));
    }
    for (key, name) in [
        ("route", HeaderName::Route),
        ("record_route", HeaderName::RecordRoute),
        ("path", HeaderName::Path),
    ] {
        let v: Vec<Value> = m
            .routes(name)
            .filter_map(Result::ok)
            .map(|n| name_addr(&n))
            .collect();
        if !v.is_empty() {
            t.insert(key.into(), Value::Array(v));
        }
    }
    if let Some(Ok(ct)) = m.content_type() {
        t.insert(
            "content_type".into(),
            json!(format!(
                "{}/{}",
                String::from_utf8_lossy(ct.mtype),
                String::from_utf8_lossy(ct.subtype)
            )),
        );
    }
    if let Some(Ok(se)) = m.session_expires() {
        t.insert("session_expires".into(), json!({ "seconds": se.seconds, "refresher": se.refresher.map(|r| format!("{r:?}").to_lowercase()) }));
    }
    if let Some(Ok(n)) = m.min_se() {
        t.insert("min_se".into(), json!(n));
    }
    if let Some(Ok(n)) = m.expires() {
        t.insert("expires".into(), json!(n));
    }
    let reasons: Vec<Value> = m
        .reasons()
        .filter_map(Result::ok)
        .map(|r| json!({ "protocol": text(r.protocol), "cause": r.cause, "text": r.text_str() }))
        .collect();
    if !reasons.is_empty() {
        t.insert("reason".into(), Value::Array(reasons));
    }
    for (key, name) in [
        ("supported", HeaderName::Supported),
        ("require", HeaderName::Require),
    ] {
        let tags: Vec<Value> = m.option_tags(name).iter().map(text).collect();
        if !tags.is_empty() {
            t.insert(key.into(), Value::Array(tags));
        }
    }
    out.insert("typed".into(), Value::Object(t));
    out.insert("body_length".into(), json!(m.body().len()));
    out.insert(
        "sdp".into(),
        m.sdp().map_or(Value::Null, |s| {
            json!({ "audio": s.audio, "video": s.video, "msrp": s.msrp, "other": s.other, "chat": s.is_chat(), "direction": s.direction.as_str() })
        }),
    );
    Value::Object(out)
}
