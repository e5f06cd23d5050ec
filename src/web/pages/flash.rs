//! The token just issued on "My access", carried across the redirect after the form
//! (POST → 303 → GET), so a browser refresh shows the page again instead of issuing a second
//! token. Sealed with the master key, bound to the session that issued it, good for two
//! minutes, shown once: the GET that shows it clears it.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::domain::time::{Millis, now_millis};
use crate::secrets::MasterKey;

const COOKIE: &str = "sg_issued";
const CONTEXT: &str = "staffgate issued-token flash v1";
const TTL_MS: Millis = 120_000;

/// What the page shows once.
#[derive(Serialize, Deserialize)]
pub struct Issued {
    session: i64,
    at: Millis,
    pub id: i64,
    pub channel: String,
    pub token: String,
}

impl Issued {
    pub fn new(session: i64, id: i64, channel: String, token: String) -> Issued {
        Issued {
            session,
            at: now_millis(),
            id,
            channel,
            token,
        }
    }
}

fn attributes(secure: bool) -> &'static str {
    if secure {
        "Path=/me; HttpOnly; SameSite=Strict; Secure"
    } else {
        "Path=/me; HttpOnly; SameSite=Strict"
    }
}

/// The `Set-Cookie` that carries `issued` to the next GET of `/me`.
pub fn set(key: &MasterKey, issued: &Issued, secure: bool) -> Option<HeaderValue> {
    let plain = serde_json::to_vec(issued).ok()?;
    let sealed = key.seal(CONTEXT, &plain).ok()?;
    let value = format!(
        "{COOKIE}={}; Max-Age={}; {}",
        URL_SAFE_NO_PAD.encode(sealed),
        TTL_MS / 1000,
        attributes(secure)
    );
    HeaderValue::from_str(&value).ok()
}

/// The `Set-Cookie` that clears it.
pub fn clear(secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!("{COOKIE}=; Max-Age=0; {}", attributes(secure)))
        .expect("a fixed cookie is a valid header")
}

/// The token issued by this session in the last two minutes, if the request carries it.
pub fn take(key: &MasterKey, headers: &HeaderMap, session: i64) -> Option<Issued> {
    let text = crate::web::session::cookie(headers, COOKIE)?;
    let sealed = URL_SAFE_NO_PAD.decode(text).ok()?;
    let plain = key.open(CONTEXT, &sealed).ok()?;
    let issued: Issued =
        serde_json::from_slice(secrecy::ExposeSecret::expose_secret(&plain)).ok()?;
    let fresh = now_millis() - issued.at <= TTL_MS;
    (issued.session == session && fresh).then_some(issued)
}

/// Whether the request carries one at all (then the answer clears it).
pub fn present(headers: &HeaderMap) -> bool {
    crate::web::session::cookie(headers, COOKIE).is_some()
}
