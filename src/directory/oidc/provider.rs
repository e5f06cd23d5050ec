//! Talking to one OpenID Connect provider: discovery, the authorization URL, the code
//! exchange, ID token verification and userinfo, all through `openidconnect`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AdditionalProviderMetadata, AuthorizationCode, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, RefreshToken, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse, UserInfoClaims,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::OidcError;
use crate::config::oidc::OidcSource;

/// Every claim the core types do not name, kept as JSON for the mapping.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}
impl AdditionalClaims for OtherClaims {}

/// Discovery fields beyond the core set: RFC 9207's flag, logout endpoints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MoreMetadata {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub backchannel_logout_supported: bool,
}
impl AdditionalProviderMetadata for MoreMetadata {}

pub type Metadata = ProviderMetadata<
    MoreMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A provider's key set is fetched again on an unknown `kid` at most this often.
const JWKS_REFETCH_EVERY: Duration = Duration::from_secs(30);

/// What a started sign-in must remember until the browser comes back.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A verified sign-in: every claim of the ID token and userinfo, and the facts the gate
/// and logout need.
#[derive(Debug)]
pub struct Verified {
    pub subject: String,
    /// The provider's session id (`sid`), for back-channel logout.
    pub sid: Option<String>,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    /// ID token claims, with userinfo's filling what the ID token left out.
    pub claims: Map<String, Value>,
    /// The provider's refresh token, when it gave one.
    pub refresh_token: Option<secrecy::SecretString>,
}

/// What a refresh found.
pub enum Refreshed {
    /// The person's claims now, and the refresh token to use next (rotated or the same).
    Claims {
        claims: Map<String, Value>,
        refresh_token: secrecy::SecretString,
    },
    /// The provider refused the grant (`invalid_grant`: revoked, or the account is gone or
    /// disabled): the session ends.
    Refused(String),
}

/// One configured provider and what discovery found.
pub struct Provider {
    pub config: OidcSource,
    pub redirect_uri: String,
    http: openidconnect::reqwest::Client,
    found: Mutex<Option<Found>>,
    pub stats: super::Stats,
}

#[derive(Clone)]
struct Found {
    metadata: Metadata,
    at: Instant,
    jwks_at: Instant,
}

