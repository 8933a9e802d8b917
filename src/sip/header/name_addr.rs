//! `name-addr / addr-spec` with header parameters: From, To, Contact, Route,
//! Record-Route, Path, Reply-To, Refer-To, P-Asserted-Identity...
//!
//! `[display-name] <URI> *(;param)` or `URI *(;param)`. In the second form
//! the URI ends at the first `;` (those are header parameters, RFC 3261
//! §20.10) and may not carry `?headers` (RFC 4475 §3.1.2.13).

use memchr::memchr;

use super::{Cursor, Params, Uri, unquote};
use crate::sip::chars;
use crate::sip::error::{ErrorKind, Result};
use crate::sip::name::HeaderName;

/// A parsed `name-addr` or `addr-spec` with its parameters.
#[derive(Debug, Clone, Copy)]
pub struct NameAddr<'a> {
    /// The display name as written: a quoted string keeps its quotes; a run
    /// of tokens is kept with its inner spaces.
    pub display_name: Option<&'a [u8]>,
    pub uri: Uri<'a>,
    /// Whether the URI was written inside `<>`.
    pub bracketed: bool,
    pub params: Params<'a>,
    /// The `tag` parameter (From/To), picked out while parsing.
    tag: Option<&'a [u8]>,
}

impl<'a> NameAddr<'a> {
    /// Parses one value of the header `name` (used in error reports).
    pub fn parse(v: &'a [u8], name: HeaderName) -> Result<NameAddr<'a>> {
        let mut c = Cursor::new(v, name);
        let na = Self::parse_at(&mut c)?;
        c.end()?;
        Ok(na)
    }

    /// Parses at the cursor and leaves it after the parameters.
    pub(crate) fn parse_at(c: &mut Cursor<'a>) -> Result<NameAddr<'a>> {
        c.lws();
        let start = c.pos;
        let mut display_name = None;
        let bracketed;
        if c.peek() == Some(b'"') {
            display_name = Some(c.quoted()?);
            c.lws();
            if c.peek() != Some(b'<') {
                return Err(c.err());
            }
            bracketed = true;
        } else {
            // `*(token LWS) <` — or no display name and an addr-spec. A token
            // run directly followed by '<' is accepted (RFC 4475 §3.1.1.6).
            let mut last = c.pos;
            loop {
                if c.take(&chars::TOKEN).is_empty() {
                    break;
                }
                last = c.pos;
                c.lws();
            }
            if c.peek() == Some(b'<') {
                if last > start {
                    display_name = Some(&c.s[start..last]);
                }
                bracketed = true;
            } else {
                c.pos = start;
                bracketed = false;
            }
        }
        let uri = if bracketed {
            c.pos += 1; // '<'
            let close = memchr(b'>', c.rest()).ok_or(ErrorKind::UnterminatedAngle.at(c.pos - 1))?;
            let text = &c.s[c.pos..c.pos + close];
            let uri = Uri::parse(text).map_err(|e| shift_uri(e, c.pos))?;
            c.pos += close + 1;
            uri
        } else {
            let end = c
                .rest()
                .iter()
                .position(|&b| matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n' | b','))
                .unwrap_or(c.rest().len());
            let text = &c.s[c.pos..c.pos + end];
            let uri = Uri::parse(text).map_err(|e| shift_uri(e, c.pos))?;
            if uri.has_headers() {
                return Err(c.err());
            }
            c.pos += end;
            uri
        };
        let (mut tag, mut tags) = (None, 0);
        let params = Params::parse_visit(c, |p| {
            if p.name.eq_ignore_ascii_case(b"tag") {
                tag = p.value;
                tags += 1;
            }
        })?;
        // Two tags would name two dialogs: ambiguous, refused.
        if tags > 1 {
            return Err(c.err());
        }
        Ok(NameAddr {
            display_name,
            uri,
            bracketed,
            params,
            tag,
        })
    }

    /// The `tag` parameter (From/To).
    #[inline]
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.tag
    }

    /// The display name as text: quotes removed, quoted-pairs resolved.
    pub fn display_name_text(&self) -> Option<String> {
        self.display_name.map(|d| unquote(d).into_owned())
    }
}

fn shift_uri(mut e: crate::sip::ParseError, by: usize) -> crate::sip::ParseError {
    e.offset += by;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn na(s: &str) -> Result<NameAddr<'_>> {
        NameAddr::parse(s.as_bytes(), HeaderName::From)
    }

    #[test]
    fn forms() {
        // (input, display name as written, uri, tag, bracketed)
        type Row = (
            &'static str,
            Option<&'static str>,
            &'static str,
            Option<&'static str>,
            bool,
        );
        let cases: &[Row] = &[
            (
                "<sip:alice@example.com>;tag=1928301774",
                None,
                "sip:alice@example.com",
                Some("1928301774"),
                true,
            ),
            (
                "\"Alice\" <sip:alice@example.com>;tag=a",
                Some("\"Alice\""),
                "sip:alice@example.com",
                Some("a"),
                true,
            ),
            (
                "Bob Smith <sip:bob@example.com>",
                Some("Bob Smith"),
                "sip:bob@example.com",
                None,
                true,
            ),
            (
                "caller<sip:caller@example.com>;tag=323",
                Some("caller"),
                "sip:caller@example.com",
                Some("323"),
                true,
            ),
            (
                "sip:caller@example.net;tag=2923420123",
                None,
                "sip:caller@example.net",
                Some("2923420123"),
                false,
            ),
            (
                "sip:+19725552222@gw1.example.net;unknownparam",
                None,
                "sip:+19725552222@gw1.example.net",
                None,
                false,
            ),
            (
                "<sip:+19725552222@gw1.example.net;unknownparam>",
                None,
                "sip:+19725552222@gw1.example.net;unknownparam",
                None,
                true,
            ),
            (
                "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
                Some("\"J Rosenberg \\\\\\\"\""),
                "sip:jdrosen@example.com",
                Some("98asjd8"),
                true,
            ),
            (
                "\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
                None,
                "sip:vivekg@chair-dnrc.example.com",
                Some("1918181833n"),
                false,
            ),
            (
                "<tel:+1-201-555-0123>",
                None,
                "tel:+1-201-555-0123",
                None,
                true,
            ),
            ("<isbn:2983792873>", None, "isbn:2983792873", None, true),
            (
                "\"\u{41f}\u{435}\u{442}\u{44f}\" <sip:p@example.com>",
                Some("\"\u{41f}\u{435}\u{442}\u{44f}\""),
                "sip:p@example.com",
                None,
                true,
            ),
            (
                "\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:u@example.com>",
                Some("\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\""),
                "sip:u@example.com",
                None,
                true,
            ),
            (
                "<sip:[2001:db8::10]:5070>",
                None,
                "sip:[2001:db8::10]:5070",
                None,
                true,
            ),
        ];
        for (input, display, uri, tag, bracketed) in cases {
            let n = na(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(
                n.display_name.map(|d| std::str::from_utf8(d).unwrap()),
                *display,
                "{input:?}"
            );
            assert_eq!(n.uri.raw, uri.as_bytes(), "{input:?}");
            assert_eq!(
                n.tag().map(|t| std::str::from_utf8(t).unwrap()),
                *tag,
                "{input:?}"
            );
            assert_eq!(n.bracketed, *bracketed, "{input:?}");
        }
    }

    #[test]
    fn display_name_text() {
        assert_eq!(
            na("\"J Rosenberg \\\\\\\"\" <sip:j@example.com>")
                .unwrap()
                .display_name_text()
                .unwrap(),
            "J Rosenberg \\\""
        );
        assert_eq!(
            na("\"Quoted string \\\"\\\"\" <sip:j@example.com>")
                .unwrap()
                .display_name_text()
                .unwrap(),
            "Quoted string \"\""
        );
    }

    #[test]
    fn refusals() {
        let bad: &[(&str, ErrorKind)] = &[
            (
                "\"Mr. J. User <sip:j.user@example.com>",
                ErrorKind::UnterminatedQuote,
            ),
            (
                "\"Watson, Thomas\" < sip:t.watson@example.org >",
                ErrorKind::BadUri,
            ),
            (
                "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
                ErrorKind::BadUri,
            ),
            (
                "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
                ErrorKind::BadHeaderValue(HeaderName::From),
            ),
            ("<sip:user@example.com", ErrorKind::UnterminatedAngle),
            (
                "<sip:user@example.com>;;",
                ErrorKind::BadHeaderValue(HeaderName::From),
            ),
            (
                "<sip:user@example.com> junk",
                ErrorKind::BadHeaderValue(HeaderName::From),
            ),
            (
                "<sip:user@example.com>;tag=a;tag=b",
                ErrorKind::BadHeaderValue(HeaderName::From),
            ),
            ("", ErrorKind::BadUri),
        ];
        for (s, kind) in bad {
            let e = na(s).err().unwrap_or_else(|| panic!("{s:?} parsed"));
            assert_eq!(e.kind, *kind, "{s:?}");
        }
    }
}
