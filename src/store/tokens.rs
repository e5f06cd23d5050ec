//! Brokered token rows. Only hashes are stored.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::credential::CredentialHash;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;
use crate::domain::{ActionSet, ChannelId};

/// A token as stored (never the token itself).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub hash: CredentialHash,
    pub staff_id: StaffId,
    pub username: String,
    pub channel_id: ChannelId,
    pub actions: ActionSet,
    pub epoch: i64,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub issued_by: String,
    pub revoked_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
}

const SELECT: &str = "SELECT t.id, t.hash, t.staff_id, s.username, t.channel_id, t.actions, t.epoch, t.issued_at, \
     t.expires_at, t.issued_by, t.revoked_at, t.last_used_at FROM tokens t JOIN staff s ON s.id = t.staff_id";

fn from_row(row: &AnyRow) -> Result<TokenRow, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    let hash: Vec<u8> = row.try_get("hash")?;
    let channel: String = row.try_get("channel_id")?;
    let actions: String = row.try_get("actions")?;
    Ok(TokenRow {
        id: row.try_get("id")?,
        hash: CredentialHash::from_slice(&hash)
            .ok_or_else(|| corrupt("token hash length".into()))?,
        staff_id: row.try_get("staff_id")?,
        username: row.try_get("username")?,
        channel_id: ChannelId::parse(&channel).map_err(|e| corrupt(e.to_string()))?,
        actions: ActionSet::parse_list(&actions).map_err(|e| corrupt(e.to_string()))?,
        epoch: row.try_get("epoch")?,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        issued_by: row.try_get("issued_by")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

/// What is written for a new token.
pub struct NewToken<'a> {
    pub hash: CredentialHash,
    pub staff_id: StaffId,
    pub channel_id: &'a ChannelId,
    pub actions: ActionSet,
    pub epoch: i64,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub issued_by: &'a str,
    /// The sign-in session it was issued from (a provider's logout of it revokes it).
    pub session_id: Option<i64>,
}

pub async fn insert(conn: &mut AnyConnection, t: &NewToken<'_>) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO tokens (hash, staff_id, channel_id, actions, epoch, issued_at, expires_at, issued_by, session_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(t.hash.to_vec())
    .bind(t.staff_id)
    .bind(t.channel_id.as_str())
    .bind(t.actions.to_list())
    .bind(t.epoch)
    .bind(t.issued_at)
    .bind(t.expires_at)
    .bind(t.issued_by)
    .bind(t.session_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// A token that a revocation just took away.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub id: i64,
    pub hash: CredentialHash,
    pub channel_id: String,
}

fn revoked(rows: Vec<AnyRow>) -> Result<Vec<Revoked>, StoreError> {
    rows.iter()
        .map(|row| {
            let hash: Vec<u8> = row.try_get("hash")?;
            Ok(Revoked {
                id: row.try_get("id")?,
                hash: CredentialHash::from_slice(&hash)
                    .ok_or_else(|| StoreError::Corrupt("token hash".into()))?,
                channel_id: row.try_get("channel_id")?,
            })
        })
        .collect()
}

/// Revokes one live token.
pub async fn revoke_one(
    conn: &mut AnyConnection,
    id: i64,
    now: Millis,
    why: &str,
) -> Result<Vec<Revoked>, StoreError> {
    let rows = sqlx::query(
        "UPDATE tokens SET revoked_at = $2, revoked_why = $3 WHERE id = $1 AND revoked_at IS NULL \
         RETURNING id, hash, channel_id",
    )
    .bind(id)
    .bind(now)
    .bind(why)
    .fetch_all(&mut *conn)
    .await?;
    revoked(rows)
}

/// Revokes every unrevoked token of a staff member (expired ones too: the record says why).
pub async fn revoke_for_staff(
    conn: &mut AnyConnection,
    staff: StaffId,
    now: Millis,
    why: &str,
) -> Result<Vec<Revoked>, StoreError> {
    let rows = sqlx::query(
        "UPDATE tokens SET revoked_at = $2, revoked_why = $3 WHERE staff_id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 RETURNING id, hash, channel_id",
    )
    .bind(staff)
    .bind(now)
    .bind(why)
    .fetch_all(&mut *conn)
    .await?;
    revoked(rows)
}

/// Revokes the live tokens issued from these sessions.
pub async fn revoke_for_sessions(
    conn: &mut AnyConnection,
    sessions: &[i64],
    now: Millis,
    why: &str,
) -> Result<Vec<Revoked>, StoreError> {
    let mut all = Vec::new();
    for id in sessions {
        let rows = sqlx::query(
            "UPDATE tokens SET revoked_at = $2, revoked_why = $3 WHERE session_id = $1 \
             AND revoked_at IS NULL AND expires_at > $2 RETURNING id, hash, channel_id",
        )
        .bind(id)
        .bind(now)
        .bind(why)
        .fetch_all(&mut *conn)
        .await?;
        all.extend(revoked(rows)?);
    }
    Ok(all)
}

pub async fn revoke_for_channel(
    conn: &mut AnyConnection,
    channel: &ChannelId,
    now: Millis,
    why: &str,
) -> Result<Vec<Revoked>, StoreError> {
    let rows = sqlx::query(
        "UPDATE tokens SET revoked_at = $2, revoked_why = $3 WHERE channel_id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 RETURNING id, hash, channel_id",
    )
    .bind(channel.as_str())
    .bind(now)
    .bind(why)
    .fetch_all(&mut *conn)
    .await?;
    revoked(rows)
}

/// Tokens that have not expired yet, revoked or not: what the verifier must know about.
pub async fn unexpired(pool: &AnyPool, now: Millis) -> Result<Vec<TokenRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE t.expires_at > $1"
    )))
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Tokens for listing, newest first, optionally narrowed.
pub async fn list(
    pool: &AnyPool,
    staff: Option<&str>,
    channel: Option<&str>,
    limit: i64,
) -> Result<Vec<TokenRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($1 IS NULL OR s.username = $1) AND ($2 IS NULL OR t.channel_id = $2) \
         ORDER BY t.id DESC LIMIT $3"
    )))
    .bind(staff)
    .bind(channel)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn find(conn: &mut AnyConnection, id: i64) -> Result<Option<TokenRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE t.id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Live (unrevoked, unexpired) token counts per (staff, channel).
