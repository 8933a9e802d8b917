//! The embedded default sink: one CloudEvent per line (JSON lines),
//! appended to `[events.file] path`, flushed per batch, rotated by size
//! (`path.1` is the newest old file, up to `path.5`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

/// Old files kept beside the current one.
const KEEP: usize = 5;

#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    rotate_bytes: u64,
    file: Option<(File, u64)>,
}

impl FileSink {
    pub fn new(path: PathBuf, rotate_bytes: u64) -> FileSink {
        FileSink {
            path,
            rotate_bytes,
            file: None,
        }
    }

    fn open(&mut self) -> io::Result<&mut (File, u64)> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let len = f.metadata()?.len();
            self.file = Some((f, len));
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("file sink not open"))
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let name = |n: usize| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        let _ = std::fs::remove_file(name(KEEP));
        for n in (1..KEEP).rev() {
            let _ = std::fs::rename(name(n), name(n + 1));
        }
        std::fs::rename(&self.path, name(1))
    }

    /// Writes the payloads as lines and flushes them.
    pub fn write(&mut self, payloads: &[&[u8]]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(payloads.iter().map(|p| p.len() + 1).sum());
        for p in payloads {
            buf.extend_from_slice(p);
            buf.push(b'\n');
        }
        let rotate = self.rotate_bytes;
        let (f, len) = self.open()?;
        f.write_all(&buf)?;
        f.flush()?;
        *len += buf.len() as u64;
        if *len >= rotate {
            self.rotate()?;
        }
        Ok(())
    }
}
