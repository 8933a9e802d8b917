//! The hot path: one pass over a message's bytes that indexes the start line
//! and every header value, then frames the body by Content-Length.
//!
//! Rules kept here (and nowhere else):
//! - header names are tokens; whitespace is allowed only between the name and
//!   the colon, never inside a name (header smuggling);
//! - a value ends at a CRLF (or bare LF) not followed by SP/HT; a CR must be
//!   followed by LF;
//! - list headers ([`HeaderName::is_list`]) are split on commas outside quoted
//!   strings and `<...>`; other headers are one value per line;
//! - control bytes are allowed only as the escaped byte of a quoted-pair;
//! - the few headers every element needs (Call-ID, CSeq, Max-Forwards,
//!   Content-Length) are checked here so no later stage meets a bad one.
//!
//! Nothing here allocates: the index is a fixed array inside [`Message`].

use bytes::Bytes;
use memchr::memchr;

use super::chars::{self, is_ctl, is_ws};
use super::error::{ErrorKind, Result};
use super::header::{Uri, cseq};
use super::message::{
    Entry, FIRST_ON_LINE, FOLDED, Index, LAST_ON_LINE, MAX_HEADERS, Message, NONE, Span, StartLine,
};
use super::method::Method;
use super::name::HeaderName;

/// Hard limits applied while parsing. Defaults suit a SIP edge; every field is
/// configurable (`[sip]` in the config), `max_headers` up to [`MAX_HEADERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (start line + headers + body), in bytes.
    pub max_message: usize,
    /// Most header values (a line `Via: a, b` counts two).
    pub max_headers: usize,
    /// Longest physical header line, in bytes.
    pub max_line: usize,
    /// Most Via values.
    pub max_vias: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_message: 65_535,
        max_headers: MAX_HEADERS,
        max_line: 8_192,
        max_vias: 70,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// How the message's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// UDP: the buffer is one datagram. Without Content-Length the body is the
    /// rest of the datagram; bytes after Content-Length are ignored; a
    /// Content-Length larger than what is left is an error.
    Datagram,
    /// TCP/TLS/WebSocket: the buffer is one message cut by
    /// [`super::stream`]. Content-Length is mandatory.
    Stream,
}

/// Parses one UDP datagram with the default limits.
pub fn parse(buf: Bytes) -> Result<Message> {
    parse_with(buf, Framing::Datagram, &Limits::DEFAULT)
}

/// Parses one message.
pub fn parse_with(buf: Bytes, framing: Framing, limits: &Limits) -> Result<Message> {
    let mut ix = Index::new();
    index_into(&buf, framing, limits, &mut ix)?;
    Ok(Message { buf, ix })
}

/// Header value scanning mode.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One value per line; control bytes are refused.
    Plain,
    /// One value per line; control bytes only as quoted-pairs.
    Quoted,
    /// Comma-separated values outside quotes and `<>`.
    List,
}

fn mode_of(id: HeaderName) -> Mode {
    use HeaderName::*;
    if id.is_list() {
        return Mode::List;
    }
    match id {
        From | To | ReplyTo | ReferTo | ReferredBy | Authorization | ProxyAuthorization
        | WwwAuthenticate | ProxyAuthenticate | AuthenticationInfo | ContentType
        | ContentDisposition | Event | SubscriptionState | SessionExpires | MinSe | Replaces
        | IdentityInfo | RetryAfter => Mode::Quoted,
        _ => Mode::Plain,
    }
}

/// `true` for bytes the value scanner can step over without a decision.
static PLAIN_VALUE: [bool; 256] = {
    let mut t = [true; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = false;
        i += 1;
    }
    t[b'\t' as usize] = true;
    t[0x7f] = false;
    t
};

static PLAIN_LIST: [bool; 256] = {
    let mut t = PLAIN_VALUE;
    t[b'"' as usize] = false;
    t[b'<' as usize] = false;
    t[b',' as usize] = false;
    t
};

