//! Via (RFC 3261 §20.42, RFC 3581 rport): `SIP / 2.0 / transport sent-by
//! *(;via-params)`, whitespace allowed around the slashes and the colon.

use super::{Cursor, Params};
use crate::sip::chars;
use crate::sip::error::Result;
use crate::sip::name::HeaderName;

/// The transport of a Via (or a listener).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
    Other,
}

impl Transport {
    pub fn from_bytes(t: &[u8]) -> Transport {
        const NAMES: [(&[u8], Transport); 6] = [
            (b"UDP", Transport::Udp),
            (b"TCP", Transport::Tcp),
            (b"TLS", Transport::Tls),
            (b"SCTP", Transport::Sctp),
            (b"WS", Transport::Ws),
            (b"WSS", Transport::Wss),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(t))
            .map_or(Transport::Other, |&(_, t)| t)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other => "OTHER",
        }
    }

    /// Stream transports need Content-Length and keep a connection.
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// One Via value.
#[derive(Debug, Clone, Copy)]
pub struct Via<'a> {
    /// `SIP/2.0` parts as written.
    pub protocol: &'a [u8],
    pub version: &'a [u8],
    pub transport: Transport,
    /// The transport token as written (for `Other`).
    pub transport_raw: &'a [u8],
    /// sent-by host (an IPv6 reference keeps its brackets).
    pub host: &'a [u8],
    pub port: Option<u16>,
    pub params: Params<'a>,
    pub branch: Option<&'a [u8]>,
    pub received: Option<&'a [u8]>,
    /// `Some(None)` for a bare `;rport` (RFC 3581 request), `Some(Some(p))`
    /// once filled in.
    pub rport: Option<Option<u16>>,
    pub maddr: Option<&'a [u8]>,
}

/// RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

impl<'a> Via<'a> {
    pub fn parse(v: &'a [u8]) -> Result<Via<'a>> {
        let mut c = Cursor::new(v, HeaderName::Via);
        c.lws();
        let protocol = c.token()?;
        if !c.sep(b'/') {
            return Err(c.err());
        }
        let version = c.token()?;
        if !c.sep(b'/') {
            return Err(c.err());
        }
        let transport_raw = c.token()?;
        if !c.lws() {
            return Err(c.err());
        }
        let host_start = c.pos;
        if c.peek() == Some(b'[') {
            let close = memchr::memchr(b']', c.rest()).ok_or(c.err())?;
            let inner = &c.s[c.pos + 1..c.pos + close];
            if inner.is_empty() || !inner.iter().all(|&b| chars::IPV6[b as usize]) {
                return Err(c.err());
            }
            c.pos += close + 1;
        } else if c.take(&chars::HOSTNAME).is_empty() {
            return Err(c.err());
        }
        let host = &c.s[host_start..c.pos];
        let mut port = None;
        if c.sep(b':') {
            let d = c.take(&super::DIGIT);
            port = Some(parse_port(d).ok_or(c.err())?);
        }
        let (mut branch, mut received, mut rport, mut maddr, mut bad) =
            (None, None, None, None, false);
        let params = Params::parse_visit(&mut c, |p| {
            let n = p.name;
            // A parameter given twice is ambiguous (which branch keys the
            // transaction?); two parsers would disagree, so it is refused.
            if n.eq_ignore_ascii_case(b"branch") {
                bad |= branch.replace(p.value).is_some();
            } else if n.eq_ignore_ascii_case(b"received") {
                bad |= received.replace(p.value).is_some();
            } else if n.eq_ignore_ascii_case(b"rport") {
                let port = p.value.map(parse_port);
                bad |= port == Some(None) || rport.replace(port.flatten()).is_some();
            } else if n.eq_ignore_ascii_case(b"maddr") {
                bad |= maddr.replace(p.value).is_some();
            }
        })?;
        let (branch, received, maddr) = (branch.flatten(), received.flatten(), maddr.flatten());
        // received = IPv4address / IPv6address (RFC 3261 §20.42); RFC 5118
        // §4.5 asks to accept the bracketed form too.
        if bad || received.is_some_and(|r| !is_ip_literal(r)) {
            return Err(c.err());
        }
        c.end()?;
        Ok(Via {
            protocol,
            version,
            transport: Transport::from_bytes(transport_raw),
            transport_raw,
            host,
            port,
            params,
            branch,
            received,
            rport,
            maddr,
        })
    }

    /// The sent-by host, classified.
    pub fn host_kind(&self) -> super::Host<'a> {
        super::uri::host_kind(self.host)
    }

    /// `true` when the branch carries the RFC 3261 magic cookie, so it can key
    /// a transaction on its own.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }
}

fn is_ip_literal(v: &[u8]) -> bool {
    let inner = match v {
        [b'[', inner @ .., b']'] => inner,
        _ => v,
    };
    std::str::from_utf8(inner).is_ok_and(|s| s.parse::<std::net::IpAddr>().is_ok())
}

