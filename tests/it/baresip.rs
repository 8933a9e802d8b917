//! baresip (Debian package baresip-core) as a real agent phone through
//! `sipedge run`, over UDP and over TLS: it registers through sipedge to a
//! sipp PBX, takes the PBX's call and either the contact hangs up or the
//! agent does (baresip's `hangup` over its ctrl_tcp command interface);
//! and it calls out and hangs up. Each call's events are checked in the
//! file and on a JetStream consumer.
//!
//! baresip 1.0.0 notes (what the recipe needs): `net_interface` must be an
//! address (`lo` is refused), the `ausine` source only runs at 48 kHz
//! stereo, ctrl_tcp serves one client (commands and events share it), and
//! it does not verify the server's TLS certificate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::TestCa;
use super::daemon::{Scratch, Sipedge, Sipp, free_port, need_bin, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

/// A baresip process with its own config dir, killed by PID on drop.
struct Baresip {
    child: Child,
    ctrl: Ctrl,
}

impl Baresip {
    /// Starts baresip registered (`regint` seconds; 0: no REGISTER) via
    /// `outbound` (e.g. `sip:127.0.0.1:5060;transport=udp`).
    fn start(s: &Scratch, outbound: &str, regint: u32) -> Baresip {
        let bin = need_bin("baresip", "-h", "baresip-core");
        let dir = s.0.join("baresip");
        std::fs::create_dir_all(&dir).unwrap();
        let (sip, ctrl) = (free_port(), free_port());
        let rtp = free_port() & !1;
        std::fs::write(
            dir.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{sip}\nnet_interface 127.0.0.1\n\
                 call_local_timeout 120\naudio_player none\naudio_source ausine,440\n\
                 ausrc_srate 48000\nausrc_channels 2\naudio_alert none\n\
                 rtp_ports {rtp}-{}\nrtcp_mux no\n\
                 module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\n\
                 module_tmp uuid.so\nmodule_tmp account.so\n\
                 module_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n",
                rtp + 20
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:1001@pbx.example.com>;outbound=\"{outbound}\";regint={regint};answermode=auto;audio_codecs=pcmu,pcma;mwi=no\n"
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-f")
            .arg(&dir)
            .args(["-s", "-t", "90"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(s.0.join("baresip.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start baresip");
        Baresip {
            child,
            ctrl: Ctrl::connect(ctrl),
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        // SIGKILL: a polite quit would wait for an un-REGISTER the
        // finished PBX no longer answers.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// baresip's ctrl_tcp: netstrings (`LEN:JSON,`) both ways; commands
/// `{"command", "params", "token"}`, answers `{"response", "ok", "token"}`,
/// events `{"event": true, "type": "CALL_ESTABLISHED", ...}`.
struct Ctrl {
    sock: TcpStream,
    buf: Vec<u8>,
    seen: Vec<String>,
}

impl Ctrl {
    fn connect(port: u16) -> Ctrl {
        let mut sock = None;
        wait_for("baresip's ctrl_tcp", Duration::from_secs(10), || {
            sock = TcpStream::connect(("127.0.0.1", port)).ok();
            sock.is_some()
        });
        Ctrl {
            sock: sock.unwrap(),
            buf: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// The next message, waiting until `deadline`.
    fn read(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            if let Some(colon) = self.buf.iter().position(|&b| b == b':') {
                let n: usize = std::str::from_utf8(&self.buf[..colon]).ok()?.parse().ok()?;
                if self.buf.len() > colon + n + 1 {
                    let msg: Value =
                        serde_json::from_slice(&self.buf[colon + 1..colon + 1 + n]).ok()?;
                    self.buf.drain(..colon + n + 2);
                    if msg["event"] == true {
                        self.seen
                            .push(msg["type"].as_str().unwrap_or_default().to_string());
                    }
                    return Some(msg);
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(10))))
                .ok()?;
            let mut chunk = [0u8; 4096];
            match self.sock.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Waits (bounded) for a call event of `kind`.
    fn wait_event(&mut self, kind: &str) {
        let deadline = Instant::now() + LIMIT;
        while !self.seen.iter().any(|k| k == kind) {
            assert!(
                self.read(deadline).is_some(),
                "no {kind} from baresip (seen {:?})",
                self.seen
            );
        }
    }

    fn command(&mut self, command: &str, params: Option<&str>) {
        let mut c = serde_json::json!({ "command": command, "token": command });
        if let Some(p) = params {
            c["params"] = p.into();
        }
        let body = c.to_string();
        write!(self.sock, "{}:{body},", body.len()).unwrap();
        let deadline = Instant::now() + LIMIT;
        loop {
            let m = self
                .read(deadline)
                .unwrap_or_else(|| panic!("no answer to {command}"));
            if m["response"] == true && m["token"] == command {
                assert_eq!(m["ok"], true, "{command}: {m}");
                return;
            }
        }
    }
}

/// Where baresip reaches sipedge, and the extra config for it.
fn edge_for(s: &Scratch, transport: &str) -> (String, String, u16) {
    match transport {
        "udp" => (String::new(), "udp".into(), 0),
        _ => {
            let ca = TestCa::new(s);
            let port = free_port();
            (ca.listen("tls", port), "tls".into(), port)
        }
    }
}

fn outbound(edge: &Sipedge, transport: &str, tls_port: u16) -> String {
    match transport {
        "udp" => format!("sip:{};transport=udp", edge.addr()),
        _ => format!("sip:127.0.0.1:{tls_port};transport=tls"),
    }
}

fn assert_ended(edge: &Sipedge, by: &str, direction: &str, transport: &str) -> Value {
    let ended = edge.wait_events("interaction.ended", 1);
    let d = ended[0]["data"].clone();
    assert_eq!(
        (
            d["ended_by"].as_str(),
            d["end_reason"].as_str(),
            d["device"].as_str(),
            d["direction"].as_str()
        ),
        (Some(by), Some("bye"), Some("hardphone"), Some(direction)),
        "{d:#}"
    );
    assert!(
        d["agent"]["user_agent"]
            .as_str()
            .is_some_and(|ua| ua.starts_with("baresip")),
        "{d:#}"
    );
    edge.wait_events("wrap.started", 1);
    edge.bus_agrees();
    // The phone's side of it really came over `transport`.
    let metrics = super::daemon::http_get(edge.metrics_port, "/metrics").1;
    let label = format!("side=\"access\",transport=\"{transport}\"}}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("sipedge_sip_messages_received_total{") && l.contains(&label)),
        "nothing received over {transport}:\n{metrics}"
    );
    d
}

/// The PBX calls the registered baresip; `agent_hangs_up`: baresip's
/// `hangup`, else the PBX's BYE.
fn inbound(transport: &str, agent_hangs_up: bool) {
    let s = Scratch::new(&format!("baresip-in-{transport}-{agent_hangs_up}"));
    let pbx_port = free_port();
    let scenario = if agent_hangs_up {
        "pbx_registrar_calls_wait_bye"
    } else {
        "pbx_registrar_calls"
    };
    let pbx = Sipp::pbx(&s, pbx_port, scenario, "1", &[]);
    let (extra, _, tls_port) = edge_for(&s, transport);
    let edge = Sipedge::on_bus(&s, pbx_port, &extra);
    let mut phone = Baresip::start(&s, &outbound(&edge, transport, tls_port), 300);
    phone.ctrl.wait_event("CALL_ESTABLISHED");
    if agent_hangs_up {
        phone.ctrl.command("hangup", None);
    }
    phone.ctrl.wait_event("CALL_CLOSED");
    pbx.succeeds(LIMIT);
    let by = if agent_hangs_up { "agent" } else { "contact" };
    let d = assert_ended(&edge, by, "inbound", transport);
    assert_eq!(d["agent"]["id"], "1001");
}

#[test]
fn baresip_over_udp_takes_a_call_the_contact_ends() {
    inbound("udp", false);
}

#[test]
fn baresip_over_udp_takes_a_call_and_hangs_up() {
    inbound("udp", true);
}

#[test]
fn baresip_over_tls_takes_a_call_the_contact_ends() {
    inbound("tls", false);
}

#[test]
fn baresip_over_tls_takes_a_call_and_hangs_up() {
    inbound("tls", true);
}

/// baresip dials out through sipedge over TLS (the PBX answers copying
/// Record-Route, so the ACK and BYE come back through sipedge) and hangs up.
#[test]
fn baresip_over_tls_calls_out_and_hangs_up() {
    let s = Scratch::new("baresip-out-tls");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "uas_rr", "1", &[]);
    let (extra, _, tls_port) = edge_for(&s, "tls");
    let edge = Sipedge::on_bus(&s, pbx_port, &extra);
    let mut phone = Baresip::start(&s, &outbound(&edge, "tls", tls_port), 0);
    phone
        .ctrl
        .command("dial", Some("sip:5551234@pbx.example.com"));
    phone.ctrl.wait_event("CALL_ESTABLISHED");
    phone.ctrl.command("hangup", None);
    phone.ctrl.wait_event("CALL_CLOSED");
    pbx.succeeds(LIMIT);
    assert_ended(&edge, "agent", "outbound", "tls");
}
