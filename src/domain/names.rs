//! Names that arrive from the edge (paths, JSON, CLI) and are parsed once.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name was empty.
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    /// The name was longer than allowed.
    #[error("{what} must be at most {max} characters")]
    TooLong { what: &'static str, max: usize },
    /// The name held a character outside the allowed set.
    #[error("{what} may contain only {allowed}")]
    BadCharacter {
        what: &'static str,
        allowed: &'static str,
    },
}

fn check(
    raw: &str,
    what: &'static str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty { what });
    }
    if raw.chars().count() > max {
        return Err(NameError::TooLong { what, max });
    }
    if !raw.chars().all(ok) {
        return Err(NameError::BadCharacter { what, allowed });
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal, $max:literal, $allowed:literal, $ok:expr) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            pub fn parse(raw: &str) -> Result<Self, NameError> {
                check(raw, $what, $max, $allowed, $ok)?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(raw: String) -> Result<Self, NameError> {
                Self::parse(&raw)
            }
        }

        impl From<$ty> for String {
            fn from(name: $ty) -> String {
                name.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

name_type!(
    /// A staff member's login name, as the directory knows it.
    Username, "username", 64, "letters, digits, '.', '_' and '-'", |c: char| is_name_char(c) || c == '@'
);
name_type!(
    /// A channel's identifier, such as `telegram-support`.
    ChannelId, "channel id", 64, "lowercase letters, digits and '-'",
    |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
);
name_type!(
    /// A directory group name, as the directory spells it: `Поддержка`, `R&D (Tier 2)`. Policy
    /// entity ids are strings, so any printable text is a name; what could forge a display
    /// (control characters, bidirectional overrides, zero-width marks) is refused.
    GroupName, "group name", 128, "printable characters (no control or direction marks)",
    is_group_char
);

fn is_group_char(c: char) -> bool {
    !c.is_control()
        && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}
name_type!(
    /// A channel tag used by policies (`support`, `sales`).
    Tag, "tag", 64, "letters, digits, '.', '_' and '-'", is_name_char
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_refuse_injection_characters() {
        assert!(Username::parse("alice.smith").is_ok());
        assert!(Username::parse("a*").is_err());
        assert!(Username::parse("a)(b").is_err());
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn group_names_are_what_the_directory_spells() {
        assert!(GroupName::parse("Поддержка").is_ok());
        assert!(GroupName::parse("R&D (Tier 2)").is_ok());
        assert!(GroupName::parse("a\u{202E}b").is_err());
        assert!(GroupName::parse("a\nb").is_err());
        assert!(GroupName::parse("").is_err());
    }

    #[test]
    fn channel_ids_are_lowercase_slugs() {
        assert!(ChannelId::parse("telegram-support").is_ok());
        assert!(ChannelId::parse("Telegram").is_err());
        assert!(ChannelId::parse("../x").is_err());
    }
}
