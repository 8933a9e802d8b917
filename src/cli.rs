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
    /// Print the version.
    Version,
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
    tracing_subscriber::fmt()
        .with_target(false)
        .with_max_level(tracing::Level::INFO)
        .init();
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
    let result = runtime.block_on(crate::server::run(config, shutdown_signal()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sipedge: {e}");
            ExitCode::from(1)
        }
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
