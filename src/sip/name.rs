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
        let first = name.first().map(u8::to_ascii_lowercase);
        let candidates: &[HeaderName] = match (name.len(), first) {
            (2, Some(b't')) => &[HeaderName::To],
            (3, Some(b'v')) => &[HeaderName::Via],
            (4, Some(b'c')) => &[HeaderName::CSeq],
            (4, Some(b'd')) => &[HeaderName::Date],
            (4, Some(b'f')) => &[HeaderName::From],
            (4, Some(b'p')) => &[HeaderName::Path],
            (4, Some(b'r')) => &[HeaderName::RAck, HeaderName::RSeq],
            (5, Some(b'a')) => &[HeaderName::Allow],
            (5, Some(b'e')) => &[HeaderName::Event],
            (5, Some(b'r')) => &[HeaderName::Route],
            (6, Some(b'a')) => &[HeaderName::Accept],
            (6, Some(b'm')) => &[HeaderName::MinSe],
            (6, Some(b'r')) => &[HeaderName::Reason],
            (6, Some(b's')) => &[HeaderName::Server],
            (7, Some(b'c')) => &[HeaderName::CallId, HeaderName::Contact],
            (7, Some(b'e')) => &[HeaderName::Expires],
            (7, Some(b'p')) => &[HeaderName::Privacy],
            (7, Some(b'r')) => &[HeaderName::Require],
            (7, Some(b's')) => &[HeaderName::Subject],
            (7, Some(b'w')) => &[HeaderName::Warning],
            (8, Some(b'i')) => &[HeaderName::Identity],
            (8, Some(b'p')) => &[HeaderName::Priority],
            (8, Some(b'r')) => &[
                HeaderName::ReferTo,
                HeaderName::Replaces,
                HeaderName::ReplyTo,
            ],
            (9, Some(b'c')) => &[HeaderName::CallInfo],
            (9, Some(b's')) => &[HeaderName::Supported],
            (9, Some(b't')) => &[HeaderName::Timestamp],
            (10, Some(b'a')) => &[HeaderName::AlertInfo],
            (10, Some(b'e')) => &[HeaderName::ErrorInfo],
            (10, Some(b'f')) => &[HeaderName::FlowTimer],
            (10, Some(b'u')) => &[HeaderName::UserAgent],
            (11, Some(b'i')) => &[HeaderName::InReplyTo],
            (11, Some(b'm')) => &[HeaderName::MinExpires],
            (11, Some(b'r')) => &[HeaderName::ReferredBy, HeaderName::RetryAfter],
            (11, Some(b'u')) => &[HeaderName::Unsupported],
            (12, Some(b'a')) => &[HeaderName::AllowEvents],
            (12, Some(b'c')) => &[HeaderName::ContentType],
            (12, Some(b'm')) => &[HeaderName::MaxForwards, HeaderName::MimeVersion],
            (12, Some(b'o')) => &[HeaderName::Organization],
            (12, Some(b'r')) => &[HeaderName::RecordRoute],
            (13, Some(b'a')) => &[HeaderName::Authorization],
            (13, Some(b'i')) => &[HeaderName::IdentityInfo],
            (13, Some(b'p')) => &[HeaderName::ProxyRequire],
            (13, Some(b's')) => &[HeaderName::ServiceRoute],
            (14, Some(b'a')) => &[HeaderName::AcceptContact],
            (14, Some(b'c')) => &[HeaderName::ContentLength],
            (14, Some(b'r')) => &[HeaderName::RejectContact],
            (15, Some(b'a')) => &[HeaderName::AcceptEncoding, HeaderName::AcceptLanguage],
            (15, Some(b's')) => &[HeaderName::SessionExpires],
            (16, Some(b'c')) => &[HeaderName::ContentEncoding, HeaderName::ContentLanguage],
            (16, Some(b'w')) => &[HeaderName::WwwAuthenticate],
            (18, Some(b'p')) => &[HeaderName::ProxyAuthenticate],
            (18, Some(b's')) => &[HeaderName::SubscriptionState],
            (19, Some(b'a')) => &[HeaderName::AuthenticationInfo],
            (19, Some(b'c')) => &[HeaderName::ContentDisposition],
            (19, Some(b'p')) => &[
                HeaderName::PAssertedIdentity,
                HeaderName::ProxyAuthorization,
            ],
            (19, Some(b'r')) => &[HeaderName::RequestDisposition],
            (20, Some(b'p')) => &[HeaderName::PPreferredIdentity],
            _ => return HeaderName::Other,
        };
        // Most senders write the canonical spelling: try an exact compare
        // (a memcmp) before the case-insensitive one.
        for &id in candidates {
            if id.as_str().as_bytes() == name {
                return id;
            }
        }
        for &id in candidates {
            if id.as_str().as_bytes().eq_ignore_ascii_case(name) {
                return id;
            }
        }
        HeaderName::Other
    }
}

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
        ];
        for (name, id) in cases {
            assert_eq!(HeaderName::lookup(name.as_bytes()), *id, "{name}");
        }
    }
}