impl Provider {
    pub fn new(config: OidcSource, public_url: &str) -> Result<Provider, OidcError> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider's answer point us anywhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()
            .map_err(|e| OidcError::Provider(format!("HTTP client: {e}")))?;
        let redirect_uri = config.redirect_uri.clone().unwrap_or_else(|| {
            format!(
                "{}/oidc/{}/callback",
                public_url.trim_end_matches('/'),
                config.name
            )
        });
        Ok(Provider {
            config,
            redirect_uri,
            http,
            found: Mutex::new(None),
            stats: super::Stats::default(),
        })
    }

    /// The discovered metadata, discovering now when it never was or is over an hour old.
    /// An hour-old document still serves while the provider's discovery does not answer.
    pub async fn metadata(&self) -> Result<Metadata, OidcError> {
        let cached = self.found.lock().expect("oidc lock").clone();
        match cached {
            Some(f) if f.at.elapsed() < Duration::from_secs(3600) => Ok(f.metadata),
            Some(f) => match self.discover().await {
                Ok(fresh) => Ok(fresh),
                Err(e) => {
                    tracing::warn!(source = %self.config.name, error = %e, "rediscovery failed; using the last document");
                    Ok(f.metadata)
                }
            },
            None => self.discover().await,
        }
    }

    /// Reads the provider's discovery document and key set.
    pub async fn discover(&self) -> Result<Metadata, OidcError> {
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| OidcError::Provider(format!("issuer URL: {e}")))?;
        let metadata = match Metadata::discover_async(issuer, &self.http).await {
            Ok(m) => m,
            Err(e) => {
                let e = OidcError::Discovery(error_chain(&e));
                self.stats.error(Some(e.to_string()));
                return Err(e);
            }
        };
        self.stats.error(None);
        let now = Instant::now();
        *self.found.lock().expect("oidc lock") = Some(Found {
            metadata: metadata.clone(),
            at: now,
            jwks_at: now,
        });
        Ok(metadata)
    }

    /// This provider as an admin sees it.
    pub fn status(&self) -> super::ProviderStatus {
        use std::sync::atomic::Ordering::Relaxed;
        let ages = {
            let found = self.found.lock().expect("oidc lock");
            found
                .as_ref()
                .map(|f| (f.at.elapsed(), f.jwks_at.elapsed()))
        };
        let s = &self.stats;
        super::ProviderStatus {
            source: self.config.name.clone(),
            issuer: self.config.issuer.clone(),
            discovered_secs_ago: ages.map(|a| a.0.as_secs()),
            key_set_secs_ago: ages.map(|a| a.1.as_secs()),
            refreshed: s.refreshed.load(Relaxed),
            ended_at_refresh: s.ended_at_refresh.load(Relaxed),
            refresh_failed: s.refresh_failed.load(Relaxed),
            logouts: s.logouts.load(Relaxed),
            last_error: s.last_error(),
        }
    }

    /// Fetches the key set again after an unknown `kid`; `false` when it was fetched too
    /// recently to ask again.
    async fn refetch_keys(&self) -> Result<bool, OidcError> {
        let Some(found) = self.found.lock().expect("oidc lock").clone() else {
            return Ok(false);
        };
        if found.jwks_at.elapsed() < JWKS_REFETCH_EVERY {
            return Ok(false);
        }
        let jwks = JsonWebKeySet::fetch_async(found.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| OidcError::Discovery(error_chain(&e)))?;
        let mut guard = self.found.lock().expect("oidc lock");
        if let Some(f) = guard.as_mut() {
            f.metadata = f.metadata.clone().set_jwks(jwks);
            f.jwks_at = Instant::now();
        }
        Ok(true)
    }

    /// The provider's current key set as JSON, for logout tokens.
    pub async fn key_set(&self, refetch: bool) -> Result<Value, OidcError> {
        if refetch {
            self.refetch_keys().await?;
        }
        let metadata = self.metadata().await?;
        serde_json::to_value(metadata.jwks()).map_err(|e| OidcError::Provider(e.to_string()))
    }

    fn client(&self, metadata: Metadata) -> Result<OidcClient, OidcError> {
        let redirect = RedirectUrl::new(self.redirect_uri.clone())
            .map_err(|e| OidcError::Provider(format!("redirect URI: {e}")))?;
        Ok(OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser, with the state, nonce and PKCE verifier to keep.
    pub async fn start(&self) -> Result<(String, String, Pending), OidcError> {
        let client = self.client(self.metadata().await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            state.secret().clone(),
            Pending {
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
        ))
    }

    /// Where to send a browser whose staffgate session just ended, so the provider's ends
    /// too (RP-Initiated Logout 1.0); `None` when the provider has no end-session endpoint.
    pub async fn end_session_url(&self) -> Option<String> {
        let metadata = self.metadata().await.ok()?;
        let end = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut url = reqwest::Url::parse(&end).ok()?;
        let back = reqwest::Url::parse(&self.redirect_uri)
            .ok()?
            .join("/login")
            .ok()?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("post_logout_redirect_uri", back.as_str());
        Some(url.to_string())
    }

    /// Whether the provider promises RFC 9207's `iss` on its answers.
    pub async fn sends_iss(&self) -> Result<bool, OidcError> {
        Ok(self
            .metadata()
            .await?
            .additional_metadata()
            .authorization_response_iss_parameter_supported)
    }

    /// Exchanges the code, verifies the ID token (signature with an allowed algorithm,
    /// issuer, audience, expiry, nonce) and reads userinfo.
    pub async fn finish(&self, code: &str, pending: Pending) -> Result<Verified, OidcError> {
        let client = self.client(self.metadata().await?)?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(token_error(&e)))?;
        let id_token = tokens.id_token().ok_or(OidcError::NoIdToken)?;
        let nonce = Nonce::new(pending.nonce);
        let claims = match self.verify(&client, id_token, &nonce) {
            Err(OidcError::UnknownKey) if self.refetch_keys().await? => {
                let client = self.client(self.metadata().await?)?;
                self.verify(&client, id_token, &nonce)?
            }
            other => other?,
        };
        let subject = claims.subject().as_str().to_owned();
        let amr = claims
            .auth_method_refs()
            .map(|v| v.iter().map(|a| a.as_str().to_owned()).collect())
            .unwrap_or_default();
        let acr = claims.auth_context_ref().map(|a| a.as_str().to_owned());
        let mut all = match serde_json::to_value(claims) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        // The session id is taken from the signed token only, never from userinfo.
        let sid = all.get("sid").and_then(Value::as_str).map(str::to_owned);
        let more = self
            .userinfo(&client, tokens.access_token(), &subject)
            .await?;
        for (k, v) in more {
            all.entry(k).or_insert(v);
        }
        Ok(Verified {
            subject,
            sid,
            amr,
            acr,
            claims: all,
            refresh_token: tokens
                .refresh_token()
                .map(|t| secrecy::SecretString::from(t.secret().clone())),
        })
    }

    /// The userinfo claims for `subject` (none when the provider has no userinfo endpoint);
    /// the provider's answer must name the same subject.
    async fn userinfo(
        &self,
        client: &OidcClient,
        access: &AccessToken,
        subject: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let expected = openidconnect::SubjectIdentifier::new(subject.to_owned());
        let Ok(request) = client.user_info(access.clone(), Some(expected)) else {
            return Ok(Map::new());
        };
        let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Userinfo(error_chain(&e)))?;
        match serde_json::to_value(&info) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Ok(Map::new()),
        }
    }

    /// Refreshes one session's grant and reads who the person is now (userinfo, checked
    /// against `subject`). An answer other than a refusal of the grant is an error: the
    /// session is kept and tried again.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        subject: &str,
    ) -> Result<Refreshed, OidcError> {
        use openidconnect::RequestTokenError as R;
        let client = self.client(self.metadata().await?)?;
        let old = RefreshToken::new(refresh_token.to_owned());
        let answer = client
            .exchange_refresh_token(&old)
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .request_async(&self.http)
            .await;
        let tokens = match answer {
            Ok(t) => t,
            Err(R::ServerResponse(r)) if *r.error() == CoreErrorResponseType::InvalidGrant => {
                return Ok(Refreshed::Refused(r.error().to_string()));
            }
            Err(e) => return Err(OidcError::Exchange(token_error(&e))),
        };
        let claims = self
            .userinfo(&client, tokens.access_token(), subject)
            .await?;
        let next = tokens
            .refresh_token()
            .map_or_else(|| refresh_token.to_owned(), |t| t.secret().clone());
        Ok(Refreshed::Claims {
            claims,
            refresh_token: secrecy::SecretString::from(next),
        })
    }

    fn verify<'t>(
        &self,
        client: &OidcClient,
        id_token: &'t openidconnect::IdToken<
            OtherClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        nonce: &Nonce,
    ) -> Result<&'t openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>, OidcError> {
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(self.allowed_algs());
        id_token.claims(&verifier, nonce).map_err(|e| {
            use openidconnect::{ClaimsVerificationError as C, SignatureVerificationError as S};
            match e {
                C::SignatureVerification(S::NoMatchingKey) => OidcError::UnknownKey,
                other => OidcError::IdToken(other.to_string()),
            }
        })
    }

    fn allowed_algs(&self) -> Vec<CoreJwsSigningAlgorithm> {
        self.config
            .algorithms
            .iter()
            .filter_map(|a| serde_json::from_value(Value::String(a.clone())).ok())
            .collect()
    }
}

/// An error with its causes, never a response body (which may hold tokens).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn token_error<RE: std::error::Error + 'static>(
    e: &openidconnect::RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> String {
    use openidconnect::RequestTokenError as R;
    match e {
        R::ServerResponse(r) => format!("the provider refused: {}", r.error().as_ref()),
        R::Request(inner) => format!("request failed: {}", error_chain(inner)),
        // The body of an unparsable answer may hold tokens: never shown.
        R::Parse(..) => "the provider's answer could not be read".into(),
        R::Other(text) => text.clone(),
    }
}
