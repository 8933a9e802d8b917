//! Test processes: sipedge started from its binary with a config of the
//! test's, sipp as phones and PBX, on free loopback ports. Every wait is on
//! a condition with a bound; every process is stopped by its PID.

use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let Ok(udp) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = udp.local_addr() else { continue };
        if TcpListener::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no free loopback port");
}

/// A scratch directory for one test, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sipedge-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running `sipedge run`.
/// Its log stays in the scratch directory, which a failing test keeps.
pub struct Sipedge {
    child: Child,
    pub port: u16,
    /// `/metrics`, `/live`, `/ready`.
    pub metrics_port: u16,
    dir: PathBuf,
    /// The nats-server its events also go to ([`Sipedge::on_bus`]).
    bus: Option<super::nats::Nats>,
}

impl Sipedge {
    /// Starts sipedge with UDP and TCP on a free port and the PBX at
    /// `pbx_port`; returns once every listener is bound.
    pub fn start(scratch: &Scratch, pbx_port: u16) -> Sipedge {
        Sipedge::start_with(scratch, pbx_port, "")
    }

    /// Like [`start`](Self::start), with more TOML appended to the config.
    pub fn start_with(scratch: &Scratch, pbx_port: u16, extra: &str) -> Sipedge {
        let port = free_port();
        let metrics_port = free_port();
        let config = scratch.0.join("sipedge.toml");
        let mut f = std::fs::File::create(&config).unwrap();
        write!(
            f,
            "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:{port}\"\n[[listen]]\ntransport = \"tcp\"\naddr = \"127.0.0.1:{port}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n[pbx]\naddrs = [\"127.0.0.1:{pbx_port}\"]\n{extra}"
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sipedge"))
            .args(["run", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(scratch.0.join("sipedge.log")).unwrap())
            .stderr(std::fs::File::create(scratch.0.join("sipedge.err")).unwrap())
            .spawn()
            .expect("start sipedge");
        let mut me = Sipedge {
            child,
            port,
            metrics_port,
            dir: scratch.0.clone(),
            bus: None,
        };
        // Every listener is bound once the proxy says it runs.
        let log = scratch.0.join("sipedge.log");
        wait_for("sipedge to listen", Duration::from_secs(10), || {
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!(
                    "sipedge exited ({status}): {}",
                    std::fs::read_to_string(scratch.0.join("sipedge.err")).unwrap_or_default()
                );
            }
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Proxy running."))
        });
        me
    }

    /// Like [`start_with`](Self::start_with), with events going to a
    /// nats-server of its own (JetStream) as well as to the file; check
    /// them with [`bus_agrees`](Self::bus_agrees).
    pub fn on_bus(scratch: &Scratch, pbx_port: u16, extra: &str) -> Sipedge {
        let nats = super::nats::Nats::start(scratch, free_port());
        let mut me = Sipedge::start_with(
            scratch,
            pbx_port,
            &(super::nats::nats_config(nats.port) + extra),
        );
        me.bus = Some(nats);
        me
    }

    /// Sends [`bus_agrees`](Self::bus_agrees) and
    /// [`bus_events`](Self::bus_events) to `nats` (a daemon whose sinks a
    /// reload changed).
    pub fn attach_bus(&mut self, nats: super::nats::Nats) {
        self.bus = Some(nats);
    }

    /// Every event on its nats-server's stream now.
    pub fn bus_events(&self) -> Vec<serde_json::Value> {
        let nats = self.bus.as_ref().expect("a bus");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(super::nats::stream_messages(&nats.url()))
            .into_iter()
            .map(|(_, _, e)| e)
            .collect()
    }

    /// Waits (bounded) until the NATS sink has delivered everything the
    /// file sink has, then checks a JetStream consumer sees exactly the
    /// same events, once each, in order, on `sipedge.<type>` with
    /// `Nats-Msg-Id` = id; and that `sipedge_interactions_ended_total`
    /// counts the `interaction.ended` events by their labels. Returns the
    /// events read from JetStream.
    pub fn bus_agrees(&self) -> Vec<serde_json::Value> {
        let nats = self.bus.as_ref().expect("started with Sipedge::on_bus");
        let metric = |text: &str, line: &str| -> Option<f64> {
            text.lines()
                .find_map(|l| l.strip_prefix(line))
                .and_then(|v| v.trim().parse().ok())
        };
        let mut file = Vec::new();
        let mut text = String::new();
        wait_for("the NATS sink to catch up", Duration::from_secs(20), || {
            file = self.events();
            text = http_get(self.metrics_port, "/metrics").1;
            metric(&text, "sipedge_outbox_backlog_events{sink=\"nats\"} ") == Some(0.0)
                && metric(&text, "sipedge_events_published_total{sink=\"nats\"} ")
                    == Some(file.len() as f64)
        });
        let bus = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(super::nats::stream_messages(&nats.url()));
        assert_eq!(bus.len(), file.len(), "JetStream holds each event once");
        for ((subject, msg_id, e), f) in bus.iter().zip(&file) {
            assert_eq!(e, f, "JetStream and the file sink agree");
            let kind = f["type"].as_str().unwrap();
            assert_eq!(subject.as_str(), kind, "subject is sipedge.<type>");
            assert_eq!(Some(msg_id.as_str()), f["id"].as_str());
        }
        let mut by_labels = std::collections::BTreeMap::<String, f64>::new();
        for e in file
            .iter()
            .filter(|e| e["type"] == "sipedge.interaction.ended")
        {
            let d = &e["data"];
            let line = format!(
                "sipedge_interactions_ended_total{{ended_by=\"{}\",end_reason=\"{}\",channel=\"{}\",device=\"{}\"}} ",
                d["ended_by"].as_str().unwrap(),
                d["end_reason"].as_str().unwrap(),
                d["channel"].as_str().unwrap(),
                d["device"].as_str().unwrap()
            );
            *by_labels.entry(line).or_default() += 1.0;
        }
        for (line, n) in by_labels {
            assert_eq!(metric(&text, &line), Some(n), "{line} in:\n{text}");
        }
        bus.into_iter().map(|(_, _, e)| e).collect()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits (bounded) for the process to exit by itself; its status.
    pub fn exits_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "sipedge did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its configuration file.
    pub fn config(&self) -> PathBuf {
        self.dir.join("sipedge.toml")
    }

    /// Runs `sipedge ARGS --config <its config>`; (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_sipedge"))
            .args(args)
            .arg("--config")
            .arg(self.config())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The events in the file sink so far (`data/events.jsonl` beside the
    /// config, the default).
    pub fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("data/events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is one JSON event"))
            .collect()
    }

    /// Waits (bounded: 10 s) until `n` events of `kind` (e.g.
    /// `interaction.ended`) are in the file; returns them.
    pub fn wait_events(&self, kind: &str, n: usize) -> Vec<serde_json::Value> {
        let want = format!("sipedge.{kind}");
        let of_kind = || -> Vec<serde_json::Value> {
            self.events()
                .into_iter()
                .filter(|e| e["type"] == want.as_str())
                .collect()
        };
        wait_for(
            &format!("{n} {kind} events"),
            Duration::from_secs(10),
            || of_kind().len() >= n,
        );
        of_kind()
    }
}

impl Drop for Sipedge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `ready` every 20 ms until it holds or `limit` passes.
pub fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A peer's binary from a Debian package, or a clear failure saying how to
/// get it (scripts/test.sh installs every peer).
pub fn need_bin(bin: &'static str, version_flag: &str, package: &str) -> &'static str {
    let found = Command::new(bin)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{bin} is not installed: run scripts/test.sh (it installs {package}) or apt-get install {package}"
    );
    bin
}

/// The sipp binary (Debian package sip-tester).
pub fn sipp_bin() -> &'static str {
    need_bin("sipp", "-v", "sip-tester")
}

