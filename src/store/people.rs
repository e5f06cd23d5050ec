//! The console's People list: one page of staff found by name, username or e-mail and
//! filtered by status, source and group, with what an admin reads in each row. A page is
//! a keyset slice ordered by username, and every per-row fact is one query over that
//! page's ids, so a page costs the same at 100 or 100,000 staff.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::staff::{StaffId, StaffStatus};
use crate::domain::time::Millis;

/// What the People list is narrowed to.
#[derive(Debug, Default, Clone)]
pub struct PeopleQuery {
    /// Part of a username, display name or e-mail (case-insensitive).
    pub text: Option<String>,
    pub status: Option<StaffStatus>,
    /// `manual`, `ldap:<name>`, `scim:<name>`, `oidc:<name>`.
    pub source: Option<String>,
    pub group: Option<String>,
    /// Leaves out the offboarded (the access review).
    pub not_offboarded: bool,
    /// The page starts after this username.
    pub after: Option<String>,
    pub limit: u32,
}

/// One row of the People list.
#[derive(Debug, Clone)]
pub struct PersonRow {
    pub id: StaffId,
    pub username: String,
    pub name: String,
    pub email: String,
    pub status: StaffStatus,
    pub source: String,
    pub totp_enrolled: bool,
    /// Every NDA version acknowledged.
    pub nda_acked: Vec<String>,
    pub last_signin: Option<Millis>,
    pub last_use: Option<Millis>,
    pub live_tokens: i64,
    pub leaves_at: Option<Millis>,
}

/// Ids for an `IN (...)` list: integers from our own rows, so formatting them is safe.
fn id_list(ids: &[StaffId]) -> String {
    ids.iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// `%text%` for LIKE with its own wildcards escaped.
fn like(text: &str) -> String {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

/// One page of people (ordered by username), with the facts of each row.
pub async fn page(pool: &AnyPool, q: &PeopleQuery) -> Result<Vec<PersonRow>, StoreError> {
    let mut sql = String::from(
        "SELECT id, username, display_name, email, status, source FROM staff s WHERE 1 = 1",
    );
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, value: String| {
        binds.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
    };
    if let Some(text) = q.text.as_deref().filter(|t| !t.trim().is_empty()) {
        let pattern = like(text.trim());
        bind(
            &mut sql,
            " AND (LOWER(username) LIKE ? ESCAPE '\\'",
            pattern.clone(),
        );
        bind(
            &mut sql,
            " OR LOWER(display_name) LIKE ? ESCAPE '\\'",
            pattern.clone(),
        );
        bind(&mut sql, " OR LOWER(email) LIKE ? ESCAPE '\\')", pattern);
    }
    if let Some(status) = q.status {
        bind(&mut sql, " AND status = ?", status.as_str().to_owned());
    }
    if q.not_offboarded {
        sql.push_str(" AND status <> 'offboarded'");
    }
    if let Some(source) = &q.source {
        bind(&mut sql, " AND source = ?", source.clone());
    }
    if let Some(group) = &q.group {
        bind(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM staff_groups g WHERE g.staff_id = s.id AND g.group_name = ?)",
            group.clone(),
        );
    }
    if let Some(after) = &q.after {
        bind(&mut sql, " AND username > ?", after.clone());
    }
    sql.push_str(&format!(
        " ORDER BY username LIMIT {}",
        q.limit.clamp(1, 500)
    ));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(pool).await?;
    let mut people = rows.iter().map(person).collect::<Result<Vec<_>, _>>()?;
    if !people.is_empty() {
        fill_facts(pool, &mut people).await?;
    }
    Ok(people)
}

fn person(row: &AnyRow) -> Result<PersonRow, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(PersonRow {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        status: StaffStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("staff status {status}")))?,
        source: row.try_get("source")?,
        totp_enrolled: false,
        nda_acked: Vec::new(),
        last_signin: None,
        last_use: None,
        live_tokens: 0,
        leaves_at: None,
    })
}

