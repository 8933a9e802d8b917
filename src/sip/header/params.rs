//! Header parameters: `*( SEMI generic-param )` with
//! `generic-param = token [ EQUAL gen-value ]` and
//! `gen-value = token / host / quoted-string`.
//!
//! Parsed (and validated) once; kept as the raw span so iteration and
//! look-ups re-scan without allocating.

use super::Cursor;
use crate::sip::chars;
use crate::sip::error::Result;
use crate::sip::name::HeaderName;

/// The parameters of a header value, as written (starting at the first `;`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a [u8],
    name: Option<HeaderName>,
}

/// One parameter. `value` is as written: a quoted value keeps its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl<'a> Params<'a> {
    /// Parses parameters at the cursor, stopping before anything that is not
    /// `;param`.
    pub(crate) fn parse(c: &mut Cursor<'a>) -> Result<Params<'a>> {
        Self::parse_visit(c, |_| {})
    }

    /// Parses parameters and shows each to `visit` on the way, so a typed
    /// view picks out `tag` or `branch` in the same pass.
    #[inline]
    pub(crate) fn parse_visit(
        c: &mut Cursor<'a>,
        mut visit: impl FnMut(&Param<'a>),
    ) -> Result<Params<'a>> {
        let start = c.pos;
        let mut end = c.pos;
        while c.sep(b';') {
            visit(&next_param(c)?);
            end = c.pos;
        }
        c.pos = end;
        Ok(Params {
            raw: &c.s[start..end],
            name: Some(c.name),
        })
    }

    /// The parameters as written.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Param<'a>> + 'a {
        let mut c = Cursor::new(self.raw, self.name.unwrap_or(HeaderName::Other));
        std::iter::from_fn(move || {
            if c.sep(b';') {
                next_param(&mut c).ok()
            } else {
                None
            }
        })
    }

    /// `Some(value)` when the parameter is present (names compare ignoring
    /// case); the inner `None` is a parameter without `=value`.
    pub fn get(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|p| p.value)
    }
}

fn next_param<'a>(c: &mut Cursor<'a>) -> Result<Param<'a>> {
    let name = c.token()?;
    let value = if c.sep(b'=') {
        let start = c.pos;
        match c.peek() {
            Some(b'"') => {
                c.quoted()?;
            }
            // host = IPv6reference
            Some(b'[') => {
                c.pos += 1;
                c.take(&chars::IPV6);
                if !c.eat(b']') {
                    return Err(c.err());
                }
            }
            // RFC 5118 §4.5: `received` may hold a bare IPv6 address, the one
            // place a ':' stands unbracketed in a parameter value.
            _ if name.eq_ignore_ascii_case(b"received") => {
                c.take(&chars::GEN_VALUE);
            }
            _ => {
                c.take(&chars::TOKEN);
            }
        }
        if c.pos == start {
            return Err(c.err());
        }
        Some(&c.s[start..c.pos])
    } else {
        None
    };
    Ok(Param { name, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Result<Vec<(String, Option<String>)>> {
        let mut c = Cursor::new(s.as_bytes(), HeaderName::Other);
        let p = Params::parse(&mut c)?;
        c.end()?;
        Ok(p.iter()
            .map(|p| {
                (
                    String::from_utf8_lossy(p.name).into_owned(),
                    p.value.map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect())
    }

    #[test]
    fn table() {
        type Row = (
            &'static str,
            &'static [(&'static str, Option<&'static str>)],
        );
        let ok: &[Row] = &[
            ("", &[]),
            (";tag=abc", &[("tag", Some("abc"))]),
            (" ;   tag    = 1918181833n", &[("tag", Some("1918181833n"))]),
            (";lr;ftag=x", &[("lr", None), ("ftag", Some("x"))]),
            (";text=\"a;b\"", &[("text", Some("\"a;b\""))]),
            (
                ";received=2001:db8::9:255",
                &[("received", Some("2001:db8::9:255"))],
            ),
            (
                ";received=[2001:db8::9:255]",
                &[("received", Some("[2001:db8::9:255]"))],
            ),
            ("\r\n  ;\r\n  tag = 98asjd8", &[("tag", Some("98asjd8"))]),
        ];
        for (input, want) in ok {
            let got = params(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            let want: Vec<_> = want
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect();
            assert_eq!(got, want, "{input:?}");
        }
        for bad in [
            ";",
            ";;",
            ";tag=",
            ";=x",
            ";a b",
            ";a=\"open",
            ";branch=z9hG4bKa:b",
            ";maddr=[2001:db8::1",
            ";x=[::1]junk",
        ] {
            assert!(params(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn get_ignores_case() {
        let mut c = Cursor::new(b";Branch=z9hG4bK1;rport", HeaderName::Via);
        let p = Params::parse(&mut c).unwrap();
        assert_eq!(p.get("branch"), Some(Some(&b"z9hG4bK1"[..])));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.get("maddr"), None);
    }
}
