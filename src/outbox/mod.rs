//! The durable outbox: every event is on disk before any sink sees it.
//!
//! # On-disk format
//!
//! The outbox lives in `<data_dir>/outbox/`:
//!
//! - `seg-<first seq, 20 digits>.log`: segments, appended in order. Each
//!   record is
//!
//!   ```text
//!   length   u32 LE   payload bytes
//!   crc32c   u32 LE   over the sequence number's 8 bytes and the payload
//!   sequence u64 LE   1, 2, 3, ... without gaps across segments
//!   payload  length bytes (one CloudEvent, JSON)
//!   ```
//!
//!   A segment is closed when it reaches `segment_bytes` and a new one is
//!   created (the directory is fsynced after a segment is created or
//!   deleted).
//! - `cursor-<sink>`: the next sequence number that sink has not had
//!   acknowledged, as decimal text; replaced atomically (write
//!   `cursor-<sink>.tmp`, fsync, rename, fsync the directory). The sinks
//!   write it every 200 ms when it moved and on drain, so after a crash a
//!   sink may publish up to that much again, with the same event ids.
//! - `dead-<sink>.jsonl`: events a sink refused for good, one JSON object
//!   per line with the sequence number, the reason and the event.
//!
//! # Durability
//!
//! Appends are group-committed: the writer takes every event waiting in its
//! channel, writes them, and calls `fdatasync` once for all of them. Sinks
//! only read up to the last committed sequence number. On open, every
//! segment is checked record by record; at the first torn or corrupt record
//! (a `kill -9` during a write, a power loss) the segment is truncated
//! there and any later segment is removed, so everything before the damage
//! is kept and sequence numbers stay gapless.
//!
//! # Bound
//!
//! The outbox's size is bounded (`[events] outbox_max_bytes`). Segments are
//! deleted once every sink's cursor has passed them. At 80 % of the bound a
//! warning is logged; at 100 % new events are refused (counted in
//! `sipedge_outbox_refused_total` and logged as errors): what is already on
//! disk, the oldest undelivered events, is kept.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes before each payload.
pub const HEADER: usize = 16;

/// Largest payload accepted (an event is a few KiB).
pub const MAX_PAYLOAD: usize = 1 << 20;

fn crc(seq: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload)
}

/// Encodes one record.
pub fn encode(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc(seq, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Decodes the record at the start of `buf`: `Some((seq, payload, len))`
/// when it is whole and its checksum holds.
pub fn decode(buf: &[u8]) -> Option<(u64, &[u8], usize)> {
    let head = buf.get(..HEADER)?;
    let len = u32::from_le_bytes(head[0..4].try_into().ok()?) as usize;
    let sum = u32::from_le_bytes(head[4..8].try_into().ok()?);
    let seq = u64::from_le_bytes(head[8..16].try_into().ok()?);
    if len > MAX_PAYLOAD {
        return None;
    }
    let payload = buf.get(HEADER..HEADER + len)?;
    (crc(seq, payload) == sum).then_some((seq, payload, HEADER + len))
}

fn segment_name(first: u64) -> String {
    format!("seg-{first:020}.log")
}

/// The segments in `dir`, by first sequence number.
pub fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut v = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        let name = e.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_prefix("seg-"))
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        v.push((first, e.path()));
    }
    v.sort();
    Ok(v)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Settings of an outbox.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub segment_bytes: u64,
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_bytes: 64 << 20,
            max_bytes: 1 << 30,
        }
    }
}

/// What happened to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Sequence numbers given, `first..end`.
    pub first: u64,
    pub end: u64,
    /// Events refused because the outbox is full.
    pub refused: usize,
}

/// The writer's side.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    opts: Options,
    /// Closed segments: first sequence number, size.
    closed: Vec<(u64, u64)>,
    active: File,
    active_first: u64,
    active_len: u64,
    next_seq: u64,
    warned: bool,
}

