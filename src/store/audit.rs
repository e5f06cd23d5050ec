//! The audit log table and its head row.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::chain::{Entry, entry_hash};
use crate::domain::time::Millis;

/// Appends an entry inside the caller's transaction; returns its sequence number.
/// Updating the head row first takes its lock, so concurrent appenders queue up.
pub async fn append(
    conn: &mut AnyConnection,
    at: Millis,
    actor: &str,
    event: &str,
    subject: &str,
    details: &str,
) -> Result<i64, StoreError> {
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev: String = head.try_get("hash")?;
    let hash = entry_hash(&prev, seq, at, actor, event, subject, details);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, event, subject, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(at)
    .bind(actor)
    .bind(event)
    .bind(subject)
    .bind(details)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

/// One entry of a run appended together.
pub struct NewEntry<'a> {
    pub at: Millis,
    pub actor: &'a str,
    pub event: &'a str,
    pub subject: &'a str,
    pub details: String,
}

/// Appends several entries in the caller's transaction, taking the head once: the chain is
/// the same as appending them one by one, in fewer statements.
pub async fn append_run(
    conn: &mut AnyConnection,
    entries: &[NewEntry<'_>],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = entries.len() as i64;
    let head = sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
        .bind(n)
        .fetch_one(&mut *conn)
        .await?;
    let last: i64 = head.try_get("seq")?;
    let mut prev: String = head.try_get("hash")?;
    for (i, e) in entries.iter().enumerate() {
        let seq = last - n + 1 + i as i64;
        let hash = entry_hash(&prev, seq, e.at, e.actor, e.event, e.subject, &e.details);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, event, subject, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(e.at)
        .bind(e.actor)
        .bind(e.event)
        .bind(e.subject)
        .bind(&e.details)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&prev)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Entries with `seq > after`, ascending, at most `limit`.
pub async fn page(pool: &AnyPool, after: i64, limit: i64) -> Result<Vec<Entry>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, event, subject, details, prev_hash, hash FROM audit_log \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(entry).collect()
}

/// The head: how many entries were written and the last hash.
pub async fn head(pool: &AnyPool) -> Result<(i64, String), StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    Ok((row.try_get("seq")?, row.try_get("hash")?))
}

/// The changes after `after` a replica follows: (seq, event, subject, details).
pub async fn tail(
    pool: &AnyPool,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, String, String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, event, subject, details FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("seq")?,
                r.try_get("event")?,
                r.try_get("subject")?,
                r.try_get("details")?,
            ))
        })
        .collect()
}

/// What the console's audit page narrows the log to.
#[derive(Debug, Default)]
pub struct AuditFilter {
    /// The entry's subject (a username, a channel, a source), exactly.
    pub subject: Option<String>,
    /// An event name or its start (`staff.` for every staff event).
    pub event: Option<String>,
    pub actor: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    /// Entries older than this sequence number (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Entries matching `f`, newest first.
pub async fn search(pool: &AnyPool, f: &AuditFilter) -> Result<Vec<Entry>, StoreError> {
    let mut sql = String::from(
        "SELECT seq, at, actor, event, subject, details, prev_hash, hash FROM audit_log WHERE 1 = 1",
    );
    let mut texts: Vec<String> = Vec::new();
    let mut numbers: Vec<i64> = Vec::new();
    // Texts are bound first, then numbers: placeholders are numbered in that order.
    let mut text = |sql: &mut String, clause: &str, value: String| {
        texts.push(value);
        sql.push_str(&clause.replace('?', &format!("$T{}", texts.len())));
    };
    if let Some(v) = &f.subject {
        text(&mut sql, " AND subject = ?", v.clone());
    }
    if let Some(v) = &f.event {
        let escaped = v
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        text(
            &mut sql,
            " AND event LIKE ? ESCAPE '\\'",
            format!("{escaped}%"),
        );
    }
    if let Some(v) = &f.actor {
        text(&mut sql, " AND actor = ?", v.clone());
    }
    let mut number = |sql: &mut String, clause: &str, value: i64| {
        numbers.push(value);
        sql.push_str(&clause.replace('?', &format!("$N{}", numbers.len())));
    };
    if let Some(v) = f.from {
        number(&mut sql, " AND at >= ?", v);
    }
    if let Some(v) = f.to {
        number(&mut sql, " AND at < ?", v);
    }
    if let Some(v) = f.before {
        number(&mut sql, " AND seq < ?", v);
    }
    sql.push_str(&format!(
        " ORDER BY seq DESC LIMIT {}",
        f.limit.clamp(1, 1000)
    ));
    let n = texts.len();
    for i in (1..=numbers.len()).rev() {
        sql = sql.replace(&format!("$N{i}"), &format!("${}", n + i));
    }
    for i in (1..=n).rev() {
        sql = sql.replace(&format!("$T{i}"), &format!("${i}"));
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for t in texts {
        query = query.bind(t);
    }
    for v in numbers {
        query = query.bind(v);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(entry).collect()
}

fn entry(r: &sqlx::any::AnyRow) -> Result<Entry, StoreError> {
    Ok(Entry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        event: r.try_get("event")?,
        subject: r.try_get("subject")?,
        details: r.try_get("details")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}
