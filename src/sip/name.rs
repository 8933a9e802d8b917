//! Header names: one id per known header, its long and compact forms, and
//! whether its grammar is a comma-separated list.
//!
//! Generated once from a single table (the `TABLE` below is the source of
//! truth for spelling); lookups are case-insensitive as RFC 3261 §7.3.1 says.

/// A header name the parser knows, or [`HeaderName::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum HeaderName {
    /// `Accept`
    Accept,
    /// `Accept-Contact` (compact `a`)
    AcceptContact,
    /// `Accept-Encoding`
    AcceptEncoding,
    /// `Accept-Language`
    AcceptLanguage,
    /// `Alert-Info`
    AlertInfo,
    /// `Allow`
    Allow,
    /// `Allow-Events` (compact `u`)
    AllowEvents,
    /// `Authentication-Info`
    AuthenticationInfo,
    /// `Authorization`
    Authorization,
    /// `Call-ID` (compact `i`)
    CallId,
    /// `Call-Info`
    CallInfo,
    /// `Contact` (compact `m`)
    Contact,
    /// `Content-Disposition`
    ContentDisposition,
    /// `Content-Encoding` (compact `e`)
    ContentEncoding,
    /// `Content-Language`
    ContentLanguage,
    /// `Content-Length` (compact `l`)
    ContentLength,
    /// `Content-Type` (compact `c`)
    ContentType,
    /// `CSeq`
    CSeq,
    /// `Date`
    Date,
    /// `Error-Info`
    ErrorInfo,
    /// `Event` (compact `o`)
    Event,
    /// `Expires`
    Expires,
    /// `Flow-Timer`
    FlowTimer,
    /// `From` (compact `f`)
    From,
    /// `Identity` (compact `y`)
    Identity,
    /// `Identity-Info` (compact `n`)
    IdentityInfo,
    /// `In-Reply-To`
    InReplyTo,
    /// `Max-Forwards`
    MaxForwards,
    /// `MIME-Version`
    MimeVersion,
    /// `Min-Expires`
    MinExpires,
    /// `Min-SE`
    MinSe,
    /// `Organization`
    Organization,
    /// `P-Asserted-Identity`
    PAssertedIdentity,
    /// `P-Preferred-Identity`
    PPreferredIdentity,
    /// `Path`
    Path,
    /// `Priority`
    Priority,
    /// `Privacy`
    Privacy,
    /// `Proxy-Authenticate`
    ProxyAuthenticate,
    /// `Proxy-Authorization`
    ProxyAuthorization,
    /// `Proxy-Require`
    ProxyRequire,
    /// `RAck`
    RAck,
    /// `Reason`
    Reason,
    /// `Record-Route`
    RecordRoute,
    /// `Refer-To` (compact `r`)
    ReferTo,
    /// `Referred-By` (compact `b`)
    ReferredBy,
    /// `Reject-Contact` (compact `j`)
    RejectContact,
    /// `Replaces`
    Replaces,
    /// `Reply-To`
    ReplyTo,
    /// `Request-Disposition` (compact `d`)
    RequestDisposition,
    /// `Require`
    Require,
    /// `Retry-After`
    RetryAfter,
    /// `Route`
    Route,
    /// `RSeq`
    RSeq,
    /// `Server`
    Server,
    /// `Service-Route`
    ServiceRoute,
    /// `Session-Expires` (compact `x`)
    SessionExpires,
    /// `Subject` (compact `s`)
    Subject,
    /// `Subscription-State`
    SubscriptionState,
    /// `Supported` (compact `k`)
    Supported,
    /// `Timestamp`
    Timestamp,
    /// `To` (compact `t`)
    To,
    /// `Unsupported`
    Unsupported,
    /// `User-Agent`
    UserAgent,
    /// `Via` (compact `v`)
    Via,
    /// `Warning`
    Warning,
    /// `WWW-Authenticate`
    WwwAuthenticate,
    /// Any other header; its spelling is in the message.
    Other,
}

