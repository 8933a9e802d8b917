//! SIP over TLS through `sipedge run`: a Rust TLS client plays a hardphone
//! on a `tls` listener (sipp has no TLS in Debian's build), sipp plays the
//! PBX over UDP.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::client::{StreamClient, TestCa, register_and_take_call, tls_connect};
use super::daemon::{Scratch, Sipedge, free_port};
use super::ws::pbx_registrar;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hardphone_over_tls_registers_and_takes_a_call_from_the_pbx() {
    let s = Scratch::new("tls-inbound");
    let ca = TestCa::new(&s);
    let (pbx_port, pbx) = pbx_registrar(&s);
    let port = free_port();
    let edge = Sipedge::start_with(&s, pbx_port, &ca.listen("tls", port));
    let tls = tls_connect(port, &ca.ca).await.expect("TLS handshake");
    let mut phone = StreamClient::new(tls);
    register_and_take_call(&mut phone, "TLS", "tls").await;
    // RFC 5626 keep-alive over TLS: CRLFCRLF is answered with CRLF.
    phone.io.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), phone.io.read_exact(&mut pong))
        .await
        .expect("pong within 5 s")
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    tokio::task::spawn_blocking(move || pbx.succeeds(Duration::from_secs(30)))
        .await
        .unwrap();
    super::ws::assert_contact_ended(&edge, "hardphone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_speak_tls_is_dropped_and_others_are_served() {
    let s = Scratch::new("tls-garbage");
    let ca = TestCa::new(&s);
    let port = free_port();
    let _edge = Sipedge::start_with(&s, free_port(), &ca.listen("tls", port));
    // Plain SIP to a TLS port: the handshake fails, the connection closes.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    plain
        .write_all(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut rest))
        .await
        .expect("closed within 5 s");
    assert!(
        n.is_err() || !rest.starts_with(b"SIP/2.0"),
        "no SIP answer in clear text"
    );
    // A client that trusts another CA refuses sipedge's certificate.
    let other_dir = Scratch::new("tls-other-ca");
    let other = TestCa::new(&other_dir);
    assert!(tls_connect(port, &other.ca).await.is_err());
    // And a proper client still gets through.
    tls_connect(port, &ca.ca).await.expect("TLS handshake");
}

#[test]
fn a_listener_whose_key_is_missing_stops_the_start_with_a_clear_error() {
    let s = Scratch::new("tls-missing-key");
    let ca = TestCa::new(&s);
    std::fs::remove_file(&ca.key).unwrap();
    let config = s.0.join("sipedge.toml");
    std::fs::write(
        &config,
        format!(
            "{}[pbx]\naddrs = [\"127.0.0.1:{}\"]\ntransport = \"tcp\"\n",
            ca.listen("tls", free_port()),
            free_port()
        ),
    )
    .unwrap();
    for cmd in [&["run", "--config"][..], &["check-config"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipedge"))
            .args(cmd)
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot read private key") && err.contains("edge.key"),
            "{cmd:?}: {err}"
        );
    }
}

/// A reload reads the certificate files again: new handshakes get the new
/// certificate, a connection made before keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_gives_new_handshakes_the_new_certificate() {
    use super::client::SipClient;
    let s = Scratch::new("tls-reload");
    let old_ca = TestCa::new(&s);
    let port = free_port();
    let edge = Sipedge::start_with(&s, free_port(), &old_ca.listen("tls", port));
    let mut before = StreamClient::new(
        tls_connect(port, &old_ca.ca)
            .await
            .expect("TLS with the first CA"),
    );
    // A new CA and certificate replace the files the config names.
    let other_dir = Scratch::new("tls-reload-new");
    let new_ca = TestCa::new(&other_dir);
    std::fs::copy(&new_ca.cert, &old_ca.cert).unwrap();
    std::fs::copy(&new_ca.key, &old_ca.key).unwrap();
    let out = tokio::task::block_in_place(|| edge.cli(&["reload", "--json"]));
    assert_eq!(out.0, 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.1).unwrap();
    assert_eq!(v["certificates"], 1);
    assert!(
        tls_connect(port, &new_ca.ca).await.is_ok(),
        "the new certificate is served"
    );
    assert!(
        tls_connect(port, &old_ca.ca).await.is_err(),
        "the old one is not"
    );
    // The connection made before the reload still carries SIP.
    before
        .send(format!(
            "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKold1\r\nMax-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: tls-old-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ))
        .await;
    assert_eq!(before.next().await.status(), Some(200));
}
