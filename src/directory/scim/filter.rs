//! The filter grammar staffgate answers: `<attribute> eq "<value>"`, and `and` of those, on
//! `userName`, `externalId`, `id` and `displayName` — what provisioning clients send to find
//! a resource before they create it. Attribute names and `eq`/`and` are case-insensitive
//! (RFC 7644 §3.4.2.2); values are JSON strings. Anything else is `invalidFilter`.

use super::ScimError;

/// An attribute a filter may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    UserName,
    ExternalId,
    Id,
    DisplayName,
}

/// A conjunction of equalities.
pub type Filter = Vec<(Attr, String)>;

const MAX_LEN: usize = 1024;
const MAX_TERMS: usize = 4;

fn attr(name: &str) -> Result<Attr, ScimError> {
    match name.to_ascii_lowercase().as_str() {
        "username" => Ok(Attr::UserName),
        "externalid" => Ok(Attr::ExternalId),
        "id" => Ok(Attr::Id),
        "displayname" => Ok(Attr::DisplayName),
        _ => Err(ScimError::InvalidFilter(format!(
            "filtering on {} is not supported",
            name.chars().take(64).collect::<String>()
        ))),
    }
}

/// Reads one JSON string literal at the start of `s`; answers it and the rest.
fn string_literal(s: &str) -> Result<(String, &str), ScimError> {
    let bad = || ScimError::InvalidFilter("a value must be a quoted string".into());
    if !s.starts_with('"') {
        return Err(bad());
    }
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => {
                let value: String = serde_json::from_str(&s[..=i]).map_err(|_| bad())?;
                return Ok((value, &s[i + 1..]));
            }
            _ => {}
        }
    }
    Err(bad())
}

/// Parses a filter.
pub fn parse(text: &str) -> Result<Filter, ScimError> {
    if text.len() > MAX_LEN {
        return Err(ScimError::InvalidFilter("longer than 1024 bytes".into()));
    }
    let mut rest = text.trim();
    let mut terms = Vec::new();
    loop {
        let (name, after) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| ScimError::InvalidFilter("expected <attribute> eq \"value\"".into()))?;
        let a = attr(name)?;
        let after = after.trim_start();
        let (op, after) = after
            .split_once(char::is_whitespace)
            .ok_or_else(|| ScimError::InvalidFilter("expected an operator".into()))?;
        if !op.eq_ignore_ascii_case("eq") {
            return Err(ScimError::InvalidFilter(format!(
                "only eq is supported, not {}",
                op.chars().take(8).collect::<String>()
            )));
        }
        let (value, after) = string_literal(after.trim_start())?;
        terms.push((a, value));
        if terms.len() > MAX_TERMS {
            return Err(ScimError::InvalidFilter("at most 4 terms".into()));
        }
        let after = after.trim_start();
        if after.is_empty() {
            return Ok(terms);
        }
        let (joiner, next) = after
            .split_once(char::is_whitespace)
            .ok_or_else(|| ScimError::InvalidFilter("expected and".into()))?;
        if !joiner.eq_ignore_ascii_case("and") {
            return Err(ScimError::InvalidFilter("only and joins terms".into()));
        }
        rest = next.trim_start();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_provisioning_clients_send_is_read() {
        assert_eq!(
            parse("userName eq \"alice@example.com\"").unwrap(),
            vec![(Attr::UserName, "alice@example.com".into())]
        );
        // Entra's lookup before a create; case-insensitive names and operator.
        assert_eq!(
            parse("externalId EQ \"9950b140-90a0\"").unwrap(),
            vec![(Attr::ExternalId, "9950b140-90a0".into())]
        );
        assert_eq!(
            parse("userName eq \"a \\\"q\\\" b\" and externalId eq \"x\"").unwrap(),
            vec![
                (Attr::UserName, "a \"q\" b".into()),
                (Attr::ExternalId, "x".into())
            ]
        );
    }

    #[test]
    fn anything_else_is_an_invalid_filter() {
        for bad in [
            "",
            "userName",
            "userName eq alice",
            "userName sw \"a\"",
            "userName eq \"a\" or id eq \"b\"",
            "emails.value eq \"a\"",
            "userName eq \"unterminated",
            "userName eq \"a\" and",
            "(userName eq \"a\")",
            "userName eq \"a\" and userName eq \"b\" and id eq \"c\" and id eq \"d\" and id eq \"e\"",
        ] {
            assert!(
                matches!(parse(bad), Err(ScimError::InvalidFilter(_))),
                "{bad}"
            );
        }
        assert!(parse(&"x".repeat(2000)).is_err());
    }
}
