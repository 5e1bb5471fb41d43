//! The peer sockloop is compared with in `benches/compare.sh`: a WebSocket echo server
//! written the way a careful tokio user would, on tokio-tungstenite with a
//! current-thread runtime (one thread, like sockloop).
//!
//! usage: tokio-echo [ADDR [CERT KEY]]   (default 127.0.0.1:0; prints "listening ADDR")
//!
//! With CERT and KEY (PEM files) it serves `wss://` through tokio-rustls (rustls with
//! ring, TLS 1.3 and 1.2, ALPN http/1.1 — what sockloop's `https://` listener does).
//!
//! Every text or binary message is sent back as it came, at any path. Echoes of
//! everything already received are queued (`feed`) and written with one flush, the
//! batching sockloop does too. Pings, pongs and the closing handshake are answered by
//! tungstenite itself. SIGTERM or SIGINT stops the server.
//!
//! tungstenite's defaults are kept (128 KiB read buffer per connection, allocated up
//! front); `TOKIO_ECHO_READ_BUFFER=BYTES` sets another size, to see what tuning buys.

use futures_util::{FutureExt, SinkExt, StreamExt};
use std::io::Write;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::signal::unix::{SignalKind, signal};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let tls = match (args.get(2), args.get(3)) {
        (Some(cert), Some(key)) => Some(acceptor(cert, key)),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(serve(addr, tls));
}

fn acceptor(cert: &str, key: &str) -> TlsAcceptor {
    let chain = CertificateDer::pem_file_iter(cert)
        .expect("certificate file")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificate");
    let key = PrivateKeyDer::from_pem_file(key).expect("private key");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

async fn serve(addr: String, tls: Option<TlsAcceptor>) {
    let listener = TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    let local = listener.local_addr().expect("local address");
    println!("listening {local}");
    let _ = std::io::stdout().flush();
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    match tls.clone() {
                        Some(tls) => {
                            tokio::spawn(async move {
                                if let Ok(stream) = tls.accept(stream).await {
                                    echo(stream).await;
                                }
                            });
                        }
                        None => {
                            tokio::spawn(echo(stream));
                        }
                    }
                }
                // Out of descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let config = std::env::var("TOKIO_ECHO_READ_BUFFER")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|n| WebSocketConfig::default().read_buffer_size(n));
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, config).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if !(msg.is_text() || msg.is_binary()) {
            continue;
        }
        if ws.feed(msg).await.is_err() {
            return;
        }
        // Whatever has already arrived is echoed in the same write.
        while let Some(Some(Ok(msg))) = ws.next().now_or_never() {
            if (msg.is_text() || msg.is_binary()) && ws.feed(msg).await.is_err() {
                return;
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}
