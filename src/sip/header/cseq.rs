//! CSeq (RFC 3261 §20.16): `1*DIGIT LWS Method`, the number below 2^32.
//! The index pass validates it (and that the method matches the request's);
//! this view hands out the parts.

use super::Cursor;
use crate::sip::error::Result;
use crate::sip::method::Method;
use crate::sip::name::HeaderName;

/// The CSeq of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    /// The method as written.
    pub method_bytes: &'a [u8],
}

impl<'a> CSeq<'a> {
    #[inline]
    pub fn method(&self) -> Method {
        Method::from_bytes(self.method_bytes)
    }

    /// Parses a CSeq value on its own (the message accessor does not need
    /// this; it reads what the index pass stored).
    pub fn parse(v: &'a [u8]) -> Result<CSeq<'a>> {
        let (seq, method) = parts(v)?;
        Ok(CSeq {
            seq,
            method_bytes: &v[method],
        })
    }
}

/// The number and the method's range within `v`; shared with the index pass.
pub(crate) fn parts(v: &[u8]) -> Result<(u32, std::ops::Range<usize>)> {
    let mut c = Cursor::new(v, HeaderName::CSeq);
    c.lws();
    let digits = c.take(&super::DIGIT);
    let seq = crate::sip::parse::decimal(digits)
        .filter(|&n| n <= u32::MAX as u64)
        .ok_or(c.err())?;
    if !c.lws() {
        return Err(c.err());
    }
    let start = c.pos;
    c.token()?;
    let end = c.pos;
    c.end()?;
    Ok((seq as u32, start..end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok: &[(&str, u32, &str)] = &[
            ("1 INVITE", 1, "INVITE"),
            ("0009\r\n  INVITE", 9, "INVITE"),
            ("4294967295 BYE", u32::MAX, "BYE"),
            ("  314159   REGISTER  ", 314159, "REGISTER"),
            (
                "139122385 !interesting-Method0123456789_*+`.%indeed'~",
                139122385,
                "!interesting-Method0123456789_*+`.%indeed'~",
            ),
        ];
        for (input, seq, method) in ok {
            let c = CSeq::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(
                (c.seq, c.method_bytes),
                (*seq, method.as_bytes()),
                "{input:?}"
            );
        }
        for bad in [
            "",
            "INVITE",
            "1",
            "1INVITE",
            "-1 INVITE",
            "4294967296 INVITE",
            "36893488147419103232 REGISTER",
            "1 INVITE BYE",
            "1 INV ITE",
            "5 INVITE, 59 INVITE",
        ] {
            assert!(CSeq::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(CSeq::parse(b"2 ACK").unwrap().method(), Method::Ack);
    }
}
