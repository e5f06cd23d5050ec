//! The broker: `/broker/{channel}/…` → the channel's upstream, with the real secret injected.
//!
//! Every request is checked on its own (token, owner, epoch, action, policy), and a response
//! still streaming is cut the moment its token stops being valid.

pub mod activity;
mod headers;
pub mod route;
pub mod scrub;
mod stream;

use crate::domain::ErrorCode;
use http::StatusCode;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use futures_util::TryStreamExt;
use http::{HeaderName, HeaderValue, Method, Request, Response};

use crate::channels::{ChannelSecret, LiveChannel, Registry};
use crate::config::BrokerConfig;
use crate::domain::credential::{self, CredentialHash, CredentialKind};
use crate::domain::time::now_millis;
use crate::domain::{Action, ChannelId};
use crate::policy::Engine;
use crate::tokens::{Denial, Verified, Verifier};
use activity::{ActivityLog, Event};
use headers::{DROP_INBOUND, forwardable, make_inert, refuse_disguised};
use route::{Inject, RouteError};

/// Why a brokered call was refused or failed. Each has its own status and code (see `web`).
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// This replica cannot show it has applied every recent revocation: it refuses rather
    /// than guess (see `replica`).
    #[error("this replica is not current with the revocation log; retry on another")]
    NotCurrent,
    #[error("method not allowed through the broker")]
    MethodNotAllowed,
    #[error("request headers are too large")]
    HeadersTooLarge,
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("no such channel")]
    ChannelUnknown,
    #[error("the presented token is malformed")]
    TokenMalformed,
    #[error(transparent)]
    Token(#[from] Denial),
    #[error("the token is for another channel")]
    WrongChannel,
    #[error("the token does not include this action")]
    ActionNotInToken,
    #[error("policy no longer permits this action")]
    PolicyDenied,
    #[error("the channel has no secret configured")]
    SecretMissing,
    #[error("request body is too large")]
    BodyTooLarge,
    #[error("the upstream did not answer in time")]
    UpstreamTimeout,
    #[error("the upstream could not be reached")]
    UpstreamUnreachable,
    /// The upstream answered in a content encoding the broker cannot decode, so it cannot
    /// check the answer for the secret.
    #[error("the upstream answered in a content encoding the broker cannot read")]
    UpstreamEncoding,
    /// A header asking the upstream to treat the request as another method: the action was
    /// classified from the method the broker saw.
    #[error("method-override headers are not accepted: send the method itself")]
    MethodOverride,
    /// A GET or HEAD with a body: what a read carries is not read.
    #[error("a GET or HEAD request must not carry a body")]
    BodyOnRead,
    /// The upstream answered part of a body (206): a part can hold part of the secret.
    #[error("the upstream answered with partial content, which the broker does not pass on")]
    UpstreamPartial,
}

