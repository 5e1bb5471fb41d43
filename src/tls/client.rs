//! The client side: whom to trust (the system's roots, `--ca FILE`, or nobody with
//! `--insecure`), SNI, a blocking handshake before the client's loop starts, and
//! handshake failures said so a person can act on them.

use super::provider;
use super::stream::TlsStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore};
use rustls::{ClientConnection, SignatureScheme};
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the system keeps its trusted roots, in the order tried (Debian's first);
/// `SSL_CERT_FILE` comes before all of them, as for OpenSSL.
const SYSTEM_ROOTS: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    /// Trust only the certificates in this PEM file.
    pub ca: Option<PathBuf>,
    /// Check nothing about the server's certificate.
    pub insecure: bool,
}

impl ClientTls {
    pub fn config(&self) -> Result<Arc<ClientConfig>, String> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?;
        let mut config = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(self.roots()?)
                .with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, String> {
        let file = match &self.ca {
            Some(ca) => ca.clone(),
            None => system_roots()?,
        };
        let mut roots = RootCertStore::empty();
        let shown = file.display();
        let certs = CertificateDer::pem_file_iter(&file)
            .map_err(|e| format!("cannot read CA certificates from {shown}: {e}"))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("{shown}: {e}"))?;
            // A bundle may hold a certificate webpki cannot use; the rest still count.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(format!("{shown} holds no usable CA certificate"));
        }
        Ok(roots)
    }

    /// Runs the whole handshake on a connected socket, blocking for at most
    /// `timeout`, and gives the stream back non-blocking for the client's loop.
    pub fn connect(
        &self,
        sock: TcpStream,
        host: &str,
        timeout: Duration,
    ) -> Result<TlsStream, String> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("'{host}' cannot be a TLS server name"))?;
        let conn =
            ClientConnection::new(self.config()?, name).map_err(|e| format!("TLS set-up: {e}"))?;
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        let io = |e: io::Error| format!("TLS handshake with {host}: {e}");
        sock.set_read_timeout(timeout).map_err(io)?;
        sock.set_write_timeout(timeout).map_err(io)?;
        let mut stream = TlsStream::new(sock, conn.into());
        stream
            .handshake()
            .map_err(|e| handshake_failure(&e, host, self))?;
        let sock = stream.socket();
        sock.set_read_timeout(None).map_err(io)?;
        sock.set_write_timeout(None).map_err(io)?;
        Ok(stream)
    }
}

fn system_roots() -> Result<PathBuf, String> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        return Ok(PathBuf::from(file));
    }
    SYSTEM_ROOTS
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            "no system CA certificates found (looked for /etc/ssl/certs/ca-certificates.crt \
             and others; install ca-certificates, or pass --ca FILE)"
                .to_string()
        })
}

/// What went wrong in a handshake, in words that say what to do.
pub fn handshake_failure(e: &io::Error, host: &str, tls: &ClientTls) -> String {
    let Some(error) = e.get_ref().and_then(|e| e.downcast_ref::<Error>()) else {
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                format!("TLS handshake with {host} timed out")
            }
            io::ErrorKind::UnexpectedEof => {
                format!("{host} closed the connection during the TLS handshake (is it a TLS port?)")
            }
            _ => format!("TLS handshake with {host}: {e}"),
        };
    };
    let trust = match &tls.ca {
        Some(ca) => format!("the CA in {}", ca.display()),
        None => "the system's trusted CAs".to_string(),
    };
    match error {
        Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("{host}'s certificate has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("{host}'s certificate is not valid yet (check the clocks)")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("{host}'s certificate is not valid for the name '{host}' (wrong name)")
            }
            CertificateError::UnknownIssuer => format!(
                "{host}'s certificate is not signed by {trust} (unknown issuer); \
                 pass --ca FILE with the certificate that signed it, or --insecure to skip \
                 the check"
            ),
            CertificateError::BadSignature => format!(
                "{host}'s certificate does not verify against {trust} (bad signature: \
                 another certificate with the same name as the trusted one?)"
            ),
            CertificateError::Other(other) => {
                format!("{host}'s certificate was refused: {other}")
            }
            other => format!("{host}'s certificate was refused: {other:?}"),
        },
        Error::AlertReceived(alert) => {
            format!("{host} refused the TLS handshake: alert {alert:?}")
        }
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => {
            format!("{host} does not speak TLS here (garbled handshake: {error})")
        }
        other => format!("TLS handshake with {host} failed: {other}"),
    }
}

/// `--insecure`: every certificate is accepted; the handshake's signatures are still
/// checked, so the session is encrypted to whoever answered.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
