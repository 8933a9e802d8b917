//! Logs: tracing, fields first and short sentences. `[log] format` is
//! `pretty` (the default; colours on a terminal) or `json` (one object per
//! line, for journald or a collector); `[log] level` can be changed by a
//! reload without a restart.

use std::sync::OnceLock;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

use crate::config::{LogFormat, LogLevel};

static LEVEL: OnceLock<reload::Handle<LevelFilter, Registry>> = OnceLock::new();

fn filter(l: LogLevel) -> LevelFilter {
    match l {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// Installs the process's subscriber (once).
pub fn init(format: LogFormat, level: LogLevel) {
    let (layer, handle) = reload::Layer::new(filter(level));
    let registry = tracing_subscriber::registry().with(layer);
    let ok = match format {
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_target(false)
                    .flatten_event(true),
            )
            .try_init(),
    };
    if ok.is_ok() {
        let _ = LEVEL.set(handle);
    }
}

/// Changes the level at run time (a reload).
pub fn set_level(level: LogLevel) {
    if let Some(h) = LEVEL.get() {
        let _ = h.modify(|f| *f = filter(level));
    }
}
