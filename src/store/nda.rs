//! NDA acknowledgements: written once, never changed (the tables refuse it too).

use std::collections::HashMap;

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

/// What an acknowledgement records.
pub struct NewAck<'a> {
    pub staff_id: StaffId,
    pub version: &'a str,
    pub language: &'a str,
    pub text_sha256: &'a str,
    pub at: Millis,
    pub address: &'a str,
    pub user_agent: &'a str,
}

/// Records an acknowledgement; `false` if this person acknowledged this version before.
pub async fn insert(conn: &mut AnyConnection, a: &NewAck<'_>) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO nda_acks (staff_id, version, language, text_sha256, at, address, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (staff_id, version) DO NOTHING",
    )
    .bind(a.staff_id)
    .bind(a.version)
    .bind(a.language)
    .bind(a.text_sha256)
    .bind(a.at)
    .bind(a.address)
    .bind(a.user_agent)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every person's acknowledged versions.
pub async fn versions_by_staff(
    pool: &AnyPool,
) -> Result<HashMap<StaffId, Vec<String>>, StoreError> {
    let rows = sqlx::query("SELECT staff_id, version FROM nda_acks")
        .fetch_all(pool)
        .await?;
    let mut map: HashMap<StaffId, Vec<String>> = HashMap::new();
    for r in rows {
        map.entry(r.try_get("staff_id")?)
            .or_default()
            .push(r.try_get("version")?);
    }
    Ok(map)
}

/// The language of each person's newest acknowledgement: the one they read in.
pub async fn languages(pool: &AnyPool) -> Result<HashMap<StaffId, String>, StoreError> {
    let rows = sqlx::query("SELECT staff_id, language FROM nda_acks ORDER BY id")
        .fetch_all(pool)
        .await?;
    let mut map = HashMap::new();
    for r in rows {
        map.insert(r.try_get("staff_id")?, r.try_get("language")?);
    }
    Ok(map)
}

/// One acknowledgement with who made it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AckRow {
    pub username: String,
    pub name: String,
    pub email: String,
    pub version: String,
    pub language: String,
    pub text_sha256: String,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::domain::time::serialize_millis")]
    pub at: Millis,
    pub address: String,
    pub user_agent: String,
}

/// Acknowledgements, oldest first: of one version, of one person, or all.
pub async fn list(
    pool: &AnyPool,
    version: Option<&str>,
    staff: Option<StaffId>,
) -> Result<Vec<AckRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.username, s.display_name, s.email, a.version, a.language, a.text_sha256, a.at, \
         a.address, a.user_agent FROM nda_acks a JOIN staff s ON s.id = a.staff_id \
         WHERE ($1 IS NULL OR a.version = $1) AND ($2 IS NULL OR a.staff_id = $2) ORDER BY a.at",
    )
    .bind(version)
    .bind(staff)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AckRow {
                username: r.try_get("username")?,
                name: r.try_get("display_name")?,
                email: r.try_get("email")?,
                version: r.try_get("version")?,
                language: r.try_get("language")?,
                text_sha256: r.try_get("text_sha256")?,
                at: r.try_get("at")?,
                address: r.try_get("address")?,
                user_agent: r.try_get("user_agent")?,
            })
        })
        .collect()
}

/// First-login facts in one query: whether TOTP is confirmed, and the acknowledged versions.
pub async fn first_login_facts(
    pool: &AnyPool,
    staff: StaffId,
) -> Result<(bool, Vec<String>), StoreError> {
    let rows = sqlx::query(
        "SELECT t.confirmed_at AS totp, a.version FROM staff s \
         LEFT JOIN totp t ON t.staff_id = s.id LEFT JOIN nda_acks a ON a.staff_id = s.id \
         WHERE s.id = $1 ORDER BY a.at",
    )
    .bind(staff)
    .fetch_all(pool)
    .await?;
    let mut totp = false;
    let mut versions = Vec::new();
    for r in rows {
        totp |= r.try_get::<Option<Millis>, _>("totp")?.is_some();
        if let Some(v) = r.try_get::<Option<String>, _>("version")? {
            versions.push(v);
        }
    }
    Ok((totp, versions))
}
