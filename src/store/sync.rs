//! Directory sync bookkeeping: per-source cookie and state, and held plans.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::time::Millis;

/// The stored resume cookie of a source.
pub async fn cookie(pool: &AnyPool, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT cookie FROM sync_sources WHERE source = $1")
        .bind(source)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("cookie")?,
        None => None,
    })
}

/// Stores a source's cookie (`None` forgets it) and its state as JSON.
pub async fn save(
    conn: &mut AnyConnection,
    source: &str,
    cookie: Option<&[u8]>,
    state: &str,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sync_sources (source, cookie, state, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (source) DO UPDATE SET cookie = excluded.cookie, state = excluded.state, \
         updated_at = excluded.updated_at",
    )
    .bind(source)
    .bind(cookie.map(<[u8]>::to_vec))
    .bind(state)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A held or decided plan.
#[derive(Debug, Clone)]
pub struct PlanRow {
    pub id: i64,
    pub source: String,
    pub created_at: Millis,
    pub plan: String,
    pub verdict: String,
    pub state: String,
    pub decided_by: Option<String>,
}

/// Keeps a held plan; with `supersede`, the source's earlier held plans are superseded.
pub async fn hold(
    conn: &mut AnyConnection,
    source: &str,
    plan: &str,
    verdict: &str,
    supersede: bool,
    now: Millis,
) -> Result<i64, StoreError> {
    if supersede {
        sqlx::query("UPDATE sync_plans SET state = 'superseded', decided_at = $2 WHERE source = $1 AND state = 'held'")
            .bind(source)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    let row = sqlx::query(
        "INSERT INTO sync_plans (source, created_at, plan, verdict, state) VALUES ($1, $2, $3, $4, 'held') RETURNING id",
    )
    .bind(source)
    .bind(now)
    .bind(plan)
    .bind(verdict)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// The source's held plan, if it has one (a source holds at most one).
pub async fn held_for(
    conn: &mut AnyConnection,
    source: &str,
) -> Result<Option<PlanRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id FROM sync_plans WHERE source = $1 AND state = 'held' ORDER BY id DESC LIMIT 1",
    )
    .bind(source)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => find_plan(conn, r.try_get("id")?).await,
        None => Ok(None),
    }
}

pub async fn find_plan(conn: &mut AnyConnection, id: i64) -> Result<Option<PlanRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, source, created_at, plan, verdict, state, decided_by FROM sync_plans WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(PlanRow {
            id: r.try_get("id")?,
            source: r.try_get("source")?,
            created_at: r.try_get("created_at")?,
            plan: r.try_get("plan")?,
            verdict: r.try_get("verdict")?,
            state: r.try_get("state")?,
            decided_by: r.try_get("decided_by")?,
        })
    })
    .transpose()
}

/// Held plans, newest first.
pub async fn held(pool: &AnyPool) -> Result<Vec<(i64, String, Millis, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, source, created_at, verdict FROM sync_plans WHERE state = 'held' ORDER BY id DESC LIMIT 100",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("source")?,
                r.try_get("created_at")?,
                r.try_get("verdict")?,
            ))
        })
        .collect()
}

pub async fn mark_applied(
    conn: &mut AnyConnection,
    id: i64,
    by: &str,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sync_plans SET state = 'applied', decided_by = $2, decided_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
