//! Sign-in by LDAP bind: rate limits, the password check against the person's own source,
//! and server-side sessions (a cookie for browsers, a bearer `sgs_…` for API clients).

mod factor;
pub mod oidc;
pub mod totp;

pub use factor::{Enrolment, FactorError};

use std::sync::Arc;

use secrecy::SecretString;
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Actor};
use crate::compliance::Compliance;
use crate::config::SigninConfig;
use crate::directory::ldap::{self, LdapSource, LdapSyncError, PasswordCheck};
use crate::directory::sync::Syncer;
use crate::domain::Username;
use crate::domain::credential::{self, CredentialKind};
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::time::{Millis, now_millis, to_datetime};
use crate::secrets::MasterKey;
use crate::store::sessions::NewSession;
use crate::store::{Store, StoreError};
use crate::tokens::Verifier;
use crate::tokens::gate::SecondFactor;

/// Why a sign-in or a session was refused.
#[derive(Debug, thiserror::Error)]
pub enum SigninError {
    /// Too many failed attempts for this account or from this address.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Wrong password, unknown person, or a malformed username: deliberately one answer.
    #[error("the username or password is wrong")]
    Refused,
    /// The password was right, but the person has left.
    #[error("{0} is offboarded")]
    Offboarded(Username),
    /// The directory refused for a reason of the account's own: a password to change, a
    /// lock, a disabled or expired account.
    #[error("{}", account_message(*state, change_url.as_deref()))]
    Account {
        state: ldap::AccountState,
        change_url: Option<String>,
    },
    /// The directory did not answer; nothing was decided.
    #[error("the directory is unavailable; try again shortly")]
    Directory(#[source] LdapSyncError),
    /// No session, or it ended.
    #[error("no live session; sign in again")]
    NoSession,
    #[error("could not create a session id")]
    Random,
    #[error(transparent)]
    Oidc(#[from] crate::directory::oidc::OidcError),
    /// The provider's answer matches no sign-in this browser started (missing, used,
    /// expired, or started in another browser).
    #[error("this sign-in link is not valid here any more; start again")]
    OidcState,
    /// The answer names another issuer than the provider asked (a mix-up attack).
    #[error("the answer came from another identity provider than the one asked")]
    OidcIssuer,
    #[error("the identity provider refused the sign-in ({0})")]
    OidcProviderRefused(String),
    #[error("the username {username} belongs to another person ({holder}); ask IT")]
    OidcUsernameTaken { username: Username, holder: String },
    #[error("this identity provider does not create people in staffgate; ask IT to add you")]
    OidcNotProvisioned,
    #[error("the person could not be recorded: {0}")]
    OidcApply(String),
    /// An API client's handle and code match no waiting sign-in (wrong, used or expired).
    #[error("no sign-in waits for this handle and code; start again")]
    OidcPickup,
    #[error("logout token refused: {0}")]
    LogoutToken(#[from] crate::directory::oidc::logout::LogoutTokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn account_message(state: ldap::AccountState, change_url: Option<&str>) -> String {
    use ldap::AccountState::*;
    let change = match change_url {
        Some(url) => format!("change it at {url}"),
        None => "change it on a domain computer (Ctrl+Alt+Del, Change a password) or ask IT".into(),
    };
    match state {
        MustChangePassword => {
            format!("your directory password must be changed before you sign in: {change}, then sign in again")
        }
        PasswordExpired => format!("your directory password has expired: {change}, then sign in again"),
        Locked => "your directory account is locked after too many wrong passwords; wait for it to unlock or ask IT".into(),
        Disabled => "your directory account is disabled; ask IT".into(),
        AccountExpired => "your directory account has expired; ask IT or HR".into(),
        OutsideHours => "your directory account may not sign in at this time".into(),
        WrongWorkstation => "your directory account may not sign in from here".into(),
    }
}

/// A new session, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Opened {
    #[schema(value_type = String)]
    #[serde(serialize_with = "crate::secrets::show_once")]
    pub session: SecretString,
    pub staff: String,
    pub status: StaffStatus,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip)]
    pub ttl_secs: u64,
    #[serde(skip)]
    pub id: i64,
}

