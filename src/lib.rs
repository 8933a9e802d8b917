//! sipedge: a SIP edge proxy for contact centres.
//!
//! It sits between agents' phones (UDP/TCP/TLS hardphones, WebSocket
//! softphones) and the PBX, tracks every dialog, tells who ended each
//! interaction and how long it lasted, and publishes that as events.
//!
//! # Layout
//!
//! - [`sip`]: sans-IO SIP syntax — the zero-copy parser (hot path), typed
//!   header views, stream framing, response/forward builders, SDP sniff.
//! - [`inspect`]: the JSON rendering of a parsed message behind
//!   `sipedge parse` (the operator's debugging tool).
//! - [`cli`]: the command line.
//!
//! The proxy (`proxy`), call core (`call`), transports, outbox, sinks and
//! admin API described in ARCHITECTURE.md are built on top of [`sip`].
// `unsafe` is denied everywhere but the one SSE2 load of the parser's block
// scanner (`sip::parse::block_mask`), which says why it is sound.
#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod inspect;
pub mod proxy;
pub mod sip;
