//! TOTP seeds (sealed), accepted steps, failures and recovery codes (hashed).

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

/// A person's TOTP seed, sealed, and whether enrolment was confirmed.
pub struct TotpRow {
    pub seed_sealed: Vec<u8>,
    pub confirmed_at: Option<Millis>,
}

pub async fn get(conn: &mut AnyConnection, staff: StaffId) -> Result<Option<TotpRow>, StoreError> {
    let row = sqlx::query("SELECT seed_sealed, confirmed_at FROM totp WHERE staff_id = $1")
        .bind(staff)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(TotpRow {
            seed_sealed: r.try_get("seed_sealed")?,
            confirmed_at: r.try_get("confirmed_at")?,
        })
    })
    .transpose()
}

/// Stores a new, unconfirmed seed (replacing an unconfirmed one).
pub async fn put_pending(
    conn: &mut AnyConnection,
    staff: StaffId,
    sealed: &[u8],
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO totp (staff_id, seed_sealed, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (staff_id) DO UPDATE SET seed_sealed = excluded.seed_sealed, \
         created_at = excluded.created_at, confirmed_at = NULL",
    )
    .bind(staff)
    .bind(sealed.to_vec())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn confirm(
    conn: &mut AnyConnection,
    staff: StaffId,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE totp SET confirmed_at = $2 WHERE staff_id = $1")
        .bind(staff)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes a time step for a person. `false` if it, or a later one, was taken before: the
/// caller holds the person's row lock, so the check and the insert cannot interleave, and
/// the primary key refuses a duplicate even so.
pub async fn take_step(
    conn: &mut AnyConnection,
    staff: StaffId,
    step: i64,
    now: Millis,
) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT MAX(step) AS last FROM totp_steps WHERE staff_id = $1")
        .bind(staff)
        .fetch_one(&mut *conn)
        .await?;
    let last: Option<i64> = row.try_get("last")?;
    if last.is_some_and(|l| l >= step) {
        return Ok(false);
    }
    let done = sqlx::query(
        "INSERT INTO totp_steps (staff_id, step, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(staff)
    .bind(step)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Failed (or in-flight) second-factor attempts since `since`.
pub async fn failures_since(
    conn: &mut AnyConnection,
    staff: StaffId,
    since: Millis,
) -> Result<i64, StoreError> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM totp_failures WHERE staff_id = $1 AND at > $2")
            .bind(staff)
            .bind(since)
            .fetch_one(&mut *conn)
            .await?;
    Ok(row.try_get("n")?)
}

/// Records an attempt, counted as a failure until [`release_attempt`]; answers its id.
pub async fn record_attempt(
    conn: &mut AnyConnection,
    staff: StaffId,
    now: Millis,
) -> Result<i64, StoreError> {
    let row = sqlx::query("INSERT INTO totp_failures (staff_id, at) VALUES ($1, $2) RETURNING id")
        .bind(staff)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("id")?)
}

/// The attempt succeeded: it does not count.
pub async fn release_attempt(conn: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM totp_failures WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets the seed, its used steps (no old code verifies against a new seed), the unused
/// recovery codes and the failure count: the person enrols anew.
pub async fn reset(conn: &mut AnyConnection, staff: StaffId) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM totp_steps WHERE staff_id = $1")
        .bind(staff)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM totp WHERE staff_id = $1")
        .bind(staff)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE staff_id = $1 AND used_at IS NULL")
        .bind(staff)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM totp_failures WHERE staff_id = $1")
        .bind(staff)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Replaces a person's unused recovery codes with new ones (hashes).
pub async fn put_recovery(
    conn: &mut AnyConnection,
    staff: StaffId,
    hashes: &[[u8; 32]],
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE staff_id = $1 AND used_at IS NULL")
        .bind(staff)
        .execute(&mut *conn)
        .await?;
    for h in hashes {
        sqlx::query("INSERT INTO recovery_codes (staff_id, hash, created_at) VALUES ($1, $2, $3)")
            .bind(staff)
            .bind(h.to_vec())
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Uses a recovery code once; `false` if it is unknown or used.
pub async fn use_recovery(
    conn: &mut AnyConnection,
    staff: StaffId,
    hash: &[u8; 32],
    now: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 WHERE staff_id = $1 AND hash = $2 AND used_at IS NULL",
    )
    .bind(staff)
    .bind(hash.to_vec())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn recovery_left(pool: &AnyPool, staff: StaffId) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM recovery_codes WHERE staff_id = $1 AND used_at IS NULL",
    )
    .bind(staff)
    .fetch_one(pool)
    .await?;
    Ok(row.try_get("n")?)
}
