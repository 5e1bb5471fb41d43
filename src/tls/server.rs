//! The server's certificate and key: read from PEM files (`--tls-cert`, `--tls-key`)
//! or made at start (`--tls-self-signed`), turned into one rustls `ServerConfig` that
//! every TLS listener shares. SIGHUP reloads the files: new connections get the new
//! pair, open ones keep the one they started with, and a reload that fails keeps the
//! old pair and says why.

use super::provider;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Made at start for localhost and 127.0.0.1, written to `dir`.
    SelfSigned {
        dir: PathBuf,
    },
}

pub struct ServerTls {
    config: Arc<ServerConfig>,
    source: CertSource,
    /// The self-signed certificate's PEM file, for the banner.
    pub written_cert: Option<PathBuf>,
    /// SHA-256 of the leaf certificate, colon-separated hex.
    pub fingerprint: String,
}

impl ServerTls {
    pub fn load(source: CertSource) -> Result<ServerTls, String> {
        let (chain, key, written_cert) = match &source {
            CertSource::Files { cert, key } => (read_chain(cert)?, read_key(key)?, None),
            CertSource::SelfSigned { dir } => {
                let (chain, key, path) = self_signed(dir)?;
                (chain, key, Some(path))
            }
        };
        let fingerprint = chain.first().map(|c| fingerprint(c)).unwrap_or_default();
        let config = build(chain, key)?;
        Ok(ServerTls {
            config,
            source,
            written_cert,
            fingerprint,
        })
    }

    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Reads the files again (SIGHUP). A self-signed certificate is kept: making a
    /// new one would only break the trust given to the old.
    pub fn reload(&mut self) -> Result<bool, String> {
        let CertSource::Files { cert, key } = &self.source else {
            return Ok(false);
        };
        let chain = read_chain(cert)?;
        let fingerprint = chain.first().map(|c| fingerprint(c)).unwrap_or_default();
        self.config = build(chain, read_key(key)?)?;
        self.fingerprint = fingerprint;
        Ok(true)
    }
}

/// The self-signed certificate's file (and its directory, once empty) goes with the
/// server: it is of no use after, and a new one is made at each start.
impl Drop for ServerTls {
    fn drop(&mut self) {
        if let Some(path) = &self.written_cert {
            let _ = std::fs::remove_file(path);
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

fn build(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, String> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not make a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No session tickets or cache: resumption state would cost memory per client
    // and per server for handshakes a small server can afford to do in full.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificate {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate {shown}: {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "{shown} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        format!(
            "cannot read a private key from {}: {e} (expected PEM: PKCS#8, PKCS#1 RSA or SEC1 EC)",
            path.display()
        )
    })
}

/// A certificate for localhost and 127.0.0.1 (and ::1), ECDSA P-256, written as
/// `cert.pem` in `dir` for clients to trust; the key stays in memory.
fn self_signed(
    dir: &Path,
) -> Result<
    (
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
        PathBuf,
    ),
    String,
> {
    let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a self-signed certificate: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("cert.pem");
    std::fs::write(&path, made.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    Ok((vec![made.cert.der().clone()], key, path))
}

/// SHA-256 of a certificate as `AB:CD:...`, the form browsers and `openssl x509
/// -fingerprint -sha256` show.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    let mut out = String::new();
    for (i, b) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}