impl BrokerError {
    /// How the broker answers this refusal: status and stable code, in one table (the code
    /// also names denial counts in the audit log).
    pub fn answer(&self) -> (StatusCode, ErrorCode) {
        match self {
            BrokerError::NotCurrent => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ReplicaNotCurrent,
            ),
            BrokerError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed)
            }
            BrokerError::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                ErrorCode::HeadersTooLarge,
            ),
            BrokerError::Route(RouteError::BadPath) => {
                (StatusCode::BAD_REQUEST, ErrorCode::PathRejected)
            }
            BrokerError::Route(RouteError::NoToken) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::TokenMissing)
            }
            BrokerError::Route(RouteError::Unmapped) => {
                (StatusCode::FORBIDDEN, ErrorCode::ActionUnmapped)
            }
            BrokerError::Route(RouteError::MethodOverride) => {
                (StatusCode::BAD_REQUEST, ErrorCode::MethodOverrideRefused)
            }
            BrokerError::ChannelUnknown => (StatusCode::NOT_FOUND, ErrorCode::ChannelNotFound),
            BrokerError::TokenMalformed => (StatusCode::UNAUTHORIZED, ErrorCode::TokenMalformed),
            BrokerError::Token(Denial::Unknown) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::TokenUnknown)
            }
            BrokerError::Token(Denial::Expired) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::TokenExpired)
            }
            BrokerError::Token(Denial::Revoked) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
            }
            BrokerError::Token(Denial::StaffNotActive) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::StaffNotActive)
            }
            BrokerError::Token(Denial::StaleEpoch) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
            }
            BrokerError::Token(Denial::NdaNotAcknowledged) => {
                (StatusCode::FORBIDDEN, ErrorCode::NdaNotAcknowledged)
            }
            BrokerError::WrongChannel => (StatusCode::FORBIDDEN, ErrorCode::TokenWrongChannel),
            BrokerError::ActionNotInToken => (StatusCode::FORBIDDEN, ErrorCode::ActionNotInToken),
            BrokerError::PolicyDenied => (StatusCode::FORBIDDEN, ErrorCode::PolicyDenied),
            BrokerError::SecretMissing => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ChannelSecretMissing,
            ),
            BrokerError::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge),
            BrokerError::UpstreamTimeout => {
                (StatusCode::GATEWAY_TIMEOUT, ErrorCode::UpstreamTimeout)
            }
            BrokerError::UpstreamUnreachable => {
                (StatusCode::BAD_GATEWAY, ErrorCode::UpstreamUnreachable)
            }
            BrokerError::UpstreamEncoding => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::UpstreamEncodingUnsupported,
            ),
            BrokerError::MethodOverride => {
                (StatusCode::BAD_REQUEST, ErrorCode::MethodOverrideRefused)
            }
            BrokerError::BodyOnRead => (StatusCode::BAD_REQUEST, ErrorCode::BodyOnReadRefused),
            BrokerError::UpstreamPartial => {
                (StatusCode::BAD_GATEWAY, ErrorCode::UpstreamPartialContent)
            }
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.answer().1
    }
}

/// Everything the broker reads on the hot path.
pub struct Broker {
    pub freshness: Arc<crate::replica::Freshness>,
    pub channels: Arc<Registry>,
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub activity: ActivityLog,
    pub config: BrokerConfig,
    pub client: reqwest::Client,
}

/// Builds the upstream HTTP client: no redirects (a redirect could carry the secret
/// elsewhere), no proxy from the environment.
pub fn client(config: &BrokerConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(config.upstream_timeout)
        .read_timeout(config.upstream_timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("static client configuration")
}

/// Every check a brokered call passes, as of `at`: now for a call arriving, the call's arrival for a
/// response streaming back (expiry is not revocation: a call that passed on arrival gets
/// its answer even if its token expires meanwhile; a revocation still cuts it).
pub(crate) fn check(
    verifier: &Verifier,
    engine: &Engine,
    hash: &CredentialHash,
    channel: &LiveChannel,
    action: Action,
    at: crate::domain::time::Millis,
) -> Result<Verified, BrokerError> {
    // Before the snapshot: see `Engine::permitted_as_of`.
    let generation = engine.generation();
    let verified = verifier.verify(hash, at)?;
    if verified.grant.channel != channel.spec.id {
        return Err(BrokerError::WrongChannel);
    }
    if !verified.grant.actions.contains(action) {
        return Err(BrokerError::ActionNotInToken);
    }
    if !engine
        .permitted_as_of(&verified.staff, &channel.facts, generation)
        .contains(action)
    {
        return Err(BrokerError::PolicyDenied);
    }
    Ok(verified)
}

/// Where the request goes, with the secret in place: the URL, and the header to set if the
/// secret travels in one. The URL must stay under the channel's upstream base.
fn upstream_target(
    channel: &LiveChannel,
    routed: &route::Routed<'_>,
    secret: &ChannelSecret,
) -> Result<(reqwest::Url, Option<(HeaderName, HeaderValue)>), BrokerError> {
    let secret = secret.expose();
    let mut url = channel.spec.upstream.as_str().to_owned();
    match &routed.inject {
        Inject::TelegramPath { before, after } => {
            url.push_str(before);
            url.push_str(secret);
            url.push_str(after);
        }
        _ => url.push_str(routed.path),
    }
    let ours = match &routed.inject {
        Inject::Query(param) => Some(
            form_urlencoded::Serializer::new(String::new())
                .append_pair(param, secret)
                .finish(),
        ),
        _ => None,
    };
    let query: Vec<&str> = routed
        .query
        .iter()
        .chain(&ours)
        .map(String::as_str)
        .collect();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    let url = reqwest::Url::parse(&url).map_err(|_| BrokerError::Route(RouteError::BadPath))?;
    let base = channel.spec.upstream.url();
    if url.origin() != base.origin() || !url.path().starts_with(base.path()) {
        return Err(BrokerError::Route(RouteError::BadPath));
    }
    // A secret that is not a valid header value cannot be sent: say the channel is unusable.
    let header = match &routed.inject {
        Inject::Bearer => Some((
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {secret}"))
                .map_err(|_| BrokerError::SecretMissing)?,
        )),
        Inject::Header(name) => Some((
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| BrokerError::SecretMissing)?,
            HeaderValue::from_str(secret).map_err(|_| BrokerError::SecretMissing)?,
        )),
        Inject::TelegramPath { .. } | Inject::Query(_) => None,
    };
    Ok((url, header))
}

