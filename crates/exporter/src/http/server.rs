//! The accept loop: a bounded number of connections, timeouts for clients that say nothing, TLS
//! when configured, and a graceful stop. `axum::serve` has no such limits: with the default
//! 1,024 file descriptors, about a thousand idle connections were enough to fail every scrape.
//!
//! At the limit, a new connection waits in the listen backlog (it holds no file descriptor of
//! ours) while the oldest *idle* connection — one that has sent nothing since it opened or since
//! its last response — is asked to close, as nginx reuses its keep-alive connections when it runs
//! out. A connection in the middle of a request is never cut: it finishes, then closes.

use std::collections::BTreeMap;
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::WebConfig;
use super::auth::protect;

/// How much the server holds open for its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more wait in the listen backlog. Far above what Prometheus
    /// replicas and probes need, far below the usual 1,024 file descriptors.
    pub max_connections: usize,
    /// How long a client has to send a request's headers, and (TLS) to finish the handshake.
    /// hyper (1.x) starts this clock as soon as a connection is idle, so it also closes
    /// keep-alive connections idle that long: hyper has no separate idle timeout. It also bounds
    /// how long a stop waits for open connections.
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, with TLS, basic auth and headers
/// from `web`; then lets open requests finish (for up to `header_read_timeout`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    web: &WebConfig,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let app = protect(router, web);
    let tls = web.tls.clone().map(TlsAcceptor::from);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connections = Connections::new(limits.max_connections);
    let mut tasks = JoinSet::new();
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    pause_after_accept_error(&error, &shutdown).await;
                    continue;
                }
            },
        };
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = connections.claim(&shutdown) => slot,
        };
        let connection = Connection {
            tls: tls.clone(),
            app: app.clone(),
            http: http.clone(),
            handshake_timeout: limits.header_read_timeout,
        };
        tasks.spawn(connection.serve(stream, slot));
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(limits.header_read_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            open = tasks.len(),
            "HTTP connections still open after the stop timeout: closing them"
        );
        tasks.shutdown().await;
    }
}

/// Accept errors of one client (it hung up) need nothing; others (out of file descriptors) get
/// a pause rather than a hot loop, as `axum::serve` does.
async fn pause_after_accept_error(error: &io::Error, shutdown: &CancellationToken) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    warn!(%error, "accepting an HTTP connection failed");
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

/// The open connections, oldest first, and the permits that bound them.
#[derive(Debug)]
struct Connections {
    permits: Arc<Semaphore>,
    open: Arc<Mutex<BTreeMap<u64, Arc<Activity>>>>,
    next_id: AtomicU64,
    /// Woken when a connection has answered a request, so a waiting claim can ask it to close.
    became_idle: Arc<Notify>,
}

impl Connections {
    fn new(capacity: usize) -> Connections {
        Connections {
            permits: Arc::new(Semaphore::new(capacity.max(1))),
            open: Arc::new(Mutex::new(BTreeMap::new())),
            next_id: AtomicU64::new(0),
            became_idle: Arc::new(Notify::new()),
        }
    }

    /// A place for one more connection: at once when there is room, otherwise after an idle
    /// connection (or, failing that, any) has closed.
    async fn claim(&self, shutdown: &CancellationToken) -> Slot {
        let permit = loop {
            // Created before looking, so an answer sent meanwhile is not missed.
            let became_idle = self.became_idle.notified();
            if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
                break permit;
            }
            self.close_oldest_idle();
            tokio::select! {
                permit = Arc::clone(&self.permits).acquire_owned() => {
                    if let Ok(permit) = permit {
                        break permit;
                    }
                }
                () = became_idle => {}
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            idle: AtomicBool::new(true),
            close: shutdown.child_token(),
            became_idle: Arc::clone(&self.became_idle),
        });
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::clone(&activity));
        Slot {
            id,
            activity,
            open: Arc::clone(&self.open),
            _permit: permit,
        }
    }

    fn close_oldest_idle(&self) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(idle) = open.values().find(|activity| activity.closable()) {
            idle.close.cancel();
        }
    }
}

/// What the accept loop knows of one connection.
#[derive(Debug)]
struct Activity {
    /// Nothing received since the connection opened or since its last response.
    idle: AtomicBool,
    /// Asks the connection to close once its current request, if any, is answered.
    close: CancellationToken,
    became_idle: Arc<Notify>,
}

impl Activity {
    fn received(&self) {
        self.idle.store(false, Ordering::Relaxed);
    }

    fn answered(&self) {
        self.idle.store(true, Ordering::Relaxed);
        self.became_idle.notify_waiters();
    }

    fn closable(&self) -> bool {
        self.idle.load(Ordering::Relaxed) && !self.close.is_cancelled()
    }
}

