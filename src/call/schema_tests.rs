//! Every event the call core emits, in every scenario of `tests.rs`'s
//! kind, validates against `docs/events/*.schema.json`; so do the examples
//! in `docs/events/examples/`.
//!
//! The validator below implements the JSON Schema keywords those files use
//! (type, enum, const, required, properties, additionalProperties: false,
//! items, minimum, allOf, $ref to a sibling file, format date-time) and
//! refuses any other keyword, so a schema cannot lean on a rule nobody
//! checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::event::EventType;
use crate::proxy::core::tests::{INVITE, World, respond};
use crate::sip::HeaderName;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/events")
}

fn load(file: &str) -> Value {
    let p = dir().join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unknown type {other}"),
    }
}

fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn validate(schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        panic!("schema at {at} is not an object");
    };
    for (k, s) in obj {
        match k.as_str() {
            "$schema" | "$id" | "title" | "description" => {}
            "type" => {
                let ok = match s {
                    Value::String(t) => type_ok(t, v),
                    Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
                    _ => panic!("bad type at {at}"),
                };
                if !ok {
                    errs.push(format!("{at}: {v} is not of type {s}"));
                }
            }
            "enum" => {
                if !s.as_array().unwrap().contains(v) {
                    errs.push(format!("{at}: {v} not in {s}"));
                }
            }
            "const" => {
                if s != v {
                    errs.push(format!("{at}: {v} is not {s}"));
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for r in s.as_array().unwrap() {
                        if !o.contains_key(r.as_str().unwrap()) {
                            errs.push(format!("{at}: missing {r}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (name, sub) in s.as_object().unwrap() {
                        if let Some(x) = o.get(name) {
                            validate(sub, x, &format!("{at}.{name}"), errs);
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(s, &Value::Bool(false), "only `false` is supported");
                let known = obj.get("properties").and_then(Value::as_object);
                if let (Some(o), Some(known)) = (v.as_object(), known) {
                    for name in o.keys() {
                        if !known.contains_key(name) {
                            errs.push(format!("{at}: unexpected property {name}"));
                        }
                    }
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, x) in a.iter().enumerate() {
                        validate(s, x, &format!("{at}[{i}]"), errs);
                    }
                }
            }
            "minimum" => {
                if let Some(n) = v.as_f64() {
                    if n < s.as_f64().unwrap() {
                        errs.push(format!("{at}: {n} below {s}"));
                    }
                }
            }
            "format" => {
                assert_eq!(s, "date-time", "only date-time is supported");
                if let Some(t) = v.as_str() {
                    if !is_date_time(t) {
                        errs.push(format!("{at}: {t} is not RFC 3339 UTC with ms"));
                    }
                }
            }
            "allOf" => {
                for sub in s.as_array().unwrap() {
                    validate(sub, v, at, errs);
                }
            }
            "$ref" => validate(&load(s.as_str().unwrap()), v, at, errs),
            other => panic!("schema keyword `{other}` at {at} is not supported by this validator"),
        }
    }
}

/// Validates one CloudEvent against the schema of its type.
fn check(event: &Value) -> Vec<String> {
    let kind = event["type"].as_str().unwrap_or_default();
    let short = kind.strip_prefix("sipedge.").unwrap_or(kind);
    let mut errs = Vec::new();
    validate(
        &load(&format!("{short}.schema.json")),
        event,
        "$",
        &mut errs,
    );
    errs
}

fn assert_valid(event: &Value) {
    let errs = check(event);
    assert!(errs.is_empty(), "{errs:#?}\n{event:#}");
}

#[test]
fn the_validator_catches_what_it_should() {
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    w.feed(w.pbx, &respond(&out[1].1, 486, "pbx1", ""));
    let good = w.events[1].to_json();
    assert_valid(&good);
    for (path, bad) in [
        ("/data/ended_by", Value::from("nobody")),
        ("/data/durations/talk_ms", Value::from(-1)),
        ("/time", Value::from("2026-11-23 10:00:00")),
        ("/specversion", Value::from("0.3")),
    ] {
        let mut e = good.clone();
        *e.pointer_mut(path).unwrap() = bad;
        assert!(!check(&e).is_empty(), "{path} should be refused");
    }
    let mut e = good.clone();
    e["data"]["surprise"] = Value::from(1);
    assert!(!check(&e).is_empty(), "unknown data fields are refused");
    let mut e = good;
    e["data"].as_object_mut().unwrap().remove("compat");
    assert!(!check(&e).is_empty(), "missing fields are refused");
}

/// Runs calls that end every way the tests above exercise and returns
/// every event emitted.
fn all_kinds_of_events() -> Vec<Value> {
    let mut events = Vec::new();
    // Answered, held, hung up by the contact, wrap completed.
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    let fwd = out[1].1.clone();
    w.feed(w.pbx, &respond(&fwd, 180, "pbx1", ""));
    w.advance(Duration::from_secs(2));
    w.feed(
        w.pbx,
        &respond(&fwd, 200, "pbx1", "Contact: <sip:1002@127.0.0.9:5080>\n"),
    );
    let rr = String::from_utf8_lossy(fwd.get(HeaderName::RecordRoute).unwrap()).into_owned();
    w.advance(Duration::from_secs(3));
    w.feed(w.pbx, &format!("BYE sip:1001@192.168.1.20:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKpb\nRoute: {rr}\nFrom: <sip:1002@pbx.example.com>;tag=pbx1\nTo: <sip:1001@pbx.example.com>;tag=ph1\nCall-ID: call-1@phone\nCSeq: 1 BYE\nReason: SIP;cause=200;text=\"done\"\nContent-Length: 0\n\n"));
    let now = w.now;
    w.proxy.complete_wrap(now, "1001");
    w.drain();
    events.extend(w.events.iter().map(|e| e.to_json()));
    // Rejected; reaped without ACK; wrap timing out.
    let mut w = World::new();
    let out = w.feed(w.phone, INVITE);
    w.feed(w.pbx, &respond(&out[1].1, 486, "pbx1", ""));
    let second = INVITE
        .replace("call-1@phone", "call-2@phone")
        .replace("z9hG4bKphone1", "z9hG4bKphone2");
    let out = w.feed(w.phone, &second);
    w.feed(
        w.pbx,
        &respond(
            &out[1].1,
            200,
            "pbx2",
            "Contact: <sip:1002@127.0.0.9:5080>\n",
        ),
    );
    w.advance(Duration::from_secs(100));
    events.extend(w.events.iter().map(|e| e.to_json()));
    events
}

#[test]
fn every_emitted_event_validates_against_its_schema() {
    let events = all_kinds_of_events();
    for kind in EventType::ALL {
        assert!(
            events.iter().any(|e| e["type"] == kind.as_str()),
            "no {} emitted",
            kind.as_str()
        );
    }
    for e in &events {
        assert_valid(e);
    }
}

#[test]
fn the_examples_validate_and_there_is_one_per_type() {
    let examples = dir().join("examples");
    for kind in EventType::ALL {
        let p: &Path = &examples.join(format!("{}.json", kind.short()));
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], kind.as_str(), "{}", p.display());
        assert_valid(&v);
    }
}

/// Rewrites the examples from a simulated run:
/// `SIPEDGE_WRITE_EXAMPLES=1 cargo test --lib write_examples`.
#[test]
fn write_examples() {
    if std::env::var_os("SIPEDGE_WRITE_EXAMPLES").is_none() {
        return;
    }
    let events = all_kinds_of_events();
    for kind in EventType::ALL {
        let e = events.iter().find(|e| e["type"] == kind.as_str()).unwrap();
        std::fs::write(
            dir()
                .join("examples")
                .join(format!("{}.json", kind.short())),
            serde_json::to_string_pretty(e).unwrap() + "\n",
        )
        .unwrap();
    }
}