impl Broker {
    /// Checks and forwards one request.
    pub async fn forward(
        &self,
        channel_id: &str,
        rest: &str,
        req: Request<Body>,
    ) -> Result<Response<Body>, BrokerError> {
        let started = Instant::now();
        // Logged once per stale episode by `Freshness`, not once per refused call.
        if self.freshness.stale_for(now_millis()).is_some() {
            return Err(BrokerError::NotCurrent);
        }
        let (req, body) = req.into_parts();
        let method = req.method.clone();
        if !matches!(
            method,
            Method::GET
                | Method::HEAD
                | Method::POST
                | Method::PUT
                | Method::PATCH
                | Method::DELETE
        ) {
            return Err(BrokerError::MethodNotAllowed);
        }
        refuse_disguised(&method, &req.headers)?;
        let header_bytes: usize = req
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        if header_bytes > self.config.max_header_bytes {
            return Err(BrokerError::HeadersTooLarge);
        }
        let id = ChannelId::parse(channel_id).map_err(|_| BrokerError::ChannelUnknown)?;
        let channel = self.channels.get(&id).ok_or(BrokerError::ChannelUnknown)?;

        let authorization = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let mut query_token = None;
        let incoming = route::Incoming {
            method: method.as_str(),
            rest,
            query: req.uri.query(),
            authorization,
        };
        let routed = route::route(&channel.spec, incoming, &mut query_token)?;
        let presented = credential::strip_telegram_shape(routed.token);
        let hash = credential::parse(CredentialKind::BrokeredToken, presented)
            .map_err(|_| BrokerError::TokenMalformed)?;
        let arrived_at = now_millis();
        let verified = check(
            &self.verifier,
            &self.engine,
            &hash,
            &channel,
            routed.action,
            arrived_at,
        )?;
        let secret = channel.secret.as_ref().ok_or(BrokerError::SecretMissing)?;
        if let Some(len) = req
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            && len > self.config.max_request_bytes
        {
            return Err(BrokerError::BodyTooLarge);
        }

        let (url, injected) = upstream_target(&channel, &routed, secret)?;
        let mut headers = forwardable(&req.headers, &DROP_INBOUND);
        // Asked for plain bytes; whatever is sent encoded anyway, reqwest decodes (gzip,
        // deflate, br, zstd) before the scrubber sees it.
        headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        if let Some((name, value)) = injected {
            headers.insert(name, value);
        }

        let meter = Arc::new(stream::BodyMeter::default());
        let body = stream::request_body(body, self.config.max_request_bytes, meter.clone());
        let body = reqwest::Body::wrap_stream(body);
        let send = self
            .client
            .request(method.clone(), url)
            .headers(headers)
            .body(body)
            .send();
        let upstream = match tokio::time::timeout(self.config.upstream_timeout, send).await {
            Err(_) => return Err(BrokerError::UpstreamTimeout),
            Ok(Err(_)) if meter.tripped() => {
                return Err(BrokerError::BodyTooLarge);
            }
            Ok(Err(e)) => {
                let timed_out = e.is_timeout();
                // Never log the URL: for Telegram it holds the secret.
                tracing::warn!(channel = %id, error = %e.without_url(), "upstream request failed");
                return Err(if timed_out {
                    BrokerError::UpstreamTimeout
                } else {
                    BrokerError::UpstreamUnreachable
                });
            }
            Ok(Ok(r)) => r,
        };
        // An encoding reqwest did not decode, or a part of a body, cannot be scrubbed whole.
        if upstream
            .headers()
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
        {
            tracing::warn!(channel = %id, "upstream answered in an encoding the broker cannot read; refused");
            return Err(BrokerError::UpstreamEncoding);
        }
        if upstream.status() == reqwest::StatusCode::PARTIAL_CONTENT {
            return Err(BrokerError::UpstreamPartial);
        }
        let record = crate::store::activity::CallRecord {
            at: now_millis(),
            token_id: verified.grant.token_id,
            staff_id: verified.staff.id,
            channel_id: channel.spec.id.to_string(),
            action: routed.action.as_str(),
            status: upstream.status().as_u16(),
            latency_us: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        let guard = stream::StreamWatch {
            verifier: self.verifier.clone(),
            engine: self.engine.clone(),
            channel,
            hash,
            action: routed.action,
            activity: self.activity.clone(),
            record,
            started,
            arrived_at,
            freshness: self.freshness.clone(),
            meter,
        };
        Ok(self.respond(upstream, guard))
    }

    /// The per-request checks after the token's hash is known.
    pub fn check(
        &self,
        hash: &CredentialHash,
        channel: &LiveChannel,
        action: Action,
    ) -> Result<Verified, BrokerError> {
        check(
            &self.verifier,
            &self.engine,
            hash,
            channel,
            action,
            now_millis(),
        )
    }

    /// Streams the upstream's answer back, scrubbed, under the guard's watch.
    fn respond(&self, upstream: reqwest::Response, guard: stream::StreamWatch) -> Response<Body> {
        let status = upstream.status();
        let scrubber = scrub::Scrubber::new(guard.channel.secret.as_ref().map(|s| s.matcher()));
        let mut headers = forwardable(upstream.headers(), &["set-cookie"]);
        for value in headers.values_mut() {
            let mut bytes = value.as_bytes().to_vec();
            scrubber.mask(&mut bytes);
            if bytes != value.as_bytes() {
                *value = HeaderValue::from_bytes(&bytes)
                    .unwrap_or_else(|_| HeaderValue::from_static("[scrubbed]"));
            }
        }
        let body = stream::response_body(
            upstream
                .bytes_stream()
                .map_err(|e| std::io::Error::other(e.without_url())),
            scrubber,
            guard,
            self.verifier.subscribe(),
            self.config.max_response_bytes,
            self.config.upstream_timeout,
        );
        make_inert(&mut headers);
        let mut response = Response::new(Body::from_stream(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }

    /// Reports a refusal for the aggregated denial counts.
    pub fn denied(&self, channel: &str, error: &BrokerError) {
        // Only registered channels get a label of their own: anyone can make up ids, and
        // each would otherwise be a metric series and an audit line forever.
        let channel = match self.channels.get_str(channel) {
            Some(c) => c.spec.id.to_string(),
            None => "(unknown)".into(),
        };
        self.activity.report(Event::Denied {
            channel,
            code: error.code().as_str(),
        });
    }
}