fn parse_port(d: &[u8]) -> Option<u16> {
    crate::sip::parse::decimal(d)
        .filter(|&n| n <= 65535)
        .map(|n| n as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (input, transport, host, port, branch, received, rport)
        type Row = (
            &'static str,
            Transport,
            &'static str,
            Option<u16>,
            Option<&'static str>,
            Option<&'static str>,
            Option<Option<u16>>,
        );
        let rows: &[Row] = &[
            (
                "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds",
                Transport::Udp,
                "192.0.2.1",
                Some(5060),
                Some("z9hG4bK776asdhds"),
                None,
                None,
            ),
            (
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa;rport",
                Transport::Udp,
                "192.0.2.1",
                None,
                Some("z9hG4bKa"),
                None,
                Some(None),
            ),
            (
                "SIP/2.0/UDP 10.0.0.1:5060;rport=41234;received=203.0.113.7;branch=z9hG4bKb",
                Transport::Udp,
                "10.0.0.1",
                Some(5060),
                Some("z9hG4bKb"),
                Some("203.0.113.7"),
                Some(Some(41234)),
            ),
            (
                "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7",
                Transport::Wss,
                "df7jal23ls0d.invalid",
                None,
                Some("z9hG4bKnashds7"),
                None,
                None,
            ),
            (
                "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw",
                Transport::Udp,
                "192.0.2.2",
                None,
                Some("390skdjuw"),
                None,
                None,
            ),
            (
                "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
                Transport::Tcp,
                "spindle.example.com",
                None,
                Some("z9hG4bK9ikj8"),
                None,
                None,
            ),
            (
                "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
                Transport::Udp,
                "[2001:db8::9:1]",
                None,
                Some("z9hG4bKas3-111"),
                Some("[2001:db8::9:255]"),
                None,
            ),
            (
                "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
                Transport::Udp,
                "[2001:db8::9:1]",
                None,
                Some("z9hG4bKas3"),
                Some("2001:db8::9:255"),
                None,
            ),
            (
                "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3",
                Transport::Udp,
                "[2001:db8::9:1]",
                Some(6050),
                Some("z9hG4bKas3"),
                None,
                None,
            ),
            (
                "SIP/2.0/SCTP t.example.com;branch=z9hG4bKb",
                Transport::Sctp,
                "t.example.com",
                None,
                Some("z9hG4bKb"),
                None,
                None,
            ),
            (
                "SIP/2.0/UNKNOWN t.example.com;branch=z9hG4bKb",
                Transport::Other,
                "t.example.com",
                None,
                Some("z9hG4bKb"),
                None,
                None,
            ),
            (
                "SIP/2.0/UDP host.example.com",
                Transport::Udp,
                "host.example.com",
                None,
                None,
                None,
                None,
            ),
            (
                "SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
                Transport::Tcp,
                "host1.example.com",
                None,
                Some("z9hG4bK-.!%66*_+`'~"),
                None,
                None,
            ),
        ];
        for (input, t, host, port, branch, received, rport) in rows {
            let v = Via::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            let s = |b: Option<&[u8]>| b.map(|b| std::str::from_utf8(b).unwrap().to_string());
            assert_eq!(v.transport, *t, "{input:?}");
            assert_eq!(v.host, host.as_bytes(), "{input:?}");
            assert_eq!(v.port, *port, "{input:?}");
            assert_eq!(s(v.branch), branch.map(str::to_string), "{input:?}");
            assert_eq!(s(v.received), received.map(str::to_string), "{input:?}");
            assert_eq!(v.rport, *rport, "{input:?}");
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP ",
            "SIP/2.0 UDP 192.0.2.1",
            "SIP/2.0/UDP192.0.2.1",
            "SIP/2.0/UDP 192.0.2.15;;",
            ";",
            "SIP/2.0/UDP 192.0.2.1:99999",
            "SIP/2.0/UDP 192.0.2.1;rport=x",
            "SIP/2.0/UDP [2001:db8::1;branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.1 junk",
            "SIP/2.0/TCP 198.51.100.20;received=1sip:1.100.20;branch=z9hG4bKa",
            "SIP/2.0/UDP h;received=host.example.com;branch=z9hG4bKa",
            "SIP/2.0/UDP h;received=192.0.2.300;branch=z9hG4bKa",
            "SIP/2.0/WSS abc.invalid;branch=zvalid;branch=z9hG4bK6137954",
            "SIP/2.0/UDP h;branch=z9hG4bKa;rport;rport=5060",
        ] {
            assert!(Via::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn magic_cookie() {
        assert!(
            Via::parse(b"SIP/2.0/UDP h;branch=z9hG4bK1")
                .unwrap()
                .has_rfc3261_branch()
        );
        assert!(
            !Via::parse(b"SIP/2.0/UDP h;branch=z9hG4bK")
                .unwrap()
                .has_rfc3261_branch()
        );
        assert!(
            !Via::parse(b"SIP/2.0/UDP h;branch=1")
                .unwrap()
                .has_rfc3261_branch()
        );
    }
}
