//! The parser's error: a small `Copy` value with the byte offset where the
//! problem was found and a message that says what is wrong.
//!
//! Hot-path code returns it by value; nothing here allocates. The proxy maps
//! [`ErrorKind::status`] to the response it sends (400, 413, 505, ...).

use std::fmt;

use super::name::HeaderName;

/// What was wrong with a message, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    /// Byte offset from the start of the message (or of the header value, for
    /// errors returned by typed views of a single value).
    pub offset: usize,
}

/// The kinds of parse failure. Payloads are numbers and ids, never text, so
/// the type stays `Copy` and the hot path never allocates for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No bytes at all (or only CRLFs).
    Empty,
    /// The first line is neither a Request-Line nor a Status-Line.
    BadStartLine,
    /// The method is not a token.
    BadMethod,
    /// The Request-URI is malformed (whitespace, `<>`, bad scheme, ...).
    BadRequestUri,
    /// The Request-URI of a SIP/SIPS request carries `?headers`.
    RequestUriHeaders,
    /// The SIP-Version is not of the form `SIP/x.y`.
    BadVersion,
    /// A well-formed SIP-Version other than 2.0 (answer 505).
    UnsupportedVersion,
    /// The status code is not three digits in 100..=699.
    BadStatusCode,
    /// Extra whitespace in the start line (RFC 4475 §3.1.2.9/10).
    StartLineWhitespace,
    /// The header section did not end before the end of the input.
    UnterminatedHeaders,
    /// A header name holds whitespace, a control byte or a non-token byte
    /// (header smuggling, CVE-2020-28361 / CVE-2016-9938 class).
    BadHeaderName,
    /// A header line has no colon.
    MissingColon,
    /// A continuation line with no header before it.
    LeadingContinuation,
    /// A bare CR not followed by LF.
    BareCr,
    /// A line of the start line or header section ends with LF alone.
    BareLf,
    /// A control byte in a header value outside a quoted-pair.
    ControlInValue,
    /// A quoted string that never closes.
    UnterminatedQuote,
    /// A `<` that never closes.
    UnterminatedAngle,
    /// More header values than the configured limit.
    TooManyHeaders { limit: u16 },
    /// More Via values than the configured limit.
    TooManyVias { limit: u16 },
    /// A header line longer than the configured limit.
    LineTooLong { limit: u32 },
    /// The message is larger than the configured limit (answer 413).
    MessageTooLarge { size: u32, limit: u32 },
    /// A mandatory header is absent.
    MissingHeader(HeaderName),
    /// A header that may appear once appears again.
    DuplicateHeader(HeaderName),
    /// Content-Length is not a non-negative decimal that fits.
    BadContentLength,
    /// Content-Length claims more bytes than the datagram holds.
    ContentLengthExceeds { declared: u32, present: u32 },
    /// A stream message has no Content-Length (RFC 3261 §18.3 requires it).
    MissingContentLength,
    /// CSeq is not `number method` or the number exceeds 2^32-1.
    BadCSeq,
    /// The CSeq method differs from the request method.
    CSeqMethodMismatch,
    /// Max-Forwards is not a number in 0..=255.
    BadMaxForwards,
    /// Call-ID is not `word [@ word]`.
    BadCallId,
    /// A typed view of this header failed.
    BadHeaderValue(HeaderName),
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A URI could not be parsed.
    BadUri,
    /// A byte stream that does not start with a SIP message.
    Desync,
}

