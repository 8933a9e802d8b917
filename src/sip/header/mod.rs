//! Typed views of header values, parsed on demand from the spans the index
//! pass recorded. One header (or family) per file, each with its own tests.
//!
//! Views borrow from the message and keep text as written: escapes in URIs
//! are never decoded here (decoding twice is a classic bug, RFC 4475
//! §3.1.1.3), quoted strings keep their quotes (see [`unquote`]).
//!
//! Values may contain line folds; the [`Cursor`] treats CRLF + WSP as LWS.

mod contact;
mod content_type;
pub(crate) mod cseq;
mod name_addr;
mod option_tags;
mod params;
mod reason;
mod session_expires;
pub(crate) mod uri;
mod via;

pub use contact::Contact;
pub use content_type::ContentType;
pub use cseq::CSeq;
pub use name_addr::NameAddr;
pub use option_tags::{OptionTags, option_tag};
pub use params::{Param, Params};
pub use reason::Reason;
pub use session_expires::{Refresher, SessionExpires, min_se};
pub use uri::{Host, Scheme, Uri};
pub use via::{Transport, Via};

use std::borrow::Cow;

use super::chars;
use super::error::{ErrorKind, ParseError, Result};
use super::name::HeaderName;
use super::parse::decimal;

/// A position in one header value, with the header's name for errors.
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    pub s: &'a [u8],
    pub pos: usize,
    pub name: HeaderName,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a [u8], name: HeaderName) -> Self {
        Cursor { s, pos: 0, name }
    }

    pub fn err(&self) -> ParseError {
        ErrorKind::BadHeaderValue(self.name).at(self.pos)
    }

    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    #[inline]
    pub fn eof(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Skips linear whitespace (SP, HT, and folds — the index pass has
    /// already checked that every CR/LF in a value belongs to a fold).
    #[inline]
    pub fn lws(&mut self) -> bool {
        let start = self.pos;
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.pos += 1;
        }
        self.pos > start
    }

    #[inline]
    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `SWS c SWS`: consumes the separator with whitespace around it, or
    /// nothing.
    #[inline]
    pub fn sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.lws();
        if self.eat(c) {
            self.lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    #[inline]
    pub fn take(&mut self, class: &[bool; 256]) -> &'a [u8] {
        let start = self.pos;
        while self.pos < self.s.len() && class[self.s[self.pos] as usize] {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// One or more token characters.
    #[inline]
    pub fn token(&mut self) -> Result<&'a [u8]> {
        let t = self.take(&chars::TOKEN);
        if t.is_empty() { Err(self.err()) } else { Ok(t) }
    }

    /// A quoted string starting at the cursor; returned with its quotes.
    pub fn quoted(&mut self) -> Result<&'a [u8]> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err(self.err());
        }
        loop {
            match self.peek() {
                None => return Err(ErrorKind::UnterminatedQuote.at(start)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(&self.s[start..self.pos]);
                }
                Some(b'\\') => {
                    if self.pos + 1 >= self.s.len() {
                        return Err(ErrorKind::UnterminatedQuote.at(start));
                    }
                    self.pos += 2;
                }
                Some(c) if chars::is_ctl(c) && c != b'\r' && c != b'\n' => return Err(self.err()),
                Some(_) => self.pos += 1,
            }
        }
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.s[self.pos..]
    }

    /// Fails unless only whitespace is left.
    pub fn end(&mut self) -> Result<()> {
        self.lws();
        if self.eof() { Ok(()) } else { Err(self.err()) }
    }
}

