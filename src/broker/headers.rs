//! What crosses the broker in headers: what the caller's request may not carry or pass on,
//! and what every brokered answer gets so a browser treats it as inert.

use http::{HeaderMap, HeaderValue, Method};

use super::BrokerError;

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
/// Caller credentials, routing headers and anything that would make the answer unreadable
/// to the scrubber (an encoding it is not asked in, a byte range that splits the secret)
/// never go upstream; the caller's own claims about where it is are not passed on either.
pub(super) const DROP_INBOUND: [&str; 14] = [
    "host",
    "authorization",
    "cookie",
    "accept-encoding",
    "range",
    "if-range",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "via",
];

/// Headers that make a request act as another method than the one classified.
const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Refuses a request that reads as one action and would do another upstream.
pub(super) fn refuse_disguised(method: &Method, headers: &HeaderMap) -> Result<(), BrokerError> {
    if METHOD_OVERRIDES.iter().any(|h| headers.contains_key(*h)) {
        return Err(BrokerError::MethodOverride);
    }
    let has_body = headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if (method == Method::GET || method == Method::HEAD) && has_body {
        return Err(BrokerError::BodyOnRead);
    }
    Ok(())
}

/// Content a browser would run or render: brokered on staffgate's origin, it must be saved,
/// never shown.
fn is_active_content(content_type: Option<&HeaderValue>) -> bool {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else {
        return true; // untyped: a browser may sniff it into HTML
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "image/svg+xml"
            | "text/xml"
            | "application/xml"
            | "text/javascript"
            | "application/javascript"
            | "application/ecmascript"
            | "text/ecmascript"
            | "text/xsl"
            | "application/pdf"
    ) || essence.ends_with("+xml")
}

/// Makes a brokered answer inert in a browser on staffgate's origin.
pub(super) fn make_inert(headers: &mut HeaderMap) {
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    if is_active_content(headers.get(http::header::CONTENT_TYPE)) {
        headers.insert(
            http::header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
}

fn listed_in_connection(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect()
}

/// Copies headers minus hop-by-hop ones and anything in `drop`.
pub(crate) fn forwardable(headers: &HeaderMap, drop: &[&str]) -> HeaderMap {
    let extra = listed_in_connection(headers);
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || drop.contains(&n) || extra.iter().any(|e| e == n) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}
