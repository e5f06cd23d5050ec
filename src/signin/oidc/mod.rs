//! Sign-in with an OpenID Connect provider, and the provider's back-channel logout.
//!
//! A person is the provider's `sub` within its source, never an e-mail or a username: a
//! sign-in whose username another source (or another `sub`) holds is refused, so nobody
//! becomes an LDAP person by choosing their name at a provider. The person is created or
//! updated through the same reconcile-and-apply path a directory sync takes.

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

mod api;
mod logout;
mod refresh;

pub use api::{ApiStarted, Finished, PickupCode};

use super::{Opened, Signin, SigninError};
use crate::audit::{self, Actor};
use crate::directory::oidc::{Pending, Provider, claims};
use crate::directory::reconcile::SourceKind;
use crate::directory::sync::Answer;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::time::{Millis, now_millis};

/// How long a browser may take at the provider.
const LOGIN_TTL_MS: Millis = 10 * 60 * 1000;
/// The sealing context of a started sign-in's secrets.
const SEAL_CONTEXT: &str = "oidc-login";

fn hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

fn random_text() -> Result<String, SigninError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| SigninError::Random)?;
    Ok(hex::encode(b))
}

/// A started sign-in: where to send the browser, and the value of the cookie that binds
/// the answer to this browser.
pub struct Started {
    pub url: String,
    pub browser: String,
}

/// What the provider's redirect brought back.
pub struct Callback<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub iss: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The binding cookie, as the browser sent it.
    pub browser: Option<&'a str>,
}

impl Signin {
    fn provider(&self, source: &str) -> Result<std::sync::Arc<Provider>, SigninError> {
        Ok(self.oidc.get(source)?)
    }

    /// Starts a sign-in at the provider, for a browser.
    pub async fn oidc_start(&self, source: &str) -> Result<Started, SigninError> {
        self.begin(source, false).await
    }

    /// Starts a sign-in: `browser` is the value that binds the answer (a browser's cookie, or
    /// an API client's handle).
    async fn begin(&self, source: &str, for_api: bool) -> Result<Started, SigninError> {
        let provider = self.provider(source)?;
        let (url, state, pending) = provider.start().await?;
        let browser = random_text()?;
        let plain = serde_json::to_vec(&pending).map_err(|_| SigninError::Random)?;
        let sealed = self
            .key
            .seal(SEAL_CONTEXT, &plain)
            .map_err(|_| SigninError::Random)?;
        let now = now_millis();
        let kept = crate::store::oidc::save_login(
            self.store.pool(),
            &crate::store::oidc::Started {
                state_hash: &hash(&state),
                source,
                browser_hash: &hash(&browser),
                sealed: &sealed,
                now,
                expires_at: now + LOGIN_TTL_MS,
                for_api,
            },
            self.config.oidc_pending_limit,
        )
        .await?;
        if !kept {
            tracing::warn!(
                source,
                "too many provider sign-ins waiting; new ones refused for now"
            );
            return Err(SigninError::RateLimited {
                retry_after_secs: 60,
            });
        }
        Ok(Started { url, browser })
    }

