//! Contact (RFC 3261 §20.10, RFC 5626 outbound): `*` or a name-addr /
//! addr-spec with contact parameters: `expires`, `q`, `+sip.instance`,
//! `reg-id`, and extensions.

use super::{Cursor, NameAddr, unquote};
use crate::sip::error::{ErrorKind, Result};
use crate::sip::name::HeaderName;

/// One Contact value.
#[derive(Debug, Clone, Copy)]
pub enum Contact<'a> {
    /// `Contact: *` (REGISTER removing every binding).
    Star,
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    pub fn parse(v: &'a [u8]) -> Result<Contact<'a>> {
        let mut c = Cursor::new(v, HeaderName::Contact);
        c.lws();
        if c.eat(b'*') {
            c.end()?;
            return Ok(Contact::Star);
        }
        c.pos = 0;
        let na = NameAddr::parse_at(&mut c)?;
        c.end()?;
        let contact = Contact::Addr(na);
        // Validate the parameters whose values have a grammar.
        let bad = |c: &Cursor<'_>| ErrorKind::BadHeaderValue(HeaderName::Contact).at(c.pos);
        if let Some(Err(())) = contact.expires_checked() {
            return Err(bad(&c));
        }
        if let Some(q) = na.params.get("q") {
            if !q.is_some_and(qvalue_ok) {
                return Err(bad(&c));
            }
        }
        if let Some(r) = na.params.get("reg-id") {
            if r.and_then(crate::sip::parse::decimal)
                .is_none_or(|n| n == 0 || n > u32::MAX as u64)
            {
                return Err(bad(&c));
            }
        }
        Ok(contact)
    }

    pub fn name_addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(na) => Some(na),
        }
    }

    fn expires_checked(&self) -> Option<Result<u32, ()>> {
        let v = self.name_addr()?.params.get("expires")?;
        Some(
            v.and_then(crate::sip::parse::decimal)
                .filter(|&n| n <= u32::MAX as u64)
                .map(|n| n as u32)
                .ok_or(()),
        )
    }

    /// The `expires` contact parameter, in seconds.
    pub fn expires(&self) -> Option<u32> {
        self.expires_checked().and_then(Result::ok)
    }

    /// The `q` parameter as written (e.g. `0.33`).
    pub fn q(&self) -> Option<&'a [u8]> {
        self.name_addr()?.params.get("q").flatten()
    }

    /// `+sip.instance` without its quotes and angle brackets
    /// (`urn:uuid:...`), as RFC 5626 §4.1 writes it.
    pub fn instance(&self) -> Option<String> {
        let raw = self.name_addr()?.params.get("+sip.instance").flatten()?;
        let text = unquote(raw);
        let t = text.trim();
        Some(
            t.strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
                .unwrap_or(t)
                .to_string(),
        )
    }

    /// `reg-id` (RFC 5626).
    pub fn reg_id(&self) -> Option<u32> {
        self.name_addr()?
            .params
            .get("reg-id")
            .flatten()
            .and_then(crate::sip::parse::decimal)
            .map(|n| n as u32)
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
fn qvalue_ok(q: &[u8]) -> bool {
    match q {
        [b'0'] | [b'1'] => true,
        [b'0', b'.', rest @ ..] => rest.len() <= 3 && rest.iter().all(u8::is_ascii_digit),
        [b'1', b'.', rest @ ..] => rest.len() <= 3 && rest.iter().all(|&c| c == b'0'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_params() {
        assert!(matches!(Contact::parse(b"*").unwrap(), Contact::Star));
        assert!(matches!(Contact::parse(b"  * ").unwrap(), Contact::Star));
        let c = Contact::parse(
            b"<sip:1001@192.0.2.20:5062;transport=tcp;ob>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1;expires=600;q=0.5",
        )
        .unwrap();
        assert_eq!(c.expires(), Some(600));
        assert_eq!(c.q(), Some(&b"0.5"[..]));
        assert_eq!(
            c.instance().as_deref(),
            Some("urn:uuid:00000000-0000-1000-8000-000A95A0E128")
        );
        assert_eq!(c.reg_id(), Some(1));
        assert_eq!(c.name_addr().unwrap().uri.param("ob"), Some(None));
        let wsinv = Contact::parse(b"\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33").unwrap();
        assert_eq!(wsinv.q(), Some(&b"0.33"[..]));
        assert_eq!(
            wsinv.name_addr().unwrap().params.get("newparam"),
            Some(Some(&b"newvalue"[..]))
        );
        assert_eq!(
            Contact::parse(b"sip:+19725552222@gw1.example.net;unknownparam")
                .unwrap()
                .name_addr()
                .unwrap()
                .params
                .get("unknownparam"),
            Some(None)
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "<sip:user@host129.example.com>\r\n  ;expires=280297596632815",
            "<sip:u@h>;q=2",
            "<sip:u@h>;q=0.1234",
            "<sip:u@h>;expires=soon",
            "<sip:u@h>;reg-id=0",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "* <sip:u@h>",
        ] {
            assert!(Contact::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        // Escaped headers inside <> are fine (RFC 4475 §3.3.14).
        assert!(Contact::parse(b"<sip:user@example.com?Route=%3Csip:sip.example.com%3E>").is_ok());
    }
}
