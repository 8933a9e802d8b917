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
//! - [`call`]: sans-IO call core — interactions, who ended them, durations,
//!   wrap; [`event`]: the CloudEvents it emits; [`sink`]: where they go.
//! - [`transport`]: UDP, TCP, TLS, WebSocket and WSS sockets; flows.
//! - [`server`]: wiring listeners to the proxy; `sipedge run`.
//! - [`cli`]: the command line.
//!
//! The durable outbox, the bus sinks and the admin API described in
//! ARCHITECTURE.md come next, on top of these.
#![forbid(unsafe_code)]

pub mod admin;
pub mod call;
pub mod cli;
pub mod config;
pub mod event;
pub mod inspect;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod outbox;
pub mod proxy;
pub mod server;
pub mod sink;
pub mod sip;
pub mod transport;
