//! A sniff of an SDP body, not a parser: which media it offers (audio, video,
//! MSRP chat per RFC 4975) and the effective direction of the first audio
//! (or chat) stream, which the call core uses for hold (`sendonly` /
//! `inactive`).

/// Media direction attribute (RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn from_attr(line: &[u8]) -> Option<Direction> {
        Some(match line {
            b"a=sendrecv" => Direction::SendRecv,
            b"a=sendonly" => Direction::SendOnly,
            b"a=recvonly" => Direction::RecvOnly,
            b"a=inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// `sendonly` or `inactive` from the party that puts the other on hold.
    pub fn is_hold(self) -> bool {
        matches!(self, Direction::SendOnly | Direction::Inactive)
    }
}

/// What an SDP body offers. Counts only media with a non-zero port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SdpSummary {
    pub audio: u8,
    pub video: u8,
    /// `m=message <port> TCP/MSRP` or `TCP/TLS/MSRP` streams (chat).
    pub msrp: u8,
    pub other: u8,
    /// Direction of the first active audio stream, else of the first MSRP
    /// stream, else the session-level one.
    pub direction: Direction,
}

impl SdpSummary {
    /// A chat session: MSRP offered and no audio or video.
    pub fn is_chat(&self) -> bool {
        self.msrp > 0 && self.audio == 0 && self.video == 0
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Audio,
    Video,
    Msrp,
    Other,
}

pub fn summarize(body: &[u8]) -> SdpSummary {
    let mut s = SdpSummary::default();
    let mut session_dir = None;
    // (kind, active, direction) of the media section being read.
    let mut current: Option<(Kind, bool, Option<Direction>)> = None;
    let mut chosen: Option<(Kind, Direction)> = None;
    let mut close = |m: Option<(Kind, bool, Option<Direction>)>,
                     session: Option<Direction>,
                     s: &mut SdpSummary| {
        if let Some((kind, active, dir)) = m {
            if !active {
                return;
            }
            match kind {
                Kind::Audio => s.audio = s.audio.saturating_add(1),
                Kind::Video => s.video = s.video.saturating_add(1),
                Kind::Msrp => s.msrp = s.msrp.saturating_add(1),
                Kind::Other => s.other = s.other.saturating_add(1),
            }
            let d = dir.or(session).unwrap_or_default();
            let better = matches!(
                (chosen, kind),
                (None, Kind::Audio | Kind::Msrp) | (Some((Kind::Msrp, _)), Kind::Audio)
            );
            if better {
                chosen = Some((kind, d));
            }
        }
    };
    for line in body.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(m) = line.strip_prefix(b"m=") {
            close(current.take(), session_dir, &mut s);
            let mut f = m.split(|&c| c == b' ').filter(|f| !f.is_empty());
            let media = f.next().unwrap_or(b"");
            let port = f.next().unwrap_or(b"0");
            let proto = f.next().unwrap_or(b"");
            let active = port.split(|&c| c == b'/').next().is_some_and(|p| p != b"0");
            let kind = if media.eq_ignore_ascii_case(b"audio") {
                Kind::Audio
            } else if media.eq_ignore_ascii_case(b"video") {
                Kind::Video
            } else if media.eq_ignore_ascii_case(b"message")
                && (proto.eq_ignore_ascii_case(b"TCP/MSRP")
                    || proto.eq_ignore_ascii_case(b"TCP/TLS/MSRP"))
            {
                Kind::Msrp
            } else {
                Kind::Other
            };
            current = Some((kind, active, None));
        } else if let Some(d) = Direction::from_attr(line) {
            match current.as_mut() {
                Some(c) => c.2 = Some(d),
                None => session_dir = Some(d),
            }
        }
    }
    close(current.take(), session_dir, &mut s);
    s.direction = chosen.map(|c| c.1).or(session_dir).unwrap_or_default();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let audio = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n";
        let s = summarize(audio);
        assert_eq!(
            (s.audio, s.video, s.msrp, s.is_chat(), s.direction),
            (1, 0, 0, false, Direction::SendRecv)
        );

        let hold =
            b"v=0\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\nm=video 0 RTP/AVP 31\r\n";
        let s = summarize(hold);
        assert_eq!((s.audio, s.video, s.direction), (1, 0, Direction::SendOnly));
        assert!(s.direction.is_hold());

        let session_level = b"v=0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert_eq!(summarize(session_level).direction, Direction::Inactive);

        let chat = b"v=0\r\nc=IN IP4 192.0.2.30\r\nm=message 2855 TCP/MSRP *\r\na=accept-types:message/cpim text/plain\r\na=path:msrp://192.0.2.30:2855/iau39soe2843z;tcp\r\n";
        let s = summarize(chat);
        assert_eq!((s.msrp, s.is_chat()), (1, true));

        let tls_chat = b"m=message 2855 TCP/TLS/MSRP *\n";
        assert!(summarize(tls_chat).is_chat());
        let both = b"m=audio 1 RTP/AVP 0\r\nm=message 2855 TCP/MSRP *\r\n";
        assert!(!summarize(both).is_chat());
        let not_msrp = b"m=message 2855 UDP/SIP *\r\n";
        let s = summarize(not_msrp);
        assert_eq!((s.msrp, s.other), (0, 1));
        assert_eq!(summarize(b""), SdpSummary::default());
        assert_eq!(
            summarize(b"\x00\xff garbage m=\n m=audio"),
            SdpSummary::default()
        );
    }
}
