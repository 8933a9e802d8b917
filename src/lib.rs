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
//! - [`config`]: the TOML configuration, validated, with errors that name
//!   file, line and key.
//! - [`proxy`]: sans-IO proxy rules — transactions (RFC 3261 §17), routing
//!   between agents and the PBX, registrations.
//! - [`transport`]: UDP and TCP sockets; flows.
//! - [`server`]: wiring listeners to the proxy; `sipedge run`.
//! - [`cli`]: the command line.
//!
//! The call core, outbox, sinks and admin API described in ARCHITECTURE.md
//! come next, on top of these.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod inspect;
pub mod proxy;
pub mod server;
pub mod sip;
pub mod transport;
