//! systemd's notify protocol (`Type=notify`): READY=1 once every listener
//! is bound and the outbox is open, WATCHDOG=1 only when every shard loop
//! has answered a ping (a stuck shard stops the heartbeat and systemd
//! restarts the daemon), STATUS= with live calls, STOPPING=1 on shutdown.
//! Without `NOTIFY_SOCKET` (not under systemd) every call is a no-op.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends one notification; `Ok(false)` when not under systemd.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let sock = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket (Linux).
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), path)?;
    }
    Ok(true)
}

/// How often to send WATCHDOG=1: half of `WATCHDOG_USEC`, when systemd
/// asked for it (and `WATCHDOG_PID`, if set, is us).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}
