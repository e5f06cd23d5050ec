//! Sign-in sessions (hashes only) and failed sign-in attempts.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::credential::CredentialHash;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

/// Ends every open session of a staff member; returns how many.
pub async fn revoke_for_staff(
    conn: &mut AnyConnection,
    staff: StaffId,
    now: Millis,
) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE staff_id = $1 AND revoked_at IS NULL AND expires_at > $2")
        .bind(staff)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// What is written for a new session.
pub struct NewSession<'a> {
    pub hash: CredentialHash,
    pub staff_id: StaffId,
    pub now: Millis,
    pub expires_at: Millis,
    pub address: &'a str,
    pub user_agent: &'a str,
}

pub async fn insert(conn: &mut AnyConnection, s: &NewSession<'_>) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO sessions (hash, staff_id, created_at, expires_at, last_seen_at, address, user_agent) \
         VALUES ($1, $2, $3, $4, $3, $5, $6) RETURNING id",
    )
    .bind(s.hash.to_vec())
    .bind(s.staff_id)
    .bind(s.now)
    .bind(s.expires_at)
    .bind(s.address)
    .bind(s.user_agent)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// A live session found by its hash.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id: i64,
    pub staff_id: StaffId,
    pub expires_at: Millis,
    pub last_seen_at: Option<Millis>,
    /// When this session passed the second factor.
    pub totp_at: Option<Millis>,
    /// The identity provider the session came from, and the factor of the provider's that met
    /// the second-factor rule at sign-in (see `store::oidc::mark_session`).
    pub idp_source: Option<String>,
    pub idp_factor: Option<String>,
}

pub async fn find_live(
    pool: &AnyPool,
    hash: CredentialHash,
    now: Millis,
) -> Result<Option<LiveSession>, StoreError> {
    let row = sqlx::query(
        "SELECT id, staff_id, expires_at, last_seen_at, totp_at, idp_source, factor FROM sessions \
         WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(hash.to_vec())
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(LiveSession {
            id: r.try_get("id")?,
            staff_id: r.try_get("staff_id")?,
            expires_at: r.try_get("expires_at")?,
            last_seen_at: r.try_get("last_seen_at")?,
            totp_at: r.try_get("totp_at")?,
            idp_source: r.try_get("idp_source")?,
            idp_factor: r.try_get("factor")?,
        })
    })
    .transpose()
}

/// Records a use without making the caller wait (see `Store::write_behind`).
pub fn touch_behind(store: &super::Store, id: i64, now: Millis) {
    store.write_behind(
        "UPDATE sessions SET last_seen_at = $2 WHERE id = $1",
        id,
        now,
    );
}

pub async fn revoke(conn: &mut AnyConnection, id: i64, now: Millis) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends session `id` if it is a live session of `staff`: a person ends only their own.
pub async fn revoke_own(
    conn: &mut AnyConnection,
    staff: StaffId,
    id: i64,
    now: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND staff_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(staff)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Failed (or in-flight) sign-ins since `since`: (for this account, from this address).
pub async fn failures(
    conn: &mut AnyConnection,
    account: &str,
    address: &str,
    since: Millis,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND at > $3) AS by_account, \
                (SELECT COUNT(*) FROM login_failures WHERE address = $2 AND at > $3) AS by_address",
    )
    .bind(account)
    .bind(address)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("by_account")?, row.try_get("by_address")?))
}

/// PostgreSQL: serialises sign-in attempts for one account and one address until the
/// transaction ends (SQLite's single writer already does), so counting and reserving an
/// attempt is one step even across replicas. Account first, then address: no cycle.
pub async fn lock_attempts(
    conn: &mut AnyConnection,
    account: &str,
    address: &str,
) -> Result<(), StoreError> {
    // Counted, so the row has a type the driver reads (the locks themselves return void).
    sqlx::query(
        "SELECT COUNT(*) AS locked FROM (SELECT pg_advisory_xact_lock(1, hashtext($1)), \
         pg_advisory_xact_lock(2, hashtext($2))) AS l",
    )
    .bind(account)
    .bind(address)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records an attempt, counted as a failure until [`release_attempt`] says it succeeded;
/// drops records older than `forget_before`. Answers the attempt's id.
pub async fn record_attempt(
    conn: &mut AnyConnection,
    account: &str,
    address: &str,
    now: Millis,
    forget_before: Millis,
) -> Result<i64, StoreError> {
    sqlx::query("DELETE FROM login_failures WHERE at < $1")
        .bind(forget_before)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query(
        "INSERT INTO login_failures (at, account, address) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(now)
    .bind(account)
    .bind(address)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// The attempt succeeded (or never reached a password check): it does not count.
pub async fn release_attempt(conn: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_failures WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Notes that a session passed the second factor.
pub async fn mark_totp(conn: &mut AnyConnection, id: i64, now: Millis) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET totp_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A person's live sessions, newest first.
pub async fn live_for_staff(
    pool: &AnyPool,
    staff: StaffId,
    now: Millis,
) -> Result<Vec<SessionView>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, created_at, last_seen_at, address, user_agent, totp_at, factor FROM sessions \
         WHERE staff_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY id DESC",
    )
    .bind(staff)
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let totp = r.try_get::<Option<Millis>, _>("totp_at")?.is_some();
            let idp: Option<String> = r.try_get("factor")?;
            Ok(SessionView {
                id: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                address: r
                    .try_get::<Option<String>, _>("address")?
                    .unwrap_or_default(),
                user_agent: r
                    .try_get::<Option<String>, _>("user_agent")?
                    .unwrap_or_default(),
                two_factor: totp || idp.is_some(),
                second_factor: if totp { Some("totp".into()) } else { idp },
            })
        })
        .collect()
}

/// A session as its owner sees it in "my sessions".
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::domain::time::serialize_millis")]
    pub created_at: Millis,
    #[schema(value_type = Option<i64>)]
    pub last_seen_at: Option<Millis>,
    pub address: String,
    pub user_agent: String,
    pub two_factor: bool,
    /// `totp`, or the identity provider's factor recorded at sign-in (`idp:amr:mfa`).
    pub second_factor: Option<String>,
}
