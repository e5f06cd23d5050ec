//! LDAP and Active Directory sources, through `ldap3`: configuration with flavour presets,
//! entry mapping and leaver rules (pure), paged full sync, RFC 4533 persist, and the
//! password check behind sign-in.

/// A source's settings are parsed with the rest of the configuration; here for the
/// directory's readers.
pub use crate::config::ldap as config;
pub mod conn;
pub mod entry;
pub mod search;
pub mod syncrepl;

use ldap3::Scope;
use secrecy::{ExposeSecret, SecretString};

pub use config::LdapSource;
pub use conn::LdapSyncError;

use crate::domain::Username;

/// The answer to "is this the password of this person?".
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    Correct,
    /// Wrong password, or no such person: the caller must not tell these apart.
    Refused,
}

/// RFC 4511 invalidCredentials.
const INVALID_CREDENTIALS: u32 = 49;

/// Finds the person's entry with the service account, then binds as that entry.
/// The username was parsed already (no `*`, `(`, `)` or NUL can reach here); it is escaped
/// anyway, so the filter stays one equality test whatever the parser allows in future.
pub async fn check_password(
    source: &LdapSource,
    username: &Username,
    password: &SecretString,
) -> Result<PasswordCheck, LdapSyncError> {
    if password.expose_secret().is_empty() {
        // An empty password makes a simple bind anonymous, which "succeeds".
        return Ok(PasswordCheck::Refused);
    }
    let mut ldap = conn::connect(source).await?;
    let filter = format!(
        "(&{}({}={}))",
        source.user_filter,
        source.attributes.username,
        ldap3::ldap_escape(username.as_str())
    );
    let found = ldap
        .with_timeout(source.timeout)
        .search(&source.base_dn, Scope::Subtree, &filter, vec!["1.1"])
        .await
        .map_err(|e| LdapSyncError::search(&source.base_dn, e))?;
    let _ = ldap.unbind().await;
    let (entries, _) = found
        .success()
        .map_err(|e| LdapSyncError::search(&source.base_dn, e))?;
    let [entry] = entries.as_slice() else {
        return Ok(PasswordCheck::Refused);
    };
    let dn = ldap3::SearchEntry::construct(entry.clone()).dn;
    let mut user = conn::open(source).await?;
    let answer = match conn::bind(&mut user, source, &dn, password.expose_secret()).await {
        Ok(()) => PasswordCheck::Correct,
        Err(LdapSyncError::BindRefused {
            rc: INVALID_CREDENTIALS,
            ..
        }) => PasswordCheck::Refused,
        Err(e) => return Err(e),
    };
    let _ = user.unbind().await;
    Ok(answer)
}
