//! sipedge's one integration-test binary (one link step on a small machine).
//! Each module is a subject; `support` holds what they share.

mod admin;
mod alloc_count;
mod baresip;
mod browser;
mod cli_parse;
mod client;
mod conformance;
mod daemon;
mod fuzz_replay;
#[cfg(feature = "kafka")]
mod kafka;
mod nats;
mod parser;
mod proxy_sipp;
mod refusals;
mod scenarios;
mod support;
mod systemd;
mod tls;
mod ws;
