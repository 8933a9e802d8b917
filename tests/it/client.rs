//! Rust SIP clients for the transports sipp cannot speak: WebSocket (the
//! browser softphone), WSS, TLS (a hardphone on port 5061). One scenario
//! runs over each: the agent registers through sipedge, the PBX (sipp)
//! calls it back along the Path, the agent answers, the PBX hangs up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use sipedge::sip::{self, HeaderName, Method, build, stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Message as Frame, Utf8Bytes};

use super::daemon::Scratch;

/// Sends SIP text and reads whole SIP messages, whatever the transport.
pub trait SipClient {
    async fn send(&mut self, text: String);
    /// The next message (bounded: 10 s).
    async fn next(&mut self) -> sip::Message;
}

/// A WebSocket client (plain or over TLS).
pub struct WsClient<S>(pub WebSocketStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> SipClient for WsClient<S> {
    async fn send(&mut self, text: String) {
        self.0
            .send(Frame::Text(Utf8Bytes::from(text)))
            .await
            .unwrap();
    }

    async fn next(&mut self) -> sip::Message {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("no SIP message in 10 s")
                .expect("closed")
                .unwrap();
            if let Frame::Text(t) = frame {
                return sip::parse(Bytes::from(t))
                    .expect("sipedge sent a message that does not parse");
            }
        }
    }
}

/// A byte-stream client (TCP or TLS), framed by Content-Length.
pub struct StreamClient<S> {
    pub io: S,
    buf: BytesMut,
}

impl<S> StreamClient<S> {
    pub fn new(io: S) -> StreamClient<S> {
        StreamClient {
            io,
            buf: BytesMut::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> SipClient for StreamClient<S> {
    async fn send(&mut self, text: String) {
        self.io.write_all(text.as_bytes()).await.unwrap();
    }

    async fn next(&mut self) -> sip::Message {
        let limits = sip::Limits::DEFAULT;
        loop {
            match stream::next_frame(&self.buf, &limits).expect("sipedge's stream is framed") {
                stream::Frame::Message { len } => {
                    let bytes = self.buf.split_to(len).freeze();
                    return sip::parse_with(bytes, sip::Framing::Stream, &limits)
                        .expect("sipedge sent a message that does not parse");
                }
                stream::Frame::Ping => self.buf.advance(4),
                stream::Frame::Pong => self.buf.advance(2),
                stream::Frame::NeedMore => {
                    let n = tokio::time::timeout(
                        Duration::from_secs(10),
                        self.io.read_buf(&mut self.buf),
                    )
                    .await
                    .expect("no SIP message in 10 s")
                    .unwrap();
                    assert!(n > 0, "sipedge closed the connection");
                }
            }
        }
    }
}

/// A throwaway CA and a certificate it signed for `localhost` and
/// 127.0.0.1, made with the openssl CLI in the test's scratch directory.
pub struct TestCa {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn new(scratch: &Scratch) -> TestCa {
        let d = &scratch.0;
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl (Debian package openssl) is needed for the TLS tests");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        run(&[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=sipedge test CA",
            ],
        ]
        .concat());
        run(&[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "edge.key",
                "-out",
                "edge.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat());
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "edge.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "edge.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        TestCa {
            ca: d.join("ca.pem"),
            cert: d.join("edge.pem"),
            key: d.join("edge.key"),
        }
    }

    /// The `[[listen]]` table for a TLS-based listener with this certificate.
    pub fn listen(&self, transport: &str, port: u16) -> String {
        format!(
            "[[listen]]\ntransport = \"{transport}\"\naddr = \"127.0.0.1:{port}\"\ncert = \"{}\"\nkey = \"{}\"\n",
            self.cert.display(),
            self.key.display()
        )
    }
}

/// Connects over TLS to 127.0.0.1:`port`, trusting only `ca`, checking the
/// name `localhost`.
pub async fn tls_connect(
    port: u16,
    ca: &Path,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// Opens a WebSocket on `io` offering `subprotocol`; asserts the answer
/// names `sip` (RFC 7118).
pub async fn ws_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    url: &str,
    subprotocol: Option<&str>,
) -> Result<WsClient<S>, tokio_tungstenite::tungstenite::Error> {
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = subprotocol {
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
    }
    let (ws, resp) = tokio_tungstenite::client_async(req, io).await?;
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("sip"),
        "RFC 7118: the answer names sip"
    );
    Ok(WsClient(ws))
}

/// Waits for the next request of `method`, skipping responses.
pub async fn expect_request(c: &mut impl SipClient, method: Method) -> sip::Message {
    loop {
        let m = c.next().await;
        if m.method() == Some(method) {
            return m;
        }
        assert!(
            m.method().is_none(),
            "unexpected request {:?} while waiting for {method:?}",
            m.method()
        );
    }
}

/// The agent's response to `req`.
pub fn response(req: &sip::Message, code: u16, extra: &[(&str, &str)]) -> String {
    String::from_utf8(build::response(
        req,
        code,
        &build::ResponseOpts {
            to_tag: Some("agent"),
            headers: extra,
            ..Default::default()
        },
    ))
    .unwrap()
}

/// The agent registers (Via transport `via`, e.g. `WS` or `TLS`), then
/// takes the PBX's call that comes back along the Path and waits for the
/// PBX's BYE. `facing` is the `transport=` the top Record-Route must name.
pub async fn register_and_take_call(c: &mut impl SipClient, via: &str, facing: &str) {
    register_and_answer(c, via, facing).await;
    let bye = expect_request(c, Method::Bye).await;
    c.send(response(&bye, 200, &[])).await;
}

/// [`register_and_take_call`] up to the PBX's ACK; returns the INVITE.
pub async fn register_and_answer(c: &mut impl SipClient, via: &str, facing: &str) -> sip::Message {
    let contact = format!(
        "<sip:1001@df7jal23ls0d.invalid;transport={}>",
        via.to_ascii_lowercase()
    );
    c.send(format!(
        "REGISTER sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/{via} df7jal23ls0d.invalid;branch=z9hG4bKreg1\r\nMax-Forwards: 69\r\nFrom: <sip:1001@pbx.example.com>;tag=r1\r\nTo: <sip:1001@pbx.example.com>\r\nCall-ID: reg-1-{via}\r\nCSeq: 1 REGISTER\r\nContact: {contact};+sip.instance=\"<urn:uuid:0000-{via}>\";reg-id=1\r\nExpires: 300\r\nUser-Agent: JsSIP 3.10.1\r\nSupported: path, outbound\r\nContent-Length: 0\r\n\r\n"
    ))
    .await;
    let ok = c.next().await;
    assert_eq!(
        (ok.status(), ok.cseq().method()),
        (Some(200), Method::Register)
    );

    // The PBX calls back along the Path: the INVITE arrives on this flow.
    let invite = expect_request(c, Method::Invite).await;
    let rr: Vec<String> = invite
        .get_all(HeaderName::RecordRoute)
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .collect();
    assert_eq!(rr.len(), 2, "the two sides differ: double Record-Route");
    assert!(
        rr[0].contains(&format!("transport={facing}")),
        "the entry facing the agent is on top and names {facing}: {rr:?}"
    );
    c.send(response(&invite, 180, &[])).await;
    let mut extra: Vec<(&str, &str)> = rr.iter().map(|r| ("Record-Route", r.as_str())).collect();
    extra.push(("Contact", &contact));
    c.send(response(&invite, 200, &extra)).await;
    let ack = expect_request(c, Method::Ack).await;
    assert_eq!(
        ack.get(HeaderName::Route),
        None,
        "sipedge popped its own Route entries"
    );
    invite
}