/// What recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    pub records: u64,
    /// Bytes cut off a torn or corrupt tail, and segments removed after it.
    pub truncated_bytes: u64,
    pub removed_segments: usize,
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, checking every record.
    pub fn open(dir: &Path, opts: Options) -> io::Result<(Outbox, Recovery)> {
        fs::create_dir_all(dir)?;
        let segs = segments(dir)?;
        let mut rec = Recovery::default();
        let mut closed = Vec::new();
        let mut expect: Option<u64> = None;
        let mut damaged = false;
        let mut last: Option<(u64, PathBuf, u64)> = None;
        for (first, path) in segs {
            if damaged || expect.is_some_and(|e| e != first) {
                fs::remove_file(&path)?;
                rec.removed_segments += 1;
                damaged = true;
                continue;
            }
            let bytes = fs::read(&path)?;
            let mut at = 0;
            let mut seq = first;
            while at < bytes.len() {
                match decode(&bytes[at..]) {
                    Some((s, _, n)) if s == seq => {
                        at += n;
                        seq += 1;
                        rec.records += 1;
                    }
                    _ => break,
                }
            }
            if at < bytes.len() {
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(at as u64)?;
                f.sync_all()?;
                rec.truncated_bytes += (bytes.len() - at) as u64;
                damaged = true;
            }
            expect = Some(seq);
            if let Some((f, _, len)) = last.take() {
                closed.push((f, len));
            }
            last = Some((first, path, at as u64));
        }
        if rec.removed_segments > 0 {
            sync_dir(dir)?;
        }
        let (active_first, path, active_len) = match last {
            Some(l) => l,
            None => {
                let first = 1;
                (first, dir.join(segment_name(first)), 0)
            }
        };
        let created = !path.exists();
        let active = OpenOptions::new().create(true).append(true).open(&path)?;
        if created {
            sync_dir(dir)?;
        }
        let next_seq = expect.unwrap_or(active_first);
        Ok((
            Outbox {
                dir: dir.to_path_buf(),
                opts,
                closed,
                active,
                active_first,
                active_len,
                next_seq,
                warned: false,
            },
            rec,
        ))
    }

    /// The sequence number the next event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Bytes on disk.
    pub fn size(&self) -> u64 {
        self.active_len + self.closed.iter().map(|(_, l)| l).sum::<u64>()
    }

    pub fn max_bytes(&self) -> u64 {
        self.opts.max_bytes
    }

    /// Appends `payloads` with one `fdatasync`; events beyond the size
    /// bound are refused (see the module doc).
    pub fn append(&mut self, payloads: &[Vec<u8>]) -> io::Result<Appended> {
        let first = self.next_seq;
        let mut buf = Vec::with_capacity(payloads.iter().map(|p| p.len() + HEADER).sum());
        let mut refused = 0;
        let mut size = self.size();
        for p in payloads {
            let n = (p.len() + HEADER) as u64;
            if p.len() > MAX_PAYLOAD || size + n > self.opts.max_bytes {
                refused += 1;
                continue;
            }
            if self.active_len > 0 && self.active_len + n > self.opts.segment_bytes {
                self.flush(&mut buf)?;
                self.rotate()?;
            }
            encode(self.next_seq, p, &mut buf);
            self.next_seq += 1;
            self.active_len += n;
            size += n;
        }
        self.flush(&mut buf)?;
        if !self.warned && size * 5 >= self.opts.max_bytes * 4 {
            self.warned = true;
            tracing::warn!(
                size,
                max = self.opts.max_bytes,
                "The event outbox is above 80% of its bound: a sink is not keeping up."
            );
        } else if self.warned && size * 5 < self.opts.max_bytes * 3 {
            self.warned = false;
        }
        Ok(Appended {
            first,
            end: self.next_seq,
            refused,
        })
    }

    fn flush(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        self.active.write_all(buf)?;
        self.active.sync_data()?;
        buf.clear();
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.closed.push((self.active_first, self.active_len));
        let path = self.dir.join(segment_name(self.next_seq));
        self.active = OpenOptions::new().create(true).append(true).open(&path)?;
        sync_dir(&self.dir)?;
        self.active_first = self.next_seq;
        self.active_len = 0;
        Ok(())
    }

    /// Deletes the closed segments every sink has passed (`cursor` is the
    /// lowest sink cursor). Returns how many.
    pub fn collect(&mut self, cursor: u64) -> io::Result<usize> {
        let mut n = 0;
        while self.closed.len() > n {
            // A closed segment ends where the next one starts.
            let next_first = self
                .closed
                .get(n + 1)
                .map_or(self.active_first, |(f, _)| *f);
            if next_first > cursor {
                break;
            }
            fs::remove_file(self.dir.join(segment_name(self.closed[n].0)))?;
            n += 1;
        }
        if n > 0 {
            self.closed.drain(..n);
            sync_dir(&self.dir)?;
        }
        Ok(n)
    }
}

/// Reads records in order from a sequence number on.
#[derive(Debug)]
pub struct Reader {
    dir: PathBuf,
    next: u64,
    file: Option<(u64, BufReader<File>)>,
}

