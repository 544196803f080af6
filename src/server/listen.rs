//! Where vaultd listens: plain TCP, TLS over TCP (optionally requiring client certificates: mutual
//! TLS), and a Unix socket; several at once, merged into one stream of connections for the one
//! gRPC server.
//!
//! TLS uses rustls with the ring provider, TLS 1.2 and 1.3, ALPN `h2`. Its certificate, key and
//! client CA are files, read again by [`TlsConfig::reload`] (vaultd calls it on SIGHUP): a
//! reload that fails keeps the configuration in use, so a half-written certificate never takes
//! the server down. Each handshake runs in its own task with a deadline, so a slow or silent
//! client never holds up the others.

use std::{
    io,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{Arc, RwLock},
    task::{Context, Poll},
    time::Duration,
};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream, UnixListener, UnixStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::transport::server::Connected;

/// How long a client has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many TLS handshakes run at once.
const MAX_HANDSHAKES: usize = 256;

/// The files of a TLS listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM), the server's certificate first.
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// With it, clients must present a certificate this CA (PEM) issued: mutual TLS.
    pub client_ca: Option<PathBuf>,
}

/// A TLS configuration that can be replaced while serving. Connections accepted after a
/// [`reload`](Self::reload) use the new one; those open keep theirs.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    files: TlsFiles,
    /// For gRPC (ALPN `h2`) and for the AWS endpoint (ALPN `http/1.1`).
    current: Arc<RwLock<Configs>>,
}

#[derive(Debug)]
struct Configs {
    h2: Arc<ServerConfig>,
    http1: Arc<ServerConfig>,
}

impl Configs {
    fn load(files: &TlsFiles) -> io::Result<Self> {
        let h2 = server_config(files)?;
        let mut http1 = h2.clone();
        // AWS SDKs speak HTTP/1.1.
        http1.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            h2: Arc::new(h2),
            http1: Arc::new(http1),
        })
    }
}

fn file_error(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

fn certificates(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

fn server_config(files: &TlsFiles) -> io::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| file_error(ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| file_error(ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| file_error(&files.key, e))?;
    let mut config = builder
        .with_single_cert(certificates(&files.cert)?, key)
        .map_err(|e| {
            file_error(
                &files.cert,
                format!("{e} (with the key {})", files.key.display()),
            )
        })?;
    // gRPC clients insist on HTTP/2.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl TlsConfig {
    /// Reads the files; any problem with them is an error naming the file.
    pub fn load(files: TlsFiles) -> io::Result<Self> {
        let configs = Configs::load(&files)?;
        Ok(Self {
            files,
            current: Arc::new(RwLock::new(configs)),
        })
    }

    /// Reads the files again and uses them for the connections accepted from now on. On error
    /// the configuration in use stays.
    pub fn reload(&self) -> io::Result<()> {
        let configs = Configs::load(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = configs;
        Ok(())
    }

    pub fn requires_client_certificates(&self) -> bool {
        self.files.client_ca.is_some()
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .h2
                .clone(),
        )
    }

    /// Accepts a TLS connection for HTTP/1.1 (the AWS endpoint), within the handshake deadline.
    pub async fn accept_http1(&self, stream: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        let acceptor = TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .http1
                .clone(),
        );
        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }
}

/// One accepted connection, whatever the listener.
pub enum Conn {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Unix(UnixStream),
}

/// What a service can learn of its connection (request extensions, through tonic).
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// The peer's address; `None` over a Unix socket.
    pub remote_addr: Option<std::net::SocketAddr>,
    /// Whether the connection is TLS (a Unix socket is as private as its file's permissions).
    pub tls: bool,
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        match self {
            Conn::Tcp(stream) => ConnInfo {
                remote_addr: stream.peer_addr().ok(),
                tls: false,
            },
            Conn::Tls(stream) => ConnInfo {
                remote_addr: stream.get_ref().0.peer_addr().ok(),
                tls: true,
            },
            Conn::Unix(_) => ConnInfo {
                remote_addr: None,
                tls: false,
            },
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Conn::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Tcp(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
            Conn::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A listener vaultd serves on.
#[derive(Debug)]
pub enum Listener {
    /// Plain TCP: requests are signed, not encrypted in transit.
    Tcp(TcpListener),
    /// TLS over TCP (mutual TLS if the configuration has a client CA).
    Tls(TcpListener, TlsConfig),
    Unix(UnixListener),
}

/// The connections of every listener, as one stream for the gRPC server. The accept loops end
/// when the stream is dropped (the server stopped); the listeners stay open for the next server
/// (after a restore), their backlog holding new connections meanwhile.
pub fn incoming(listeners: Vec<Arc<Listener>>) -> impl Stream<Item = io::Result<Conn>> + Send {
    let (tx, rx) = mpsc::channel::<io::Result<Conn>>(64);
    for listener in listeners {
        tokio::spawn(accept_loop(listener, tx.clone()));
    }
    // Errors of single connections are logged by the loops, never handed to the server, which
    // would stop on them.
    ReceiverStream::new(rx).filter(|conn| conn.is_ok())
}

async fn accept_loop(listener: Arc<Listener>, tx: mpsc::Sender<io::Result<Conn>>) {
    // TLS handshakes in progress at once; beyond them, connections wait in the listen backlog.
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            _ = tx.closed() => return,
            accepted = accept(&listener) => accepted,
        };
        match accepted {
            Ok(Accepted::Ready(conn)) => {
                if tx.send(Ok(conn)).await.is_err() {
                    return;
                }
            }
            Ok(Accepted::Handshake(tcp, tls)) => {
                let tx = tx.clone();
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                tokio::spawn(async move {
                    let _permit = permit;
                    let peer = tcp.peer_addr().ok();
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor().accept(tcp)).await
                    {
                        Ok(Ok(stream)) => {
                            let _ = tx.send(Ok(Conn::Tls(Box::new(stream)))).await;
                        }
                        Ok(Err(e)) => tracing::debug!(?peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(?peer, "TLS handshake timed out"),
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

enum Accepted {
    Ready(Conn),
    Handshake(TcpStream, TlsConfig),
}

async fn accept(listener: &Listener) -> io::Result<Accepted> {
    match listener {
        Listener::Tcp(listener) => {
            let (stream, _) = listener.accept().await?;
            // Without TCP_NODELAY a small response can wait ~40 ms for the client's delayed ACK
            // (Nagle's algorithm): one request in flight then runs at a few dozen per second.
            stream.set_nodelay(true)?;
            Ok(Accepted::Ready(Conn::Tcp(stream)))
        }
        Listener::Tls(listener, tls) => {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            Ok(Accepted::Handshake(stream, tls.clone()))
        }
        Listener::Unix(listener) => {
            let (stream, _) = listener.accept().await?;
            Ok(Accepted::Ready(Conn::Unix(stream)))
        }
    }
}

/// Binds a Unix socket at `path`, mode 0600 (only vaultd's user may connect). A socket file left
/// by an earlier vaultd is replaced; any other file there is an error.
pub fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Made 0600 right after binding. A client that connects in between still has to sign its
    // requests: the socket's mode narrows who may try, the signatures decide.
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}
