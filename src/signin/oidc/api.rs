//! Sign-in with a provider for API clients (a CLI, a script). The client starts it and holds
//! a handle; the person signs in at the provider in any browser; staffgate's callback, which
//! must not hand that browser's sign-in to whoever asks, shows a short code instead; the
//! client trades handle and code for the session, once. Whoever started the sign-in without
//! seeing the code (a phishing link) gets nothing; five wrong codes end the waiting session.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::hash;
use crate::audit::{self, Actor};
use crate::domain::staff::StaffStatus;
use crate::domain::time::{Millis, now_millis, to_datetime};
use crate::signin::{Opened, Signin, SigninError};
use crate::store::oidc_pickups::{Attempt, NewPickup};

/// How long a session waits for its client after the callback.
const PICKUP_TTL_MS: Millis = 5 * 60 * 1000;
/// Wrong codes before the waiting session ends.
const MAX_TRIES: i64 = 5;
/// The sealing context of a waiting session.
const SEAL_CONTEXT: &str = "oidc-pickup";
/// 32 letters and digits no one misreads (no 0/O, 1/I): 8 of them are 40 bits.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// How a sign-in finished.
pub enum Finished {
    /// In the browser that started it: set its cookie.
    Browser(Opened),
    /// For the API client that started it: show this code to the person.
    Pickup(PickupCode),
}

/// The code the person types into the client, shown as `ABCD-EFGH`.
pub struct PickupCode(pub String);

/// A sign-in an API client started: where the person signs in, and the client's handle.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiStarted {
    /// Open this in a browser and sign in there.
    pub authorization_url: String,
    /// Kept by the client, sent back with the code; shown once.
    #[schema(value_type = String)]
    #[serde(serialize_with = "crate::secrets::show_once")]
    pub handle: SecretString,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// What waits, sealed, for the client.
#[derive(Serialize, Deserialize)]
struct Parcel {
    session: String,
    staff: String,
    status: StaffStatus,
    expires_at: Millis,
}

/// Upper case, without the dash and spaces a person may type.
fn normalized(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .take(16)
        .collect::<String>()
        .to_ascii_uppercase()
}

fn new_code() -> Result<String, SigninError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|_| SigninError::Random)?;
    Ok(b.iter()
        .map(|x| ALPHABET[usize::from(*x) % ALPHABET.len()] as char)
        .collect())
}

impl Signin {
    /// Starts a sign-in for an API client.
    pub async fn oidc_start_api(&self, source: &str) -> Result<ApiStarted, SigninError> {
        let started = self.begin(source, true).await?;
        Ok(ApiStarted {
            authorization_url: started.url,
            handle: SecretString::from(format!("sgh_{}", started.browser)),
            expires_at: to_datetime(now_millis() + super::LOGIN_TTL_MS),
        })
    }

    /// Keeps a finished API sign-in's session, sealed, for the client; answers the code.
    pub(super) async fn hold_for_pickup(
        &self,
        source: &str,
        handle_hash: &[u8],
        opened: Opened,
    ) -> Result<Finished, SigninError> {
        let code = new_code()?;
        let parcel = Parcel {
            session: opened.session.expose_secret().to_owned(),
            staff: opened.staff,
            status: opened.status,
            expires_at: opened.expires_at.timestamp_millis(),
        };
        let plain = serde_json::to_vec(&parcel).map_err(|_| SigninError::Random)?;
        let sealed = self
            .key
            .seal(SEAL_CONTEXT, &plain)
            .map_err(|_| SigninError::Random)?;
        let mut tx = self.store.begin().await?;
        crate::store::oidc_pickups::save(
            tx.conn(),
            &NewPickup {
                handle_hash,
                source,
                code_hash: &hash(&code),
                session_id: opened.id,
                sealed: &sealed,
                expires_at: now_millis() + PICKUP_TTL_MS,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Finished::Pickup(PickupCode(format!(
            "{}-{}",
            &code[..4],
            &code[4..]
        ))))
    }

    /// Trades an API client's handle and the code the person saw for the session, once.
    pub async fn oidc_pickup(
        &self,
        source: &str,
        handle: &str,
        code: &str,
        address: &str,
    ) -> Result<Opened, SigninError> {
        self.provider(source)?;
        let now = now_millis();
        self.end_unclaimed(now).await?;
        let handle = handle.strip_prefix("sgh_").unwrap_or(handle);
        let handle_hash = hash(handle);
        let mut tx = self.store.begin().await?;
        let attempt = crate::store::oidc_pickups::attempt(
            tx.conn(),
            &handle_hash,
            source,
            &hash(&normalized(code)),
            now,
        )
        .await?;
        let (session_id, sealed) = match attempt {
            Attempt::Taken { session_id, sealed } => (session_id, sealed),
            Attempt::WrongCode { session_id, tries } => {
                if tries >= MAX_TRIES {
                    crate::store::oidc_pickups::drop_one(tx.conn(), &handle_hash).await?;
                    crate::store::sessions::revoke(tx.conn(), session_id, now).await?;
                }
                let change = audit::Change::SigninFailed {
                    account: format!("oidc:{source}"),
                    why: format!("wrong pickup code ({tries} of {MAX_TRIES})"),
                };
                audit::record(tx.conn(), &Actor(format!("address:{address}")), &change).await?;
                tx.commit().await?;
                return Err(SigninError::OidcPickup);
            }
            Attempt::Unknown => return Err(SigninError::OidcPickup),
        };
        tx.commit().await?;
        let plain = self
            .key
            .open(SEAL_CONTEXT, &sealed)
            .map_err(|_| SigninError::OidcPickup)?;
        let parcel: Parcel =
            serde_json::from_slice(plain.expose_secret()).map_err(|_| SigninError::OidcPickup)?;
        let left = u64::try_from((parcel.expires_at - now) / 1000).unwrap_or(0);
        Ok(Opened {
            session: SecretString::from(parcel.session),
            staff: parcel.staff,
            status: parcel.status,
            expires_at: to_datetime(parcel.expires_at),
            ttl_secs: left,
            id: session_id,
        })
    }

    /// Sessions whose client never came end with their pickup.
    async fn end_unclaimed(&self, now: Millis) -> Result<(), SigninError> {
        let unclaimed = crate::store::oidc_pickups::expire(self.store.pool(), now).await?;
        if unclaimed.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin().await?;
        for id in unclaimed {
            crate::store::sessions::revoke(tx.conn(), id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_read_the_way_people_type_it() {
        assert_eq!(normalized("abcd-efgh"), "ABCDEFGH");
        assert_eq!(normalized(" ABCD EFGH\n"), "ABCDEFGH");
        let code = new_code().unwrap();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
    }
}
