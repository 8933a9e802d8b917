//! Framing SIP on byte streams (TCP, TLS; WebSocket frames use it too):
//! where does the next message end?
//!
//! [`next_frame`] looks at the bytes received so far and says: not enough
//! yet, a keep-alive, or a message of `len` bytes (start line through body).
//! It does not consume; the transport cuts `len` bytes off its buffer and
//! hands them to [`super::parse_with`] with [`super::Framing::Stream`].
//!
//! Keep-alives (RFC 5626 §3.5.1): a client pings with CRLFCRLF, the server
//! pongs with CRLF. A lone CRLF is only called a pong once the byte after it
//! shows it is not the first half of a ping.

use memchr::memchr;

use super::chars;
use super::error::{ErrorKind, ParseError};
use super::parse::Limits;

/// What the buffer starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes to decide; read more.
    NeedMore,
    /// CRLFCRLF: answer with a CRLF pong. Consume 4 bytes.
    Ping,
    /// CRLF (not followed by another CRLF): a pong. Consume 2 bytes.
    Pong,
    /// A message of this many bytes.
    Message { len: usize },
}

/// Finds the next frame at the start of `buf`. Errors mean the stream can
/// not be trusted any more (close the connection).
pub fn next_frame(buf: &[u8], limits: &Limits) -> Result<Frame, ParseError> {
    match buf {
        [] | [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] => return Ok(Frame::NeedMore),
        [b'\r', b'\n', b'\r', b'\n', ..] => return Ok(Frame::Ping),
        [b'\r', b'\n', ..] => return Ok(Frame::Pong),
        [b'\r', _, ..] => return Err(ErrorKind::Desync.at(0)),
        _ => {}
    }
    // A start line begins with a method token or "SIP/"; anything else (a TLS
    // record on a TCP port, an HTTP proxy's garbage) means we lost the frame.
    if !chars::TOKEN[buf[0] as usize] {
        return Err(ErrorKind::Desync.at(0));
    }
    let max = limits.max_message;
    // End of the header section: an empty line (CRLF CRLF, or bare LFs).
    let mut search = 0;
    let mut cl: Option<u64> = None;
    let mut line_start = 0;
    let header_end = loop {
        let Some(nl) = memchr(b'\n', &buf[search..]) else {
            if buf.len() > max {
                return Err(ErrorKind::MessageTooLarge {
                    size: buf.len() as u32,
                    limit: max as u32,
                }
                .at(0));
            }
            if buf.len() - line_start > limits.max_line {
                return Err(ErrorKind::LineTooLong {
                    limit: limits.max_line as u32,
                }
                .at(line_start));
            }
            return Ok(Frame::NeedMore);
        };
        let eol = search + nl;
        let line = &buf[line_start..eol];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > limits.max_line {
            return Err(ErrorKind::LineTooLong {
                limit: limits.max_line as u32,
            }
            .at(line_start));
        }
        if line_start > 0 && line.is_empty() {
            break eol + 1;
        }
        if line_start > 0 {
            if let Some(n) = content_length(line) {
                let n = n.map_err(|()| ErrorKind::BadContentLength.at(line_start))?;
                if cl.is_some() {
                    return Err(
                        ErrorKind::DuplicateHeader(super::HeaderName::ContentLength).at(line_start)
                    );
                }
                cl = Some(n);
            }
        }
        line_start = eol + 1;
        search = eol + 1;
        if line_start > max {
            return Err(ErrorKind::MessageTooLarge {
                size: line_start as u32,
                limit: max as u32,
            }
            .at(0));
        }
    };
    let Some(cl) = cl else {
        return Err(ErrorKind::MissingContentLength.at(header_end));
    };
    let total = header_end as u64 + cl;
    if total > max as u64 {
        return Err(ErrorKind::MessageTooLarge {
            size: total.min(u32::MAX as u64) as u32,
            limit: max as u32,
        }
        .at(0));
    }
    if (buf.len() as u64) < total {
        return Ok(Frame::NeedMore);
    }
    Ok(Frame::Message {
        len: total as usize,
    })
}

/// `Some(Ok(n))` for a Content-Length (or `l`) header line, `Some(Err)` when
/// its value is not a number. Folded Content-Length values are not supported
/// on streams (nobody sends them) and read as malformed.
fn content_length(line: &[u8]) -> Option<Result<u64, ()>> {
    let colon = memchr(b':', line)?;
    let name = line[..colon].trim_ascii_end();
    if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
        return None;
    }
    Some(super::parse::decimal(line[colon + 1..].trim_ascii()).ok_or(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn every_prefix_needs_more_then_the_whole_is_a_message() {
        let l = Limits::DEFAULT;
        for i in 0..MSG.len() {
            assert_eq!(
                next_frame(&MSG[..i], &l).unwrap(),
                Frame::NeedMore,
                "prefix {i}"
            );
        }
        assert_eq!(
            next_frame(MSG, &l).unwrap(),
            Frame::Message { len: MSG.len() }
        );
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(
            next_frame(&two, &l).unwrap(),
            Frame::Message { len: MSG.len() }
        );
    }

    #[test]
    fn keepalives() {
        let l = Limits::DEFAULT;
        assert_eq!(next_frame(b"\r\n\r\n", &l).unwrap(), Frame::Ping);
        assert_eq!(next_frame(b"\r\n\r\nINVITE", &l).unwrap(), Frame::Ping);
        assert_eq!(next_frame(b"\r\n", &l).unwrap(), Frame::NeedMore);
        assert_eq!(next_frame(b"\r\nO", &l).unwrap(), Frame::Pong);
        assert_eq!(next_frame(b"\r\n\r", &l).unwrap(), Frame::NeedMore);
    }

    #[test]
    fn errors_name_the_fault() {
        let l = Limits {
            max_message: 200,
            ..Limits::DEFAULT
        };
        let e = |b: &[u8]| next_frame(b, &l).unwrap_err().kind;
        assert_eq!(e(b"\x16\x03\x01\x02\x00"), ErrorKind::Desync);
        assert_eq!(e(b"\rX"), ErrorKind::Desync);
        assert_eq!(
            e(b"OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"),
            ErrorKind::MissingContentLength
        );
        assert_eq!(
            e(b"OPTIONS sip:a SIP/2.0\r\nl: -1\r\n\r\n"),
            ErrorKind::BadContentLength
        );
        assert_eq!(
            e(b"OPTIONS sip:a SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n"),
            ErrorKind::DuplicateHeader(super::super::HeaderName::ContentLength)
        );
        let big = b"OPTIONS sip:a SIP/2.0\r\nl: 99999\r\n\r\n";
        assert_eq!(
            e(big),
            ErrorKind::MessageTooLarge {
                size: 99999 + big.len() as u32,
                limit: 200
            }
        );
        assert!(matches!(e(&[b'A'; 300]), ErrorKind::MessageTooLarge { .. }));
    }
}
