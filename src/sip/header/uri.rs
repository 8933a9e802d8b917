//! URIs: SIP/SIPS (RFC 3261 §19.1), tel (RFC 3966), and any other scheme as
//! an opaque absoluteURI.
//!
//! Text is kept as written. `%HH` escapes are checked for form but never
//! decoded here: `value%25%34%31` stays that, so nothing is unescaped twice
//! (RFC 4475 §3.1.1.3), and `%00` never truncates a user (§3.1.1.4).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use memchr::memchr;

use crate::sip::chars::{self, check_escaped};
use crate::sip::error::{ErrorKind, ParseError, Result};

/// URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other scheme (the proxy answers 416 to such a Request-URI).
    Other,
}

/// A parsed URI, borrowing the text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: Scheme,
    /// The whole URI as written.
    pub raw: &'a [u8],
    /// SIP/SIPS: the user part (escapes as written). tel: the number.
    pub user: Option<&'a [u8]>,
    pub password: Option<&'a [u8]>,
    /// SIP/SIPS: the host as written; an IPv6 reference keeps its brackets.
    /// Empty for tel and other schemes.
    pub host: &'a [u8],
    pub port: Option<u16>,
    /// `;name[=value]` parameters as written, starting at the first `;`.
    pub params: &'a [u8],
    /// Header part after `?`, as written (without the `?`).
    pub headers: Option<&'a [u8]>,
}

/// What a host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    Ip(IpAddr),
    /// An IPv6 reference that RFC 3261's ABNF admits but RFC 4291 does not
    /// (e.g. three colons, RFC 5118 §4.10): kept, not resolvable.
    OddIpv6(&'a [u8]),
    Name(&'a [u8]),
}

fn bad(at: usize) -> ParseError {
    ErrorKind::BadUri.at(at)
}

impl<'a> Uri<'a> {
    pub fn parse(s: &'a [u8]) -> Result<Uri<'a>> {
        let colon = memchr(b':', s).ok_or(bad(0))?;
        let scheme_text = &s[..colon];
        if scheme_text.is_empty()
            || !scheme_text[0].is_ascii_alphabetic()
            || !scheme_text.iter().all(|&c| chars::SCHEME[c as usize])
        {
            return Err(bad(0));
        }
        let scheme = if scheme_text.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if scheme_text.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if scheme_text.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other
        };
        let rest = &s[colon + 1..];
        let base = colon + 1;
        let mut uri = Uri {
            scheme,
            raw: s,
            user: None,
            password: None,
            host: b"",
            port: None,
            params: b"",
            headers: None,
        };
        match scheme {
            Scheme::Sip | Scheme::Sips => sip(&mut uri, rest, base)?,
            Scheme::Tel => tel(&mut uri, rest, base)?,
            Scheme::Other => {
                if rest.is_empty() {
                    return Err(bad(base));
                }
                check_escaped(rest, &chars::ABS_URI).map_err(|i| escape_or_bad(rest, i, base))?;
            }
        }
        Ok(uri)
    }

    /// `true` when the URI carries `?headers`.
    pub fn has_headers(&self) -> bool {
        self.headers.is_some()
    }

    /// The host, classified.
    pub fn host_kind(&self) -> Host<'a> {
        host_kind(self.host)
    }

    /// A URI parameter (`;lr`, `;transport=tcp`), names ignoring case.
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        uri_params(self.params)
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Every URI parameter in order.
    pub fn params_iter(&self) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        uri_params(self.params)
    }

    /// The `user` part for SIP/SIPS or the number for tel, as written.
    pub fn user_str(&self) -> Option<&'a str> {
        self.user.and_then(|u| std::str::from_utf8(u).ok())
    }
}

impl fmt::Debug for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uri({:?})", String::from_utf8_lossy(self.raw))
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.raw))
    }
}

/// `true` when `h` is an IP literal equal to `ip`.
pub(crate) fn host_kind_is(h: &[u8], ip: IpAddr) -> bool {
    matches!(host_kind(h), Host::Ip(a) if a == ip)
}

