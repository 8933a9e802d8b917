//! The systemd unit and the notify protocol: `systemd-analyze verify` is
//! clean, `systemd-analyze security` scores 2.0 or lower, and the daemon
//! sends READY=1 once bound and WATCHDOG=1 while its shards answer.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::daemon::{Scratch, free_port, need_bin};

fn unit() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("systemd/sipedge.service")
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    let analyze = need_bin("systemd-analyze", "--version", "systemd");
    let s = Scratch::new("systemd-unit");
    // verify checks that ExecStart exists: point it at the built binary.
    let text = std::fs::read_to_string(unit())
        .unwrap()
        .replace("/usr/bin/sipedge", env!("CARGO_BIN_EXE_sipedge"));
    let copy = s.0.join("sipedge.service");
    std::fs::write(&copy, text).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "verify: {said}"
    );

    let out = Command::new(analyze)
        .args(["security", "--offline=yes"])
        .arg(unit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for sipedge.service: ")
                .nth(1)
        })
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no score in: {text}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");
}

#[test]
fn ready_then_watchdog_heartbeats_reach_notify_socket() {
    let s = Scratch::new("systemd-notify");
    let sock_path = s.0.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = free_port();
    let config = s.0.join("sipedge.toml");
    std::fs::write(
        &config,
        format!(
            "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:{port}\"\n[metrics]\nlisten = \"\"\n[pbx]\naddrs = [\"127.0.0.1:{}\"]\n",
            free_port()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipedge"))
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 512];
    let mut next = || {
        let n = sock.recv(&mut buf).expect("a notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = next();
    assert!(first.starts_with("READY=1"), "{first}");
    // Bound UDP before READY: the port is taken now.
    assert!(std::net::UdpSocket::bind(("127.0.0.1", port)).is_err());
    let beat = next();
    assert!(beat.starts_with("WATCHDOG=1"), "{beat}");
    assert!(beat.contains("STATUS=running, 0 live calls"), "{beat}");
    let _ = child.kill();
    let _ = child.wait();
}
