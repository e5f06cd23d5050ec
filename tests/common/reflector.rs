//! A hostile upstream: it reflects what it received (path, query, headers, body) back in
//! the form the path names, compresses its answer when asked (or always, with `/force-*`),
//! and honours `Range`, as a misbehaving or malicious API would.

use std::io::Write;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;

/// Every reflection form the path can ask for (`/reflect/<form>`).
pub const FORMS: &[&str] = &[
    "raw",
    "pct-upper",
    "pct-lower",
    "pct-full",
    "json-slash",
    "json-u-lower",
    "json-u-upper",
    "html-dec",
    "html-hex",
    "html-named",
    "b64",
    "b64-shift1",
    "b64-shift2",
    "b64url",
    "hex",
    "hex-upper",
    "plus",
];

pub struct Reflector {
    pub base: String,
}

impl Reflector {
    pub async fn start() -> Reflector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(handle);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Reflector { base }
    }
}

/// `text` in `form`.
pub fn encode(form: &str, text: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    match form {
        "raw" => text.to_owned(),
        "pct-upper" => form_urlencoded::byte_serialize(text.as_bytes()).collect(),
        "pct-lower" => text
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect(),
        "pct-full" => text.bytes().map(|b| format!("%{b:02X}")).collect(),
        "plus" => text.replace(' ', "+"),
        "json-slash" => text.replace('/', "\\/"),
        "json-u-lower" => text
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    format!("\\u{:04x}", c as u32)
                }
            })
            .collect(),
        "json-u-upper" => text
            .chars()
            .map(|c| format!("\\u{:04X}", c as u32))
            .collect(),
        "html-dec" => text.chars().map(|c| format!("&#{};", c as u32)).collect(),
        "html-hex" => text
            .chars()
            .map(|c| format!("&#x{:x};", c as u32))
            .collect(),
        "html-named" => text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;"),
        "b64" => b64.encode(text),
        "b64-shift1" => b64.encode(format!("x{text}")),
        "b64-shift2" => b64.encode(format!("xy{text}")),
        "b64url" => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text),
        "hex" => hex::encode(text),
        "hex-upper" => hex::encode_upper(text),
        other => panic!("unknown form {other}"),
    }
}

fn compress(encoding: &str, body: &[u8]) -> Vec<u8> {
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(body).unwrap();
            }
            out
        }
        "zstd" => zstd::encode_all(body, 3).unwrap(),
        other => panic!("unknown encoding {other}"),
    }
}

/// The encoding to answer in: forced by the path, else the first the caller accepts.
fn encoding_for(path: &str, headers: &HeaderMap) -> Option<String> {
    for e in ["gzip", "deflate", "br", "zstd", "compress"] {
        if path.contains(&format!("force-{e}")) {
            return Some(e.to_owned());
        }
    }
    let accepted = headers.get("accept-encoding")?.to_str().ok()?.to_owned();
    ["br", "zstd", "gzip", "deflate"]
        .into_iter()
        .find(|e| accepted.contains(e))
        .map(str::to_owned)
}

async fn handle(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut seen = format!(
        "{} {}?{}\n",
        parts.method,
        parts.uri.path(),
        parts.uri.query().unwrap_or("")
    );
    for (k, v) in &parts.headers {
        seen.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    seen.push_str(&String::from_utf8_lossy(&body));
    // What to do is named in the path (`/reflect/<form>/force-gzip/…`) or, where the path is
    // fixed (Telegram's `/bot<token>/<method>`), in the query (`?reflect=<form>&force-gzip`).
    let uri = parts.uri.to_string();
    let path = uri.as_str();
    let form = FORMS
        .iter()
        .copied()
        .filter(|f| {
            path.contains(&format!("reflect/{f}/"))
                || path.contains(&format!("reflect={f}&"))
                || path.ends_with(&format!("reflect={f}"))
        })
        .max_by_key(|f| f.len())
        .unwrap_or("raw");
    let mut out = encode(form, &seen).into_bytes();
    let mut status = StatusCode::OK;
    let content_type = if path.contains("as-html") {
        "text/html"
    } else {
        "text/plain"
    };
    let mut builder = Response::builder().header("content-type", content_type);
    if let Some(range) = parts.headers.get("range").and_then(|v| v.to_str().ok())
        && let Some((a, b)) = range.strip_prefix("bytes=").and_then(|r| r.split_once('-'))
        && let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>())
        && a <= b
        && b < out.len()
    {
        out = out[a..=b].to_vec();
        status = StatusCode::PARTIAL_CONTENT;
    }
    if path.contains("force-partial") {
        status = StatusCode::PARTIAL_CONTENT;
    }
    if let Some(e) = encoding_for(path, &parts.headers) {
        if e == "compress" {
            builder = builder.header("content-encoding", "compress");
        } else {
            out = compress(&e, &out);
            builder = builder.header("content-encoding", e);
        }
    }
    builder.status(status).body(Body::from(out)).unwrap()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `seen` holds `secret` in `form`, found without the broker's matcher: the
/// per-character forms by encoding the secret alone (each character is encoded on its own,
/// so its encoding stands inside the encoded text), the base64 forms by decoding every
/// unmasked run at each offset.
pub fn leaked_in_form(form: &str, secret: &str, seen: &[u8]) -> bool {
    if !form.starts_with("b64") {
        return contains(seen, encode(form, secret).as_bytes());
    }
    let engine = if form == "b64url" {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD
    };
    seen.split(|b| !b.is_ascii_alphanumeric() && !b"+/-_".contains(b))
        .any(|run| {
            (0..4).any(|offset| {
                let run = &run[offset.min(run.len())..];
                let whole = &run[..run.len() / 4 * 4];
                engine
                    .decode(whole)
                    .is_ok_and(|plain| contains(&plain, secret.as_bytes()))
            })
        })
}

/// Undoes whatever encoding the broker answered in (it should answer in none).
pub fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
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