/// A sipp process.
pub struct Sipp {
    child: Child,
    pub name: String,
    out: PathBuf,
}

/// `-sn uac`/`-sn uas` for sipp's built-in scenarios, else `-sf` with the
/// file of `tests/sipp/`.
fn scenario_args(name: &str) -> [String; 2] {
    match name {
        "uac" | "uas" => ["-sn".into(), name.into()],
        file => ["-sf".into(), scenario(file)],
    }
}

impl Sipp {
    /// The PBX on 127.0.0.1:`port`, running `scenario` for `calls` calls.
    pub fn pbx(scratch: &Scratch, port: u16, scenario: &str, calls: &str, extra: &[&str]) -> Sipp {
        let [a, b] = scenario_args(scenario);
        let port = port.to_string();
        let mut args = vec![&*a, &*b, "-i", "127.0.0.1", "-p", &port, "-m", calls];
        if !extra.contains(&"-timeout") {
            args.extend_from_slice(&["-timeout", "40s"]);
        }
        args.extend_from_slice(extra);
        Sipp::spawn(scratch, "pbx", &args)
    }

    /// An agent's phone on a free loopback port calling `target` (the
    /// edge) with `scenario`, for `calls` calls to extension 1002.
    pub fn agent(
        scratch: &Scratch,
        target: &str,
        scenario: &str,
        calls: &str,
        extra: &[&str],
    ) -> Sipp {
        let [a, b] = scenario_args(scenario);
        let port = free_port().to_string();
        let mut args = vec![
            &*a,
            &*b,
            target,
            "-s",
            "1002",
            "-i",
            "127.0.0.1",
            "-p",
            &port,
            "-m",
            calls,
        ];
        args.extend_from_slice(&["-timeout", "40s"]);
        args.extend_from_slice(extra);
        Sipp::spawn(scratch, "agent", &args)
    }

    pub fn spawn(scratch: &Scratch, name: &str, args: &[&str]) -> Sipp {
        let out = scratch.0.join(format!("{name}.out"));
        let err = scratch.0.join(format!("{name}_errors.log"));
        let child = Command::new(sipp_bin())
            .args(args)
            .args(["-trace_err", "-error_file"])
            .arg(&err)
            .current_dir(&scratch.0)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipp");
        Sipp {
            child,
            name: name.to_string(),
            out,
        }
    }

    /// Waits (bounded) for sipp to finish; panics with its output otherwise.
    pub fn finish(mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not finish in {limit:?}:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn output(&self) -> String {
        let mut s = std::fs::read_to_string(&self.out).unwrap_or_default();
        if let Ok(e) =
            std::fs::read_to_string(self.out.with_file_name(format!("{}_errors.log", self.name)))
        {
            s += &e;
        }
        s
    }

    /// Waits and asserts exit status 0 (every call successful).
    pub fn succeeds(self, limit: Duration) {
        let name = self.name.clone();
        let out = self.out.clone();
        let status = self.finish(limit);
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let errors = std::fs::read_to_string(out.with_file_name(format!("{name}_errors.log")))
            .unwrap_or_default();
        assert!(
            status.success(),
            "{name} failed ({status}):\n{text}\n{errors}"
        );
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `tests/sipp/NAME.xml`.
pub fn scenario(name: &str) -> String {
    format!("{}/tests/sipp/{name}.xml", env!("CARGO_MANIFEST_DIR"))
}

/// A GET on 127.0.0.1:`port` (bounded: 5 s); (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
    (status, body.to_string())
}
