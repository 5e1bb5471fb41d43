//! Certificates made with the `openssl` command line for the TLS tests: valid ones
//! with ECDSA, RSA and Ed25519 keys, one for another name, and one that expired
//! (issued by `openssl ca` with dates in 2020).

use super::deps;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A certificate file and its key file.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `openssl`, or `None` after saying why the test is skipped.
pub fn openssl() -> Option<&'static str> {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some("openssl")
    } else {
        deps::missing("openssl is not on PATH (apt-get install openssl)")
    }
}

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `-newkey` arguments for a key kind: "ec", "rsa" or "ed25519".
fn newkey(kind: &str) -> Vec<&'static str> {
    match kind {
        "ec" => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        "rsa" => vec!["-newkey", "rsa:2048"],
        "ed25519" => vec!["-newkey", "ed25519"],
        other => panic!("unknown key kind {other}"),
    }
}

/// A self-signed certificate for `name` (and 127.0.0.1 when `name` is localhost),
/// valid for two days, as `<stem>.pem` and `<stem>.key` in `dir`.
pub fn self_signed(dir: &Path, stem: &str, name: &str, kind: &str) -> Pair {
    let pair = Pair {
        cert: dir.join(format!("{stem}.pem")),
        key: dir.join(format!("{stem}.key")),
    };
    let san = match name {
        "localhost" => "subjectAltName=DNS:localhost,IP:127.0.0.1".to_string(),
        _ => format!("subjectAltName=DNS:{name}"),
    };
    let (cert, key) = (path(&pair.cert), path(&pair.key));
    let subject = format!("/CN={name}");
    let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", &subject];
    args.extend(newkey(kind));
    // An end-entity certificate: openssl makes a CA by default, which webpki (rightly)
    // refuses to see serving a connection.
    let leaf = "basicConstraints=critical,CA:FALSE";
    args.extend([
        "-addext", &san, "-addext", leaf, "-keyout", key, "-out", cert,
    ]);
    run(dir, &args);
    pair
}

/// A certificate for localhost and 127.0.0.1 that was valid for one day in 2020.
pub fn expired(dir: &Path) -> Pair {
    let config = "[ca]\ndefault_ca = old\n[old]\ndatabase = index.txt\nnew_certs_dir = .\n\
                  serial = serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n\
                  [any]\ncommonName = supplied\n";
    std::fs::write(dir.join("ca.cnf"), config).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    let mut args = vec!["req", "-new", "-nodes", "-subj", "/CN=localhost"];
    args.extend(newkey("ec"));
    args.extend([
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        "old.key",
        "-out",
        "old.csr",
    ]);
    run(dir, &args);
    run(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "old.key",
            "-in",
            "old.csr",
            "-out",
            "old.pem",
            "-notext",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
        ],
    );
    Pair {
        cert: dir.join("old.pem"),
        key: dir.join("old.key"),
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}
