//! The mail outbox: written in the transaction of what a mail reports, sent later.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::time::Millis;

/// A mail waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub kind: &'static str,
    /// Mails with the same key are sent once.
    pub dedupe: Option<String>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A stored mail.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: i64,
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attempts: i64,
}

/// Queues `mail`; a repeat of a deduplicated one is ignored.
pub async fn insert(conn: &mut AnyConnection, mail: &Mail, now: Millis) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_outbox (kind, dedupe, recipients, subject, body_text, body_html, created_at, next_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (dedupe) DO NOTHING",
    )
    .bind(mail.kind)
    .bind(mail.dedupe.as_deref())
    .bind(mail.recipients.join(","))
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.html)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Mails due now, oldest first.
pub async fn due(pool: &AnyPool, now: Millis, limit: i64) -> Result<Vec<Queued>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, kind, recipients, subject, body_text, body_html, attempts FROM mail_outbox \
         WHERE sent_at IS NULL AND next_at <= $1 ORDER BY id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let to: String = r.try_get("recipients")?;
            Ok(Queued {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                recipients: to.split(',').map(str::to_owned).collect(),
                subject: r.try_get("subject")?,
                text: r.try_get("body_text")?,
                html: r.try_get("body_html")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

pub async fn mark_sent(conn: &mut AnyConnection, id: i64, now: Millis) -> Result<(), StoreError> {
    sqlx::query("UPDATE mail_outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &mut AnyConnection,
    id: i64,
    next_at: Millis,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE mail_outbox SET attempts = attempts + 1, next_at = $1, last_error = $2 WHERE id = $3")
        .bind(next_at)
        .bind(error)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The outbox at a glance.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Depth {
    pub waiting: i64,
    pub oldest_waiting_at: Option<chrono::DateTime<chrono::Utc>>,
    pub sent_last_day: i64,
    pub last_error: Option<String>,
}

pub async fn depth(pool: &AnyPool, now: Millis) -> Result<Depth, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM mail_outbox WHERE sent_at IS NULL",
    )
    .fetch_one(pool)
    .await?;
    let waiting: i64 = row.try_get("n")?;
    let oldest: Option<Millis> = row.try_get("oldest")?;
    let sent: i64 = sqlx::query("SELECT COUNT(*) AS n FROM mail_outbox WHERE sent_at >= $1")
        .bind(now - 24 * 60 * 60 * 1000)
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    let last_error = sqlx::query(
        "SELECT last_error FROM mail_outbox WHERE sent_at IS NULL AND last_error IS NOT NULL \
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?
    .map(|r| r.try_get("last_error"))
    .transpose()?;
    Ok(Depth {
        waiting,
        oldest_waiting_at: oldest.map(crate::domain::time::to_datetime),
        sent_last_day: sent,
        last_error,
    })
}