pub(crate) fn host_kind(h: &[u8]) -> Host<'_> {
    if let [b'[', inner @ .., b']'] = h {
        return match std::str::from_utf8(inner)
            .ok()
            .and_then(|s| s.parse::<Ipv6Addr>().ok())
        {
            Some(a) => Host::Ip(IpAddr::V6(a)),
            None => Host::OddIpv6(h),
        };
    }
    if h.first().is_some_and(u8::is_ascii_digit) {
        if let Some(a) = std::str::from_utf8(h)
            .ok()
            .and_then(|s| s.parse::<Ipv4Addr>().ok())
        {
            return Host::Ip(IpAddr::V4(a));
        }
    }
    Host::Name(h)
}

fn escape_or_bad(s: &[u8], i: usize, base: usize) -> ParseError {
    if s[i] == b'%' {
        ErrorKind::BadEscape.at(base + i)
    } else {
        bad(base + i)
    }
}

/// `[userinfo "@"] hostport uri-parameters [headers]`
fn sip<'a>(uri: &mut Uri<'a>, s: &'a [u8], base: usize) -> Result<()> {
    // '@' is not allowed unescaped in host, params or headers, so the only
    // '@' is the one that closes userinfo.
    let mut pos = 0;
    if let Some(at) = memchr(b'@', s) {
        let userinfo = &s[..at];
        let (user, password) = match memchr(b':', userinfo) {
            Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
            None => (userinfo, None),
        };
        if user.is_empty() {
            return Err(bad(base));
        }
        check_escaped(user, &chars::USER).map_err(|i| escape_or_bad(user, i, base))?;
        if let Some(p) = password {
            check_escaped(p, &chars::PASSWORD)
                .map_err(|i| escape_or_bad(p, i, base + user.len() + 1))?;
        }
        uri.user = Some(user);
        uri.password = password;
        pos = at + 1;
    }
    let (host, port, after) = hostport(s, pos).map_err(|i| bad(base + i))?;
    uri.host = host;
    uri.port = port;
    pos = after;
    let params_start = pos;
    while s.get(pos) == Some(&b';') {
        pos += 1;
        let name_start = pos;
        while pos < s.len() && !matches!(s[pos], b'=' | b';' | b'?') {
            pos += 1;
        }
        let name = &s[name_start..pos];
        if name.is_empty() {
            return Err(bad(base + pos));
        }
        check_escaped(name, &chars::PARAMCHAR)
            .map_err(|i| escape_or_bad(name, i, base + name_start))?;
        if s.get(pos) == Some(&b'=') {
            pos += 1;
            let v_start = pos;
            while pos < s.len() && !matches!(s[pos], b';' | b'?') {
                pos += 1;
            }
            let v = &s[v_start..pos];
            check_escaped(v, &chars::PARAMCHAR).map_err(|i| escape_or_bad(v, i, base + v_start))?;
        }
    }
    uri.params = &s[params_start..pos];
    if s.get(pos) == Some(&b'?') {
        let h = &s[pos + 1..];
        for (k, part) in h.split(|&c| c == b'&').enumerate() {
            let off = base
                + pos
                + 1
                + h.split(|&c| c == b'&')
                    .take(k)
                    .map(|p| p.len() + 1)
                    .sum::<usize>();
            let eq = memchr(b'=', part).ok_or(bad(off))?;
            let (n, v) = (&part[..eq], &part[eq + 1..]);
            if n.is_empty() {
                return Err(bad(off));
            }
            check_escaped(n, &chars::HNVCHAR).map_err(|i| escape_or_bad(n, i, off))?;
            if !v.is_empty() {
                check_escaped(v, &chars::HNVCHAR).map_err(|i| escape_or_bad(v, i, off + eq + 1))?;
            }
        }
        uri.headers = Some(h);
        pos = s.len();
    }
    if pos != s.len() {
        return Err(bad(base + pos));
    }
    Ok(())
}

/// `host [":" port]` starting at `pos`; returns host, port and the offset
/// after them, or the offset of the fault.
pub(crate) fn hostport(s: &[u8], mut pos: usize) -> Result<(&[u8], Option<u16>, usize), usize> {
    let start = pos;
    if s.get(pos) == Some(&b'[') {
        let close = memchr(b']', &s[pos..]).ok_or(pos)? + pos;
        let inner = &s[pos + 1..close];
        if inner.is_empty()
            || !inner.iter().all(|&c| chars::IPV6[c as usize])
            || memchr(b':', inner).is_none()
        {
            return Err(pos);
        }
        pos = close + 1;
    } else {
        while pos < s.len() && chars::HOSTNAME[s[pos] as usize] {
            pos += 1;
        }
        if pos == start {
            return Err(pos);
        }
    }
    let host = &s[start..pos];
    let mut port = None;
    if s.get(pos) == Some(&b':') {
        pos += 1;
        let d = pos;
        while pos < s.len() && s[pos].is_ascii_digit() {
            pos += 1;
        }
        let n = crate::sip::parse::decimal(&s[d..pos])
            .filter(|&n| n <= 65535)
            .ok_or(d)?;
        port = Some(n as u16);
    }
    Ok((host, port, pos))
}

