//! Supported / Require / Proxy-Require / Unsupported: lists of option tags
//! (tokens). The index pass split the lists; this file checks each value is
//! a token and answers "is this tag there?".

use super::Cursor;
use crate::sip::error::Result;
use crate::sip::message::Message;
use crate::sip::name::HeaderName;

/// Checks one option-tag value (empty is allowed: `Supported:` with nothing).
pub fn option_tag(v: &[u8], name: HeaderName) -> Result<&[u8]> {
    let mut c = Cursor::new(v, name);
    c.lws();
    if c.eof() {
        return Ok(b"");
    }
    let t = c.token()?;
    c.end()?;
    Ok(t)
}

/// The option tags of one header across all its lines.
#[derive(Clone, Copy)]
pub struct OptionTags<'a> {
    msg: &'a Message,
    name: HeaderName,
}

impl<'a> OptionTags<'a> {
    pub(crate) fn new(msg: &'a Message, name: HeaderName) -> Self {
        OptionTags { msg, name }
    }

    /// Every non-empty tag; malformed values are skipped (see
    /// [`Message::validate_all`] to refuse them).
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let name = self.name;
        self.msg
            .get_all(name)
            .filter_map(move |h| option_tag(h.value, name).ok())
            .filter(|t| !t.is_empty())
    }

    /// Whether `tag` is listed (option tags compare case-insensitively).
    pub fn contains(&self, tag: &str) -> bool {
        self.iter().any(|t| t.eq_ignore_ascii_case(tag.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn tags_across_lines() {
        let m = crate::sip::parse(Bytes::from_static(
            b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nSupported: timer, replaces\r\nk: Path\r\nRequire: \r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        let s = m.option_tags(HeaderName::Supported);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![&b"timer"[..], b"replaces", b"Path"]
        );
        assert!(s.contains("path") && s.contains("TIMER") && !s.contains("100rel"));
        assert_eq!(m.option_tags(HeaderName::Require).iter().count(), 0);
        assert!(option_tag(b"a b", HeaderName::Require).is_err());
        assert!(option_tag(b"100rel", HeaderName::Require).is_ok());
    }
}
