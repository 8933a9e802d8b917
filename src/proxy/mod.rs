//! The edge proxy's rules (RFC 3261 §16–17), sans-IO: no sockets, no
//! clock, no tokio. Time is passed in; what to send comes back as values.
//!
//! - [`transaction`]: client and server transactions with their timers.
//! - [`core`]: routing between the access side and the PBX, Via and
//!   Record-Route/Path with flow tokens, CANCEL, loose routing.
//! - [`registrar`]: the registrations seen through the edge.

pub mod core;
pub mod registrar;
pub mod transaction;

pub use self::core::{Action, Dest, Flow, FlowId, Proxy, Shared, Stats};