/// A checked session and the person behind it.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub id: i64,
    pub staff: StaffMember,
    pub expires_at: Millis,
    /// How this session met the second factor, if it did.
    pub factor: Option<SecondFactor>,
}

impl StaffSession {
    /// This session passed staffgate's own TOTP.
    pub fn totp_verified(&self) -> bool {
        self.factor == Some(SecondFactor::Totp)
    }

    /// Who asks when this session asks for a token.
    pub fn requester(&self) -> crate::tokens::gate::Requester {
        crate::tokens::gate::Requester::Session {
            factor: self.factor.clone(),
        }
    }
}

/// The sign-in service.
pub struct Signin {
    pub store: Store,
    pub syncer: Arc<Syncer>,
    pub config: SigninConfig,
    /// Seals TOTP seeds, like channel secrets.
    pub key: Arc<MasterKey>,
    pub compliance: Arc<Compliance>,
    pub verifier: Arc<Verifier>,
    /// The OpenID Connect providers people may sign in with.
    pub oidc: Arc<crate::directory::oidc::Providers>,
}

/// The account key failed attempts are counted under, even for unparsable usernames.
/// Control characters (NUL above all: PostgreSQL refuses it in text) become U+FFFD.
fn account_key(raw: &str) -> String {
    raw.chars()
        .take(64)
        .map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect::<String>()
        .to_lowercase()
}

impl Signin {
    /// `staff`'s live sessions, newest first.
    pub async fn sessions(
        &self,
        staff: crate::domain::staff::StaffId,
    ) -> Result<Vec<crate::store::sessions::SessionView>, StoreError> {
        let now = crate::domain::time::now_millis();
        crate::store::sessions::live_for_staff(self.store.pool(), staff, now).await
    }

