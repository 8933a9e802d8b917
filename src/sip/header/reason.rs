//! Reason (RFC 3326): `protocol *(;reason-params)` with `cause=1*DIGIT` and
//! `text=quoted-string`, e.g. `Q.850;cause=16;text="Normal call clearing"`.

use super::{Cursor, Params, unquote};
use crate::sip::error::Result;
use crate::sip::name::HeaderName;
use crate::sip::parse::decimal;

#[derive(Debug, Clone, Copy)]
pub struct Reason<'a> {
    /// `SIP`, `Q.850` or another token, as written.
    pub protocol: &'a [u8],
    pub cause: Option<u32>,
    /// The `text` parameter as written (with quotes).
    pub text: Option<&'a [u8]>,
    pub params: Params<'a>,
}

impl<'a> Reason<'a> {
    pub fn parse(v: &'a [u8]) -> Result<Reason<'a>> {
        let mut c = Cursor::new(v, HeaderName::Reason);
        c.lws();
        let protocol = c.token()?;
        let params = Params::parse(&mut c)?;
        c.end()?;
        let cause = match params.get("cause") {
            None => None,
            Some(v) => Some(
                v.and_then(decimal)
                    .filter(|&n| n <= u32::MAX as u64)
                    .ok_or(c.err())? as u32,
            ),
        };
        Ok(Reason {
            protocol,
            cause,
            text: params.get("text").flatten(),
            params,
        })
    }

    /// The text without quotes.
    pub fn text_str(&self) -> Option<String> {
        self.text.map(|t| unquote(t).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let r = Reason::parse(b"Q.850;cause=16;text=\"Normal call clearing\"").unwrap();
        assert_eq!((r.protocol, r.cause), (&b"Q.850"[..], Some(16)));
        assert_eq!(r.text_str().as_deref(), Some("Normal call clearing"));
        let r = Reason::parse(b"SIP ;cause=200 ;text=\"Call completed elsewhere\"").unwrap();
        assert_eq!((r.protocol, r.cause), (&b"SIP"[..], Some(200)));
        let r = Reason::parse(b"SIP;text=\"x\"").unwrap();
        assert_eq!(r.cause, None);
        for bad in [
            "",
            ";cause=1",
            "SIP;cause=abc",
            "SIP;cause=",
            "SIP;text=\"open",
        ] {
            assert!(Reason::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