/// `tel:` telephone-subscriber: a global (`+...`) or local number followed by
/// parameters. Checked for its character set, not for numbering-plan sense.
fn tel<'a>(uri: &mut Uri<'a>, s: &'a [u8], base: usize) -> Result<()> {
    let end = memchr(b';', s).unwrap_or(s.len());
    let number = &s[..end];
    let digits = number.strip_prefix(b"+").unwrap_or(number);
    let ok = !digits.is_empty()
        && digits
            .iter()
            .any(|c| c.is_ascii_hexdigit() || *c == b'*' || *c == b'#')
        && digits
            .iter()
            .all(|&c| c.is_ascii_hexdigit() || b"*#-.()".contains(&c));
    if !ok {
        return Err(bad(base));
    }
    let params = &s[end..];
    for p in params.split(|&c| c == b';').skip(1) {
        if p.is_empty() {
            return Err(bad(base + end));
        }
        check_escaped(p, &TEL_PARAM).map_err(|i| escape_or_bad(p, i, base + end))?;
    }
    uri.user = Some(number);
    uri.params = params;
    Ok(())
}

static TEL_PARAM: [bool; 256] = {
    let mut t = chars::PARAMCHAR;
    t[b'=' as usize] = true;
    t
};

fn uri_params(p: &[u8]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    p.split(|&c| c == b';')
        .skip(1)
        .map(|kv| match memchr(b'=', kv) {
            Some(i) => (&kv[..i], Some(&kv[i + 1..])),
            None => (kv, None),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        input: &'static str,
        user: Option<&'static str>,
        host: &'static str,
        port: Option<u16>,
        params: &'static str,
        headers: Option<&'static str>,
    }

    #[test]
    fn sip_uris() {
        let cases = [
            Case {
                input: "sip:alice@example.com",
                user: Some("alice"),
                host: "example.com",
                port: None,
                params: "",
                headers: None,
            },
            Case {
                input: "sips:bob@192.0.2.4:5061;transport=tls",
                user: Some("bob"),
                host: "192.0.2.4",
                port: Some(5061),
                params: ";transport=tls",
                headers: None,
            },
            Case {
                input: "sip:[2001:db8::10]:5070",
                user: None,
                host: "[2001:db8::10]",
                port: Some(5070),
                params: "",
                headers: None,
            },
            Case {
                input: "sip:[2001:db8::10:5070]",
                user: None,
                host: "[2001:db8::10:5070]",
                port: None,
                params: "",
                headers: None,
            },
            Case {
                input: "sip:user;par=u%40example.net@example.com",
                user: Some("user;par=u%40example.net"),
                host: "example.com",
                port: None,
                params: "",
                headers: None,
            },
            Case {
                input: "sip:sips%3Auser%40example.com@example.net",
                user: Some("sips%3Auser%40example.com"),
                host: "example.net",
                port: None,
                params: "",
                headers: None,
            },
            Case {
                input: "sip:%61lice@example.com;value%25%34%31=1",
                user: Some("%61lice"),
                host: "example.com",
                port: None,
                params: ";value%25%34%31=1",
                headers: None,
            },
            Case {
                input: "sip:null-%00-null@example.com",
                user: Some("null-%00-null"),
                host: "example.com",
                port: None,
                params: "",
                headers: None,
            },
            Case {
                input: "sip:services.example.com;lr;unknownwith=value;unknown-no-value",
                user: None,
                host: "services.example.com",
                port: None,
                params: ";lr;unknownwith=value;unknown-no-value",
                headers: None,
            },
            Case {
                input: "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
                user: Some("user"),
                host: "example.com",
                port: None,
                params: "",
                headers: Some("Route=%3Csip:sip.example.com%3E"),
            },
            Case {
                input: "SIP:UPPER@EXAMPLE.COM",
                user: Some("UPPER"),
                host: "EXAMPLE.COM",
                port: None,
                params: "",
                headers: None,
            },
        ];
        for c in cases {
            let u = Uri::parse(c.input.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", c.input));
            assert!(
                matches!(u.scheme, Scheme::Sip | Scheme::Sips),
                "{}",
                c.input
            );
            assert_eq!(
                u.user.map(|u| std::str::from_utf8(u).unwrap()),
                c.user,
                "{}",
                c.input
            );
            assert_eq!(u.host, c.host.as_bytes(), "{}", c.input);
            assert_eq!(u.port, c.port, "{}", c.input);
            assert_eq!(u.params, c.params.as_bytes(), "{}", c.input);
            assert_eq!(
                u.headers.map(|h| std::str::from_utf8(h).unwrap()),
                c.headers,
                "{}",
                c.input
            );
        }
    }

    #[test]
    fn rfc4475_unusual_user_and_password() {
        let s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
        let u = Uri::parse(s.as_bytes()).unwrap();
        assert_eq!(
            u.user.unwrap(),
            b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
        );
        assert_eq!(
            u.password.unwrap(),
            b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
        );
        assert_eq!(u.host, b"example.com");
    }

    #[test]
    fn refusals() {
        let bad: &[(&str, ErrorKind)] = &[
            ("sip:2001:db8::10", ErrorKind::BadUri),
            ("sip:", ErrorKind::BadUri),
            ("sip:@example.com", ErrorKind::BadUri),
            ("sip:user@example.com; lr", ErrorKind::BadUri),
            ("sip:user@exa mple.com", ErrorKind::BadUri),
            ("sip:us%4ser@example.com", ErrorKind::BadEscape),
            ("sip:user@example.com;p=%", ErrorKind::BadEscape),
            ("sip:user@example.com;p=%4", ErrorKind::BadEscape),
            ("sip:user@example.com:99999", ErrorKind::BadUri),
            ("sip:user@[2001:db8::10", ErrorKind::BadUri),
            ("<sip:user@example.com>", ErrorKind::BadUri),
            ("tel:", ErrorKind::BadUri),
            ("nobody", ErrorKind::BadUri),
            ("sip:host;=x", ErrorKind::BadUri),
        ];
        for (s, kind) in bad {
            let e = Uri::parse(s.as_bytes())
                .err()
                .unwrap_or_else(|| panic!("{s} parsed"));
            assert_eq!(e.kind, *kind, "{s}");
        }
    }

    #[test]
    fn tel_and_other_schemes() {
        let u = Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(u.user.unwrap(), b"+1-201-555-0123");
        assert_eq!(u.param("phone-context"), Some(Some(&b"example.com"[..])));
        assert_eq!(
            Uri::parse(b"tel:7042;phone-context=example.com")
                .unwrap()
                .user
                .unwrap(),
            b"7042"
        );
        assert!(Uri::parse(b"tel:+").is_err());
        for s in [
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "soap.beep://192.0.2.103:3002",
            "isbn:2983792873",
            "http://www.example.com",
            "name:John_Smith",
            "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        ] {
            assert_eq!(
                Uri::parse(s.as_bytes()).unwrap().scheme,
                Scheme::Other,
                "{s}"
            );
        }
    }

    #[test]
    fn host_kinds() {
        fn k(s: &str) -> Host<'_> {
            Uri::parse(s.as_bytes()).unwrap().host_kind()
        }
        assert_eq!(k("sip:192.0.2.1"), Host::Ip("192.0.2.1".parse().unwrap()));
        assert_eq!(
            k("sip:[2001:db8::10]"),
            Host::Ip("2001:db8::10".parse().unwrap())
        );
        assert_eq!(
            k("sip:[::ffff:192.0.2.10]:19823"),
            Host::Ip("::ffff:192.0.2.10".parse().unwrap())
        );
        assert_eq!(
            k("sip:[2001:db8:::192.0.2.1]"),
            Host::OddIpv6(b"[2001:db8:::192.0.2.1]")
        );
        assert_eq!(k("sip:abc.invalid"), Host::Name(b"abc.invalid"));
        assert_eq!(k("sip:192.0.2.256"), Host::Name(b"192.0.2.256"));
    }
}