/// The text of a quoted string: quotes removed, quoted-pairs resolved, folds
/// turned into one space. Text that is not quoted is returned as is.
pub fn unquote(raw: &[u8]) -> Cow<'_, str> {
    let inner = match raw {
        [b'"', inner @ .., b'"'] => inner,
        _ => return String::from_utf8_lossy(raw),
    };
    if !inner
        .iter()
        .any(|&c| c == b'\\' || c == b'\r' || c == b'\n')
    {
        return String::from_utf8_lossy(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' if i + 1 < inner.len() => {
                out.push(inner[i + 1]);
                i += 2;
            }
            b'\r' | b'\n' => {
                while i < inner.len() && matches!(inner[i], b'\r' | b'\n' | b' ' | b'\t') {
                    i += 1;
                }
                out.push(b' ');
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A header value with line folds replaced by a single space (RFC 3261
/// §7.3.1: a fold is equivalent to one SP).
pub fn unfold(v: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'\r', b'\n', v).is_none() {
        return Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if matches!(v[i], b'\r' | b'\n') {
            while out.last().is_some_and(|&c| c == b' ' || c == b'\t') {
                out.pop();
            }
            while i < v.len() && matches!(v[i], b'\r' | b'\n' | b' ' | b'\t') {
                i += 1;
            }
            out.push(b' ');
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// `delta-seconds = 1*DIGIT`, at most 2^32-1 (Expires, Min-Expires, ...).
pub fn delta_seconds(v: &[u8], name: HeaderName) -> Result<u32> {
    let mut c = Cursor::new(v, name);
    c.lws();
    let digits = c.take(&DIGIT);
    let n = decimal(digits)
        .filter(|&n| n <= u32::MAX as u64)
        .ok_or(c.err())?;
    c.end()?;
    Ok(n as u32)
}

/// A Date header must be an RFC 1123 date in GMT (RFC 3261 §20.17); RFC 4475
/// §3.1.2.12 is the counter-example.
pub fn date(v: &[u8]) -> Result<()> {
    let bad = ErrorKind::BadHeaderValue(HeaderName::Date);
    let v = unfold(v);
    let s = std::str::from_utf8(&v).map_err(|_| bad.at(0))?;
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    // Sat, 13 Nov 2010 23:29:00 GMT
    let ok = parts.len() == 6
        && parts[0].len() == 4
        && parts[0].ends_with(',')
        && parts[1].len() == 2
        && parts[2].len() == 3
        && parts[3].len() == 4
        && parts[4].len() == 8
        && parts[5] == "GMT";
    if ok { Ok(()) } else { Err(bad.at(0)) }
}

pub(crate) static DIGIT: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_resolves_pairs_and_folds() {
        assert_eq!(unquote(br#""J Rosenberg \\\"""#), "J Rosenberg \\\"");
        assert_eq!(unquote(b"\"a\r\n  b\""), "a b");
        assert_eq!(unquote(b"plain"), "plain");
        assert_eq!(unquote("\"\u{e9}t\u{e9}\"".as_bytes()), "\u{e9}t\u{e9}");
    }

    #[test]
    fn unfold_turns_folds_into_one_space() {
        assert_eq!(
            &*unfold(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2"),
            b"SIP  /   2.0 /UDP 192.0.2.2"
        );
        assert_eq!(&*unfold(b"no fold"), b"no fold");
    }

    #[test]
    fn delta_seconds_table() {
        let cases: &[(&[u8], Option<u32>)] = &[
            (b"0", Some(0)),
            (b"3600", Some(3600)),
            (b"  0068 ", Some(68)),
            (b"4294967295", Some(u32::MAX)),
            (b"4294967296", None),
            (b"10000000000000000000000000000000000000000", None),
            (b"-1", None),
            (b"", None),
            (b"12 34", None),
        ];
        for (v, want) in cases {
            assert_eq!(
                delta_seconds(v, HeaderName::Expires).ok(),
                *want,
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
    }

    #[test]
    fn date_must_be_gmt() {
        assert!(date(b"Sat, 13 Nov 2010 23:29:00 GMT").is_ok());
        assert!(date(b"Fri, 01 Jan 2010 16:00:00 EST").is_err());
        assert!(date(b"yesterday").is_err());
    }
}
