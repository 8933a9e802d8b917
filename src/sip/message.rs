//! [`Message`]: the bytes of one SIP message plus the index the parser built
//! over them. Everything it hands out borrows from the message; typed views
//! ([`Message::top_via`], [`Message::from_header`], ...) are parsed when asked.

use bytes::Bytes;

use super::error::{ErrorKind, ParseError, Result};
use super::header::{
    self, CSeq, Contact, ContentType, NameAddr, OptionTags, Reason, SessionExpires, Uri, Via,
};
use super::method::Method;
use super::name::HeaderName;
use super::sdp::{self, SdpSummary};

/// Most header values a message can hold: the ceiling for
/// [`super::Limits::max_headers`]. The index is a fixed array so that parsing
/// never touches the heap.
pub const MAX_HEADERS: usize = 128;

/// A byte range of the message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    #[inline]
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    #[inline]
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    #[inline]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }
    #[inline]
    pub fn is_empty(self) -> bool {
        self.end == self.start
    }
}

/// The first value on its header line.
pub(crate) const FIRST_ON_LINE: u8 = 1;
/// The last value on its header line.
pub(crate) const LAST_ON_LINE: u8 = 2;
/// The value spans a line fold (CRLF followed by whitespace).
pub(crate) const FOLDED: u8 = 4;

/// One header value in the index: 8 bytes, so the whole index stays small
/// enough to build on the stack. The name's position is not stored; it is
/// recovered from the bytes when asked ([`Message::name_span`]), which only
/// cold paths do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub value_start: u32,
    pub value_len: u16,
    pub id: HeaderName,
    pub flags: u8,
}

impl Entry {
    pub(crate) const EMPTY: Entry = Entry {
        value_start: 0,
        value_len: 0,
        id: HeaderName::Other,
        flags: 0,
    };
    #[inline]
    pub(crate) fn value(&self) -> Span {
        Span {
            start: self.value_start,
            end: self.value_start + self.value_len as u32,
        }
    }
}

/// Request-Line or Status-Line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: Method,
        method_span: Span,
        uri: Span,
    },
    Response {
        code: u16,
        reason: Span,
    },
}

/// Slot of "no such header" in [`Index::first`].
pub(crate) const NONE: u8 = u8::MAX;
const KNOWN: usize = HeaderName::Other as usize + 1;

/// What the one-pass parser records about a message. Fixed size, no heap.
#[derive(Clone)]
pub(crate) struct Index {
    pub start: StartLine,
    /// The start line without its line break.
    pub start_line: Span,
    pub entries: [Entry; MAX_HEADERS],
    pub len: u8,
    /// Index in `entries` of the first value of each known header.
    pub first: [u8; KNOWN],
    pub via_count: u16,
    pub header_end: u32,
    pub body: Span,
    pub cseq: u32,
    pub cseq_method: Span,
    pub call_id: Span,
    pub max_forwards: Option<u8>,
    pub content_length: Option<u32>,
}

impl Index {
    pub(crate) fn new() -> Index {
        Index {
            start: StartLine::Response {
                code: 0,
                reason: Span::default(),
            },
            start_line: Span::default(),
            entries: [Entry::EMPTY; MAX_HEADERS],
            len: 0,
            first: [NONE; KNOWN],
            via_count: 0,
            header_end: 0,
            body: Span::default(),
            cseq: 0,
            cseq_method: Span::default(),
            call_id: Span::default(),
            max_forwards: None,
            content_length: None,
        }
    }
}

/// A parsed SIP message: its bytes and the index over them.
///
/// Cloning is cheap on the bytes (a reference count) and copies the index.
#[derive(Clone)]
pub struct Message {
    pub(crate) buf: Bytes,
    pub(crate) ix: Index,
}

/// One header value as written in the message.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub name: HeaderName,
    /// The name as written (e.g. `v`, `VIA`).
    pub raw_name: &'a [u8],
    /// The value as written, without surrounding whitespace; may contain
    /// line folds (see [`unfold`](super::unfold)).
    pub value: &'a [u8],
    /// Byte offset of the value in the message.
    pub offset: usize,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Message");
        match self.ix.start {
            StartLine::Request { .. } => {
                d.field("method", &String::from_utf8_lossy(self.method_bytes()))
            }
            StartLine::Response { code, .. } => d.field("status", &code),
        };
        d.field("headers", &self.ix.len)
            .field("body", &self.ix.body.len())
            .finish()
    }
}