/// A claimed place: leaves the open set and frees its permit when the connection ends.
#[derive(Debug)]
struct Slot {
    id: u64,
    activity: Arc<Activity>,
    open: Arc<Mutex<BTreeMap<u64, Arc<Activity>>>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// What each connection task needs.
struct Connection {
    tls: Option<TlsAcceptor>,
    app: Router,
    http: http1::Builder,
    handshake_timeout: Duration,
}

impl Connection {
    /// Runs until the connection ends; `slot` is given back then.
    async fn serve(self, stream: TcpStream, slot: Slot) {
        // Small responses (/healthz, 401s) should not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let activity = Arc::clone(&slot.activity);
        let stream = Watched {
            inner: stream,
            activity: Arc::clone(&activity),
        };
        match &self.tls {
            None => self.http(stream, &activity).await,
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream));
                let stream = tokio::select! {
                    () = activity.close.cancelled() => return,
                    accepted = handshake => match accepted {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            debug!(%error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            debug!("TLS handshake timed out");
                            return;
                        }
                    },
                };
                self.http(stream, &activity).await;
            }
        }
    }

    async fn http<I>(&self, io: I, activity: &Arc<Activity>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let app = TowerToHyperService::new(self.app.clone());
        let answered = Arc::clone(activity);
        let service = hyper::service::service_fn(move |request| {
            let response = hyper::service::Service::call(&app, request);
            let answered = Arc::clone(&answered);
            async move {
                let response = response.await;
                answered.answered();
                response
            }
        });
        let mut connection = pin!(self.http.serve_connection(TokioIo::new(io), service));
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = activity.close.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            debug!(%error, "HTTP connection ended");
        }
    }
}

/// A socket that tells its [`Activity`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.received();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bounds the waits of these tests; they end as soon as the claim does.
    const WAIT: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn the_oldest_idle_connection_is_asked_to_close_first() {
        let connections = Connections::new(4);
        let shutdown = CancellationToken::new();
        let busy = connections.claim(&shutdown).await;
        let older_idle = connections.claim(&shutdown).await;
        let newer_idle = connections.claim(&shutdown).await;
        busy.activity.received();

        connections.close_oldest_idle();
        assert!(!busy.activity.close.is_cancelled(), "mid-request");
        assert!(older_idle.activity.close.is_cancelled());
        assert!(!newer_idle.activity.close.is_cancelled());

        connections.close_oldest_idle();
        assert!(newer_idle.activity.close.is_cancelled());
        connections.close_oldest_idle();
        assert!(!busy.activity.close.is_cancelled(), "still mid-request");

        busy.activity.answered();
        connections.close_oldest_idle();
        assert!(busy.activity.close.is_cancelled(), "idle after its answer");
        let open = || connections.open.lock().expect("lock").len();
        assert_eq!(open(), 3);
        drop((busy, older_idle, newer_idle));
        assert_eq!(open(), 0);
    }

    #[tokio::test]
    async fn at_the_limit_a_new_connection_takes_the_place_of_an_idle_one() {
        let connections = Arc::new(Connections::new(1));
        let shutdown = CancellationToken::new();
        let first = connections.claim(&shutdown).await;
        first.activity.received();
        let waiting = tokio::spawn({
            let (connections, shutdown) = (Arc::clone(&connections), shutdown.clone());
            async move { connections.claim(&shutdown).await.id }
        });
        // Once the first connection has answered, the waiting claim asks it to close.
        first.activity.answered();
        tokio::time::timeout(WAIT, first.activity.close.cancelled())
            .await
            .expect("asked to close");
        drop(first);
        let second = tokio::time::timeout(WAIT, waiting)
            .await
            .expect("claimed")
            .expect("no panic");
        assert_eq!(second, 1);
    }

    /// A request in progress when the stop comes is answered, an idle connection is closed, and
    /// `serve` returns.
    #[tokio::test]
    async fn a_stop_lets_the_request_in_progress_finish() {
        use axum::routing::get;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::sync::oneshot;

        let (started_tx, started) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let handler = Arc::new(Mutex::new(Some((started_tx, released))));
        let router = Router::new().route(
            "/slow",
            get(move || {
                let pair = handler.lock().expect("lock").take();
                async move {
                    if let Some((started, released)) = pair {
                        let _ = started.send(());
                        let _ = released.await;
                    }
                    "done"
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                serve(
                    listener,
                    router,
                    &WebConfig::default(),
                    Limits::default(),
                    shutdown,
                )
                .await;
            }
        });

        let mut idle = TcpStream::connect(address).await.expect("connect");
        let mut busy = TcpStream::connect(address).await.expect("connect");
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("request");
        tokio::time::timeout(WAIT, started)
            .await
            .expect("handler started")
            .expect("started");
        shutdown.cancel();
        let mut nothing = Vec::new();
        tokio::time::timeout(WAIT, idle.read_to_end(&mut nothing))
            .await
            .expect("idle connection closed")
            .expect("read");
        assert!(nothing.is_empty());
        release.send(()).expect("handler waits");
        let mut response = String::new();
        tokio::time::timeout(WAIT, busy.read_to_string(&mut response))
            .await
            .expect("answered, then closed")
            .expect("read");
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\ndone"), "{response}");
        tokio::time::timeout(WAIT, server)
            .await
            .expect("serve returned")
            .expect("no panic");
    }

    #[tokio::test]
    async fn stopping_asks_every_connection_to_close() {
        let connections = Connections::new(2);
        let shutdown = CancellationToken::new();
        let (first, second) = (
            connections.claim(&shutdown).await,
            connections.claim(&shutdown).await,
        );
        second.activity.received();
        shutdown.cancel();
        assert!(first.activity.close.is_cancelled());
        assert!(second.activity.close.is_cancelled());
    }
}
