//! The operator's surface through `sipedge run`: the admin API over its
//! Unix socket and over TCP with a token, the CLI on top of it (`calls`,
//! `call`, `end`, `agents`, `wrap complete`, `stats`), and `/metrics`,
//! `/live`, `/ready`.

use std::time::Duration;

use serde_json::Value;

use super::daemon::{Scratch, Sipedge, Sipp, free_port, http_get, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

fn json(out: &(i32, String, String)) -> Value {
    assert_eq!(out.0, 0, "{out:?}");
    serde_json::from_str(&out.1).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// The desktop's end-call button: `sipedge end ID` sends BYE to the agent's
/// phone and to the PBX (both sipp scenarios wait for it), and the events
/// say `end_reason=admin`. Then the agent completes wrap from the CLI.
#[test]
fn calls_end_wrap_and_metrics_through_the_cli() {
    let s = Scratch::new("admin");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "uas", "1", &[]);
    let edge = Sipedge::start(&s, pbx_port);
    let (code, body) = http_get(edge.metrics_port, "/ready");
    assert_eq!((code, body.trim()), (200, "ready"));
    assert_eq!(http_get(edge.metrics_port, "/live").0, 200);
    let agent = Sipp::agent(&s, &edge.addr(), "uac_wait_bye", "1", &[]);
    // The call shows up, talking.
    let mut calls = Value::Null;
    wait_for("the call to be listed as talking", LIMIT, || {
        calls = json(&edge.cli(&["calls", "--json"]));
        calls[0]["state"] == "talking"
    });
    assert_eq!(calls.as_array().unwrap().len(), 1);
    let c = &calls[0];
    assert_eq!(
        (&c["agent"], &c["direction"], &c["device"]),
        (
            &Value::from("agent-42"),
            &Value::from("outbound"),
            &Value::from("hardphone")
        )
    );
    let id = c["interaction_id"].as_str().unwrap().to_string();
    let table = edge.cli(&["calls"]);
    assert!(
        table.1.contains(&id) && table.1.contains("1 live"),
        "{table:?}"
    );
    let detail = json(&edge.cli(&["call", &id, "--json"]));
    assert_eq!(detail["state"], "confirmed");
    assert!(detail["evidence"].as_array().unwrap().len() >= 2);

    // A reload while the call is up does not drop it.
    assert_eq!(edge.cli(&["reload"]).0, 0);
    assert_eq!(json(&edge.cli(&["calls", "--json"]))[0]["state"], "talking");
    // Refusals: an unknown id, a bad --by.
    let (code, _, err) = edge.cli(&["end", "no-such-call"]);
    assert_eq!(code, 1);
    assert!(err.contains("404") && err.contains("no-such-call"), "{err}");
    assert_eq!(edge.cli(&["end", &id, "--by", "nobody"]).0, 2);

    // End it: both sides get their BYE and answer it.
    let out = edge.cli(&["end", &id]);
    assert_eq!(out.0, 0, "{out:?}");
    assert!(out.1.contains("BYE sent both ways"));
    agent.succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    let ended = edge.wait_events("interaction.ended", 1);
    let d = &ended[0]["data"];
    assert_eq!(
        (
            d["ended_by"].as_str(),
            d["end_reason"].as_str(),
            d["compat"]["disconnect_reason"].as_str()
        ),
        (Some("agent"), Some("admin"), Some("API"))
    );
    assert_eq!(json(&edge.cli(&["calls", "--json"])), Value::Array(vec![]));

    // The agent is in wrap; completing it emits wrap.ended.
    let agents = json(&edge.cli(&["agents", "--json"]));
    assert_eq!(agents[0]["agent"], "agent-42");
    assert!(agents[0]["wrap"]["left_s"].as_u64().unwrap() > 20);
    let (code, _, err) = edge.cli(&["wrap", "complete", "nobody"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(edge.cli(&["wrap", "complete", "agent-42"]).0, 0);
    let wrap = edge.wait_events("wrap.ended", 1);
    assert_eq!(wrap[0]["data"]["reason"], "completed");
    assert_eq!(json(&edge.cli(&["agents", "--json"])), Value::Array(vec![]));

    // Stats and metrics agree.
    let stats = json(&edge.cli(&["stats", "--json"]));
    let ended_total: u64 = stats["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["calls"]["ended"].as_u64().unwrap())
        .sum();
    assert_eq!(ended_total, 1);
    let (code, text) = http_get(edge.metrics_port, "/metrics");
    assert_eq!(code, 200);
    assert!(
        text.contains("sipedge_interactions_ended_total{ended_by=\"agent\",end_reason=\"admin\",channel=\"voice\",device=\"hardphone\"} 1"),
        "{text}"
    );
    assert!(text.contains("sipedge_interactions_started_total 1"));
    assert!(
        text.contains("sipedge_talk_duration_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "sipedge_sip_messages_sent_total{message=\"INVITE\",side=\"core\",transport=\"udp\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "sipedge_sip_messages_sent_total{message=\"BYE\",side=\"access\",transport=\"udp\"}"
        ),
        "sipedge's own BYE to the phone: {text}"
    );
    assert!(text.contains("sipedge_flows_by_transport{transport=\"udp\"}"));
    assert!(
        text.contains("sipedge_ring_duration_seconds_bucket{le=\"+Inf\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "sipedge_sip_messages_received_total{message=\"INVITE\",side=\"access\",transport=\"udp\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains(
        "sipedge_sip_messages_received_total{message=\"2xx\",side=\"core\",transport=\"udp\"}"
    ));
    assert!(text.contains("sipedge_agents_in_wrap 0"));
    for name in sipedge::metrics::ALL {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
    }
}

/// The API on TCP: without the token 401, with it served; the socket needs
/// none (its file mode guards it).
#[test]
fn the_tcp_api_wants_its_token() {
    let s = Scratch::new("admin-token");
    let port = free_port();
    std::fs::write(s.0.join("token"), "s3cret-token\n").unwrap();
    let edge = Sipedge::start_with(
        &s,
        free_port(),
        &format!("[admin]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"token\"\n"),
    );
    let url = format!("http://127.0.0.1:{port}");
    let (code, _, err) = edge.cli(&["calls", "--url", &url]);
    assert_eq!(code, 1);
    assert!(err.contains("401"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipedge"))
        .args(["calls", "--json", "--url", &url])
        .env("SIPEDGE_TOKEN", "s3cret-token")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    let (code, _, err) = edge.cli(&["calls", "--url", &url, "--token", "wrong-token!"]);
    assert_eq!(code, 1, "{err}");
    // The socket is mode 0660.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.0.join("data/admin.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
    // The token never reaches the log.
    let log = std::fs::read_to_string(s.0.join("sipedge.log")).unwrap();
    assert!(!log.contains("s3cret-token"));
}

#[test]
fn an_admin_listener_off_loopback_without_a_token_is_refused() {
    let s = Scratch::new("admin-open");
    let config = s.0.join("open.toml");
    std::fs::write(
        &config,
        "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[pbx]\naddrs = [\"127.0.0.1:5080\"]\n[admin]\nlisten = \"0.0.0.0:9465\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipedge"))
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("admin.listen") && err.contains("token"),
        "{err}"
    );
}

/// OPTIONS to the edge from one socket, `n` times at once: the status codes.
fn options_burst(edge: &Sipedge, n: usize) -> Vec<u16> {
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let to = edge.addr();
    for i in 0..n {
        let m = format!(
            "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKrl{i}\r\nMax-Forwards: 70\r\nFrom: <sip:x@y>;tag=a\r\nTo: <sip:{to}>\r\nCall-ID: rl{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        u.send_to(m.as_bytes(), &to).unwrap();
    }
    let mut codes = Vec::new();
    let mut buf = [0u8; 4096];
    while codes.len() < n {
        let (len, _) = u
            .recv_from(&mut buf)
            .expect("every OPTIONS is answered within 5 s");
        let text = String::from_utf8_lossy(&buf[..len]);
        codes.push(text[8..11].parse().unwrap());
    }
    codes
}

/// `sipedge reload` and SIGHUP apply a valid file, refuse a broken one
/// (the running configuration stays), and say what needs a restart.
#[test]
fn reload_applies_a_valid_file_and_refuses_a_broken_one() {
    let s = Scratch::new("admin-reload");
    let edge = Sipedge::start_with(&s, free_port(), "[sip]\nrate_limit = 1\nrate_burst = 1\n");
    assert!(options_burst(&edge, 4).contains(&503), "the limit is on");
    let path = edge.config();
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        original.replace("rate_limit = 1\n", "rate_limit = 0\n"),
    )
    .unwrap();
    let out = edge.cli(&["reload"]);
    assert_eq!(out.0, 0, "{out:?}");
    assert!(out.1.starts_with("reloaded"), "{out:?}");
    assert_eq!(options_burst(&edge, 6), vec![200; 6], "the limit is off");

    // A broken file: refused with the key named; nothing changes.
    std::fs::write(
        &path,
        original.replace("rate_limit = 1\n", "rate_limit = 1\nt1 = \"fast\"\n"),
    )
    .unwrap();
    let (code, _, err) = edge.cli(&["reload"]);
    assert_eq!(code, 1);
    assert!(err.contains("sip.t1"), "{err}");
    assert_eq!(
        options_burst(&edge, 6),
        vec![200; 6],
        "still the running config"
    );

    // SIGHUP does the same; a listener moved is bound and the old one let go.
    std::fs::write(&path, original.clone()).unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &edge.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    wait_for("the SIGHUP reload", LIMIT, || {
        options_burst(&edge, 4).contains(&503)
    });
    let moved = original.replace(
        &format!(
            "addr = \"127.0.0.1:{}\"\n[[listen]]\ntransport = \"tcp\"",
            edge.port
        ),
        &format!(
            "addr = \"127.0.0.1:{}\"\n[[listen]]\ntransport = \"tcp\"",
            free_port()
        ),
    );
    assert_ne!(moved, original);
    std::fs::write(&path, moved).unwrap();
    let v = json(&edge.cli(&["reload", "--json"]));
    assert_eq!(v["restart_needed"], serde_json::json!([]));
    assert_eq!(v["listeners"].as_array().unwrap().len(), 2, "{v}");
    // A new listener on an address in use (the metrics port): refused,
    // nothing changes.
    let busy = std::fs::read_to_string(&path).unwrap()
        + &format!(
            "[[listen]]\ntransport = \"tcp\"\naddr = \"127.0.0.1:{}\"\n",
            edge.metrics_port
        );
    std::fs::write(&path, busy).unwrap();
    let (code, _, err) = edge.cli(&["reload"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot bind tcp"), "{err}");
    // Counted: three done (cli, SIGHUP, cli), one refused; the 503s of the
    // rate limit by code.
    let (_, text) = http_get(edge.metrics_port, "/metrics");
    assert!(
        text.contains("sipedge_reloads_total{result=\"ok\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("sipedge_reloads_total{result=\"failed\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("sipedge_sip_refusals_total{code=\"503\"}"),
        "{text}"
    );
}

/// `sipedge drain`: new INVITEs get 503 + Retry-After, the live call goes
/// on to its end, its events are delivered, then the daemon exits 0.
#[test]
fn drain_refuses_new_calls_lets_live_ones_finish_then_stops() {
    let s = Scratch::new("admin-drain");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "uas", "1", &[]);
    let mut edge = Sipedge::start(&s, pbx_port);
    // A call that talks 3 s before the agent hangs up.
    let agent = Sipp::agent(&s, &edge.addr(), "uac", "1", &["-d", "3000"]);
    wait_for("the call to be talking", LIMIT, || {
        json(&edge.cli(&["calls", "--json"]))[0]["state"] == "talking"
    });
    let out = edge.cli(&["drain", "--deadline", "20"]);
    assert_eq!(out.0, 0, "{out:?}");
    assert!(out.1.contains("draining: 1 live calls"), "{out:?}");
    // Asked again: 409, it is already draining.
    let (code, _, err) = edge.cli(&["drain"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("409") && err.contains("already draining"),
        "{err}"
    );
    // A new call now: 503 with Retry-After.
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let to = edge.addr();
    let invite = "INVITE sip:1002@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKdrain1\r\nMax-Forwards: 70\r\nFrom: <sip:1001@pbx.example.com>;tag=d1\r\nTo: <sip:1002@pbx.example.com>\r\nCall-ID: drain-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    u.send_to(invite.as_bytes(), &to).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = u.recv_from(&mut buf).expect("an answer within 5 s");
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        answer.starts_with("SIP/2.0 503 Service Unavailable: draining"),
        "{answer}"
    );
    assert!(answer.contains("Retry-After: 60"), "{answer}");
    // The live call ends by itself; then the daemon stops, cleanly.
    agent.succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    let status = edge.exits_within(LIMIT);
    assert!(status.success(), "{status}");
    let ended = edge.wait_events("interaction.ended", 1);
    assert_eq!(ended[0]["data"]["ended_by"], "agent");
    assert_eq!(ended.len(), 1, "the refused INVITE made no interaction");
}

/// SIGTERM with nothing live: the daemon stops at once, exit 0.
#[test]
fn sigterm_with_no_calls_stops_at_once() {
    let s = Scratch::new("admin-sigterm");
    let mut edge = Sipedge::start(&s, free_port());
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &edge.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = edge.exits_within(Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

/// `[log] format = "json"`: every line is a JSON object; a reload turns
/// debug logging on without a restart.
#[test]
fn json_logs_and_the_level_changes_on_reload() {
    let s = Scratch::new("admin-logs");
    let edge = Sipedge::start_with(
        &s,
        free_port(),
        "[log]\nformat = \"json\"\nlevel = \"info\"\n",
    );
    let log = s.0.join("sipedge.log");
    let lines = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let first = lines(&std::fs::read_to_string(&log).unwrap());
    assert!(
        first
            .iter()
            .any(|l| l["message"] == "Proxy running." && l["level"] == "INFO")
    );
    // A malformed request is logged at debug: not yet.
    let garbage = |id: &str| {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let m = format!(
            "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK{id}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: {id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 300\r\n\r\nshort"
        );
        u.send_to(m.as_bytes(), edge.addr()).unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = u.recv_from(&mut buf).expect("a 400 within 5 s");
        assert!(buf[..n].starts_with(b"SIP/2.0 400"));
    };
    garbage("g1");
    let path = edge.config();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("level = \"info\"", "level = \"debug\"")).unwrap();
    assert_eq!(edge.cli(&["reload"]).0, 0);
    garbage("g2");
    wait_for("a debug line", LIMIT, || {
        lines(&std::fs::read_to_string(&log).unwrap())
            .iter()
            .any(|l| l["level"] == "DEBUG")
    });
    let all = lines(&std::fs::read_to_string(&log).unwrap());
    let debug_before_reload = all
        .iter()
        .take_while(|l| l["message"] != "Configuration reloaded.")
        .any(|l| l["level"] == "DEBUG");
    assert!(!debug_before_reload, "debug lines before the reload");
}

/// Raw API refusals a CLI cannot produce: a bad `by` is 400, an unknown
/// interaction 404, both as JSON errors.
#[test]
fn the_api_refuses_bad_bodies_with_json_errors() {
    use std::io::{Read, Write};
    let s = Scratch::new("admin-raw");
    let port = free_port();
    let _edge = Sipedge::start_with(
        &s,
        free_port(),
        &format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let post = |path: &str, body: &str| -> (u16, serde_json::Value) {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            c,
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        c.read_to_string(&mut raw).unwrap();
        let code = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = raw.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
        (
            code,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    };
    let (code, v) = post("/v1/calls/abc/end", "{\"by\":\"nobody\"}");
    assert_eq!(code, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("expected one of agent, contact, system"),
        "{v}"
    );
    let (code, v) = post("/v1/calls/abc/end", "{\"by\":\"contact\"}");
    assert_eq!(code, 404);
    assert!(v["error"].as_str().unwrap().contains("abc"), "{v}");
    let (code, v) = post("/v1/wrap/nobody/complete", "");
    assert_eq!(code, 404, "{v}");
}

/// A reload while a call is up: a new TCP listener is bound and the old
/// one stops accepting (the call's connection on it stays), the NATS sink
/// is added (it starts from the oldest event kept, so the bus gets the
/// whole call), then the file sink removed; the call is ended from the
/// CLI over its old connection and every event reaches JetStream once.
#[test]
fn a_reload_moves_a_listener_and_changes_sinks_without_dropping_the_call() {
    let s = Scratch::new("admin-reload-live");
    let pbx_port = free_port();
    let pbx = Sipp::pbx(&s, pbx_port, "uas", "1", &[]);
    let nats = super::nats::Nats::start(&s, free_port());
    let mut edge = Sipedge::start(&s, pbx_port);
    let agent = Sipp::agent(&s, &edge.addr(), "uac_wait_bye", "1", &["-t", "t1"]);
    let mut calls = Value::Null;
    wait_for("the call to be talking", LIMIT, || {
        calls = json(&edge.cli(&["calls", "--json"]));
        calls[0]["state"] == "talking"
    });
    let id = calls[0]["interaction_id"].as_str().unwrap().to_string();

    let path = edge.config();
    let original = std::fs::read_to_string(&path).unwrap();
    let old_tcp = format!("transport = \"tcp\"\naddr = \"127.0.0.1:{}\"", edge.port);
    let new_port = free_port();
    let new_tcp = format!("transport = \"tcp\"\naddr = \"127.0.0.1:{new_port}\"");
    assert!(original.contains(&old_tcp), "{original}");
    let moved = original.replace(&old_tcp, &new_tcp) + &super::nats::nats_config(nats.port);
    std::fs::write(&path, &moved).unwrap();
    let v = json(&edge.cli(&["reload", "--json"]));
    assert_eq!(
        v["listeners"],
        serde_json::json!([
            format!("added tcp 127.0.0.1:{new_port}"),
            format!("removed tcp 127.0.0.1:{}", edge.port)
        ]),
        "{v}"
    );
    assert_eq!(v["sinks"], serde_json::json!(["nats added"]), "{v}");
    assert_eq!(v["restart_needed"], serde_json::json!([]), "{v}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", new_port)).is_ok());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", edge.port)).is_err(),
        "the removed listener accepts no more"
    );
    assert_eq!(json(&edge.cli(&["calls", "--json"]))[0]["state"], "talking");

    // The file sink goes; the call ends over the connection it came on.
    std::fs::write(
        &path,
        moved.replace("sinks = [\"nats\", \"file\"]", "sinks = [\"nats\"]"),
    )
    .unwrap();
    let v = json(&edge.cli(&["reload", "--json"]));
    assert_eq!(v["sinks"], serde_json::json!(["file removed"]), "{v}");
    let out = edge.cli(&["end", &id]);
    assert_eq!(out.0, 0, "{out:?}");
    agent.succeeds(LIMIT);
    pbx.succeeds(LIMIT);
    edge.attach_bus(nats);
    let mut bus = Vec::new();
    wait_for("the call's four events on JetStream", LIMIT, || {
        bus = edge.bus_events();
        bus.len() >= 4
    });
    let kinds: Vec<&str> = bus.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "sipedge.interaction.started",
            "sipedge.interaction.answered",
            "sipedge.interaction.ended",
            "sipedge.wrap.started"
        ]
    );
    assert_eq!(bus[2]["data"]["end_reason"], "admin");
    // The file has only what was written while it was a sink.
    let in_file: Vec<String> = edge
        .events()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        in_file,
        [
            "sipedge.interaction.started",
            "sipedge.interaction.answered"
        ]
    );
    let cursor = std::fs::read_to_string(s.0.join("data/outbox/cursor-file")).unwrap();
    assert_eq!(cursor.trim(), "3", "the removed sink's cursor was written");
}
