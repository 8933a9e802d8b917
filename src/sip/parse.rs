//! The hot path: one pass over a message's bytes that indexes the start line
//! and every header value, then frames the body by Content-Length.
//!
//! Rules kept here (and nowhere else):
//! - header names are tokens; whitespace is allowed only between the name and
//!   the colon, never inside a name (header smuggling);
//! - a value ends at a CRLF not followed by SP/HT; a bare CR or a bare LF is
//!   refused (where a header ends must not be open to interpretation);
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
    /// Defaults. `max_headers` stays below [`MAX_HEADERS`] so that what a
    /// proxy adds when forwarding (Via, Record-Route, Path, Content-Length)
    /// still fits in the index downstream.
    pub const DEFAULT: Limits = Limits {
        max_message: 65_535,
        max_headers: MAX_HEADERS - 8,
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
#[inline]
pub fn parse(buf: Bytes) -> Result<Message> {
    parse_with(buf, Framing::Datagram, &Limits::DEFAULT)
}

/// Parses one message.
#[inline]
pub fn parse_with(buf: Bytes, framing: Framing, limits: &Limits) -> Result<Message> {
    // Index in place: the index is a 2 KiB array, so it is built where the
    // message will live rather than moved there afterwards.
    let mut m = Message {
        buf,
        ix: Index::new(),
    };
    index_into(&m.buf, framing, limits, &mut m.ix)?;
    Ok(m)
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
    if line_end == pos || b[line_end - 1] != b'\r' {
        return Err(ErrorKind::BareLf.at(line_end));
    }
    let line_body_end = line_end - 1;
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
            return Err(ErrorKind::BareLf.at(pos));
        }
        if is_ws(c) {
            return Err(ErrorKind::LeadingContinuation.at(pos));
        }
        // Header name: a token, then optional whitespace, then ':'. Whitespace
        // or a control byte inside the name is refused (header smuggling).
        let name_start = pos;
        pos = find::<STOP_NAME>(b, pos);
        let name_end = pos;
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        // A known name matched a token spelling; only others are checked
        // byte by byte.
        let id = HeaderName::lookup(&b[name_start..name_end]);
        let bad_byte = id == HeaderName::Other
            && b[name_start..name_end]
                .iter()
                .any(|&c| !chars::TOKEN[c as usize]);
        if b.get(pos) != Some(&b':') || name_end == name_start || bad_byte {
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
        let before = ix.len as usize;
        pos = cx.values(pos + 1, name_start, id, ix, max_headers)?;
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

struct Cx<'a> {
    b: &'a [u8],
    limits: &'a Limits,
}

/// Which bytes stop a [`find`] scan besides control bytes (which include CR,
/// LF and HT).
const STOP_CTL: u8 = 0;
/// List values: also `,` `"` `<`.
const STOP_LIST: u8 = 1;
/// Inside a quoted string: also `"` and `\`.
const STOP_QUOTED: u8 = 2;
/// Inside `<...>`: also `>`.
const STOP_ANGLE: u8 = 3;
/// A header name: also SP and `:`.
const STOP_NAME: u8 = 4;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` equal to `c` (the lowest set bit marks
/// the first match exactly; bits above it may be false positives).
#[inline(always)]
fn eq(x: u64, c: u8) -> u64 {
    let y = x ^ (LO * c as u64);
    y.wrapping_sub(LO) & !y & HI
}

/// High bit set in each byte of `x` below 0x20 (same exactness rule).
#[inline(always)]
fn below_space(x: u64) -> u64 {
    x.wrapping_sub(LO * 0x20) & !x & HI
}

#[inline(always)]
fn stops<const K: u8>(c: u8) -> bool {
    c < 0x20
        || c == 0x7f
        || match K {
            STOP_LIST => matches!(c, b',' | b'"' | b'<'),
            STOP_QUOTED => matches!(c, b'"' | b'\\'),
            STOP_ANGLE => c == b'>',
            STOP_NAME => c == b' ' || c == b':',
            _ => false,
        }
}

/// Offset of the first byte at or after `pos` that needs a decision (see
/// the `STOP_*` sets), or `b.len()`. Eight bytes per step (SWAR): header
/// values are mostly plain text, so most words are skipped whole. (An SSE2
/// version measured ~3% faster on the corpus: not worth `unsafe`; see
/// BENCHMARKS.md.)
#[inline]
fn find<const K: u8>(b: &[u8], mut pos: usize) -> usize {
    while pos + 8 <= b.len() {
        let c = &b[pos..pos + 8];
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let mut m = below_space(x) | eq(x, 0x7f);
        match K {
            STOP_LIST => m |= eq(x, b',') | eq(x, b'"') | eq(x, b'<'),
            STOP_QUOTED => m |= eq(x, b'"') | eq(x, b'\\'),
            STOP_ANGLE => m |= eq(x, b'>'),
            STOP_NAME => m |= eq(x, b' ') | eq(x, b':'),
            _ => {}
        }
        if m != 0 {
            return pos + (m.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while pos < b.len() && !stops::<K>(b[pos]) {
        pos += 1;
    }
    pos
}

/// Offset of the first byte that [`chars::is_ctl`] refuses, if any.
#[inline]
pub(crate) fn first_ctl(s: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        pos = find::<STOP_CTL>(s, pos);
        match s.get(pos) {
            None => return None,
            Some(b'\t') => pos += 1,
            Some(_) => return Some(pos),
        }
    }
}

/// What a line break at `pos` (CR LF or LF) means for a value being read.
enum Break {
    /// The next line continues the value (it starts with SP/HT).
    Fold { next: usize },
    /// The value ends; the next header line starts at `next`.
    End { next: usize },
}

impl Cx<'_> {
    /// Reads the line break at `pos` and checks the length of the line that
    /// it ends.
    #[inline]
    fn line_break(&self, pos: usize, line_start: usize) -> Result<Break> {
        let b = self.b;
        // RFC 3261 §7: lines end with CRLF. A bare LF is refused, not read
        // as a line end: parsers that disagree about where a header ends
        // let a header be smuggled past one of them.
        let next = if b[pos] == b'\n' {
            return Err(ErrorKind::BareLf.at(pos));
        } else {
            match b.get(pos + 1) {
                Some(b'\n') => pos + 2,
                Some(_) => return Err(ErrorKind::BareCr.at(pos)),
                None => return Err(ErrorKind::UnterminatedHeaders.at(pos)),
            }
        };
        if pos - line_start > self.limits.max_line {
            return Err(ErrorKind::LineTooLong {
                limit: self.limits.max_line as u32,
            }
            .at(line_start));
        }
        if next < b.len() && is_ws(b[next]) {
            Ok(Break::Fold { next })
        } else {
            Ok(Break::End { next })
        }
    }

    /// Skips SP/HT and folds.
    #[inline]
    fn skip_lws(&self, mut pos: usize, line_start: &mut usize, flags: &mut u8) -> Result<usize> {
        let b = self.b;
        loop {
            while pos < b.len() && is_ws(b[pos]) {
                pos += 1;
            }
            if pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
                if let Break::Fold { next } = self.line_break(pos, *line_start)? {
                    *flags |= FOLDED;
                    *line_start = next;
                    pos = next;
                    continue;
                }
            }
            return Ok(pos);
        }
    }

    /// Scans the value(s) of one header from just after its colon; pushes an
    /// entry per value and returns the offset of the next header line.
    fn values(
        &self,
        pos: usize,
        name_start: usize,
        id: HeaderName,
        ix: &mut Index,
        max_headers: usize,
    ) -> Result<usize> {
        let b = self.b;
        let mode = mode_of(id);
        let mut flags = FIRST_ON_LINE;
        let mut line_start = name_start;
        let mut ctl_at = None;
        let mut pos = self.skip_lws(pos, &mut line_start, &mut flags)?;
        let mut value_start = pos;
        loop {
            pos = if mode == Mode::List {
                find::<STOP_LIST>(b, pos)
            } else {
                find::<STOP_CTL>(b, pos)
            };
            let Some(&c) = b.get(pos) else {
                return Err(ErrorKind::UnterminatedHeaders.at(pos));
            };
            match c {
                b'\t' => pos += 1,
                b'\r' | b'\n' => match self.line_break(pos, line_start)? {
                    Break::Fold { next } => {
                        flags |= FOLDED;
                        line_start = next;
                        pos = next;
                    }
                    Break::End { next } => {
                        if let Some(at) = ctl_at {
                            if !quoted_controls_ok(&b[value_start..pos]) {
                                return Err(ErrorKind::ControlInValue.at(at));
                            }
                        }
                        let end = trim_end(b, value_start, pos);
                        push(ix, max_headers, id, value_start, end, flags | LAST_ON_LINE)?;
                        return Ok(next);
                    }
                },
                b'"' => pos = self.quoted(pos, &mut line_start, &mut flags)?,
                b'<' => pos = self.angle(pos, &mut line_start, &mut flags)?,
                b',' => {
                    push(
                        ix,
                        max_headers,
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
                    // A control byte. Only a header with quoted strings in its
                    // grammar may hold one, as a quoted-pair: checked at the end.
                    if mode != Mode::Quoted {
                        return Err(ErrorKind::ControlInValue.at(pos));
                    }
                    ctl_at.get_or_insert(pos);
                    pos += 1;
                }
            }
        }
    }

    /// Scans a quoted string from the `"` at `open`; returns the offset after
    /// the closing quote. A fold inside is LWS; a line break that is not a
    /// fold means the quote never closed. Any byte but CR/LF may be escaped.
    fn quoted(&self, open: usize, line_start: &mut usize, flags: &mut u8) -> Result<usize> {
        let b = self.b;
        let mut pos = open + 1;
        loop {
            pos = find::<STOP_QUOTED>(b, pos);
            match b.get(pos) {
                None => return Err(ErrorKind::UnterminatedQuote.at(open)),
                Some(b'"') => return Ok(pos + 1),
                Some(b'\\') => match b.get(pos + 1) {
                    None | Some(b'\r') | Some(b'\n') => {
                        return Err(ErrorKind::UnterminatedQuote.at(open));
                    }
                    Some(_) => pos += 2,
                },
                Some(b'\t') => pos += 1,
                Some(b'\r') | Some(b'\n') => match self.line_break(pos, *line_start)? {
                    Break::Fold { next } => {
                        *flags |= FOLDED;
                        *line_start = next;
                        pos = next;
                    }
                    Break::End { .. } => return Err(ErrorKind::UnterminatedQuote.at(open)),
                },
                Some(_) => return Err(ErrorKind::ControlInValue.at(pos)),
            }
        }
    }

    /// Scans `<...>` from `open`; returns the offset after `>`.
    fn angle(&self, open: usize, line_start: &mut usize, flags: &mut u8) -> Result<usize> {
        let b = self.b;
        let mut pos = open + 1;
        loop {
            pos = find::<STOP_ANGLE>(b, pos);
            match b.get(pos) {
                None => return Err(ErrorKind::UnterminatedAngle.at(open)),
                Some(b'>') => return Ok(pos + 1),
                Some(b'\t') => pos += 1,
                Some(b'\r') | Some(b'\n') => match self.line_break(pos, *line_start)? {
                    Break::Fold { next } => {
                        *flags |= FOLDED;
                        *line_start = next;
                        pos = next;
                    }
                    Break::End { .. } => return Err(ErrorKind::UnterminatedAngle.at(open)),
                },
                Some(_) => return Err(ErrorKind::ControlInValue.at(pos)),
            }
        }
    }
}

#[inline]
fn push(
    ix: &mut Index,
    max_headers: usize,
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
        .at(start));
    }
    let Ok(value_len) = u16::try_from(end - start) else {
        return Err(ErrorKind::LineTooLong {
            limit: u16::MAX as u32,
        }
        .at(start));
    };
    ix.entries[n] = Entry {
        value_start: start as u32,
        value_len,
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
    if let Some(i) = memchr(b' ', uri).or_else(|| first_ctl(uri)) {
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
    if v == b"SIP/2.0" {
        return Ok(());
    }
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
    let mut ats = 0;
    for &c in v {
        if c == b'@' {
            ats += 1;
        } else if !chars::WORD[c as usize] {
            return false;
        }
    }
    ats <= 1 && v.first().is_some_and(|&c| c != b'@') && v.last().is_some_and(|&c| c != b'@')
}