impl ErrorKind {
    /// A stable snake_case name for logs, metrics labels and JSON.
    pub fn name(&self) -> &'static str {
        use ErrorKind::*;
        match self {
            Empty => "empty",
            BadStartLine => "bad_start_line",
            BadMethod => "bad_method",
            BadRequestUri => "bad_request_uri",
            RequestUriHeaders => "request_uri_headers",
            BadVersion => "bad_version",
            UnsupportedVersion => "unsupported_version",
            BadStatusCode => "bad_status_code",
            StartLineWhitespace => "start_line_whitespace",
            UnterminatedHeaders => "unterminated_headers",
            BadHeaderName => "bad_header_name",
            MissingColon => "missing_colon",
            LeadingContinuation => "leading_continuation",
            BareCr => "bare_cr",
            BareLf => "bare_lf",
            ControlInValue => "control_in_value",
            UnterminatedQuote => "unterminated_quote",
            UnterminatedAngle => "unterminated_angle",
            TooManyHeaders { .. } => "too_many_headers",
            TooManyVias { .. } => "too_many_vias",
            LineTooLong { .. } => "line_too_long",
            MessageTooLarge { .. } => "message_too_large",
            MissingHeader(_) => "missing_header",
            DuplicateHeader(_) => "duplicate_header",
            BadContentLength => "bad_content_length",
            ContentLengthExceeds { .. } => "content_length_exceeds",
            MissingContentLength => "missing_content_length",
            BadCSeq => "bad_cseq",
            CSeqMethodMismatch => "cseq_method_mismatch",
            BadMaxForwards => "bad_max_forwards",
            BadCallId => "bad_call_id",
            BadHeaderValue(_) => "bad_header_value",
            BadEscape => "bad_escape",
            BadUri => "bad_uri",
            Desync => "desync",
        }
    }

    /// The SIP status a server answers a request with when it refuses it for
    /// this reason.
    pub fn status(&self) -> u16 {
        match self {
            ErrorKind::UnsupportedVersion => 505,
            ErrorKind::MessageTooLarge { .. } => 413,
            _ => 400,
        }
    }

    pub(crate) fn at(self, offset: usize) -> ParseError {
        ParseError { kind: self, offset }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match *self {
            Empty => f.write_str("no SIP message in the input"),
            BadStartLine => {
                f.write_str("the first line is neither a request line nor a status line")
            }
            BadMethod => f.write_str("the method is not a token"),
            BadRequestUri => f.write_str("the Request-URI is malformed"),
            RequestUriHeaders => f.write_str("a SIP Request-URI must not carry ?headers"),
            BadVersion => f.write_str("the SIP version is malformed"),
            UnsupportedVersion => f.write_str("only SIP/2.0 is supported"),
            BadStatusCode => f.write_str("the status code is not three digits from 100 to 699"),
            StartLineWhitespace => f.write_str("the start line has extra whitespace"),
            UnterminatedHeaders => f.write_str("the header section is not closed by an empty line"),
            BadHeaderName => {
                f.write_str("a header name holds whitespace, a control byte or a non-token byte")
            }
            MissingColon => f.write_str("a header line has no colon"),
            LeadingContinuation => f.write_str("a continuation line comes before any header"),
            BareCr => f.write_str("a CR is not followed by LF"),
            BareLf => f.write_str("a line ends with LF without CR"),
            ControlInValue => {
                f.write_str("a header value holds a control byte outside a quoted-pair")
            }
            UnterminatedQuote => f.write_str("a quoted string is not closed"),
            UnterminatedAngle => f.write_str("a '<' is not closed by '>'"),
            TooManyHeaders { limit } => write!(f, "more than {limit} header values"),
            TooManyVias { limit } => write!(f, "more than {limit} Via values"),
            LineTooLong { limit } => write!(f, "a header line is longer than {limit} bytes"),
            MessageTooLarge { size, limit } => {
                write!(
                    f,
                    "the message is {size} bytes, over the {limit}-byte limit"
                )
            }
            MissingHeader(h) => write!(f, "the mandatory header {} is missing", h.as_str()),
            DuplicateHeader(h) => write!(f, "the header {} appears more than once", h.as_str()),
            BadContentLength => f.write_str("Content-Length is not a non-negative decimal number"),
            ContentLengthExceeds { declared, present } => write!(
                f,
                "Content-Length {declared} exceeds the {present} bytes present"
            ),
            MissingContentLength => {
                f.write_str("a message on a stream transport has no Content-Length")
            }
            BadCSeq => f.write_str("CSeq is not a number up to 2^32-1 followed by a method"),
            CSeqMethodMismatch => f.write_str("the CSeq method differs from the request method"),
            BadMaxForwards => f.write_str("Max-Forwards is not a number from 0 to 255"),
            BadCallId => f.write_str("Call-ID is not word[@word]"),
            BadHeaderValue(h) => write!(f, "the {} header value is malformed", h.as_str()),
            BadEscape => f.write_str("a '%' is not followed by two hex digits"),
            BadUri => f.write_str("a URI is malformed"),
            Desync => f.write_str("the stream does not start with a SIP start line"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// `Result` with [`ParseError`] as the default error.
pub type Result<T, E = ParseError> = std::result::Result<T, E>;