impl Message {
    /// The whole message as received (for a datagram, bytes after the body
    /// that Content-Length excluded are not part of it).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.ix.body.end as usize]
    }

    /// The message's bytes (start line through body) as shared bytes: no
    /// copy, and nothing after the body of a datagram.
    pub fn wire_bytes(&self) -> Bytes {
        self.buf.slice(..self.ix.body.end as usize)
    }

    /// The underlying buffer (shared, not copied).
    pub fn bytes(&self) -> &Bytes {
        &self.buf
    }

    #[inline]
    pub(crate) fn slice(&self, s: Span) -> &[u8] {
        &self.buf[s.range()]
    }

    /// The start line as written, without its line break.
    pub fn start_line_bytes(&self) -> &[u8] {
        self.slice(self.ix.start_line)
    }

    pub fn start_line(&self) -> &StartLine {
        &self.ix.start
    }

    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self.ix.start, StartLine::Request { .. })
    }

    /// The request method, or `None` for a response.
    #[inline]
    pub fn method(&self) -> Option<Method> {
        match self.ix.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The request method's spelling (empty for a response).
    pub fn method_bytes(&self) -> &[u8] {
        match self.ix.start {
            StartLine::Request { method_span, .. } => self.slice(method_span),
            StartLine::Response { .. } => b"",
        }
    }

    /// The Request-URI as written (empty for a response).
    pub fn request_uri_bytes(&self) -> &[u8] {
        match self.ix.start {
            StartLine::Request { uri, .. } => self.slice(uri),
            StartLine::Response { .. } => b"",
        }
    }

    /// The Request-URI, parsed.
    pub fn request_uri(&self) -> Result<Uri<'_>> {
        match self.ix.start {
            StartLine::Request { uri, .. } => Uri::parse(self.slice(uri))
                .map_err(|e| ErrorKind::BadRequestUri.at(uri.start as usize + e.offset)),
            StartLine::Response { .. } => Err(ErrorKind::BadStartLine.at(0)),
        }
    }

    /// The status code of a response.
    #[inline]
    pub fn status(&self) -> Option<u16> {
        match self.ix.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response, as written (may be UTF-8).
    pub fn reason_phrase(&self) -> &[u8] {
        match self.ix.start {
            StartLine::Response { reason, .. } => self.slice(reason),
            StartLine::Request { .. } => b"",
        }
    }

    /// Number of header values (a line `Via: a, b` counts two).
    pub fn header_count(&self) -> usize {
        self.ix.len as usize
    }

    #[inline]
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.ix.entries[..self.ix.len as usize]
    }

    fn header_at(&self, i: usize) -> Header<'_> {
        let e = &self.ix.entries[i];
        Header {
            name: e.id,
            raw_name: self.slice(self.name_span(i)),
            value: self.slice(e.value()),
            offset: e.value_start as usize,
        }
    }

    /// Where the name of header value `i` is written: back from the value over
    /// whitespace and folds to the colon, then to the start of the line. Only
    /// whitespace can stand between a colon and its first value, and a name
    /// holds no line break, so this is exact.
    pub(crate) fn name_span(&self, i: usize) -> Span {
        let entries = self.entries();
        let mut k = i;
        while k > 0 && entries[k].flags & FIRST_ON_LINE == 0 {
            k -= 1;
        }
        let b = &self.buf[..];
        let mut p = entries[k].value_start as usize;
        while p > 0 && b[p - 1] != b':' {
            p -= 1;
        }
        let mut end = p.saturating_sub(1);
        while end > 0 && matches!(b[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        let mut start = end;
        while start > 0 && b[start - 1] != b'\n' {
            start -= 1;
        }
        Span::new(start, end)
    }

    /// Every header value in message order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        (0..self.ix.len as usize).map(|i| self.header_at(i))
    }

    /// The first value of a known header.
    #[inline]
    pub fn get(&self, name: HeaderName) -> Option<&[u8]> {
        let i = self.ix.first[name as usize];
        if i == NONE {
            return None;
        }
        Some(self.slice(self.ix.entries[i as usize].value()))
    }

    /// Every value of a known header, in order.
    pub fn get_all(&self, name: HeaderName) -> impl Iterator<Item = Header<'_>> + '_ {
        let from = match self.ix.first[name as usize] {
            NONE => self.ix.len as usize,
            i => i as usize,
        };
        (from..self.ix.len as usize)
            .filter(move |&i| self.ix.entries[i].id == name)
            .map(|i| self.header_at(i))
    }

    /// The values of a header not in [`HeaderName`], matched ignoring case.
    pub fn get_other<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        (0..self.ix.len as usize)
            .filter(move |&i| {
                self.ix.entries[i].id == HeaderName::Other
                    && self
                        .slice(self.name_span(i))
                        .eq_ignore_ascii_case(name.as_bytes())
            })
            .map(|i| self.slice(self.ix.entries[i].value()))
    }

    /// Call-ID (validated by the parser).
    #[inline]
    pub fn call_id(&self) -> &[u8] {
        self.slice(self.ix.call_id)
    }

    /// CSeq (validated by the parser; for a request its method matches).
    #[inline]
    pub fn cseq(&self) -> CSeq<'_> {
        CSeq {
            seq: self.ix.cseq,
            method_bytes: self.slice(self.ix.cseq_method),
        }
    }

    /// Max-Forwards, when present (validated 0..=255 by the parser).
    #[inline]
    pub fn max_forwards(&self) -> Option<u8> {
        self.ix.max_forwards
    }

    /// Content-Length as declared, when present.
    pub fn content_length(&self) -> Option<u32> {
        self.ix.content_length
    }

    /// Number of Via values.
    pub fn via_count(&self) -> usize {
        self.ix.via_count as usize
    }

    /// The body (by Content-Length, or the rest of a datagram without one).
    #[inline]
    pub fn body(&self) -> &[u8] {
        self.slice(self.ix.body)
    }

    /// The body as shared bytes (no copy).
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.ix.body.range())
    }

    /// Offset of the first body byte (just after the empty line).
    pub fn header_end(&self) -> usize {
        self.ix.header_end as usize
    }

    fn typed<'a, T>(
        &'a self,
        name: HeaderName,
        f: impl FnOnce(&'a [u8]) -> Result<T>,
    ) -> Option<Result<T>> {
        let i = self.ix.first[name as usize];
        if i == NONE {
            return None;
        }
        let e = &self.ix.entries[i as usize];
        Some(f(self.slice(e.value())).map_err(|err| shift(err, e.value_start)))
    }

    /// The topmost Via, parsed.
    #[inline]
    pub fn top_via(&self) -> Result<Via<'_>> {
        self.typed(HeaderName::Via, Via::parse)
            .unwrap_or(Err(ErrorKind::MissingHeader(HeaderName::Via).at(0)))
    }

    /// Every Via, parsed, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>>> + '_ {
        self.get_all(HeaderName::Via)
            .map(|h| Via::parse(h.value).map_err(|e| shift(e, h.offset as u32)))
    }

    /// The From header, parsed.
    #[inline]
    pub fn from_header(&self) -> Result<NameAddr<'_>> {
        self.typed(HeaderName::From, |v| NameAddr::parse(v, HeaderName::From))
            .unwrap_or(Err(ErrorKind::MissingHeader(HeaderName::From).at(0)))
    }

    /// The To header, parsed.
    #[inline]
    pub fn to_header(&self) -> Result<NameAddr<'_>> {
        self.typed(HeaderName::To, |v| NameAddr::parse(v, HeaderName::To))
            .unwrap_or(Err(ErrorKind::MissingHeader(HeaderName::To).at(0)))
    }

    /// Every Contact value, parsed.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>>> + '_ {
        self.get_all(HeaderName::Contact)
            .map(|h| Contact::parse(h.value).map_err(|e| shift(e, h.offset as u32)))
    }

    /// Every value of a Route-like header (Route, Record-Route, Path,
    /// Service-Route), parsed.
    pub fn routes(&self, name: HeaderName) -> impl Iterator<Item = Result<NameAddr<'_>>> + '_ {
        self.get_all(name)
            .map(move |h| NameAddr::parse(h.value, name).map_err(|e| shift(e, h.offset as u32)))
    }

    /// Content-Type, parsed.
    pub fn content_type(&self) -> Option<Result<ContentType<'_>>> {
        self.typed(HeaderName::ContentType, ContentType::parse)
    }

    /// Session-Expires (RFC 4028), parsed.
    pub fn session_expires(&self) -> Option<Result<SessionExpires<'_>>> {
        self.typed(HeaderName::SessionExpires, SessionExpires::parse)
    }

    /// Min-SE (RFC 4028), in seconds.
    pub fn min_se(&self) -> Option<Result<u32>> {
        self.typed(HeaderName::MinSe, header::min_se)
    }

    /// Expires, in seconds.
    pub fn expires(&self) -> Option<Result<u32>> {
        self.typed(HeaderName::Expires, |v| {
            header::delta_seconds(v, HeaderName::Expires)
        })
    }

    /// Every Reason value (RFC 3326), parsed.
    pub fn reasons(&self) -> impl Iterator<Item = Result<Reason<'_>>> + '_ {
        self.get_all(HeaderName::Reason)
            .map(|h| Reason::parse(h.value).map_err(|e| shift(e, h.offset as u32)))
    }

    /// The option tags of Supported, Require or Proxy-Require (every value
    /// of the header, across lines).
    pub fn option_tags(&self, name: HeaderName) -> OptionTags<'_> {
        OptionTags::new(self, name)
    }

    /// What the body offers, when it is SDP: audio, video, MSRP chat.
    pub fn sdp(&self) -> Option<SdpSummary> {
        let is_sdp = match self.content_type() {
            Some(Ok(ct)) => ct.is(b"application", b"sdp"),
            Some(Err(_)) => false,
            // RFC 3261 §20.15: a body without Content-Type is not to be guessed,
            // but an empty body is simply no SDP.
            None => false,
        };
        if !is_sdp || self.body().is_empty() {
            return None;
        }
        Some(sdp::summarize(self.body()))
    }

    /// Parses every header this crate has a typed view for and returns the
    /// first failure. The proxy's hot path never calls this; it parses what it
    /// needs. `sipedge parse` and the conformance tests do.
    pub fn validate_all(&self) -> Result<()> {
        if self.is_request() {
            self.request_uri()?;
        }
        for e in self.entries() {
            let v = self.slice(e.value());
            let r = match e.id {
                HeaderName::Via => Via::parse(v).map(drop),
                HeaderName::From
                | HeaderName::To
                | HeaderName::ReplyTo
                | HeaderName::ReferTo
                | HeaderName::ReferredBy
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Path
                | HeaderName::ServiceRoute
                | HeaderName::PAssertedIdentity
                | HeaderName::PPreferredIdentity => NameAddr::parse(v, e.id).map(drop),
                HeaderName::Contact => Contact::parse(v).map(drop),
                HeaderName::ContentType => ContentType::parse(v).map(drop),
                HeaderName::SessionExpires => SessionExpires::parse(v).map(drop),
                HeaderName::MinSe => header::min_se(v).map(drop),
                HeaderName::Expires | HeaderName::MinExpires => {
                    header::delta_seconds(v, e.id).map(drop)
                }
                HeaderName::Reason => Reason::parse(v).map(drop),
                HeaderName::Supported
                | HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Unsupported => header::option_tag(v, e.id).map(drop),
                HeaderName::Date => header::date(v).map(drop),
                _ => Ok(()),
            };
            r.map_err(|err| shift(err, e.value_start))?;
        }
        Ok(())
    }
}

/// Moves a typed view's error offset from value-relative to message-relative.
#[inline]
fn shift(mut e: ParseError, by: u32) -> ParseError {
    e.offset += by as usize;
    e
}
