//! A webhook receiver on 127.0.0.1 for the notification tests: it records every request,
//! refuses the first `fail_first` with 503 (or the status given to [`Receiver::refusing`]), and applies each `Idempotency-Key` once (a repeat
//! is answered 200 and changes nothing), as a receiver that dedupes does. With `hold_first`,
//! the first request it applies is never answered, so the sender is caught between its post
//! and its mark.

use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub key: Option<String>,
    pub auth: Option<String>,
    pub body: Value,
    pub answered: u16,
}

#[derive(Default)]
struct Inner {
    fail_first: usize,
    /// What the refused requests are answered (503 unless set).
    fail_status: u16,
    hold_first: bool,
    requests: Vec<Received>,
    /// (key, body) of each notification applied, in order.
    applied: Vec<(String, Value)>,
}

pub struct Receiver {
    pub addr: std::net::SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start(fail_first: usize, hold_first: bool) -> Receiver {
        Receiver::refusing(fail_first, 503).await.hold(hold_first)
    }

    /// One that answers its first `fail_first` requests with `status`.
    pub async fn refusing(fail_first: usize, status: u16) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            fail_first,
            fail_status: status,
            ..Inner::default()
        }));
        let app = axum::Router::new().fallback(hook).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, inner }
    }

    fn hold(self, hold_first: bool) -> Receiver {
        self.inner.lock().unwrap().hold_first = hold_first;
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn applied(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().applied.clone()
    }

    /// Wait until `n` notifications were applied.
    pub async fn wait_applied(&self, n: usize, within: Duration) -> Vec<(String, Value)> {
        let t0 = Instant::now();
        loop {
            let a = self.applied();
            if a.len() >= n {
                return a;
            }
            assert!(
                t0.elapsed() < within,
                "the receiver applied {} of {n} notifications in {within:?}; requests: {:#?}",
                a.len(),
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn hook(
    axum::extract::State(inner): axum::extract::State<Arc<Mutex<Inner>>>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let key = header("idempotency-key");
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, hold) = {
        let mut g = inner.lock().unwrap();
        let status = if g.requests.len() < g.fail_first {
            StatusCode::from_u16(g.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
        } else {
            StatusCode::OK
        };
        let mut hold = false;
        if status == StatusCode::OK {
            // Without a key every request is a new notification: the duplicate shows.
            let k = key
                .clone()
                .unwrap_or_else(|| format!("no-key-{}", g.requests.len()));
            if !g.applied.iter().any(|(a, _)| *a == k) {
                g.applied.push((k, body.clone()));
                hold = std::mem::take(&mut g.hold_first);
            }
        }
        g.requests.push(Received {
            path: uri.path().to_string(),
            key,
            auth: header("authorization"),
            body,
            answered: if hold { 0 } else { status.as_u16() },
        });
        (status, hold)
    };
    if hold {
        std::future::pending::<()>().await;
    }
    status
}
