//! The embedded default sink: one CloudEvent per line (JSON lines),
//! appended to `[events.file] path`, flushed per batch. Runs on its own
//! thread (file writes block).

use std::io::Write;
use std::path::Path;

use tokio::sync::mpsc;

use crate::event::Event;

/// Most events written per flush.
const BATCH: usize = 256;

/// Appends every event from `rx` to `path` until the channel closes.
pub fn run(path: &Path, mut rx: mpsc::Receiver<Event>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.blocking_recv() {
        buf.clear();
        let mut next = Some(first);
        let mut n = 0;
        while let Some(e) = next {
            buf.extend_from_slice(e.to_line().as_bytes());
            buf.push(b'\n');
            n += 1;
            next = if n < BATCH { rx.try_recv().ok() } else { None };
        }
        file.write_all(&buf)?;
        file.flush()?;
    }
    Ok(())
}
