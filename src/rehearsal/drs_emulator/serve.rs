//! The emulator's HTTP/1 accept loop. `axum::serve` gives hyper no timer, so hyper's header
//! read timeout never ran: a client that opened a connection and sent half a request held it
//! for ever (probed: still open after 40 s), and a gateway that waits for ever is not the one
//! the client meets in the cloud. Here hyper gets a timer and a header read timeout, and the
//! handler reads the body with the same stall limit (see `server::read_body`), so a slow client
//! that keeps sending is served and a stalled one is cut off.
//!
//! hyper's header timer also runs while a kept-alive connection waits for its next request, so
//! an idle connection is closed after the same time, as a gateway closes idle connections; the
//! client opens a new one.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serve `app` on `listener` until `stop` fires; then let the open connections finish the
/// request they are in and wait for them.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stall: Duration,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // A failed accept (too many open files, a reset before accept) concerns that
                // one connection; the next may succeed.
                Err(e) => {
                    tracing::warn!(error = %e, "DRS emulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut closing = closing_rx.clone();
        conns.spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(stall)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "DRS emulator: connection ended");
                    }
                }
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap finished connections so the set does not grow with every one served.
        while conns.try_join_next().is_some() {}
    }
    let _ = closing_tx.send(true);
    while conns.join_next().await.is_some() {}
}