/// Every known header: canonical spelling, compact form, id, list grammar.
pub(crate) static TABLE: &[(&str, Option<u8>, HeaderName, bool)] = &[
    ("Accept", None, HeaderName::Accept, true),
    (
        "Accept-Contact",
        Some(b'a'),
        HeaderName::AcceptContact,
        true,
    ),
    ("Accept-Encoding", None, HeaderName::AcceptEncoding, true),
    ("Accept-Language", None, HeaderName::AcceptLanguage, true),
    ("Alert-Info", None, HeaderName::AlertInfo, true),
    ("Allow", None, HeaderName::Allow, true),
    ("Allow-Events", Some(b'u'), HeaderName::AllowEvents, true),
    (
        "Authentication-Info",
        None,
        HeaderName::AuthenticationInfo,
        false,
    ),
    ("Authorization", None, HeaderName::Authorization, false),
    ("Call-ID", Some(b'i'), HeaderName::CallId, false),
    ("Call-Info", None, HeaderName::CallInfo, true),
    ("Contact", Some(b'm'), HeaderName::Contact, true),
    (
        "Content-Disposition",
        None,
        HeaderName::ContentDisposition,
        false,
    ),
    (
        "Content-Encoding",
        Some(b'e'),
        HeaderName::ContentEncoding,
        true,
    ),
    ("Content-Language", None, HeaderName::ContentLanguage, true),
    (
        "Content-Length",
        Some(b'l'),
        HeaderName::ContentLength,
        false,
    ),
    ("Content-Type", Some(b'c'), HeaderName::ContentType, false),
    ("CSeq", None, HeaderName::CSeq, false),
    ("Date", None, HeaderName::Date, false),
    ("Error-Info", None, HeaderName::ErrorInfo, true),
    ("Event", Some(b'o'), HeaderName::Event, false),
    ("Expires", None, HeaderName::Expires, false),
    ("Flow-Timer", None, HeaderName::FlowTimer, false),
    ("From", Some(b'f'), HeaderName::From, false),
    ("Identity", Some(b'y'), HeaderName::Identity, false),
    ("Identity-Info", Some(b'n'), HeaderName::IdentityInfo, false),
    ("In-Reply-To", None, HeaderName::InReplyTo, true),
    ("Max-Forwards", None, HeaderName::MaxForwards, false),
    ("MIME-Version", None, HeaderName::MimeVersion, false),
    ("Min-Expires", None, HeaderName::MinExpires, false),
    ("Min-SE", None, HeaderName::MinSe, false),
    ("Organization", None, HeaderName::Organization, false),
    (
        "P-Asserted-Identity",
        None,
        HeaderName::PAssertedIdentity,
        true,
    ),
    (
        "P-Preferred-Identity",
        None,
        HeaderName::PPreferredIdentity,
        true,
    ),
    ("Path", None, HeaderName::Path, true),
    ("Priority", None, HeaderName::Priority, false),
    ("Privacy", None, HeaderName::Privacy, false),
    (
        "Proxy-Authenticate",
        None,
        HeaderName::ProxyAuthenticate,
        false,
    ),
    (
        "Proxy-Authorization",
        None,
        HeaderName::ProxyAuthorization,
        false,
    ),
    ("Proxy-Require", None, HeaderName::ProxyRequire, true),
    ("RAck", None, HeaderName::RAck, false),
    ("Reason", None, HeaderName::Reason, true),
    ("Record-Route", None, HeaderName::RecordRoute, true),
    ("Refer-To", Some(b'r'), HeaderName::ReferTo, false),
    ("Referred-By", Some(b'b'), HeaderName::ReferredBy, false),
    (
        "Reject-Contact",
        Some(b'j'),
        HeaderName::RejectContact,
        true,
    ),
    ("Replaces", None, HeaderName::Replaces, false),
    ("Reply-To", None, HeaderName::ReplyTo, false),
    (
        "Request-Disposition",
        Some(b'd'),
        HeaderName::RequestDisposition,
        true,
    ),
    ("Require", None, HeaderName::Require, true),
    ("Retry-After", None, HeaderName::RetryAfter, false),
    ("Route", None, HeaderName::Route, true),
    ("RSeq", None, HeaderName::RSeq, false),
    ("Server", None, HeaderName::Server, false),
    ("Service-Route", None, HeaderName::ServiceRoute, true),
    (
        "Session-Expires",
        Some(b'x'),
        HeaderName::SessionExpires,
        false,
    ),
    ("Subject", Some(b's'), HeaderName::Subject, false),
    (
        "Subscription-State",
        None,
        HeaderName::SubscriptionState,
        false,
    ),
    ("Supported", Some(b'k'), HeaderName::Supported, true),
    ("Timestamp", None, HeaderName::Timestamp, false),
    ("To", Some(b't'), HeaderName::To, false),
    ("Unsupported", None, HeaderName::Unsupported, true),
    ("User-Agent", None, HeaderName::UserAgent, false),
    ("Via", Some(b'v'), HeaderName::Via, true),
    ("Warning", None, HeaderName::Warning, true),
    ("WWW-Authenticate", None, HeaderName::WwwAuthenticate, false),
];

