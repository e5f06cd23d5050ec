//! What a form just made, carried across the redirect after it (POST → 303 → GET), so a
//! browser refresh shows the page again instead of doing it twice: the token just issued on
//! "My access" (two minutes, shown once), and new recovery codes (ten minutes, shown again
//! on a language switch, until "Continue"). Sealed with the master key, bound to the session
//! that made them.

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
    sealed_cookie(key, COOKIE, CONTEXT, TTL_MS, attributes(secure), issued)
}

/// A cookie holding `value` sealed under `context`.
fn sealed_cookie(
    key: &MasterKey,
    name: &str,
    context: &str,
    ttl: Millis,
    attributes: &str,
    value: &impl Serialize,
) -> Option<HeaderValue> {
    let plain = serde_json::to_vec(value).ok()?;
    let sealed = key.seal(context, &plain).ok()?;
    let value = format!(
        "{name}={}; Max-Age={}; {attributes}",
        URL_SAFE_NO_PAD.encode(sealed),
        ttl / 1000
    );
    HeaderValue::from_str(&value).ok()
}

/// The sealed value of cookie `name`, if it opens under `context`.
fn opened<T: serde::de::DeserializeOwned>(
    key: &MasterKey,
    headers: &HeaderMap,
    name: &str,
    context: &str,
) -> Option<T> {
    let text = crate::web::session::cookie(headers, name)?;
    let sealed = URL_SAFE_NO_PAD.decode(text).ok()?;
    let plain = key.open(context, &sealed).ok()?;
    serde_json::from_slice(secrecy::ExposeSecret::expose_secret(&plain)).ok()
}

/// The `Set-Cookie` that clears it.
pub fn clear(secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!("{COOKIE}=; Max-Age=0; {}", attributes(secure)))
        .expect("a fixed cookie is a valid header")
}

/// The token issued by this session in the last two minutes, if the request carries it.
pub fn take(key: &MasterKey, headers: &HeaderMap, session: i64) -> Option<Issued> {
    let issued: Issued = opened(key, headers, COOKIE, CONTEXT)?;
    let fresh = now_millis() - issued.at <= TTL_MS;
    (issued.session == session && fresh).then_some(issued)
}

/// Whether the request carries one at all (then the answer clears it).
pub fn present(headers: &HeaderMap) -> bool {
    crate::web::session::cookie(headers, COOKIE).is_some()
}

const CODES: &str = "sg_codes";
const CODES_CONTEXT: &str = "staffgate recovery-codes flash v1";
const CODES_TTL_MS: Millis = 600_000;

/// New recovery codes, shown until the person says they kept them.
#[derive(Serialize, Deserialize)]
pub struct Codes {
    session: i64,
    at: Millis,
    pub codes: Vec<String>,
}

fn codes_attributes(secure: bool) -> &'static str {
    if secure {
        "Path=/recovery-codes; HttpOnly; SameSite=Strict; Secure"
    } else {
        "Path=/recovery-codes; HttpOnly; SameSite=Strict"
    }
}

/// The `Set-Cookie` that carries new codes to `/recovery-codes`.
pub fn set_codes(
    key: &MasterKey,
    session: i64,
    codes: Vec<String>,
    secure: bool,
) -> Option<HeaderValue> {
    let value = Codes {
        session,
        at: now_millis(),
        codes,
    };
    sealed_cookie(
        key,
        CODES,
        CODES_CONTEXT,
        CODES_TTL_MS,
        codes_attributes(secure),
        &value,
    )
}

/// This session's new codes, while they are fresh.
pub fn codes(key: &MasterKey, headers: &HeaderMap, session: i64) -> Option<Vec<String>> {
    let c: Codes = opened(key, headers, CODES, CODES_CONTEXT)?;
    (c.session == session && now_millis() - c.at <= CODES_TTL_MS).then_some(c.codes)
}

pub fn clear_codes(secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{CODES}=; Max-Age=0; {}",
        codes_attributes(secure)
    ))
    .expect("a fixed cookie is a valid header")
}