/// The per-row facts, one query each over the page's ids (integers from our own rows).
async fn fill_facts(pool: &AnyPool, people: &mut [PersonRow]) -> Result<(), StoreError> {
    let ids = id_list(&people.iter().map(|p| p.id).collect::<Vec<_>>());
    let now = crate::domain::time::now_millis();
    let each = |sql: String| async move {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?;
        Ok::<_, StoreError>(rows)
    };
    let totp = each(format!(
        "SELECT staff_id FROM totp WHERE confirmed_at IS NOT NULL AND staff_id IN ({ids})"
    ))
    .await?;
    let nda = each(format!(
        "SELECT staff_id, version FROM nda_acks WHERE staff_id IN ({ids})"
    ))
    .await?;
    let signin = each(format!(
        "SELECT staff_id, MAX(created_at) AS v FROM sessions WHERE staff_id IN ({ids}) GROUP BY staff_id"
    ))
    .await?;
    let used = each(format!(
        "SELECT staff_id, MAX(at) AS v FROM activity WHERE staff_id IN ({ids}) GROUP BY staff_id"
    ))
    .await?;
    let live = each(format!(
        "SELECT staff_id, COUNT(*) AS v FROM tokens WHERE revoked_at IS NULL AND expires_at > {now} AND staff_id IN ({ids}) GROUP BY staff_id"
    ))
    .await?;
    let leaving = each(format!(
        "SELECT staff_id, MIN(at) AS v FROM scheduled_offboardings WHERE state = 'scheduled' AND staff_id IN ({ids}) GROUP BY staff_id"
    ))
    .await?;
    let by_id = |rows: &[AnyRow]| -> Result<HashMap<StaffId, i64>, StoreError> {
        rows.iter()
            .map(|r| Ok((r.try_get("staff_id")?, r.try_get("v")?)))
            .collect()
    };
    let (signin, used, live, leaving) = (
        by_id(&signin)?,
        by_id(&used)?,
        by_id(&live)?,
        by_id(&leaving)?,
    );
    let mut acked: HashMap<StaffId, Vec<String>> = HashMap::new();
    for r in &nda {
        acked
            .entry(r.try_get("staff_id")?)
            .or_default()
            .push(r.try_get("version")?);
    }
    let enrolled = totp
        .iter()
        .map(|r| r.try_get::<StaffId, _>("staff_id"))
        .collect::<Result<std::collections::HashSet<_>, _>>()?;
    for p in people.iter_mut() {
        p.totp_enrolled = enrolled.contains(&p.id);
        p.nda_acked = acked.remove(&p.id).unwrap_or_default();
        p.last_signin = signin.get(&p.id).copied();
        p.last_use = used.get(&p.id).copied();
        p.live_tokens = live.get(&p.id).copied().unwrap_or(0);
        p.leaves_at = leaving.get(&p.id).copied();
    }
    Ok(())
}

/// The whole records (groups and attributes, for policy) of the given people.
pub async fn members(
    pool: &AnyPool,
    ids: &[StaffId],
) -> Result<HashMap<StaffId, crate::domain::staff::StaffMember>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = id_list(ids);
    let cols = super::staff::COLUMNS;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {cols} FROM staff WHERE id IN ({ids})"
    )))
    .fetch_all(pool)
    .await?;
    let groups = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT staff_id, group_name FROM staff_groups WHERE staff_id IN ({ids}) ORDER BY group_name"
    )))
    .fetch_all(pool)
    .await?;
    let mut groups = super::staff::group_names(groups)?;
    rows.iter()
        .map(|row| {
            let id: StaffId = row.try_get("id")?;
            let member = super::staff::from_row(row, groups.remove(&id).unwrap_or_default())?;
            Ok((id, member))
        })
        .collect()
}

/// Last use per channel of the given people.
pub async fn last_use(
    pool: &AnyPool,
    ids: &[StaffId],
) -> Result<HashMap<(StaffId, String), Millis>, StoreError> {
    pair_values(pool, ids, "SELECT staff_id, channel_id, MAX(at) AS v FROM activity WHERE staff_id IN ({ids}) GROUP BY staff_id, channel_id").await
}

/// Live tokens per channel of the given people.
pub async fn live_tokens(
    pool: &AnyPool,
    ids: &[StaffId],
    now: Millis,
) -> Result<HashMap<(StaffId, String), i64>, StoreError> {
    let sql = format!(
        "SELECT staff_id, channel_id, COUNT(*) AS v FROM tokens WHERE revoked_at IS NULL AND expires_at > {now} AND staff_id IN ({{ids}}) GROUP BY staff_id, channel_id"
    );
    pair_values(pool, ids, &sql).await
}

async fn pair_values(
    pool: &AnyPool,
    ids: &[StaffId],
    sql: &str,
) -> Result<HashMap<(StaffId, String), i64>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = id_list(ids);
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.replace("{ids}", &ids)))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                (r.try_get("staff_id")?, r.try_get("channel_id")?),
                r.try_get("v")?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn a_search_for_wildcards_finds_them_literally() {
        assert_eq!(like("Al"), "%al%");
        assert_eq!(like("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
