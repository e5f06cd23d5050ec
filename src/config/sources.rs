//! What the identity-source tables (`[oidc.<name>]`, `[scim_pull.<name>]`) share: reading a
//! table of named sources with every problem at once, and a client secret given inline or
//! in a file.

use std::path::PathBuf;

use serde::de::DeserializeOwned;

type Problems = Vec<(String, String)>;

/// Reads each `[<kind>.<name>]` table as `R`, then builds it; all problems at once.
pub(super) fn each<R: DeserializeOwned, S>(
    table: &toml::Value,
    kind: &str,
    example: &str,
    build: impl Fn(&str, R) -> Result<S, Problems>,
) -> Result<Vec<S>, Problems> {
    let Some(table) = table.as_table() else {
        return Err(vec![(
            kind.to_owned(),
            format!("must be a table of sources: [{kind}.{example}]"),
        )]);
    };
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in table {
        if !super::oidc::valid_name(name) {
            problems.push((
                format!("{kind}.{name}"),
                "source names are 1–32 of a-z, 0-9 and '-'".into(),
            ));
            continue;
        }
        match value.clone().try_into::<R>() {
            Ok(raw) => match build(name, raw) {
                Ok(s) => sources.push(s),
                Err(p) => problems.extend(p),
            },
            // serde's message names the field and never echoes values.
            Err(e) => problems.push((format!("{kind}.{name}"), e.message().to_owned())),
        }
    }
    if problems.is_empty() {
        Ok(sources)
    } else {
        Err(problems)
    }
}

/// The client secret, inline or in a file (exactly one, not empty).
pub(super) fn client_secret(
    inline: Option<String>,
    file: Option<PathBuf>,
    problem: &mut impl FnMut(&str, String),
) -> Option<String> {
    match (inline, file) {
        (Some(s), None) if !s.is_empty() => Some(s),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => {
                problem("client_secret_file", "cannot be read, or is empty".into());
                None
            }
        },
        _ => {
            problem(
                "client_secret",
                "set exactly one of client_secret and client_secret_file".into(),
            );
            None
        }
    }
}
