//! Reading a policy directory: every `*.cedar` file and `schema.cedarschema`, validated
//! together. A problem is reported with its file, line and reason.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyProblem {
    pub file: String,
    /// 1-based; 0 when the problem is not tied to a line.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        } else {
            write!(f, "{}: {}", self.file, self.reason)
        }
    }
}

/// Why a policy directory was refused; every problem found is listed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("policies refused: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct PolicyLoadError(pub Vec<PolicyProblem>);

/// A validated policy set and the schema it was checked against.
pub struct PolicyBundle {
    pub set: PolicySet,
    pub schema: Schema,
    /// Policy id → file it came from.
    pub origin: HashMap<String, String>,
}

impl std::fmt::Debug for PolicyBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PolicyBundle({} policies)", self.origin.len())
    }
}

const SCHEMA_FILE: &str = "schema.cedarschema";

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

fn describe(d: &dyn Diagnostic, file: &str, text: &str) -> PolicyProblem {
    let line = d
        .labels()
        .and_then(|mut l| l.next())
        .map(|l| line_of(text, l.offset()))
        .unwrap_or(0);
    let mut reason = d.to_string();
    if let Some(help) = d.help() {
        reason.push_str(&format!(" ({help})"));
    }
    PolicyProblem {
        file: file.to_owned(),
        line,
        reason,
    }
}

/// Loads and validates a policy directory.
pub fn load_dir(dir: &Path) -> Result<PolicyBundle, PolicyLoadError> {
    let problem = |file: &str, reason: String| {
        PolicyLoadError(vec![PolicyProblem {
            file: file.into(),
            line: 0,
            reason,
        }])
    };
    let dir_name = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| problem(&dir_name, format!("cannot read policy directory: {e}")))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
        .collect();
    files.sort();

    let schema_path = dir.join(SCHEMA_FILE);
    let schema_name = schema_path.display().to_string();
    let schema_text = std::fs::read_to_string(&schema_path)
        .map_err(|e| problem(&schema_name, format!("cannot read schema: {e}")))?;
    let schema = match Schema::from_cedarschema_str(&schema_text) {
        Ok((schema, _warnings)) => schema,
        Err(e) => {
            return Err(PolicyLoadError(vec![describe(
                &e,
                &schema_name,
                &schema_text,
            )]));
        }
    };

    let mut problems = Vec::new();
    let mut set = PolicySet::new();
    let mut origin = HashMap::new();
    let mut texts = HashMap::new();
    for path in &files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(PolicyProblem {
                    file: name,
                    line: 0,
                    reason: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let parsed = match PolicySet::from_str(&text) {
            Ok(p) => p,
            Err(e) => {
                problems.push(describe(&e, &name, &text));
                continue;
            }
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (index, policy) in parsed.policies().enumerate() {
            let id = policy
                .annotation("id")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{stem}#{index}"));
            if let Some(first) = origin.get(&id) {
                problems.push(PolicyProblem {
                    file: name.clone(),
                    line: 0,
                    reason: format!("policy id {id:?} is already used in {first}"),
                });
                continue;
            }
            if let Err(e) = set.add(policy.new_id(PolicyId::new(&id))) {
                problems.push(PolicyProblem {
                    file: name.clone(),
                    line: 0,
                    reason: e.to_string(),
                });
                continue;
            }
            origin.insert(id, name.clone());
        }
        texts.insert(name, text);
    }
    if !problems.is_empty() {
        return Err(PolicyLoadError(problems));
    }

    let validation = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    for err in validation.validation_errors() {
        let file = origin
            .get(err.policy_id().to_string().as_str())
            .cloned()
            .unwrap_or_default();
        let text = texts.get(&file).map(String::as_str).unwrap_or("");
        problems.push(describe(err, &file, text));
    }
    if !problems.is_empty() {
        return Err(PolicyLoadError(problems));
    }
    Ok(PolicyBundle {
        set,
        schema,
        origin,
    })
}
