//! The events sipedge publishes: CloudEvents 1.0 in structured JSON mode.
//!
//! The call core fills [`Event`]s; sinks write [`Event::to_json`]. Schemas
//! and one example per type are in `docs/events/`, and a test validates
//! what the call core emits against them.
//!
//! Ids are deterministic: a hash of the node id, the dialog key (Call-ID and
//! the caller's From tag) and the event type, so replaying after a crash or a
//! broker outage yields the same id and the bus de-duplicates it
//! (JetStream `Nats-Msg-Id`, Kafka's idempotent producer).

use serde::Serialize;
use serde_json::Value;

/// The five event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventType {
    #[serde(rename = "sipedge.interaction.started")]
    InteractionStarted,
    #[serde(rename = "sipedge.interaction.answered")]
    InteractionAnswered,
    #[serde(rename = "sipedge.interaction.ended")]
    InteractionEnded,
    #[serde(rename = "sipedge.wrap.started")]
    WrapStarted,
    #[serde(rename = "sipedge.wrap.ended")]
    WrapEnded,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::InteractionStarted,
        EventType::InteractionAnswered,
        EventType::InteractionEnded,
        EventType::WrapStarted,
        EventType::WrapEnded,
    ];

    /// The CloudEvents `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::InteractionStarted => "sipedge.interaction.started",
            EventType::InteractionAnswered => "sipedge.interaction.answered",
            EventType::InteractionEnded => "sipedge.interaction.ended",
            EventType::WrapStarted => "sipedge.wrap.started",
            EventType::WrapEnded => "sipedge.wrap.ended",
        }
    }

    /// The part after `sipedge.`: a bus subject suffix
    /// (`interaction.ended`).
    pub fn short(self) -> &'static str {
        &self.as_str()["sipedge.".len()..]
    }
}

/// One event: the envelope's fields and the `data` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: EventType,
    /// `sipedge://<node id>`.
    pub source: String,
    /// The interaction id.
    pub subject: String,
    /// Wall-clock time of what happened, Unix milliseconds.
    pub time_ms: i64,
    pub data: Value,
}

impl Event {
    /// The CloudEvents 1.0 structured-mode JSON object.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.kind.as_str(),
            "subject": self.subject,
            "time": rfc3339_ms(self.time_ms),
            "datacontenttype": "application/json",
            "data": self.data,
        })
    }

    /// One line of JSON (no newline).
    pub fn to_line(&self) -> String {
        self.to_json().to_string()
    }
}

/// A deterministic id: FNV-1a (128-bit) over the parts, written like a
/// UUID (8-4-4-4-12 hex). Stable across restarts and builds.
pub fn event_id(node: &str, call_id: &[u8], caller_tag: &[u8], kind: &str) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for part in [node.as_bytes(), call_id, caller_tag, kind.as_bytes()] {
        for &b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= b as u128;
            h = h.wrapping_mul(0x0000000001000000000000000000013B);
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(HEX[(h >> (124 - 4 * i)) as usize & 15] as char);
    }
    out
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds
/// (`2026-11-23T22:51:07.042Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        );
    }
    // The hot path (four to ten timestamps per event): digits by hand.
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y as u64);
    put(5, 2, m as u64);
    put(8, 2, d as u64);
    put(11, 2, (sod / 3600) as u64);
    put(14, 2, (sod % 3600 / 60) as u64);
    put(17, 2, (sod % 60) as u64);
    put(20, 3, milli as u64);
    b.iter().map(|&c| c as char).collect()
}

/// Parses what [`rfc3339_ms`] writes back to Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24
        || [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ]
        .iter()
        .any(|&(i, c)| b[i] != c)
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        std::str::from_utf8(&b[r]).ok()?.parse().ok()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    // Days from civil (H. Hinnant), the inverse of civil_from_days.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_ms(1_795_474_267_042), "2026-11-23T22:51:07.042Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        for ms in [0, 951_782_400_123, 1_795_474_267_042, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms));
        }
        assert_eq!(parse_rfc3339_ms("2026-11-23 22:51:07.042Z"), None);
    }

    #[test]
    fn ids_are_deterministic_and_distinct_per_type() {
        let a = event_id("edge-1", b"c1", b"t1", "sipedge.interaction.ended");
        assert_eq!(
            a,
            event_id("edge-1", b"c1", b"t1", "sipedge.interaction.ended")
        );
        assert_ne!(a, event_id("edge-1", b"c1", b"t1", "sipedge.wrap.started"));
        assert_ne!(
            a,
            event_id("edge-2", b"c1", b"t1", "sipedge.interaction.ended")
        );
        // Parts are delimited: ("ab","c") and ("a","bc") differ.
        assert_ne!(
            event_id("n", b"ab", b"c", "t"),
            event_id("n", b"a", b"bc", "t")
        );
        assert_eq!(a.len(), 36);
    }
}
