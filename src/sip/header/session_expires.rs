//! Session-Expires and Min-SE (RFC 4028): `delta-seconds *(;se-params)`,
//! `refresher = uac / uas`.

use super::{Cursor, DIGIT, Params};
use crate::sip::error::Result;
use crate::sip::name::HeaderName;
use crate::sip::parse::decimal;

/// Who refreshes the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionExpires<'a> {
    pub seconds: u32,
    pub refresher: Option<Refresher>,
    pub params: Params<'a>,
}

fn seconds_then_params<'a>(v: &'a [u8], name: HeaderName) -> Result<(u32, Params<'a>)> {
    let mut c = Cursor::new(v, name);
    c.lws();
    let d = c.take(&DIGIT);
    let n = decimal(d)
        .filter(|&n| n <= u32::MAX as u64)
        .ok_or(c.err())?;
    let params = Params::parse(&mut c)?;
    c.end()?;
    Ok((n as u32, params))
}

impl<'a> SessionExpires<'a> {
    pub fn parse(v: &'a [u8]) -> Result<SessionExpires<'a>> {
        let (seconds, params) = seconds_then_params(v, HeaderName::SessionExpires)?;
        let refresher = match params.get("refresher") {
            None => None,
            Some(Some(r)) if r.eq_ignore_ascii_case(b"uac") => Some(Refresher::Uac),
            Some(Some(r)) if r.eq_ignore_ascii_case(b"uas") => Some(Refresher::Uas),
            Some(_) => {
                return Err(
                    crate::sip::ErrorKind::BadHeaderValue(HeaderName::SessionExpires).at(0),
                );
            }
        };
        Ok(SessionExpires {
            seconds,
            refresher,
            params,
        })
    }
}

/// Min-SE in seconds.
pub fn min_se(v: &[u8]) -> Result<u32> {
    seconds_then_params(v, HeaderName::MinSe).map(|(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let se = SessionExpires::parse(b"1800;refresher=uac").unwrap();
        assert_eq!((se.seconds, se.refresher), (1800, Some(Refresher::Uac)));
        let se = SessionExpires::parse(b" 90 ; refresher = UAS").unwrap();
        assert_eq!((se.seconds, se.refresher), (90, Some(Refresher::Uas)));
        assert_eq!(SessionExpires::parse(b"4000").unwrap().refresher, None);
        assert_eq!(min_se(b"90").unwrap(), 90);
        assert_eq!(min_se(b"90;x=y").unwrap(), 90);
        for bad in [
            "",
            "abc",
            "1800;refresher=both",
            "-5",
            "99999999999",
            "1800;",
        ] {
            assert!(SessionExpires::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(min_se(b"").is_err());
    }
}