/// Index of each known id in [`TABLE`], so `as_str` and `is_list` are one load.
const COUNT: usize = 66;

impl HeaderName {
    /// The canonical (long) spelling; `""` for [`HeaderName::Other`].
    pub fn as_str(self) -> &'static str {
        match TABLE.get(self as usize) {
            Some(e) => e.0,
            None => "",
        }
    }

    /// Whether several values may share one line, separated by commas
    /// outside quotes and `<>` (RFC 3261 §7.3.1).
    #[inline]
    pub fn is_list(self) -> bool {
        LIST[self as usize]
    }

    /// Looks a header name up, ignoring ASCII case; compact forms included.
    #[inline]
    pub fn lookup(name: &[u8]) -> HeaderName {
        if name.len() == 1 {
            return match name[0].to_ascii_lowercase() {
                b'a' => HeaderName::AcceptContact,
                b'u' => HeaderName::AllowEvents,
                b'i' => HeaderName::CallId,
                b'm' => HeaderName::Contact,
                b'e' => HeaderName::ContentEncoding,
                b'l' => HeaderName::ContentLength,
                b'c' => HeaderName::ContentType,
                b'o' => HeaderName::Event,
                b'f' => HeaderName::From,
                b'y' => HeaderName::Identity,
                b'n' => HeaderName::IdentityInfo,
                b'r' => HeaderName::ReferTo,
                b'b' => HeaderName::ReferredBy,
                b'j' => HeaderName::RejectContact,
                b'd' => HeaderName::RequestDisposition,
                b'x' => HeaderName::SessionExpires,
                b's' => HeaderName::Subject,
                b'k' => HeaderName::Supported,
                b't' => HeaderName::To,
                b'v' => HeaderName::Via,
                _ => HeaderName::Other,
            };
        }
        if name.len() > MAX_NAME {
            return HeaderName::Other;
        }
        let Some(folded) = fold(name) else {
            return HeaderName::Other;
        };
        let (ids, counts) = &BY_LEN;
        for &id in &ids[name.len()][..counts[name.len()] as usize] {
            if WORDS[id as usize] == folded {
                return id;
            }
        }
        HeaderName::Other
    }
}

/// Longest known name ("Authentication-Info", "P-Preferred-Identity"...).
const MAX_NAME: usize = 24;

/// A name as three little-endian words with every byte OR 0x20, padded
/// with 0x20. For names made of letters and '-' (all known names), OR 0x20
/// is ASCII lowercase; the bytes it would confuse with them (CR becomes '-')
/// are control bytes, so a name holding one is refused here (`None`).
#[inline(always)]
fn fold(name: &[u8]) -> Option<[u64; 3]> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut buf = [0x20u8; MAX_NAME];
    buf[..name.len()].copy_from_slice(name);
    let w = |i: usize| {
        u64::from_le_bytes([
            buf[i],
            buf[i + 1],
            buf[i + 2],
            buf[i + 3],
            buf[i + 4],
            buf[i + 5],
            buf[i + 6],
            buf[i + 7],
        ])
    };
    let raw = [w(0), w(8), w(16)];
    let control = raw
        .iter()
        .fold(0, |m, &x| m | (x.wrapping_sub(LO * 0x20) & !x & HI));
    if control != 0 {
        return None;
    }
    Some(raw.map(|x| x | 0x2020_2020_2020_2020))
}

