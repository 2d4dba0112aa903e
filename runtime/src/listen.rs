//! Accepting connections for `journey serve`: a cap on open connections (the ones over it are
//! answered 503), a deadline on request heads (which also closes idle keep-alive connections),
//! and a limit on how long a request body may pause. Without them, clients that open
//! connections and send half a request hold a file descriptor each, for ever, until the
//! process runs out and stops answering everyone.

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::RequestBodyTimeout;

/// Connections over the cap that are answered 503 at one time; beyond them a connection over
/// the cap is closed at once, unanswered.
const REFUSING_AT_ONCE: usize = 256;
/// How long a connection over the cap may take to send its request head before it is closed.
const REFUSING_WAIT: Duration = Duration::from_secs(2);
/// How long in-flight requests may take to finish after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; the ones over it are answered 503 and closed.
    pub max_connections: usize,
    /// How long a connection may take to send a complete request head, counted from when it
    /// opened or from its previous answer (so an idle keep-alive connection is closed after
    /// it); and how long a request body may pause.
    pub idle_timeout: Duration,
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then lets requests
/// in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    let graceful = GracefulShutdown::new();
    let service = TowerToHyperService::new(RequestBodyTimeout::new(app, limits.idle_timeout));
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.idle_timeout);
    let mut refuser = http1::Builder::new();
    refuser.timer(TokioTimer::new()).header_read_timeout(REFUSING_WAIT).keep_alive(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors (or a connection reset before it was taken):
                    // wait a little rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stream);
        if let Ok(permit) = open.clone().try_acquire_owned() {
            let connection = graceful.watch(builder.serve_connection(io, service.clone()));
            tokio::spawn(async move {
                let _ = connection.await;
                drop(permit);
            });
        } else if let Ok(permit) = refusing.clone().try_acquire_owned() {
            let answer = hyper::service::service_fn(|_: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(too_many_connections())
            });
            let connection = refuser.serve_connection(io, answer);
            tokio::spawn(async move {
                let _ = connection.await;
                drop(permit);
            });
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight after {}s; stopping anyway", SHUTDOWN_GRACE.as_secs());
    }
    Ok(())
}

fn too_many_connections() -> Response<Body> {
    let body = r#"{"error":"too many open connections (--max-connections); retry after a short wait"}"#;
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::RETRY_AFTER, "1")
        .header(header::CONNECTION, "close")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
