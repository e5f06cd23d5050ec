//! Pure request routing: where the caller's token is, which action a request is, and where
//! the real secret goes. No I/O, so every branch is unit-tested.

use crate::domain::Action;
use crate::domain::channel::presets::PresetRefusal;
use crate::domain::channel::{ChannelKind, ChannelSpec};

/// Why a request was refused before any token was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Traversal, encoded separators or other tricks in the path.
    #[error("the request path is not allowed")]
    BadPath,
    /// No brokered token where this channel kind expects one.
    #[error("no brokered token presented")]
    NoToken,
    /// Neither the channel's rules nor its preset know this request.
    #[error("this request is not an action this channel's rules or preset know")]
    Unmapped,
    /// A query parameter asking the API to run another method (the Graph API's `method=`).
    #[error("method-override parameters are not accepted: send the method itself")]
    MethodOverride,
}

/// Where the real secret is put on the way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inject {
    /// Upstream path is `before + secret + after`.
    TelegramPath {
        before: String,
        after: String,
    },
    Bearer,
    Header(String),
    Query(String),
}

/// A routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed<'a> {
    pub token: &'a str,
    pub action: Action,
    pub inject: Inject,
    /// Path below the upstream base (for non-Telegram kinds, already final).
    pub path: &'a str,
    /// Query to forward, the caller's credential removed.
    pub query: Option<String>,
}

/// Encoded forms a server behind the broker may decode into something the rules did not
/// see: separators (also overlong UTF-8 and look-alikes), dots, `%` itself (double
/// encoding), `;` (Java-style path parameters: `public/..;/admin`), and IIS's `%u` escapes.
const BANNED_ENCODED: [&str; 12] = [
    "%2f",
    "%5c",
    "%2e",
    "%25",
    "%3b",
    "%u",
    "%c0",
    "%c1",
    "%e0%80",
    "%ef%bc%8f",
    "%e2%88%95",
    "%ef%bc%bc",
];

/// Refuses paths that could escape the upstream base or confuse a server behind it.
pub fn check_path(rest: &str) -> Result<(), RouteError> {
    let lower = rest.to_ascii_lowercase();
    if BANNED_ENCODED.iter().any(|b| lower.contains(b))
        || rest.contains('\\')
        || rest.contains(';')
        || rest.bytes().any(|b| b < 0x21 || b == 0x7f)
        || encodes_a_control_byte(&lower)
    {
        return Err(RouteError::BadPath);
    }
    if rest.split('/').any(|seg| seg == "." || seg == "..")
        || rest.contains("//")
        || rest.starts_with('/')
    {
        return Err(RouteError::BadPath);
    }
    Ok(())
}

/// `%00`–`%1f` or `%7f` anywhere (`lower` is lower-case).
fn encodes_a_control_byte(lower: &str) -> bool {
    lower.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1], w[2]),
                (b'0' | b'1', b'0'..=b'9' | b'a'..=b'f') | (b'7', b'f')
            )
    })
}

/// Telegram Bot API: each method by name (see [`telegram`]).
pub fn telegram_action(method: &str) -> Option<Action> {
    telegram::action(method)
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Splits off every query pair whose decoded name is `param`; returns (its value, the rest).
fn take_param(query: Option<&str>, param: &str) -> (Option<String>, Option<String>) {
    let Some(query) = query else {
        return (None, None);
    };
    let mut found = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match form_urlencoded::parse(pair.as_bytes()).next() {
            Some((k, v)) if k == param => found = Some(v.into_owned()),
            _ => kept.push(pair),
        }
    }
    let rest = (!kept.is_empty()).then(|| kept.join("&"));
    (found, rest)
}

/// The parts of an incoming request routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The raw path below `/broker/{channel}/`.
    pub rest: &'a str,
    pub query: Option<&'a str>,
    pub authorization: Option<&'a str>,
}

/// Routes one request for `spec`. A token presented in the query is moved into
/// `query_token`, which the result borrows.
pub fn route<'a>(
    spec: &ChannelSpec,
    req: Incoming<'a>,
    query_token: &'a mut Option<String>,
) -> Result<Routed<'a>, RouteError> {
    check_path(req.rest)?;
    if let ChannelKind::Telegram = spec.kind {
        return route_telegram(req);
    }
    let action = classify(spec, req)?;
    let (inject, query) = match &spec.kind {
        ChannelKind::Telegram => unreachable!("handled above"),
        ChannelKind::Bearer => (Inject::Bearer, req.query.map(str::to_owned)),
        ChannelKind::Header { header } => {
            (Inject::Header(header.clone()), req.query.map(str::to_owned))
        }
        ChannelKind::Query { param } => {
            let (presented, rest_query) = take_param(req.query, param);
            *query_token = presented;
            (Inject::Query(param.clone()), rest_query)
        }
    };
    let token = match (bearer(req.authorization), query_token.as_deref()) {
        (Some(t), _) => t,
        (None, Some(t)) => t,
        (None, None) => return Err(RouteError::NoToken),
    };
    Ok(Routed {
        token,
        action,
        inject,
        path: req.rest,
        query,
    })
}

/// The channel's own rules first, then its preset; neither knowing the request denies it.
fn classify(spec: &ChannelSpec, req: Incoming<'_>) -> Result<Action, RouteError> {
    let path_for_rules = format!("/{}", req.rest);
    if let Some(rule) = spec
        .rules
        .iter()
        .find(|r| r.matches(req.method, &path_for_rules))
    {
        return Ok(rule.action);
    }
    let preset = spec.preset.ok_or(RouteError::Unmapped)?;
    preset
        .classify(req.method, req.rest, req.query)
        .map_err(|refusal| match refusal {
            PresetRefusal::Unknown => RouteError::Unmapped,
            PresetRefusal::MethodOverride => RouteError::MethodOverride,
        })
}

fn route_telegram(req: Incoming<'_>) -> Result<Routed<'_>, RouteError> {
    let rest = req.rest;
    let (file, tail) = match rest.strip_prefix("file/") {
        Some(t) => (true, t),
        None => (false, rest),
    };
    let tail = tail.strip_prefix("bot").ok_or(RouteError::NoToken)?;
    let (token, method_path) = tail.split_once('/').ok_or(RouteError::Unmapped)?;
    if token.is_empty() {
        return Err(RouteError::NoToken);
    }
    let action = if file {
        Action::Read
    } else {
        telegram_action(method_path)
            .filter(|_| !method_path.contains('/'))
            .ok_or(RouteError::Unmapped)?
    };
    let before = if file { "file/bot" } else { "bot" }.to_owned();
    let after = format!("/{method_path}");
    Ok(Routed {
        token,
        action,
        inject: Inject::TelegramPath { before, after },
        path: rest,
        query: req.query.map(str::to_owned),
    })
}

pub mod telegram;

#[cfg(test)]
mod tests;