const fn fold_const(name: &str) -> [u64; 3] {
    let b = name.as_bytes();
    let mut buf = [0x20u8; MAX_NAME];
    let mut i = 0;
    while i < b.len() {
        buf[i] = b[i] | 0x20;
        i += 1;
    }
    let mut out = [0u64; 3];
    let mut k = 0;
    while k < 3 {
        let mut j = 8;
        while j > 0 {
            j -= 1;
            out[k] = (out[k] << 8) | buf[k * 8 + j] as u64;
        }
        k += 1;
    }
    out
}

/// The folded spelling of every known header, by id.
static WORDS: [[u64; 3]; COUNT] = {
    let mut t = [[0u64; 3]; COUNT];
    let mut i = 0;
    while i < COUNT {
        t[i] = fold_const(TABLE[i].0);
        i += 1;
    }
    t
};

/// Most known names of one length.
const PER_LEN: usize = 8;

/// Known headers grouped by name length (computed from [`TABLE`]), with how
/// many there are of each length.
static BY_LEN: ([[HeaderName; PER_LEN]; MAX_NAME + 1], [u8; MAX_NAME + 1]) = {
    let mut ids = [[HeaderName::Other; PER_LEN]; MAX_NAME + 1];
    let mut n = [0u8; MAX_NAME + 1];
    let mut i = 0;
    while i < COUNT {
        let len = TABLE[i].0.len();
        ids[len][n[len] as usize] = TABLE[i].2;
        n[len] += 1;
        i += 1;
    }
    (ids, n)
};

static LIST: [bool; COUNT + 1] = {
    let mut t = [false; COUNT + 1];
    let mut i = 0;
    while i < COUNT {
        t[i] = TABLE[i].3;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_matches_ids() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(e.2 as usize, i, "{}", e.0);
            assert_eq!(HeaderName::lookup(e.0.as_bytes()), e.2);
            assert_eq!(HeaderName::lookup(e.0.to_ascii_lowercase().as_bytes()), e.2);
            assert_eq!(HeaderName::lookup(e.0.to_ascii_uppercase().as_bytes()), e.2);
            if let Some(c) = e.1 {
                assert_eq!(HeaderName::lookup(&[c]), e.2);
                assert_eq!(HeaderName::lookup(&[c.to_ascii_uppercase()]), e.2);
            }
        }
    }

    #[test]
    fn compact_forms_of_rfc3261_and_extensions() {
        let cases: &[(&str, HeaderName)] = &[
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("e", HeaderName::ContentEncoding),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("f", HeaderName::From),
            ("s", HeaderName::Subject),
            ("k", HeaderName::Supported),
            ("t", HeaderName::To),
            ("v", HeaderName::Via),
            ("o", HeaderName::Event),
            ("u", HeaderName::AllowEvents),
            ("r", HeaderName::ReferTo),
            ("b", HeaderName::ReferredBy),
            ("x", HeaderName::SessionExpires),
            ("a", HeaderName::AcceptContact),
            ("j", HeaderName::RejectContact),
            ("d", HeaderName::RequestDisposition),
            ("y", HeaderName::Identity),
            ("n", HeaderName::IdentityInfo),
            ("q", HeaderName::Other),
            ("MaX-fOrWaRdS", HeaderName::MaxForwards),
            ("C%6Fntact", HeaderName::Other),
            ("Via2", HeaderName::Other),
            ("", HeaderName::Other),
            ("Call\rID", HeaderName::Other),
            ("Content\rLength", HeaderName::Other),
            ("P-Preferred-Identity-And-More", HeaderName::Other),
        ];
        for (name, id) in cases {
            assert_eq!(HeaderName::lookup(name.as_bytes()), *id, "{name}");
        }
    }
}
