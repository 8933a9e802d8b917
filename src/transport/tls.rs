//! TLS for the `tls` and `wss` listeners (rustls with the `ring` provider).
//!
//! The certificate chain and key are read from the PEM files the listener
//! names. The handshake runs in the connection's own task, bounded by
//! [`HANDSHAKE_TIMEOUT`], so a client that never finishes it holds nothing
//! but its socket and never becomes a flow.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A listener's acceptor that a reload can replace: new handshakes use the
/// new certificate, established connections keep theirs.
#[derive(Clone)]
pub struct Acceptor(Arc<std::sync::RwLock<TlsAcceptor>>);

impl Acceptor {
    pub fn new(a: TlsAcceptor) -> Acceptor {
        Acceptor(Arc::new(std::sync::RwLock::new(a)))
    }

    /// The acceptor for the next handshake.
    pub fn current(&self) -> TlsAcceptor {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, a: TlsAcceptor) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = a;
    }
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor")
    }
}

/// How long a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a listener's certificate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificate chain {path}: {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("cannot read private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("certificate {cert} and key {key} do not make a TLS server: {reason}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// Builds the acceptor for a listener from its PEM files.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Cert {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Cert {
            path: cert.to_path_buf(),
            reason: "no CERTIFICATE block".into(),
        });
    }
    // The error never includes key material, only what kind of failure.
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|e| TlsError::Config {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Runs the server handshake with the bound; `None` when it fails or times
/// out (logged at debug: a port scan is not an operator's problem).
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    remote: std::net::SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed.");
            None
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out.");
            None
        }
    }
}
