//! One master key per deployment, checked at start.
//!
//! The first replica to start seals a constant under its key into the database (the key
//! check). Every later start opens it: a replica with another key refuses to start and says
//! which file to replace, instead of sealing new secrets under a key the others cannot use.
//! A missing key file next to a database that holds sealed values is an error, never a
//! fresh key. A database from before key checks is checked against one of its sealed values.

use std::path::Path;

use crate::domain::time::now_millis;
use crate::secrets::{MasterKey, SecretsError};
use crate::store::{Store, StoreError};

const CONTEXT: &str = "staffgate:key-check";
const CONSTANT: &[u8] = b"staffgate master key check v1";

/// Why the deployment's key could not be established.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("reading the key check: {0}")]
    Store(#[from] StoreError),
}

/// The deployment's master key from `path`, created only for a database that has none.
/// Answers whether it was created.
pub async fn establish(store: &Store, path: &Path) -> Result<(MasterKey, bool), KeyCheckError> {
    let pool = store.pool();
    let check = crate::store::key_check::get(pool).await?;
    let legacy = match check {
        Some(_) => None,
        None => crate::store::key_check::any_sealed(pool).await?,
    };
    let shown = || path.display().to_string();
    let (key, created) = match MasterKey::load(path)? {
        Some(key) => (key, false),
        None if check.is_some() || legacy.is_some() => {
            return Err(SecretsError::KeyFileMissing { path: shown() }.into());
        }
        None => (MasterKey::create(path)?, true),
    };
    let opens = |context: &str, sealed: &[u8]| key.open(context, sealed).is_ok();
    if let Some(sealed) = &check {
        if !opens(CONTEXT, sealed) {
            return Err(SecretsError::KeyMismatch { path: shown() }.into());
        }
        return Ok((key, created));
    }
    if let Some((context, sealed)) = &legacy
        && !opens(context, sealed)
    {
        return Err(SecretsError::KeyMismatch { path: shown() }.into());
    }
    // First start (or first since key checks): record ours, then read back whichever
    // replica's won a race at the same moment.
    let sealed = key.seal(CONTEXT, CONSTANT)?;
    crate::store::key_check::put_if_absent(pool, &sealed, now_millis()).await?;
    match crate::store::key_check::get(pool).await? {
        Some(stored) if opens(CONTEXT, &stored) => Ok((key, created)),
        _ => Err(SecretsError::KeyMismatch { path: shown() }.into()),
    }
}
