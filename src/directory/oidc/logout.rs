//! OpenID Connect Back-Channel Logout 1.0: checking a provider's logout token.
//! `openidconnect` stops at ID tokens; the logout token is checked with `jsonwebtoken`.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The event a logout token must carry.
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token older than this is refused (clock skew included).
pub const MAX_AGE_SECS: i64 = 300;

/// Why a logout token was refused: each is a 400 with its own reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    #[error("not a signed JWT")]
    Malformed,
    #[error("typ must be logout+jwt")]
    WrongType,
    #[error("signed with an algorithm this source does not allow")]
    Algorithm,
    #[error("signed with a key the provider does not publish")]
    UnknownKey,
    #[error("signature, issuer, audience or expiry check failed: {0}")]
    Invalid(String),
    #[error("issued too long ago or in the future")]
    Stale,
    #[error("no back-channel logout event")]
    NoEvent,
    #[error("names neither sid nor sub")]
    NoSubject,
    #[error("a logout token must not carry a nonce")]
    Nonce,
    #[error("no jti")]
    NoJti,
    #[error("this jti was seen before")]
    Replayed,
}

/// Who a valid logout token logs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    pub sub: Option<String>,
    pub sid: Option<String>,
    pub jti: String,
    pub iat: i64,
}

#[derive(Deserialize)]
struct Claims {
    iat: i64,
    sub: Option<String>,
    sid: Option<String>,
    jti: Option<String>,
    events: Option<Map<String, Value>>,
    nonce: Option<Value>,
}

/// What a logout token is checked against.
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub algorithms: &'a [String],
    pub keys: &'a Value,
    /// Unix seconds.
    pub now: i64,
}

/// Checks a logout token. `Err(UnknownKey)` tells the caller to refetch the key set once.
pub fn check(token: &str, expect: &Expect<'_>) -> Result<Logout, LogoutTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| LogoutTokenError::Malformed)?;
    if header
        .typ
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
        != Some("logout+jwt")
    {
        return Err(LogoutTokenError::WrongType);
    }
    let allowed = expect
        .algorithms
        .iter()
        .filter_map(|a| a.parse::<Algorithm>().ok())
        .any(|a| a == header.alg);
    if !allowed
        || matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        )
    {
        return Err(LogoutTokenError::Algorithm);
    }
    let keys: JwkSet =
        serde_json::from_value(expect.keys.clone()).map_err(|_| LogoutTokenError::UnknownKey)?;
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or(LogoutTokenError::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| LogoutTokenError::UnknownKey)?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[expect.issuer]);
    validation.set_audience(&[expect.client_id]);
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    validation.leeway = 60;
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| LogoutTokenError::Invalid(e.to_string()))?;
    let c = data.claims;
    if c.iat > expect.now + 60 || c.iat < expect.now - MAX_AGE_SECS {
        return Err(LogoutTokenError::Stale);
    }
    if !c
        .events
        .as_ref()
        .and_then(|e| e.get(BACKCHANNEL_EVENT))
        .is_some_and(Value::is_object)
    {
        return Err(LogoutTokenError::NoEvent);
    }
    if c.nonce.is_some() {
        return Err(LogoutTokenError::Nonce);
    }
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let (sub, sid) = (nonempty(c.sub), nonempty(c.sid));
    if sub.is_none() && sid.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    let jti = nonempty(c.jti).ok_or(LogoutTokenError::NoJti)?;
    Ok(Logout {
        sub,
        sid,
        jti,
        iat: c.iat,
    })
}
