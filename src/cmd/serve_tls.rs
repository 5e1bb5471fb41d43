//! `serve`'s TLS options: `--tls-cert FILE --tls-key FILE`, or `--tls-self-signed`,
//! checked against the listeners that need them.

const NEEDS: &str = "tls:// and https:// listeners need a certificate: \
     --tls-cert FILE --tls-key FILE, or --tls-self-signed to try it out";

#[cfg(feature = "tls")]
pub fn certificate(
    m: &getopts::Matches,
    wants_tls: bool,
) -> Result<Option<crate::tls::server::ServerTls>, String> {
    use crate::tls::server::{CertSource, ServerTls};
    let source = match (m.opt_str("tls-cert"), m.opt_str("tls-key")) {
        _ if m.opt_present("tls-self-signed") => {
            if m.opt_present("tls-cert") || m.opt_present("tls-key") {
                return Err("--tls-self-signed makes its own certificate; leave out \
                            --tls-cert and --tls-key"
                    .into());
            }
            let dir = std::env::temp_dir().join(format!("sockloop-tls-{}", std::process::id()));
            CertSource::SelfSigned { dir }
        }
        (Some(cert), Some(key)) => CertSource::Files {
            cert: cert.into(),
            key: key.into(),
        },
        (Some(_), None) => return Err("--tls-cert needs --tls-key (the certificate's key)".into()),
        (None, Some(_)) => return Err("--tls-key needs --tls-cert".into()),
        (None, None) if wants_tls => return Err(NEEDS.into()),
        (None, None) => return Ok(None),
    };
    if !wants_tls {
        return Err(
            "a certificate was given but no listener uses it: add -l tls://HOST:PORT=SERVICE \
             or -l https://HOST:PORT"
                .into(),
        );
    }
    ServerTls::load(source).map(Some)
}

#[cfg(not(feature = "tls"))]
pub fn certificate(m: &getopts::Matches, wants_tls: bool) -> Result<(), String> {
    let asked = ["tls-cert", "tls-key", "tls-self-signed"]
        .iter()
        .any(|o| m.opt_present(o));
    if wants_tls || asked {
        return Err(format!(
            "this sockloop was built without the `tls` feature ({NEEDS}, and TLS itself)"
        ));
    }
    Ok(())
}

/// The banner's TLS lines (after the listeners): which certificate, and how to trust
/// a self-signed one.
#[cfg(feature = "tls")]
pub fn banner(tls: &crate::tls::server::ServerTls) -> String {
    let fingerprint = format!("  TLS SHA-256 fingerprint: {}\n", tls.fingerprint);
    match &tls.written_cert {
        Some(path) => format!(
            "  TLS certificate (self-signed for localhost, 127.0.0.1 and ::1): {0}\n{fingerprint}  \
             trust it with: curl --cacert {0}, sockloop ws --ca {0}\n",
            path.display()
        ),
        None => fingerprint,
    }
}