struct Cx<'a> {
    b: &'a [u8],
    limits: &'a Limits,
}

fn index_into(b: &[u8], framing: Framing, limits: &Limits, ix: &mut Index) -> Result<()> {
    let cx = Cx { b, limits };
    let max_headers = limits.max_headers.min(MAX_HEADERS);
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let mut pos = 0;
    while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
        pos += 1;
    }
    if pos == b.len() {
        return Err(ErrorKind::Empty.at(pos));
    }
    let sl_start = pos;
    let Some(nl) = memchr(b'\n', &b[pos..]) else {
        return Err(ErrorKind::UnterminatedHeaders.at(b.len()));
    };
    let line_end = pos + nl;
    let line_body_end = if line_end > pos && b[line_end - 1] == b'\r' {
        line_end - 1
    } else {
        line_end
    };
    if line_body_end - sl_start > limits.max_line {
        return Err(ErrorKind::LineTooLong {
            limit: limits.max_line as u32,
        }
        .at(sl_start));
    }
    ix.start = start_line(b, sl_start, line_body_end)?;
    ix.start_line = Span::new(sl_start, line_body_end);
    pos = line_end + 1;

    let mut cl_entry = NONE;
    loop {
        if pos > limits.max_message {
            return Err(ErrorKind::MessageTooLarge {
                size: b.len() as u32,
                limit: limits.max_message as u32,
            }
            .at(pos));
        }
        let Some(&c) = b.get(pos) else {
            return Err(ErrorKind::UnterminatedHeaders.at(pos));
        };
        if c == b'\r' {
            if b.get(pos + 1) == Some(&b'\n') {
                pos += 2;
                break;
            }
            return Err(if pos + 1 == b.len() {
                ErrorKind::UnterminatedHeaders
            } else {
                ErrorKind::BareCr
            }
            .at(pos));
        }
        if c == b'\n' {
            pos += 1;
            break;
        }
        if is_ws(c) {
            return Err(ErrorKind::LeadingContinuation.at(pos));
        }
        // Header name: a token, then optional whitespace, then ':'.
        let name_start = pos;
        while pos < b.len() && chars::TOKEN[b[pos] as usize] {
            pos += 1;
        }
        let name_end = pos;
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        if b.get(pos) != Some(&b':') || name_end == name_start {
            let eol = memchr(b'\n', &b[name_start..]).map_or(b.len(), |n| name_start + n);
            let kind = if memchr(b':', &b[name_start..eol]).is_some() {
                ErrorKind::BadHeaderName
            } else {
                ErrorKind::MissingColon
            };
            return Err(kind.at(pos));
        }
        if name_end - name_start > u8::MAX as usize {
            return Err(ErrorKind::BadHeaderName.at(name_start));
        }
        pos += 1;
        let id = HeaderName::lookup(&b[name_start..name_end]);
        let before = ix.len as usize;
        pos = cx.values(pos, name_start, name_end, id, ix, max_headers)?;
        let added = ix.len as usize - before;
        let slot = &mut ix.first[id as usize];
        if *slot == NONE {
            *slot = before as u8;
        } else if single_valued(id) {
            return Err(ErrorKind::DuplicateHeader(id).at(name_start));
        }
        match id {
            HeaderName::Via => {
                ix.via_count += added as u16;
                if ix.via_count as usize > limits.max_vias {
                    return Err(ErrorKind::TooManyVias {
                        limit: limits.max_vias as u16,
                    }
                    .at(name_start));
                }
            }
            HeaderName::ContentLength => cl_entry = before as u8,
            _ => {}
        }
    }
    ix.header_end = pos as u32;
    let is_request = matches!(ix.start, StartLine::Request { .. });
    let end_of_headers = pos;

    // Mandatory headers (RFC 3261 §8.1.1; a response carries the same).
    for h in [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Via,
    ] {
        if ix.first[h as usize] == NONE {
            return Err(ErrorKind::MissingHeader(h).at(end_of_headers));
        }
    }
    let entry = |h: HeaderName| ix.entries[ix.first[h as usize] as usize];

    // Call-ID = word [ "@" word ]
    let e = entry(HeaderName::CallId);
    let v = &b[e.value().range()];
    if !call_id_ok(v) {
        return Err(ErrorKind::BadCallId.at(e.value_start as usize));
    }
    ix.call_id = e.value();

    // CSeq = 1*DIGIT LWS Method, number < 2^32.
    let e = entry(HeaderName::CSeq);
    let (seq, m) = cseq::parts(&b[e.value().range()])
        .map_err(|_| ErrorKind::BadCSeq.at(e.value_start as usize))?;
    let m = Span::new(
        e.value_start as usize + m.start,
        e.value_start as usize + m.end,
    );
    if let StartLine::Request { method_span, .. } = ix.start {
        if b[m.range()] != b[method_span.range()] {
            return Err(ErrorKind::CSeqMethodMismatch.at(m.start as usize));
        }
    }
    ix.cseq = seq;
    ix.cseq_method = m;

    if ix.first[HeaderName::MaxForwards as usize] != NONE {
        let e = entry(HeaderName::MaxForwards);
        match decimal(&b[e.value().range()]) {
            Some(n) if n <= 255 => ix.max_forwards = Some(n as u8),
            _ => return Err(ErrorKind::BadMaxForwards.at(e.value_start as usize)),
        }
    }

    if cl_entry != NONE {
        let e = ix.entries[cl_entry as usize];
        match decimal(&b[e.value().range()]) {
            Some(n) if n <= u32::MAX as u64 => ix.content_length = Some(n as u32),
            _ => return Err(ErrorKind::BadContentLength.at(e.value_start as usize)),
        }
    }
    let present = b.len() - pos;
    let body_len = match (ix.content_length, framing) {
        (Some(n), _) if n as usize > present => {
            return Err(ErrorKind::ContentLengthExceeds {
                declared: n,
                present: present as u32,
            }
            .at(pos));
        }
        (Some(n), _) => n as usize,
        (None, Framing::Datagram) => present,
        (None, Framing::Stream) => return Err(ErrorKind::MissingContentLength.at(pos)),
    };
    let end = pos + body_len;
    if end > limits.max_message {
        return Err(ErrorKind::MessageTooLarge {
            size: end as u32,
            limit: limits.max_message as u32,
        }
        .at(0));
    }
    ix.body = Span::new(pos, end);

    if let StartLine::Request { uri, .. } = ix.start {
        request_uri(b, uri)?;
    }
    let _ = is_request;
    Ok(())
}

