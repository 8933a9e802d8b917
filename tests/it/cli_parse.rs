//! `sipedge parse`: JSON out, exit 0 for good input, 1 with an error object
//! for refused input.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipedge"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn corpus_file(name: &str) -> String {
    format!("{}/benches/corpus/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn valid_messages_print_json_and_exit_0() {
    let (code, out) = run(
        &[
            "parse",
            &corpus_file("02-invite-webrtc.sip"),
            &corpus_file("11-invite-msrp-chat.sip"),
        ],
        b"",
    );
    assert_eq!(code, 0, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let webrtc = &lines[0];
    assert_eq!(webrtc["kind"], "request");
    assert_eq!(webrtc["method"], "INVITE");
    assert_eq!(webrtc["typed"]["via"][0]["transport"], "WSS");
    assert!(
        webrtc["typed"]["via"][0]["host"]
            .as_str()
            .unwrap()
            .ends_with(".invalid")
    );
    assert!(webrtc["typed"]["from"]["tag"].is_string());
    assert_eq!(webrtc["sdp"]["audio"], 1);
    assert!(webrtc["headers"].as_array().unwrap().len() > 8);
    assert!(webrtc["body_length"].as_u64().unwrap() > 1000);
    assert_eq!(lines[1]["sdp"]["chat"], true);
    assert_eq!(lines[1]["sdp"]["msrp"], 1);
}

#[test]
fn refused_message_prints_error_and_exits_1() {
    let bad = b"INVITE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 300\r\n\r\n0123456789";
    let (code, out) = run(&["parse", "-"], bad);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["error"], "content_length_exceeds");
    assert_eq!(
        v["message"],
        "Content-Length 300 exceeds the 10 bytes present"
    );
    assert_eq!(v["offset"], bad.len() - 10);
}

#[test]
fn stream_mode_splits_messages_and_keepalives() {
    let one = std::fs::read(corpus_file("05-bye.sip")).unwrap();
    let two = std::fs::read(corpus_file("06-200-bye.sip")).unwrap();
    let mut input = b"\r\n\r\n".to_vec();
    input.extend_from_slice(&one);
    input.extend_from_slice(&two);
    let (code, out) = run(&["parse", "--stream", "-"], &input);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["keepalive"], "ping");
    assert_eq!(lines[1]["method"], "BYE");
    assert_eq!(lines[2]["status"], 200);
    input.extend_from_slice(b"INVITE sip:x");
    let (code, out) = run(&["parse", "--stream", "-"], &input);
    assert_eq!(code, 1);
    assert!(
        out.lines().last().unwrap().contains("\"truncated\""),
        "{out}"
    );
}

#[test]
fn missing_file_is_a_usage_error() {
    let (code, _) = run(&["parse", "/nonexistent/sipedge-test-input"], b"");
    assert_eq!(code, 2);
}
