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
pub mod usn;
mod walk;

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
    /// Active Directory refused for a reason of the account's own (see [`AccountState`]).
    Account(AccountState),
}

/// Why Active Directory refused a bind other than for a wrong password: the sub-code in its
/// diagnostic (`… AcceptSecurityContext error, data 773, v1db1`). AD reports these only
/// once the password is right, except a lockout, which it reports whatever was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// 530: not permitted to sign in at this time.
    OutsideHours,
    /// 531: not permitted to sign in from this workstation.
    WrongWorkstation,
    /// 532: the password has expired.
    PasswordExpired,
    /// 533: the account is disabled.
    Disabled,
    /// 701: the account has expired.
    AccountExpired,
    /// 773: the password must be changed before first use.
    MustChangePassword,
    /// 775: locked after too many wrong passwords.
    Locked,
}

impl AccountState {
    /// Reads AD's sub-code out of a bind diagnostic. 525 (no such user) and 52e (wrong
    /// password) are plain refusals: `None`.
    pub fn from_diagnostic(text: &str) -> Option<AccountState> {
        let code = text.split("data ").nth(1)?;
        let code: String = code.chars().take_while(char::is_ascii_hexdigit).collect();
        Some(match code.to_ascii_lowercase().as_str() {
            "530" => AccountState::OutsideHours,
            "531" => AccountState::WrongWorkstation,
            "532" => AccountState::PasswordExpired,
            "533" => AccountState::Disabled,
            "701" => AccountState::AccountExpired,
            "773" => AccountState::MustChangePassword,
            "775" => AccountState::Locked,
            _ => return None,
        })
    }
}

/// RFC 4511 invalidCredentials.
const INVALID_CREDENTIALS: u32 = 49;

/// How a person may type their name on an AD source: `erin`, `Erin`, `erin@example.test`,
/// `EXAMPLE\erin`. Answers the account name to look up, or `None` when the name is for
/// another domain. A UPN whose suffix is not the domain's is looked up by UPN.
pub fn account_name(source: &LdapSource, typed: &str) -> Option<AccountName> {
    if source.flavour != config::Flavour::ActiveDirectory {
        return Some(AccountName::Plain(typed.to_owned()));
    }
    if let Some((domain, user)) = typed.split_once('\\') {
        let ours = source
            .netbios_domain
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case(domain));
        return ours.then(|| AccountName::Plain(user.to_owned()));
    }
    if let Some((user, suffix)) = typed.rsplit_once('@') {
        if dns_domain(&source.base_dn).is_some_and(|d| d.eq_ignore_ascii_case(suffix)) {
            return Some(AccountName::Plain(user.to_owned()));
        }
        return Some(AccountName::Principal(typed.to_owned()));
    }
    Some(AccountName::Plain(typed.to_owned()))
}

/// A name to find an account by.
#[derive(Debug, PartialEq, Eq)]
pub enum AccountName {
    /// The source's username attribute (`sAMAccountName` on AD).
    Plain(String),
    /// AD's `userPrincipalName`.
    Principal(String),
}

/// `OU=staff,DC=example,DC=test` → `example.test`.
fn dns_domain(dn: &str) -> Option<String> {
    let labels: Vec<&str> = dn
        .split(',')
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim().eq_ignore_ascii_case("dc").then(|| v.trim())
        })
        .collect();
    (!labels.is_empty()).then(|| labels.join("."))
}

/// The username (the source's username attribute, as the directory spells it) of the entry
/// `name` finds, if exactly one.
pub async fn find_account(
    source: &LdapSource,
    name: &AccountName,
) -> Result<Option<(String, String)>, LdapSyncError> {
    let (attr, value) = match name {
        AccountName::Plain(v) => (source.attributes.username.as_str(), v),
        AccountName::Principal(v) => ("userPrincipalName", v),
    };
    let filter = format!(
        "(&{}({attr}={}))",
        source.user_filter,
        ldap3::ldap_escape(value.as_str())
    );
    let mut ldap = conn::connect(source).await?;
    let found = ldap
        .with_timeout(source.timeout)
        .search(
            &source.base_dn,
            Scope::Subtree,
            &filter,
            vec![source.attributes.username.as_str()],
        )
        .await
        .map_err(|e| LdapSyncError::search(&source.base_dn, e))?;
    let _ = ldap.unbind().await;
    let (entries, _) = found
        .success()
        .map_err(|e| LdapSyncError::search(&source.base_dn, e))?;
    let [entry] = entries.as_slice() else {
        return Ok(None);
    };
    let entry = ldap3::SearchEntry::construct(entry.clone());
    let username = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&source.attributes.username))
        .and_then(|(_, v)| v.first().cloned());
    Ok(username.map(|u| (entry.dn, u)))
}

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
    let name = AccountName::Plain(username.as_str().to_owned());
    let Some((dn, _)) = find_account(source, &name).await? else {
        return Ok(PasswordCheck::Refused);
    };
    let mut user = conn::open(source).await?;
    let answer = match conn::bind(&mut user, source, &dn, password.expose_secret()).await {
        Ok(()) => PasswordCheck::Correct,
        Err(LdapSyncError::BindRefused {
            rc: INVALID_CREDENTIALS,
            diagnostic,
            ..
        }) => match AccountState::from_diagnostic(&diagnostic) {
            Some(state) => PasswordCheck::Account(state),
            None => PasswordCheck::Refused,
        },
        Err(e) => return Err(e),
    };
    let _ = user.unbind().await;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_sub_codes_are_read_from_the_diagnostic() {
        let text = |c: &str| {
            format!(
                "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data {c}, v1db1"
            )
        };
        assert_eq!(AccountState::from_diagnostic(&text("52e")), None);
        assert_eq!(AccountState::from_diagnostic(&text("525")), None);
        assert_eq!(
            AccountState::from_diagnostic(&text("773")),
            Some(AccountState::MustChangePassword)
        );
        assert_eq!(
            AccountState::from_diagnostic(&text("775")),
            Some(AccountState::Locked)
        );
        assert_eq!(
            AccountState::from_diagnostic(&text("532")),
            Some(AccountState::PasswordExpired)
        );
        assert_eq!(AccountState::from_diagnostic("no data here"), None);
    }

    #[test]
    fn dns_domain_is_read_off_the_base() {
        assert_eq!(
            dns_domain("OU=staff,DC=example,DC=test").as_deref(),
            Some("example.test")
        );
        assert_eq!(dns_domain("ou=people"), None);
    }
}