/// Headers that RFC 3261 allows once per message and that the proxy relies on.
#[inline]
fn single_valued(id: HeaderName) -> bool {
    matches!(
        id,
        HeaderName::From
            | HeaderName::To
            | HeaderName::CallId
            | HeaderName::CSeq
            | HeaderName::MaxForwards
            | HeaderName::ContentLength
    )
}

impl Cx<'_> {
    /// Scans the value(s) of one header starting after its colon; pushes an
    /// entry per value and returns the offset of the next line.
    fn values(
        &self,
        mut pos: usize,
        name_start: usize,
        name_end: usize,
        id: HeaderName,
        ix: &mut Index,
        max_headers: usize,
    ) -> Result<usize> {
        let b = self.b;
        let mode = mode_of(id);
        let table = if mode == Mode::List {
            &PLAIN_LIST
        } else {
            &PLAIN_VALUE
        };
        let mut line_start = name_start;
        let mut flags = FIRST_ON_LINE;
        let mut ctl_at = None;
        pos = self.skip_lws(pos, &mut line_start, &mut flags)?;
        let mut value_start = pos;
        loop {
            while pos < b.len() && table[b[pos] as usize] {
                pos += 1;
            }
            let Some(&c) = b.get(pos) else {
                return Err(ErrorKind::UnterminatedHeaders.at(pos));
            };
            match c {
                b'\r' | b'\n' => {
                    let next = self.line_break(pos)?;
                    self.check_line(line_start, pos)?;
                    if next < b.len() && is_ws(b[next]) {
                        flags |= FOLDED;
                        line_start = next;
                        pos = next;
                        continue;
                    }
                    if let Some(at) = ctl_at {
                        if mode == Mode::Plain || !quoted_controls_ok(&b[value_start..pos]) {
                            return Err(ErrorKind::ControlInValue.at(at));
                        }
                    }
                    push(
                        ix,
                        max_headers,
                        name_start,
                        name_end,
                        id,
                        value_start,
                        trim_end(b, value_start, pos),
                        flags | LAST_ON_LINE,
                    )?;
                    return Ok(next);
                }
                b'"' => pos = self.quoted(pos, &mut line_start, &mut flags)?,
                b'<' => pos = self.angle(pos, &mut line_start, &mut flags)?,
                b',' => {
                    push(
                        ix,
                        max_headers,
                        name_start,
                        name_end,
                        id,
                        value_start,
                        trim_end(b, value_start, pos),
                        flags,
                    )?;
                    flags = 0;
                    pos = self.skip_lws(pos + 1, &mut line_start, &mut flags)?;
                    value_start = pos;
                }
                _ => {
                    // A control byte. In a list header it can only be outside
                    // quotes (quoted strings are scanned separately): refuse.
                    if mode == Mode::List {
                        return Err(ErrorKind::ControlInValue.at(pos));
                    }
                    ctl_at.get_or_insert(pos);
                    pos += 1;
                }
            }
        }
    }

    /// Offset after the line break at `pos` (CRLF or bare LF).
    #[inline]
    fn line_break(&self, pos: usize) -> Result<usize> {
        if self.b[pos] == b'\n' {
            return Ok(pos + 1);
        }
        match self.b.get(pos + 1) {
            Some(b'\n') => Ok(pos + 2),
            Some(_) => Err(ErrorKind::BareCr.at(pos)),
            None => Err(ErrorKind::UnterminatedHeaders.at(pos)),
        }
    }

    #[inline]
    fn check_line(&self, line_start: usize, line_end: usize) -> Result<()> {
        if line_end - line_start > self.limits.max_line {
            return Err(ErrorKind::LineTooLong {
                limit: self.limits.max_line as u32,
            }
            .at(line_start));
        }
        Ok(())
    }

    /// Skips SP/HT and line folds.
    fn skip_lws(&self, mut pos: usize, line_start: &mut usize, flags: &mut u8) -> Result<usize> {
        let b = self.b;
        loop {
            while pos < b.len() && is_ws(b[pos]) {
                pos += 1;
            }
            match b.get(pos) {
                Some(b'\r') | Some(b'\n') => {
                    let next = self.line_break(pos)?;
                    if next < b.len() && is_ws(b[next]) {
                        self.check_line(*line_start, pos)?;
                        *flags |= FOLDED;
                        *line_start = next;
                        pos = next;
                    } else {
                        return Ok(pos);
                    }
                }
                _ => return Ok(pos),
            }
        }
    }

    /// Scans a quoted string starting at the `"` at `pos`; returns the offset
    /// after the closing quote. Folds inside are LWS; a line break that is not
    /// a fold means the quote never closed.
    fn quoted(&self, mut pos: usize, line_start: &mut usize, flags: &mut u8) -> Result<usize> {
        let b = self.b;
        let open = pos;
        pos += 1;
        loop {
            let Some(&c) = b.get(pos) else {
                return Err(ErrorKind::UnterminatedQuote.at(open));
            };
            match c {
                b'"' => return Ok(pos + 1),
                b'\\' => match b.get(pos + 1) {
                    Some(b'\r') | Some(b'\n') | None => {
                        return Err(ErrorKind::UnterminatedQuote.at(open));
                    }
                    Some(_) => pos += 2,
                },
                b'\r' | b'\n' => {
                    let next = self.line_break(pos)?;
                    if next < b.len() && is_ws(b[next]) {
                        self.check_line(*line_start, pos)?;
                        *flags |= FOLDED;
                        *line_start = next;
                        pos = next;
                    } else {
                        return Err(ErrorKind::UnterminatedQuote.at(open));
                    }
                }
                c if is_ctl(c) => return Err(ErrorKind::ControlInValue.at(pos)),
                _ => pos += 1,
            }
        }
    }

    /// Scans `<...>` starting at `pos`; returns the offset after `>`.
    fn angle(&self, mut pos: usize, line_start: &mut usize, flags: &mut u8) -> Result<usize> {
        let b = self.b;
        let open = pos;
        pos += 1;
        loop {
            let Some(&c) = b.get(pos) else {
                return Err(ErrorKind::UnterminatedAngle.at(open));
            };
            match c {
                b'>' => return Ok(pos + 1),
                b'\r' | b'\n' => {
                    let next = self.line_break(pos)?;
                    if next < b.len() && is_ws(b[next]) {
                        self.check_line(*line_start, pos)?;
                        *flags |= FOLDED;
                        *line_start = next;
                        pos = next;
                    } else {
                        return Err(ErrorKind::UnterminatedAngle.at(open));
                    }
                }
                c if is_ctl(c) => return Err(ErrorKind::ControlInValue.at(pos)),
                _ => pos += 1,
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn push(
    ix: &mut Index,
    max_headers: usize,
    name_start: usize,
    name_end: usize,
    id: HeaderName,
    start: usize,
    end: usize,
    flags: u8,
) -> Result<()> {
    let n = ix.len as usize;
    if n >= max_headers {
        return Err(ErrorKind::TooManyHeaders {
            limit: max_headers as u16,
        }
        .at(name_start));
    }
    ix.entries[n] = Entry {
        name_start: name_start as u32,
        value_start: start as u32,
        value_len: (end - start) as u32,
        name_len: (name_end - name_start) as u8,
        id,
        flags,
    };
    ix.len += 1;
    Ok(())
}

/// End of a value with trailing whitespace and folds removed.
#[inline]
fn trim_end(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && matches!(b[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    end
}

/// Controls in a value are fine only as the second byte of a quoted-pair
/// inside a quoted string (RFC 4475 §3.1.1.2).
fn quoted_controls_ok(v: &[u8]) -> bool {
    let mut in_quotes = false;
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'"' => in_quotes = !in_quotes,
            b'\\' if in_quotes => i += 1,
            b'\r' | b'\n' => {}
            c if is_ctl(c) => return false,
            _ => {}
        }
        i += 1;
    }
    true
}

fn start_line(b: &[u8], start: usize, end: usize) -> Result<StartLine> {
    let line = &b[start..end];
    if let Some(i) = memchr(b'\r', line) {
        return Err(ErrorKind::BareCr.at(start + i));
    }
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return status_line(b, start, end);
    }
    let Some(sp1) = memchr(b' ', line) else {
        return Err(ErrorKind::BadStartLine.at(start));
    };
    if sp1 == 0 {
        return Err(ErrorKind::StartLineWhitespace.at(start));
    }
    let method = &line[..sp1];
    if !chars::all_in(method, &chars::TOKEN) {
        return Err(ErrorKind::BadMethod.at(start));
    }
    let rest = &line[sp1 + 1..];
    let Some(sp2) = memchr::memrchr(b' ', rest) else {
        return Err(ErrorKind::BadStartLine.at(start + sp1));
    };
    let uri = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    let uri_start = start + sp1 + 1;
    if version.is_empty()
        || uri.is_empty()
        || is_ws(uri[0])
        || uri.last().copied().is_some_and(is_ws)
    {
        return Err(ErrorKind::StartLineWhitespace.at(uri_start));
    }
    version_ok(version, uri_start + sp2 + 1)?;
    if let Some(i) = uri.iter().position(|&c| c == b' ' || is_ctl(c)) {
        return Err(ErrorKind::BadRequestUri.at(uri_start + i));
    }
    // scheme ":" — anything else (e.g. "<sip:...>") is not a Request-URI.
    let colon = memchr(b':', uri).unwrap_or(0);
    if colon == 0
        || !uri[0].is_ascii_alphabetic()
        || !uri[1..colon].iter().all(|&c| chars::SCHEME[c as usize])
    {
        return Err(ErrorKind::BadRequestUri.at(uri_start));
    }
    Ok(StartLine::Request {
        method: Method::from_bytes(method),
        method_span: Span::new(start, start + sp1),
        uri: Span::new(uri_start, uri_start + uri.len()),
    })
}

fn status_line(b: &[u8], start: usize, end: usize) -> Result<StartLine> {
    let line = &b[start..end];
    let sp = memchr(b' ', line).ok_or(ErrorKind::BadStartLine.at(start))?;
    version_ok(&line[..sp], start)?;
    let rest = &line[sp + 1..];
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits != 3 || rest.get(3).is_some_and(|&c| c != b' ') {
        return Err(ErrorKind::BadStatusCode.at(start + sp + 1));
    }
    let code = rest[..3]
        .iter()
        .fold(0u16, |a, &d| a * 10 + (d - b'0') as u16);
    if !(100..=699).contains(&code) {
        return Err(ErrorKind::BadStatusCode.at(start + sp + 1));
    }
    let reason_start = (start + sp + 5).min(end);
    if let Some(i) = b[reason_start..end].iter().position(|&c| is_ctl(c)) {
        return Err(ErrorKind::ControlInValue.at(reason_start + i));
    }
    Ok(StartLine::Response {
        code,
        reason: Span::new(reason_start, end),
    })
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is supported.
fn version_ok(v: &[u8], at: usize) -> Result<()> {
    if v.len() < 4 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(ErrorKind::BadVersion.at(at));
    }
    let num = &v[4..];
    let dot = memchr(b'.', num).ok_or(ErrorKind::BadVersion.at(at))?;
    let (major, minor) = (&num[..dot], &num[dot + 1..]);
    if major.is_empty() || minor.is_empty() || !major.iter().chain(minor).all(u8::is_ascii_digit) {
        return Err(ErrorKind::BadVersion.at(at));
    }
    if num != b"2.0" {
        return Err(ErrorKind::UnsupportedVersion.at(at));
    }
    Ok(())
}

/// The SIP and tel Request-URIs are parsed now; a SIP/SIPS one must not carry
/// headers (RFC 4475 §3.1.2.11). Other schemes are left to the proxy (416).
fn request_uri(b: &[u8], uri: Span) -> Result<()> {
    let s = &b[uri.range()];
    let scheme = &s[..memchr(b':', s).unwrap_or(0)];
    let known = [&b"sip"[..], b"sips", b"tel"]
        .iter()
        .any(|k| scheme.eq_ignore_ascii_case(k));
    if !known {
        return Ok(());
    }
    let parsed =
        Uri::parse(s).map_err(|e| ErrorKind::BadRequestUri.at(uri.start as usize + e.offset))?;
    if parsed.has_headers() {
        return Err(ErrorKind::RequestUriHeaders.at(uri.start as usize));
    }
    Ok(())
}

/// `1*DIGIT` (leading zeros allowed) as u64; `None` on anything else or on
/// overflow.
#[inline]
pub(crate) fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(n)
}

fn call_id_ok(v: &[u8]) -> bool {
    let mut parts = v.splitn(2, |&c| c == b'@');
    let word = |w: &[u8]| chars::all_in(w, &chars::WORD);
    parts.next().is_some_and(word) && parts.next().is_none_or(word)
}
