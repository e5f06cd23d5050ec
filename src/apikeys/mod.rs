//! Admin API keys: created hashed, shown once, revocable; and the bootstrap key.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Actor};
use crate::domain::Role;
use crate::domain::credential::{self, CredentialKind};
use crate::domain::staff::StaffId;
use crate::domain::time::{now_millis, to_datetime};
use crate::principal::AdminPermit;
use crate::store::{Store, StoreError};

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("name: 1–64 letters, digits, '.', '_' or '-'")]
    BadName,
    #[error("no API key {0}")]
    NotFound(i64),
    #[error("random source failed")]
    Random,
    /// The staff member the key would belong to is not active (offboarded, or pending).
    #[error("the key's owner is not an active staff member")]
    OwnerNotActive,
    #[error("bootstrap key file {path}: {source}")]
    BootstrapFile {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new key: the only time its text is shown.
#[derive(Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct NewKey {
    pub id: i64,
    pub name: String,
    pub role: Role,
    #[schema(value_type = String)]
    #[serde(serialize_with = "crate::secrets::show_once")]
    pub key: SecretString,
}

/// A key as listed.
#[derive(Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct KeyView {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked: bool,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok { Ok(()) } else { Err(KeyError::BadName) }
}

pub async fn create(
    store: &Store,
    permit: &AdminPermit,
    name: &str,
    role: Role,
    staff: Option<StaffId>,
) -> Result<NewKey, KeyError> {
    let actor = permit.actor();
    check_name(name)?;
    let (key, hash) = credential::generate(CredentialKind::ApiKey).map_err(|_| KeyError::Random)?;
    let mut tx = store.begin().await?;
    // Under the owner's row lock: an offboarding is ordered wholly before (the key is
    // refused) or after (it revokes the key), never in between.
    if let Some(owner) = staff {
        let (status, _) = crate::store::staff::lock_state(tx.conn(), owner).await?;
        if status != crate::domain::staff::StaffStatus::Active {
            return Err(KeyError::OwnerNotActive);
        }
    }
    let id =
        crate::store::api_keys::insert(tx.conn(), hash, name, role, staff, &actor.0, now_millis())
            .await?;
    let change = audit::Change::ApiKeyCreated {
        name: name.to_owned(),
        id,
        role: json!(role),
    };
    audit::record(tx.conn(), actor, &change).await?;
    tx.commit().await?;
    Ok(NewKey {
        id,
        name: name.to_owned(),
        role,
        key,
    })
}

pub async fn revoke(store: &Store, permit: &AdminPermit, id: i64) -> Result<(), KeyError> {
    let actor = permit.actor();
    let mut tx = store.begin().await?;
    if !crate::store::api_keys::revoke(tx.conn(), id, now_millis()).await? {
        return Err(KeyError::NotFound(id));
    }
    let change = audit::Change::ApiKeyRevoked {
        key: id.to_string(),
        id,
    };
    audit::record(tx.conn(), actor, &change).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(store: &Store) -> Result<Vec<KeyView>, KeyError> {
    Ok(crate::store::api_keys::list(store.pool())
        .await?
        .into_iter()
        .map(|k| KeyView {
            id: k.id,
            name: k.name,
            role: k.role,
            created_at: to_datetime(k.created_at),
            revoked: k.revoked_at.is_some(),
            last_used_at: k.last_used_at.map(to_datetime),
        })
        .collect())
}

/// On a database with no keys, creates the first admin key: the configured one, or a new
/// one written to `<data dir>/bootstrap-admin.key` (mode 0600). Returns the file written.
pub async fn bootstrap(
    store: &Store,
    data_dir: &Path,
    given: Option<&SecretString>,
) -> Result<Option<std::path::PathBuf>, KeyError> {
    if crate::store::api_keys::count(store.pool()).await? > 0 {
        return Ok(None);
    }
    let actor = Actor::system();
    let (text, hash, file) = match given {
        Some(k) => {
            let hash = credential::parse(CredentialKind::ApiKey, k.expose_secret())
                .map_err(|_| KeyError::BadName)?;
            (None, hash, None)
        }
        None => {
            let (key, hash) =
                credential::generate(CredentialKind::ApiKey).map_err(|_| KeyError::Random)?;
            (Some(key), hash, Some(data_dir.join("bootstrap-admin.key")))
        }
    };
    if let (Some(text), Some(path)) = (&text, &file) {
        let _ = std::fs::remove_file(path);
        crate::secrets::write_private(path, format!("{}\n", text.expose_secret()).as_bytes())
            .map_err(|source| KeyError::BootstrapFile {
                path: path.display().to_string(),
                source,
            })?;
    }
    let mut tx = store.begin().await?;
    let id = crate::store::api_keys::insert(
        tx.conn(),
        hash,
        "bootstrap-admin",
        Role::Admin,
        None,
        &actor.0,
        now_millis(),
    )
    .await?;
    let change = audit::Change::BootstrapKeyCreated {
        name: "bootstrap-admin".into(),
        id,
    };
    audit::record(tx.conn(), &actor, &change).await?;
    tx.commit().await?;
    Ok(file)
}

/// Makes a key text for `STAFFGATE_BOOTSTRAP_ADMIN_KEY` without touching any database.
pub fn generate_text() -> Result<SecretString, KeyError> {
    credential::generate(CredentialKind::ApiKey)
        .map(|(k, _)| k)
        .map_err(|_| KeyError::Random)
}
