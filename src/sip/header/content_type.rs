//! Content-Type (RFC 3261 §20.15): `m-type "/" m-subtype *(;m-parameter)`.

use super::{Cursor, Params};
use crate::sip::error::Result;
use crate::sip::name::HeaderName;

#[derive(Debug, Clone, Copy)]
pub struct ContentType<'a> {
    pub mtype: &'a [u8],
    pub subtype: &'a [u8],
    pub params: Params<'a>,
}

impl<'a> ContentType<'a> {
    pub fn parse(v: &'a [u8]) -> Result<ContentType<'a>> {
        let mut c = Cursor::new(v, HeaderName::ContentType);
        c.lws();
        let mtype = c.token()?;
        if !c.sep(b'/') {
            return Err(c.err());
        }
        let subtype = c.token()?;
        let params = Params::parse(&mut c)?;
        c.end()?;
        Ok(ContentType {
            mtype,
            subtype,
            params,
        })
    }

    /// Case-insensitive comparison with `type/subtype`.
    pub fn is(&self, mtype: &[u8], subtype: &[u8]) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ct = ContentType::parse(b"application/sdp").unwrap();
        assert!(ct.is(b"application", b"SDP"));
        let ct = ContentType::parse(b"multipart/signed;protocol=\"application/pkcs7-signature\";micalg=sha1;boundary=boundary42").unwrap();
        assert!(ct.is(b"multipart", b"signed"));
        assert_eq!(ct.params.get("micalg"), Some(Some(&b"sha1"[..])));
        assert!(
            ContentType::parse(b" text / plain ; charset=utf-8")
                .unwrap()
                .is(b"text", b"plain")
        );
        for bad in [
            "",
            "application",
            "application/",
            "/sdp",
            "application/sdp;",
            "application sdp",
        ] {
            assert!(ContentType::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