impl Reader {
    pub fn new(dir: &Path, from: u64) -> Reader {
        Reader {
            dir: dir.to_path_buf(),
            next: from.max(1),
            file: None,
        }
    }

    /// The next sequence number it will return.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Up to `max` records with sequence numbers below `end` (whole,
    /// checked records only: a record being written is left for later).
    pub fn read(&mut self, max: usize, end: u64) -> io::Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        while out.len() < max && self.next < end {
            match self.one()? {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok(out)
    }

    fn open_for(&mut self) -> io::Result<bool> {
        let segs = segments(&self.dir)?;
        let Some(idx) = segs.iter().rposition(|(f, _)| *f <= self.next) else {
            // Everything before the first segment was collected (a sink
            // that was not configured while they were delivered): skip on.
            if let Some((f, _)) = segs.first() {
                tracing::warn!(
                    dir = %self.dir.display(),
                    from = self.next,
                    to = *f,
                    "Events before the oldest kept segment were collected; a returning sink resumes there."
                );
                self.next = *f;
                return self.open_for();
            }
            return Ok(false);
        };
        let (first, path) = &segs[idx];
        let mut r = BufReader::new(File::open(path)?);
        // Skip to `next`.
        let mut seq = *first;
        while seq < self.next {
            let mut head = [0u8; HEADER];
            if r.read_exact(&mut head).is_err() {
                return Ok(false);
            }
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as i64;
            r.seek_relative(len)?;
            seq += 1;
        }
        self.file = Some((*first, r));
        Ok(true)
    }

    fn one(&mut self) -> io::Result<Option<(u64, Vec<u8>)>> {
        for _ in 0..2 {
            if self.file.is_none() && !self.open_for()? {
                return Ok(None);
            }
            let Some((_, r)) = self.file.as_mut() else {
                return Ok(None);
            };
            let start = r.stream_position()?;
            let mut head = [0u8; HEADER];
            match r.read_exact(&mut head) {
                Ok(()) => {
                    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
                    if len > MAX_PAYLOAD {
                        r.seek(SeekFrom::Start(start))?;
                        return Ok(None);
                    }
                    let mut rec = head.to_vec();
                    rec.resize(HEADER + len, 0);
                    if r.read_exact(&mut rec[HEADER..]).is_err() {
                        r.seek(SeekFrom::Start(start))?;
                        return Ok(None);
                    }
                    match decode(&rec) {
                        Some((seq, payload, _)) if seq == self.next => {
                            self.next += 1;
                            return Ok(Some((seq, payload.to_vec())));
                        }
                        _ => {
                            r.seek(SeekFrom::Start(start))?;
                            return Ok(None);
                        }
                    }
                }
                Err(_) => {
                    // End of this segment: the next one, if it exists.
                    r.seek(SeekFrom::Start(start))?;
                    let has_next = segments(&self.dir)?.iter().any(|(f, _)| *f == self.next);
                    if !has_next {
                        return Ok(None);
                    }
                    self.file = None;
                }
            }
        }
        Ok(None)
    }
}

/// A sink's cursor file.
pub fn cursor_path(dir: &Path, sink: &str) -> PathBuf {
    dir.join(format!("cursor-{sink}"))
}

/// The sink's cursor (1 when it has none: from the start).
pub fn read_cursor(dir: &Path, sink: &str) -> io::Result<u64> {
    match fs::read_to_string(cursor_path(dir, sink)) {
        Ok(s) => s.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cursor-{sink} does not hold a number"),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(1),
        Err(e) => Err(e),
    }
}

/// Replaces the sink's cursor atomically.
pub fn write_cursor(dir: &Path, sink: &str, next: u64) -> io::Result<()> {
    let tmp = dir.join(format!("cursor-{sink}.tmp"));
    let mut f = File::create(&tmp)?;
    writeln!(f, "{next}")?;
    f.sync_all()?;
    fs::rename(&tmp, cursor_path(dir, sink))?;
    sync_dir(dir)
}

/// Appends an event a sink refused for good to its dead-letter file.
pub fn dead_letter(
    dir: &Path,
    sink: &str,
    seq: u64,
    reason: &str,
    payload: &[u8],
) -> io::Result<()> {
    let event: serde_json::Value = serde_json::from_slice(payload)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(payload).into()));
    let line = serde_json::json!({ "seq": seq, "reason": reason, "event": event });
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("dead-{sink}.jsonl")))?;
    writeln!(f, "{line}")?;
    f.sync_data()
}

#[cfg(test)]
mod tests;