pub async fn live_counts(
    pool: &AnyPool,
    now: Millis,
) -> Result<std::collections::HashMap<(StaffId, String), i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT staff_id, channel_id, COUNT(*) AS n FROM tokens WHERE revoked_at IS NULL AND expires_at > $1 \
         GROUP BY staff_id, channel_id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                (r.try_get("staff_id")?, r.try_get("channel_id")?),
                r.try_get("n")?,
            ))
        })
        .collect()
}

/// Live (unrevoked, unexpired) tokens of one staff member.
pub async fn live_for_staff(
    conn: &mut AnyConnection,
    staff: StaffId,
    now: Millis,
) -> Result<Vec<TokenRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE t.staff_id = $1 AND t.revoked_at IS NULL AND t.expires_at > $2"
    )))
    .bind(staff)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Unexpired tokens (revoked or not) of one staff member, or with an id in a range: what a
/// replica re-reads when another one changed them.
pub async fn unexpired_where(
    pool: &AnyPool,
    staff: Option<StaffId>,
    ids: Option<(i64, i64)>,
    now: Millis,
) -> Result<Vec<TokenRow>, StoreError> {
    let (lo, hi) = ids.unwrap_or((i64::MIN, i64::MAX));
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE t.expires_at > $1 AND ($2 IS NULL OR t.staff_id = $2) AND t.id >= $3 AND t.id <= $4"
    )))
    .bind(now)
    .bind(staff)
    .bind(lo)
    .bind(hi)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}