    /// Finishes a sign-in: the state taken once and bound to this browser, the issuer the
    /// provider names (RFC 9207), the code exchanged with its PKCE verifier, the ID token
    /// verified with the nonce; then the person, then a session — for this browser, or held
    /// for the API client that started the sign-in.
    pub async fn oidc_finish(
        &self,
        source: &str,
        back: Callback<'_>,
        address: &str,
        user_agent: &str,
    ) -> Result<Finished, SigninError> {
        let provider = self.provider(source)?;
        let result = match self
            .finish_inner(&provider, back, address, user_agent)
            .await
        {
            Ok((opened, None)) => Ok(Finished::Browser(opened)),
            Ok((opened, Some(handle_hash))) => {
                self.hold_for_pickup(source, &handle_hash, opened).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result
            && let Err(audit) = self.oidc_failed(source, address, &e.to_string()).await
        {
            tracing::error!(error = %audit, "an OpenID Connect refusal could not be audited");
        }
        result
    }

    async fn finish_inner(
        &self,
        provider: &Provider,
        back: Callback<'_>,
        address: &str,
        user_agent: &str,
    ) -> Result<(Opened, Option<Vec<u8>>), SigninError> {
        let source = provider.config.name.as_str();
        let state = back.state.ok_or(SigninError::OidcState)?;
        let kept = crate::store::oidc::take_login(self.store.pool(), &hash(state), now_millis())
            .await?
            .ok_or(SigninError::OidcState)?;
        // An API client's sign-in comes back in some browser: its binding is the pickup code.
        let bound = kept.for_api || back.browser.is_some_and(|b| hash(b) == kept.browser_hash);
        if kept.source != source || !bound {
            return Err(SigninError::OidcState);
        }
        if let Some(error) = back.error {
            let error: String = error
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect();
            return Err(SigninError::OidcProviderRefused(error));
        }
        match back.iss {
            Some(iss) if iss.trim_end_matches('/') != provider.config.issuer => {
                return Err(SigninError::OidcIssuer);
            }
            None if provider.sends_iss().await? => return Err(SigninError::OidcIssuer),
            _ => {}
        }
        let code = back.code.ok_or(SigninError::OidcState)?;
        let plain = self
            .key
            .open(SEAL_CONTEXT, &kept.sealed)
            .map_err(|_| SigninError::OidcState)?;
        let pending: Pending = serde_json::from_slice(secrecy::ExposeSecret::expose_secret(&plain))
            .map_err(|_| SigninError::OidcState)?;
        let verified = provider.finish(code, pending).await?;
        let person = claims::person(&provider.config, &verified.subject, &verified.claims)?;
        let member = self.oidc_person(provider, person).await?;
        let factor = claims::idp_factor(&provider.config, &verified.amr, verified.acr.as_deref());
        let opened = self.open(&member, address, user_agent).await?;
        let mut tx = self.store.begin().await?;
        crate::store::oidc::mark_session(
            tx.conn(),
            opened.id,
            source,
            &verified.subject,
            verified.sid.as_deref(),
            factor.as_deref(),
        )
        .await?;
        if let Some(refresh) = &verified.refresh_token {
            let sealed = self
                .key
                .seal(refresh::SEAL_CONTEXT, refresh.expose_secret().as_bytes())
                .map_err(|_| SigninError::Random)?;
            crate::store::oidc::save_refresh(tx.conn(), opened.id, &sealed, now_millis()).await?;
        }
        // The provider knows them again: an earlier refusal no longer counts toward offboarding.
        crate::store::oidc::clear_refusal(tx.conn(), member.id).await?;
        tx.commit().await?;
        if let Some(how) = factor {
            // Where the provider's factor stands in for TOTP and no NDA is asked for, this
            // sign-in is the whole of first login.
            let factor = crate::tokens::gate::SecondFactor::Idp(how);
            self.compliance
                .finish_first_login(&member, Some(&factor))
                .await?;
        }
        Ok((opened, kept.for_api.then_some(kept.browser_hash)))
    }

    /// The staff member a verified sign-in is: found by `sub`, created (pending) when the
    /// source provisions, updated through the directory path either way.
    async fn oidc_person(
        &self,
        provider: &Provider,
        person: crate::directory::person::DirectoryPerson,
    ) -> Result<StaffMember, SigninError> {
        let config = &provider.config;
        let origin = SourceKind::Oidc.origin(&config.name);
        let sub = person.external_id.clone().unwrap_or_default();
        let username = person.username.clone();
        let mut conn = self.store.conn().await?;
        let known = crate::store::oidc::staff_by_subject(&mut conn, &origin, &sub).await?;
        if known.is_none() {
            if let Some(holder) = crate::store::staff::find(&mut conn, &username).await? {
                let (_, holder_origin) = crate::store::staff::find_by_id(&mut conn, holder.id)
                    .await?
                    .ok_or(SigninError::Refused)?;
                return Err(SigninError::OidcUsernameTaken {
                    username,
                    holder: holder_origin.source,
                });
            }
            if !config.provision {
                return Err(SigninError::OidcNotProvisioned);
            }
        }
        drop(conn);
        self.apply_person(config, person).await?;
        let mut conn = self.store.conn().await?;
        let id = crate::store::oidc::staff_by_subject(&mut conn, &origin, &sub)
            .await?
            .ok_or_else(|| SigninError::OidcApply("the person was not recorded".into()))?;
        let (member, _) = crate::store::staff::find_by_id(&mut conn, id)
            .await?
            .ok_or(SigninError::Refused)?;
        if member.status == StaffStatus::Offboarded {
            return Err(SigninError::Offboarded(member.username));
        }
        Ok(member)
    }

    /// Hands what the provider says of one person to the directory's reconcile and apply:
    /// a joiner, a mover (tokens policy no longer permits revoked), or nothing.
    async fn apply_person(
        &self,
        config: &crate::config::oidc::OidcSource,
        person: crate::directory::person::DirectoryPerson,
    ) -> Result<(), SigninError> {
        let origin = SourceKind::Oidc.origin(&config.name);
        let actor = Actor(format!("idp:{}", config.name));
        let answer = Answer::changes_from(SourceKind::Oidc, &config.name, vec![person], vec![]);
        let _serial = self.syncer.serialize(&origin).await;
        self.syncer
            .take(answer, false, &actor)
            .await
            .map_err(|e| SigninError::OidcApply(e.to_string()))?;
        Ok(())
    }

    async fn oidc_failed(&self, source: &str, address: &str, why: &str) -> Result<(), SigninError> {
        let mut tx = self.store.begin().await?;
        let change = audit::Change::SigninFailed {
            account: format!("oidc:{source}"),
            why: why.chars().take(300).collect(),
        };
        audit::record(tx.conn(), &Actor(format!("address:{address}")), &change).await?;
        tx.commit().await?;
        Ok(())
    }
}
