//! A real HTTP server standing in for a channel's API. It records every request exactly as
//! received and answers according to the path:
//! - `/echo-secret/...` puts the given secret in a response header and the body;
//! - `/slow/...` streams 10 chunks, 50 ms apart;
//! - anything else answers `{"ok":true,"result":...}` like Telegram does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub struct Upstream {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    echo: Arc<String>,
}

impl Upstream {
    pub async fn start(echo_secret: &str) -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let up = Upstream {
            base,
            seen: Arc::default(),
            echo: Arc::new(echo_secret.to_owned()),
        };
        let app = Router::new().fallback(handle).with_state(up.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        up
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn handle(State(up): State<Upstream>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    up.seen.lock().unwrap().push(seen);
    let path = parts.uri.path();
    if path.contains("/echo-secret") {
        let text = format!("{{\"ok\":true,\"note\":\"your secret is {}\"}}", up.echo);
        return Response::builder()
            .header("x-upstream-secret", up.echo.as_str())
            .body(Body::from(text))
            .unwrap();
    }
    if path.contains("/slow") {
        let stream = futures_util::stream::unfold(0, |n| async move {
            if n == 10 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from(format!("chunk{n};"))),
                n + 1,
            ))
        });
        return Response::new(Body::from_stream(stream));
    }
    if path.contains("/late") {
        // Takes 600 ms before it answers at all, like an upstream under load.
        tokio::time::sleep(Duration::from_millis(600)).await;
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from("{\"ok\":true,\"sent\":true}"))
            .unwrap();
    }
    if path.ends_with("/sendMessage") {
        let msg = "{\"ok\":true,\"result\":{\"message_id\":1,\"date\":1700000000,\"chat\":{\"id\":42,\"type\":\"private\"},\"text\":\"hello\"}}";
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(msg))
            .unwrap();
    }
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from("{\"ok\":true,\"result\":{\"id\":1,\"is_bot\":true,\"first_name\":\"Support\",\"username\":\"support_bot\"}}"))
        .unwrap()
}
