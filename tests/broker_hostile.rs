//! A hostile corpus against the broker (issue 10, first slice): an upstream that reflects
//! everything it received, in every encoding an API might use, compressed when asked (or
//! always), honouring `Range`. Across the bearer, query and Telegram kinds, no answer may
//! hold the channel secret in any form after decoding, and nothing may fail with a 5xx the
//! broker did not mean.

mod common;

use common::reflector::{FORMS, Reflector};
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;
use staffgate::broker::reflect::SecretMatcher;

const SECRET: &str = "9f3k/Q+z=a&b:c d\"e<f";
const TELEGRAM_SECRET: &str = "123456789:AAHsecretValue-_xyz0123456789abcdefghi";

struct Channels {
    app: TestApp,
    bearer: String,
    query: String,
    telegram: String,
}

async fn setup(db: Db) -> Channels {
    let app = TestApp::spawn(db).await;
    let up = Reflector::start().await;
    app.add_staff("alice", &["support"]).await;
    let rules = json!(["GET /** read", "POST /** send"]);
    app.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": rules }),
        SECRET,
    )
    .await;
    app.add_channel(
        "feed",
        json!({ "kind": "query", "param": "access_token", "upstream": up.base,
                "tags": ["support"], "rules": rules }),
        SECRET,
    )
    .await;
    app.add_channel(
        "bot",
        json!({ "kind": "telegram", "upstream": up.base, "tags": ["support"] }),
        TELEGRAM_SECRET,
    )
    .await;
    let (_, bearer) = app.issue("alice", "desk", json!({})).await;
    let (_, query) = app.issue("alice", "feed", json!({})).await;
    let (_, telegram) = app.issue("alice", "bot", json!({})).await;
    Channels {
        app,
        bearer,
        query,
        telegram,
    }
}

/// What one hostile request got back.
struct Answer {
    status: u16,
    leaked: bool,
}

async fn send(c: &Channels, channel: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let (url, token, secret) = match channel {
        "desk" => (c.app.broker("desk", path), &c.bearer, SECRET),
        "feed" => (c.app.broker("feed", path), &c.query, SECRET),
        // Telegram's path is fixed: the reflector reads what to do from the query.
        _ => (
            c.app.broker(
                "bot",
                &format!("bot{}/getMe?reflect={}", c.telegram, path.replace('/', "&")),
            ),
            &c.telegram,
            TELEGRAM_SECRET,
        ),
    };
    // A client that decodes nothing itself, so what the broker sent is what is checked.
    let http = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .build()
        .unwrap();
    let mut req = http.request(Method::GET, url);
    if channel != "bot" {
        req = req.bearer_auth(token);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let mut seen = Vec::new();
    for (k, v) in resp.headers() {
        seen.extend_from_slice(k.as_str().as_bytes());
        seen.extend_from_slice(v.as_bytes());
    }
    let encoding = resp
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.bytes().await.unwrap_or_default().to_vec();
    seen.extend_from_slice(&decode(encoding.as_deref(), &body));
    let m = SecretMatcher::new(secret);
    let leaked = m.found_in(&seen) || seen.windows(secret.len()).any(|w| w == secret.as_bytes());
    Answer { status, leaked }
}

/// Undoes whatever encoding the broker answered in (it should answer in none).
fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match encoding {
        Some("gzip") => {
            let _ = flate2::read::GzDecoder::new(body).read_to_end(&mut out);
        }
        Some("deflate") => {
            let _ = flate2::read::ZlibDecoder::new(body).read_to_end(&mut out);
        }
        Some("br") => {
            let _ = brotli::Decompressor::new(body, 4096).read_to_end(&mut out);
        }
        Some("zstd") => out = zstd::decode_all(body).unwrap_or_default(),
        _ => out = body.to_vec(),
    }
    out
}

async fn no_reflected_form_of_the_secret_leaves_the_broker(db: Db) {
    let c = setup(db).await;
    let asks: &[&[(&str, &str)]] = &[
        &[],
        &[("accept-encoding", "gzip")],
        &[("accept-encoding", "deflate")],
        &[("accept-encoding", "br")],
        &[("accept-encoding", "zstd")],
        &[("accept-encoding", "gzip, deflate, br, zstd")],
    ];
    let (mut sent, mut leaks, mut not_answered) = (0, Vec::new(), Vec::new());
    for channel in ["desk", "feed", "bot"] {
        for form in FORMS {
            for headers in asks {
                let a = send(&c, channel, &format!("reflect/{form}/"), headers).await;
                sent += 1;
                if a.leaked {
                    leaks.push(format!("{channel} {form} {headers:?}"));
                }
                if a.status != 200 {
                    not_answered.push(format!("{channel} {form} {headers:?}: {}", a.status));
                }
            }
        }
        // Compressed whatever was asked, and byte ranges that would split the secret.
        for forced in ["force-gzip", "force-deflate", "force-br", "force-zstd"] {
            let a = send(&c, channel, &format!("reflect/raw/{forced}/"), &[]).await;
            sent += 1;
            if a.leaked || a.status != 200 {
                leaks.push(format!("{channel} {forced}: {}", a.status));
            }
        }
        for range in ["bytes=14-24", "bytes=25-36", "bytes=0-10", "bytes=40-80"] {
            let a = send(&c, channel, "reflect/raw/", &[("range", range)]).await;
            sent += 1;
            if a.leaked || a.status != 200 {
                leaks.push(format!("{channel} {range}: {}", a.status));
            }
        }
        // What the broker cannot read whole is refused with its own code, never passed on.
        let a = send(&c, channel, "reflect/raw/force-compress/", &[]).await;
        assert_eq!((a.status, a.leaked), (502, false), "{channel} compress");
        let a = send(&c, channel, "reflect/raw/force-partial/", &[]).await;
        assert_eq!((a.status, a.leaked), (502, false), "{channel} 206");
        sent += 2;
    }
    println!("{sent} hostile requests");
    assert!(sent >= 300, "only {sent} requests");
    assert!(leaks.is_empty(), "the secret came back: {leaks:#?}");
    assert!(not_answered.is_empty(), "{not_answered:#?}");
    c.app.stop().await;
}

both_backends!(no_reflected_form_of_the_secret_leaves_the_broker);