    /// Reserves this attempt before anything is checked: counted and recorded in one step
    /// under locks for the account and the address, so no burst of parallel attempts gets
    /// more than the limit to the directory. The attempt counts as a failure until released.
    async fn reserve_signin(&self, account: &str, address: &str) -> Result<i64, SigninError> {
        let now = now_millis();
        let window = self.config.window.as_millis() as Millis;
        let mut tx = self.store.begin().await?;
        if self.store.backend() == crate::store::Backend::Postgres {
            crate::store::sessions::lock_attempts(tx.conn(), account, address).await?;
        }
        let (by_account, by_address) =
            crate::store::sessions::failures(tx.conn(), account, address, now - window).await?;
        if by_account >= i64::from(self.config.max_failures_per_account)
            || by_address >= i64::from(self.config.max_failures_per_address)
        {
            return Err(SigninError::RateLimited {
                retry_after_secs: self.config.window.as_secs(),
            });
        }
        let id = crate::store::sessions::record_attempt(
            tx.conn(),
            account,
            address,
            now,
            now - 2 * window,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The reserved attempt did not count against the limits (it succeeded, or the
    /// directory could not be asked).
    async fn release(&self, attempt: i64) -> Result<(), SigninError> {
        let mut tx = self.store.begin().await?;
        crate::store::sessions::release_attempt(tx.conn(), attempt).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The reserved attempt failed: it stays counted, and the audit log says why.
    async fn failed(&self, account: &str, address: &str, why: &str) -> Result<(), SigninError> {
        let mut tx = self.store.begin().await?;
        let change = audit::Change::SigninFailed {
            account: account.to_owned(),
            why: why.to_string(),
        };
        audit::record(tx.conn(), &Actor(format!("address:{address}")), &change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs a person in with their directory password. The name may be typed the way the
    /// directory knows it in any case, and on AD sources as `user@domain` or `DOMAIN\\user`;
    /// failures count against the person the name finds, however it was spelled.
    pub async fn login(
        &self,
        raw_username: &str,
        password: &SecretString,
        address: &str,
        user_agent: &str,
    ) -> Result<Opened, SigninError> {
        let located = self.locate(raw_username).await?;
        let account = match &located {
            Some((member, _)) => member.username.as_str().to_lowercase(),
            None => account_key(raw_username).to_lowercase(),
        };
        let attempt = self.reserve_signin(&account, address).await?;
        let Some((member, source)) = located else {
            self.failed(&account, address, "no such directory account")
                .await?;
            return Err(SigninError::Refused);
        };
        match ldap::check_password(&source, &member.username, password).await {
            Ok(PasswordCheck::Correct) => {}
            Ok(PasswordCheck::Refused) => {
                self.failed(&account, address, "wrong password").await?;
                return Err(SigninError::Refused);
            }
            Ok(PasswordCheck::Account(state)) => {
                // Not a wrong guess: AD says this only for the right password (or for a
                // lockout, which its own counter already handles).
                self.release(attempt).await?;
                self.failed_uncounted(&account, address, state).await?;
                return Err(SigninError::Account {
                    state,
                    change_url: source.password_change_url.clone(),
                });
            }
            Err(e) => {
                self.release(attempt).await?;
                return Err(SigninError::Directory(e));
            }
        }
        if member.status == StaffStatus::Offboarded {
            self.failed(&account, address, "offboarded").await?;
            return Err(SigninError::Offboarded(member.username));
        }
        self.release(attempt).await?;
        self.open(&member, address, user_agent).await
    }

    /// The directory person a typed name means, with their source: the exact username; the
    /// same name in another case, when only one person has it; on AD sources, the
    /// `user@domain` and `DOMAIN\\user` forms.
    async fn locate(
        &self,
        typed: &str,
    ) -> Result<Option<(StaffMember, Arc<LdapSource>)>, SigninError> {
        let typed = typed.trim();
        if typed.is_empty() || typed.len() > 256 || typed.chars().any(char::is_control) {
            return Ok(None);
        }
        let mut names: Vec<String> = vec![typed.to_owned()];
        for source in &self.syncer.sources {
            match ldap::account_name(source, typed) {
                Some(ldap::AccountName::Plain(n)) => names.push(n),
                Some(principal @ ldap::AccountName::Principal(_)) => {
                    if let Ok(Some((_, n))) = ldap::find_account(source, &principal).await {
                        names.push(n);
                    }
                }
                None => {}
            }
        }
        let mut conn = self.store.conn().await?;
        for name in names {
            let Ok(username) = Username::parse(&name) else {
                continue;
            };
            let member = match crate::store::staff::find(&mut conn, &username).await? {
                Some(m) => Some(m),
                None => crate::store::staff::find_case_insensitive(&mut conn, &username).await?,
            };
            let Some(member) = member else { continue };
            let origin = crate::store::staff::origin(&mut conn, member.id).await?;
            let source = origin
                .source
                .strip_prefix("ldap:")
                .and_then(|name| self.syncer.source(name).ok());
            if let Some(source) = source {
                return Ok(Some((member, source)));
            }
        }
        Ok(None)
    }

    /// An account-state refusal: audited, not counted as a wrong guess.
    async fn failed_uncounted(
        &self,
        account: &str,
        address: &str,
        state: ldap::AccountState,
    ) -> Result<(), SigninError> {
        let mut tx = self.store.begin().await?;
        let change = audit::Change::SigninFailed {
            account: account.to_owned(),
            why: format!("directory account: {state:?}"),
        };
        audit::record(tx.conn(), &Actor(format!("address:{address}")), &change).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open(
        &self,
        member: &StaffMember,
        address: &str,
        user_agent: &str,
    ) -> Result<Opened, SigninError> {
        let (text, hash) =
            credential::generate(CredentialKind::Session).map_err(|_| SigninError::Random)?;
        let now = now_millis();
        let expires_at = now + self.config.session_ttl.as_millis() as Millis;
        let ua: String = user_agent.chars().take(256).collect();
        let mut tx = self.store.begin().await?;
        // The row lock orders this against a concurrent offboarding.
        let (status, _) = crate::store::staff::lock_state(tx.conn(), member.id).await?;
        if status == StaffStatus::Offboarded {
            return Err(SigninError::Offboarded(member.username.clone()));
        }
        let id = crate::store::sessions::insert(
            tx.conn(),
            &NewSession {
                hash,
                staff_id: member.id,
                now,
                expires_at,
                address,
                user_agent: &ua,
            },
        )
        .await?;
        let change = audit::Change::SignedIn {
            username: member.username.to_string(),
            session_id: id,
            address: address.to_string(),
            status: json!(status),
        };
        audit::record(
            tx.conn(),
            &Actor(format!("staff:{}", member.username)),
            &change,
        )
        .await?;
        tx.commit().await?;
        Ok(Opened {
            session: text,
            staff: member.username.to_string(),
            status,
            expires_at: to_datetime(expires_at),
            ttl_secs: self.config.session_ttl.as_secs(),
            id,
        })
    }

    /// Checks a presented session id.
    pub async fn authenticate(&self, presented: &str) -> Result<StaffSession, SigninError> {
        let hash = credential::parse(CredentialKind::Session, presented)
            .map_err(|_| SigninError::NoSession)?;
        let now = now_millis();
        let row = crate::store::sessions::find_live(self.store.pool(), hash, now)
            .await?
            .ok_or(SigninError::NoSession)?;
        let idle = self.config.idle_timeout.as_millis() as Millis;
        if row.last_seen_at.is_some_and(|t| now - t > idle) {
            let mut tx = self.store.begin().await?;
            crate::store::sessions::revoke(tx.conn(), row.id, now).await?;
            tx.commit().await?;
            return Err(SigninError::NoSession);
        }
        let mut conn = self.store.conn().await?;
        let (staff, _) = crate::store::staff::find_by_id(&mut conn, row.staff_id)
            .await?
            .ok_or(SigninError::NoSession)?;
        if staff.status == StaffStatus::Offboarded {
            return Err(SigninError::NoSession);
        }
        if row.last_seen_at.is_none_or(|t| now - t > 60_000) {
            crate::store::sessions::touch_behind(&self.store, row.id, now);
        }
        Ok(StaffSession {
            id: row.id,
            staff,
            expires_at: row.expires_at,
            factor: self.factor_of(&row),
        })
    }

    /// Ends one session. For a session from an identity provider, answers the provider's
    /// end-session URL, where a browser goes next so its provider session ends too.
    pub async fn logout(&self, session: &StaffSession) -> Result<Option<String>, SigninError> {
        let mut tx = self.store.begin().await?;
        crate::store::sessions::revoke(tx.conn(), session.id, now_millis()).await?;
        let change = audit::Change::SignedOut {
            username: session.staff.username.to_string(),
            session_id: session.id,
        };
        let actor = Actor(format!("staff:{}", session.staff.username));
        audit::record(tx.conn(), &actor, &change).await?;
        tx.commit().await?;
        let source = crate::store::oidc::session_source(self.store.pool(), session.id).await?;
        Ok(match source.and_then(|s| self.oidc.get(&s).ok()) {
            Some(provider) => provider.end_session_url().await,
            None => None,
        })
    }

    /// Ends another session of the same person (a device they no longer trust); `false`
    /// when `target` is no live session of theirs.
    pub async fn end_session(
        &self,
        session: &StaffSession,
        target: i64,
    ) -> Result<bool, SigninError> {
        let mut tx = self.store.begin().await?;
        let ended =
            crate::store::sessions::revoke_own(tx.conn(), session.staff.id, target, now_millis())
                .await?;
        if ended {
            let change = audit::Change::SignedOut {
                username: session.staff.username.to_string(),
                session_id: target,
            };
            let actor = Actor(format!("staff:{}", session.staff.username));
            audit::record(tx.conn(), &actor, &change).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends every session of the person, this one included.
    pub async fn logout_everywhere(&self, session: &StaffSession) -> Result<u64, SigninError> {
        let mut tx = self.store.begin().await?;
        let ended =
            crate::store::sessions::revoke_for_staff(tx.conn(), session.staff.id, now_millis())
                .await?;
        let change = audit::Change::SignedOutEverywhere {
            username: session.staff.username.to_string(),
            sessions_ended: ended,
        };
        let actor = Actor(format!("staff:{}", session.staff.username));
        audit::record(tx.conn(), &actor, &change).await?;
        tx.commit().await?;
        Ok(ended)
    }
}
