//! SIP syntax, sans-IO: the zero-copy message index, typed header views,
//! stream framing and message builders. No sockets, no clock, no tokio.
//!
//! - [`parse`] / [`parse_with`] index a message in one pass over a
//!   [`bytes::Bytes`] without allocating ([`Message`]).
//! - [`header`] holds the typed views (URI, name-addr, Via, CSeq, Contact,
//!   Content-Type, Session-Expires, Min-SE, Reason, option tags), parsed on
//!   demand from the index.
//! - [`stream`] cuts messages out of TCP/TLS/WebSocket byte streams and
//!   recognises RFC 5626 keep-alives.
//! - [`build`] writes responses and forwarded copies with edits.
//! - [`sdp`] sniffs an SDP body for audio/video/MSRP chat and hold.

pub mod build;
pub(crate) mod chars;
mod error;
pub mod header;
mod message;
mod method;
mod name;
mod parse;
pub mod sdp;
pub mod stream;

pub use error::{ErrorKind, ParseError, Result};
pub use header::{unfold, unquote};
pub use message::{Header, MAX_HEADERS, Message, Span, StartLine};
pub use method::Method;
pub use name::HeaderName;
pub use parse::{Framing, Limits, parse, parse_with};
