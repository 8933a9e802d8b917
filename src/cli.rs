//! The `sipedge` command line.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::{Parser, Subcommand};

use crate::inspect;
use crate::sip::{self, Framing, Limits, stream};

#[derive(Parser, Debug)]
#[command(
    name = "sipedge",
    version,
    about = "SIP edge proxy for contact centres"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse captured SIP messages and print one JSON object per message.
    ///
    /// Exit status 0 when every message parsed, 1 when one was refused
    /// (its line is {"error": KIND, "offset": N, "message": ...}), 2 on a
    /// usage or I/O error.
    Parse {
        /// Treat each input as a TCP/TLS byte stream holding several messages
        /// (Content-Length required); without it each file is one datagram.
        #[arg(long)]
        stream: bool,
        /// Files to read; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run the edge proxy.
    Run {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a configuration file without binding anything.
    ///
    /// Exit status 0 when valid, 1 with the file, line, key and what is wrong
    /// otherwise.
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
    /// Read the events in the outbox (works with the daemon stopped and no
    /// broker): `sipedge events tail [-f] [--type T]`.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// The outbox: `sipedge outbox status`.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Live interactions: id, agent, direction, device, state, age.
    Calls {
        #[command(flatten)]
        conn: Conn,
    },
    /// One live interaction in detail, with its evidence.
    Call {
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// End a live call: BYE both ways, `end_reason=admin` (the desktop's
    /// end-call button).
    End {
        id: String,
        /// Who the event names as having ended it.
        #[arg(long, default_value = "agent", value_parser = ["agent", "contact", "system"])]
        by: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Registrations through this edge and each agent's wrap state.
    Agents {
        #[command(flatten)]
        conn: Conn,
    },
    /// After-call work: `sipedge wrap complete AGENT|INTERACTION_ID`.
    Wrap {
        #[command(subcommand)]
        command: WrapCommand,
    },
    /// Read the configuration file again and apply it (like SIGHUP); on
    /// an error the running configuration stays and the error is printed.
    Reload {
        #[command(flatten)]
        conn: Conn,
    },
    /// Stop taking new calls (503 + Retry-After), wait for the live ones
    /// to end or the deadline, deliver the outbox, then stop the daemon.
    Drain {
        /// Seconds to wait for live calls.
        #[arg(long, default_value_t = 300)]
        deadline: u64,
        #[command(flatten)]
        conn: Conn,
    },
    /// Counters of the proxy, the call core and the event pipeline.
    Stats {
        #[command(flatten)]
        conn: Conn,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand, Debug)]
pub enum WrapCommand {
    /// The agent is done with after-call work (`wrap.ended`, reason
    /// `completed`).
    Complete {
        /// An agent id, or the interaction id whose wrap it is.
        who: String,
        #[command(flatten)]
        conn: Conn,
    },
}

/// How the CLI reaches the admin API.
#[derive(clap::Args, Debug, Clone)]
pub struct Conn {
    /// The configuration file (finds `[admin] socket`).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// The admin Unix socket (instead of the config's).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The admin API over TCP, e.g. http://127.0.0.1:9465.
    #[arg(long)]
    url: Option<String>,
    /// Bearer token for --url (or SIPEDGE_TOKEN).
    #[arg(long, env = "SIPEDGE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// The default configuration file of an installed sipedge.
const DEFAULT_CONFIG: &str = "/etc/sipedge/sipedge.toml";

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Print the outbox's events, one CloudEvent per line (events every
    /// sink has delivered are deleted with their segment; the file sink
    /// keeps the history).
    Tail {
        /// Keep printing new events as they are committed.
        #[arg(short, long)]
        follow: bool,
        /// Only this type: `interaction.ended` or `sipedge.interaction.ended`.
        #[arg(long = "type", value_name = "T")]
        kind: Option<String>,
        /// Only the last N events (before following).
        #[arg(short = 'n', long, value_name = "N")]
        lines: Option<usize>,
        /// The configuration file (finds `[node] data_dir`).
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// Per-sink cursor, backlog, oldest undelivered event, size vs bound.
    Status {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse { stream, files } => parse_cmd(stream, &files),
        Command::Run { config } => run_cmd(&config),
        Command::CheckConfig { file } => match crate::config::Config::load(&file) {
            Ok(c) => {
                // Certificates are read too: a typo in a path should not
                // wait for the restart to show.
                for (i, l) in c.listen.iter().enumerate() {
                    if let Err(e) = crate::server::tls_acceptor(l) {
                        eprintln!("{}: listen[{i}]: {e}", file.display());
                        return ExitCode::from(1);
                    }
                }
                let listeners: Vec<String> = c
                    .listen
                    .iter()
                    .map(|l| format!("{} {}", l.transport.as_str(), l.addr))
                    .collect();
                println!(
                    "{}: ok (listen: {}; pbx: {})",
                    file.display(),
                    listeners.join(", "),
                    c.pbx
                        .addrs
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
        Command::Events {
            command:
                EventsCommand::Tail {
                    follow,
                    kind,
                    lines,
                    config,
                },
        } => events_tail(&config, follow, kind.as_deref(), lines),
        Command::Outbox {
            command: OutboxCommand::Status { config, json },
        } => outbox_status(&config, json),
        Command::Calls { conn } => api_cmd(&conn, "GET", "/v1/calls", None, print_calls),
        Command::Call { id, conn } => {
            let path = format!("/v1/calls/{}", url_escape(&id));
            api_cmd(&conn, "GET", &path, None, |v| {
                println!("{}", serde_json::to_string_pretty(v).unwrap_or_default())
            })
        }
        Command::End { id, by, conn } => {
            let path = format!("/v1/calls/{}/end", url_escape(&id));
            let body = serde_json::json!({ "by": by }).to_string();
            api_cmd(&conn, "POST", &path, Some(&body), |v| {
                println!(
                    "ended {} (by {}): BYE sent both ways",
                    v["ended"].as_str().unwrap_or_default(),
                    v["by"].as_str().unwrap_or_default()
                )
            })
        }
        Command::Agents { conn } => api_cmd(&conn, "GET", "/v1/agents", None, print_agents),
        Command::Wrap {
            command: WrapCommand::Complete { who, conn },
        } => {
            let path = format!("/v1/wrap/{}/complete", url_escape(&who));
            api_cmd(&conn, "POST", &path, None, |v| {
                println!(
                    "wrap completed: {}",
                    v["completed"].as_str().unwrap_or_default()
                )
            })
        }
        Command::Reload { conn } => api_cmd(&conn, "POST", "/v1/reload", None, |v| {
            let restart: Vec<&str> = v["restart_needed"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            if restart.is_empty() {
                println!("reloaded {}", v["reloaded"].as_str().unwrap_or_default());
            } else {
                println!(
                    "reloaded {}; these changes need a restart: {}",
                    v["reloaded"].as_str().unwrap_or_default(),
                    restart.join(", ")
                );
            }
        }),
        Command::Drain { deadline, conn } => {
            let body = serde_json::json!({ "deadline_s": deadline }).to_string();
            api_cmd(&conn, "POST", "/v1/drain", Some(&body), |v| {
                println!(
                    "draining: {} live calls; sipedge stops when they end or in {} s",
                    v["live_calls"], v["deadline_s"]
                )
            })
        }
        Command::Stats { conn } => api_cmd(&conn, "GET", "/v1/stats", None, |v| {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default())
        }),
        Command::Version => {
            println!("sipedge {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}

fn read_input(path: &PathBuf) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

fn parse_cmd(as_stream: bool, files: &[PathBuf]) -> ExitCode {
    let limits = Limits::DEFAULT;
    let mut refused = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in files {
        let data = match read_input(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("sipedge parse: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        let mut lines = Vec::new();
        if as_stream {
            refused |= parse_stream(Bytes::from(data), &limits, &mut lines);
        } else {
            let (line, bad) = one(Bytes::from(data), Framing::Datagram, &limits);
            refused |= bad;
            lines.push(line);
        }
        for l in lines {
            if writeln!(out, "{l}").is_err() {
                return ExitCode::from(2);
            }
        }
    }
    if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn one(buf: Bytes, framing: Framing, limits: &Limits) -> (serde_json::Value, bool) {
    match sip::parse_with(buf, framing, limits).and_then(|m| m.validate_all().map(|()| m)) {
        Ok(m) => (inspect::message_json(&m), false),
        Err(e) => (inspect::error_json(&e), true),
    }
}

/// Splits a byte stream into messages; returns whether anything was refused.
fn parse_stream(mut buf: Bytes, limits: &Limits, lines: &mut Vec<serde_json::Value>) -> bool {
    let mut offset = 0;
    loop {
        match stream::next_frame(&buf, limits) {
            Ok(stream::Frame::NeedMore) => {
                if buf.is_empty() {
                    return false;
                }
                lines.push(serde_json::json!({
                    "error": "truncated",
                    "offset": offset,
                    "message": format!("{} bytes at the end do not form a complete message", buf.len()),
                }));
                return true;
            }
            Ok(stream::Frame::Ping) => {
                lines.push(serde_json::json!({ "keepalive": "ping", "offset": offset }));
                let _ = buf.split_to(4);
                offset += 4;
            }
            Ok(stream::Frame::Pong) => {
                lines.push(serde_json::json!({ "keepalive": "pong", "offset": offset }));
                let _ = buf.split_to(2);
                offset += 2;
            }
            Ok(stream::Frame::Message { len }) => {
                let (line, bad) = one(buf.split_to(len), Framing::Stream, limits);
                lines.push(line);
                offset += len;
                if bad {
                    return true;
                }
            }
            Err(mut e) => {
                e.offset += offset;
                lines.push(inspect::error_json(&e));
                return true;
            }
        }
    }
}

fn run_cmd(path: &std::path::Path) -> ExitCode {
    let config = match crate::config::Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    crate::logging::init(config.log.format, config.log.level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sipedge: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(crate::server::run(
        config,
        Some(path.to_path_buf()),
        crate::server::stop_signal(),
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sipedge: {e}");
            ExitCode::from(1)
        }
    }
}

fn load_or_exit(path: &std::path::Path) -> Result<crate::config::Config, ExitCode> {
    crate::config::Config::load(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

/// The CloudEvent `type` of a payload.
fn type_of(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<T>(payload).ok().map(|t| t.kind)
}

fn events_tail(
    config: &std::path::Path,
    follow: bool,
    kind: Option<&str>,
    last: Option<usize>,
) -> ExitCode {
    let config = match load_or_exit(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let dir = crate::sink::outbox_dir(&config.node.data_dir);
    let want = kind.map(|k| {
        if k.starts_with("sipedge.") {
            k.to_string()
        } else {
            format!("sipedge.{k}")
        }
    });
    let keep = |p: &[u8]| {
        want.as_deref()
            .is_none_or(|w| type_of(p).as_deref() == Some(w))
    };
    let mut reader = crate::outbox::Reader::new(&dir, 1);
    let stdout = std::io::stdout();
    let mut first = true;
    loop {
        let batch = match reader.read(4096, u64::MAX) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("sipedge events tail: {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        };
        let mut shown: Vec<&[u8]> = batch
            .iter()
            .map(|(_, p)| p.as_slice())
            .filter(|p| keep(p))
            .collect();
        if first {
            if let Some(n) = last {
                // Read everything there is before cutting to the last N.
                let mut all: Vec<Vec<u8>> = shown.iter().map(|p| p.to_vec()).collect();
                loop {
                    match reader.read(4096, u64::MAX) {
                        Ok(more) if !more.is_empty() => {
                            all.extend(more.into_iter().map(|(_, p)| p).filter(|p| keep(p)))
                        }
                        _ => break,
                    }
                }
                let from = all.len().saturating_sub(n);
                let mut out = stdout.lock();
                for p in &all[from..] {
                    if out
                        .write_all(p)
                        .and_then(|()| out.write_all(b"\n"))
                        .is_err()
                    {
                        return ExitCode::SUCCESS;
                    }
                }
                shown.clear();
            }
        }
        {
            let mut out = stdout.lock();
            for p in &shown {
                if out
                    .write_all(p)
                    .and_then(|()| out.write_all(b"\n"))
                    .is_err()
                {
                    return ExitCode::SUCCESS;
                }
            }
            let _ = out.flush();
        }
        let more = !batch.is_empty();
        first = false;
        if !more {
            if !follow {
                return ExitCode::SUCCESS;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

fn outbox_status(config: &std::path::Path, json: bool) -> ExitCode {
    let config = match load_or_exit(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let dir = crate::sink::outbox_dir(&config.node.data_dir);
    let segs = match crate::outbox::segments(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sipedge outbox status: {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let size: u64 = segs
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    // The next sequence number: the last segment's first plus its records.
    let next = match segs.last() {
        Some((first, _)) => {
            let mut r = crate::outbox::Reader::new(&dir, *first);
            loop {
                match r.read(4096, u64::MAX) {
                    Ok(b) if !b.is_empty() => {}
                    _ => break,
                }
            }
            r.position()
        }
        None => 1,
    };
    let now_ms = crate::server::unix_ms();
    let mut sinks = Vec::new();
    for kind in &config.events.sinks {
        let name = kind.as_str();
        let cursor = crate::outbox::read_cursor(&dir, name).unwrap_or(1);
        let backlog = next.saturating_sub(cursor);
        let oldest_age_ms = if backlog > 0 {
            crate::outbox::Reader::new(&dir, cursor)
                .read(1, u64::MAX)
                .ok()
                .and_then(|b| b.into_iter().next())
                .and_then(|(_, p)| serde_json::from_slice::<serde_json::Value>(&p).ok())
                .and_then(|v| v["time"].as_str().and_then(crate::event::parse_rfc3339_ms))
                .map(|t| (now_ms - t).max(0))
        } else {
            None
        };
        sinks.push(serde_json::json!({
            "sink": name,
            "cursor": cursor,
            "backlog_events": backlog,
            "oldest_undelivered_age_ms": oldest_age_ms,
        }));
    }
    let max = config.events.outbox_max_mb << 20;
    let status = serde_json::json!({
        "dir": dir.display().to_string(),
        "next_seq": next,
        "segments": segs.len(),
        "size_bytes": size,
        "max_bytes": max,
        "used_percent": (size as f64 * 100.0 / max as f64 * 10.0).round() / 10.0,
        "sinks": sinks,
    });
    if json {
        println!("{status}");
        return ExitCode::SUCCESS;
    }
    println!(
        "outbox {}: {} segments, {} bytes of {} ({}%), next event #{}",
        status["dir"].as_str().unwrap_or_default(),
        segs.len(),
        size,
        max,
        status["used_percent"],
        next
    );
    println!(
        "{:<8} {:>10} {:>10} {:>16}",
        "SINK", "CURSOR", "BACKLOG", "OLDEST AGE"
    );
    for s in &sinks {
        let age = s["oldest_undelivered_age_ms"]
            .as_i64()
            .map_or("-".to_string(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
        println!(
            "{:<8} {:>10} {:>10} {:>16}",
            s["sink"].as_str().unwrap_or_default(),
            s["cursor"].as_u64().unwrap_or_default(),
            s["backlog_events"].as_u64().unwrap_or_default(),
            age
        );
    }
    ExitCode::SUCCESS
}

/// Percent-escapes what is not unreserved in a path segment.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One HTTP/1.1 request over the admin socket or TCP; (status, body).
fn http(
    conn: &Conn,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(u16, Vec<u8>), String> {
    use std::io::{Read, Write};
    let body = body.unwrap_or("");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: sipedge\r\nConnection: close\r\nAccept: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    let mut raw = Vec::new();
    if let Some(url) = &conn.url {
        let hostport = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--url {url}: only http:// is supported"))?
            .trim_end_matches('/');
        if let Some(t) = &conn.token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        let mut s = std::net::TcpStream::connect(hostport).map_err(|e| format!("{url}: {e}"))?;
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    } else {
        let path_sock = match &conn.socket {
            Some(p) => p.clone(),
            None => socket_of(&conn.config)?,
        };
        req.push_str("\r\n");
        req.push_str(body);
        let mut s = std::os::unix::net::UnixStream::connect(&path_sock).map_err(|e| {
            format!(
                "{}: {e} (is sipedge running with this config?)",
                path_sock.display()
            )
        })?;
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer is not HTTP")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("the answer has no status")?;
    let mut body = raw[split + 4..].to_vec();
    if head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    }) {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}

/// Runs an API call: JSON with --json, else `show`. Exit 0 on 2xx, 1 when
/// the API refused (its error printed), 2 when it could not be reached.
fn api_cmd(
    conn: &Conn,
    method: &str,
    path: &str,
    body: Option<&str>,
    show: impl Fn(&serde_json::Value),
) -> ExitCode {
    match http(conn, method, path, body) {
        Err(e) => {
            eprintln!("sipedge: {e}");
            ExitCode::from(2)
        }
        Ok((status, body)) => {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
            });
            if !(200..300).contains(&status) {
                let msg = v["error"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                eprintln!("sipedge: {status}: {msg}");
                return ExitCode::from(1);
            }
            if conn.json {
                println!("{v}");
            } else {
                show(&v);
            }
            ExitCode::SUCCESS
        }
    }
}

fn print_calls(v: &serde_json::Value) {
    let rows = v.as_array().cloned().unwrap_or_default();
    println!(
        "{:<38} {:<12} {:<9} {:<10} {:<6} {:<21} {:>8}  REMOTE",
        "ID", "AGENT", "DIRECTION", "DEVICE", "CHAN", "STATE", "AGE"
    );
    for c in &rows {
        println!(
            "{:<38} {:<12} {:<9} {:<10} {:<6} {:<21} {:>7.1}s  {}",
            c["interaction_id"].as_str().unwrap_or_default(),
            c["agent"].as_str().unwrap_or_default(),
            c["direction"].as_str().unwrap_or_default(),
            c["device"].as_str().unwrap_or_default(),
            c["channel"].as_str().unwrap_or_default(),
            c["state"].as_str().unwrap_or_default(),
            c["age_ms"].as_f64().unwrap_or_default() / 1000.0,
            c["remote"].as_str().unwrap_or_default(),
        );
    }
    println!("{} live", rows.len());
}

fn print_agents(v: &serde_json::Value) {
    let rows = v.as_array().cloned().unwrap_or_default();
    println!(
        "{:<14} {:<10} {:>6} {:>8}  {:<24} CONTACT",
        "AGENT", "DEVICE", "FLOW", "EXPIRES", "WRAP"
    );
    for a in &rows {
        let wrap = match &a["wrap"] {
            serde_json::Value::Null => "-".to_string(),
            w => format!("{}s left", w["left_s"]),
        };
        println!(
            "{:<14} {:<10} {:>6} {:>8}  {:<24} {}",
            a["agent"].as_str().unwrap_or_default(),
            a["device"].as_str().unwrap_or("-"),
            a["flow"].as_u64().map_or("-".into(), |f| f.to_string()),
            a["expires_in_s"]
                .as_u64()
                .map_or("-".into(), |f| format!("{f}s")),
            wrap,
            a["contact"].as_str().unwrap_or("-"),
        );
    }
}

/// `[admin] socket` of a config file, read leniently: a file the daemon
/// would refuse (being edited for a reload, say) still names its socket.
fn socket_of(config: &std::path::Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let socket = doc
        .get("admin")
        .and_then(|a| a.get("socket"))
        .and_then(|s| s.as_str())
        .unwrap_or("data/admin.sock");
    let socket = PathBuf::from(socket);
    Ok(if socket.is_relative() {
        config
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(socket)
    } else {
        socket
    })
}
