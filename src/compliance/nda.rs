//! NDA / security-policy versions: Markdown files in `policies/nda/` with a TOML header
//! between `+++` lines (version, title, effective date, reacknowledge; optional language).
//! `2026-01.md` is the English text, `2026-01.ru.md` the Russian one of the same version.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::time::Millis;

/// The language used when the reader's is missing.
pub const DEFAULT_LANGUAGE: &str = "en";

/// Why the NDA folder could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct NdaError {
    pub file: String,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    version: String,
    title: String,
    effective: NaiveDate,
    #[serde(default)]
    reacknowledge: bool,
    language: Option<String>,
}

/// One language's text of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NdaText {
    pub version: String,
    pub title: String,
    pub effective: NaiveDate,
    /// Whoever acknowledged an earlier version must acknowledge this one too.
    pub reacknowledge: bool,
    pub language: String,
    /// The Markdown shown, exactly; its SHA-256 is the evidence.
    pub body: String,
    pub sha256: String,
}

impl NdaText {
    /// When the version takes effect: the start of its effective day, UTC.
    pub fn effective_at(&self) -> Millis {
        self.effective
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or(0)
    }
}

/// Every version, each in its languages.
#[derive(Debug, Clone, Default)]
pub struct NdaSet {
    versions: BTreeMap<String, BTreeMap<String, NdaText>>,
}

fn parse(name: &str, text: &str) -> Result<NdaText, NdaError> {
    let err = |reason: String| NdaError {
        file: name.to_owned(),
        reason,
    };
    let rest = text
        .strip_prefix("+++\n")
        .ok_or_else(|| err("must start with a +++ header".into()))?;
    let (head, body) = rest
        .split_once("\n+++\n")
        .ok_or_else(|| err("the +++ header is not closed".into()))?;
    let header: Header = toml::from_str(head).map_err(|e| err(e.message().to_owned()))?;
    let from_name = name
        .strip_suffix(".md")
        .and_then(|stem| stem.rsplit_once('.'))
        .map(|(_, lang)| lang.to_owned())
        .filter(|l| l.len() == 2 && l.chars().all(|c| c.is_ascii_lowercase()));
    let language = header
        .language
        .or(from_name)
        .unwrap_or_else(|| DEFAULT_LANGUAGE.into());
    if header.version.trim().is_empty() || header.version.len() > 64 {
        return Err(err("version must be 1–64 characters".into()));
    }
    let body = body.trim_start_matches('\n').to_owned();
    Ok(NdaText {
        sha256: hex::encode(Sha256::digest(body.as_bytes())),
        version: header.version,
        title: header.title,
        effective: header.effective,
        reacknowledge: header.reacknowledge,
        language,
        body,
    })
}

impl NdaSet {
    /// Reads every `*.md` in `dir`; a missing folder is an empty set.
    pub fn load(dir: &Path) -> Result<NdaSet, NdaError> {
        let mut set = NdaSet::default();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(set);
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).map_err(|e| NdaError {
                file: name.clone(),
                reason: e.to_string(),
            })?;
            set.insert(parse(&name, &text)?, &name)?;
        }
        for (version, texts) in &set.versions {
            if !texts.contains_key(DEFAULT_LANGUAGE) {
                return Err(NdaError {
                    file: version.clone(),
                    reason: format!("version {version} has no {DEFAULT_LANGUAGE} text"),
                });
            }
            let first = &texts[DEFAULT_LANGUAGE];
            if texts
                .values()
                .any(|t| t.effective != first.effective || t.reacknowledge != first.reacknowledge)
            {
                return Err(NdaError {
                    file: version.clone(),
                    reason: "every language of a version needs the same effective date and reacknowledge".into(),
                });
            }
        }
        Ok(set)
    }

    fn insert(&mut self, text: NdaText, name: &str) -> Result<(), NdaError> {
        let langs = self.versions.entry(text.version.clone()).or_default();
        if langs.contains_key(&text.language) {
            return Err(NdaError {
                file: name.to_owned(),
                reason: format!(
                    "version {} in {} appears twice",
                    text.version, text.language
                ),
            });
        }
        langs.insert(text.language.clone(), text);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// The version in force at `now`: the newest effective one (by date, then name).
    pub fn required(&self, now: Millis) -> Option<&NdaText> {
        self.versions
            .values()
            .map(|langs| &langs[DEFAULT_LANGUAGE])
            .filter(|t| t.effective_at() <= now)
            .max_by(|a, b| (a.effective, &a.version).cmp(&(b.effective, &b.version)))
    }

    /// A version's text in `language`, or in the default language.
    pub fn text(&self, version: &str, language: &str) -> Option<&NdaText> {
        let langs = self.versions.get(version)?;
        langs.get(language).or_else(|| langs.get(DEFAULT_LANGUAGE))
    }

    /// Whether someone who acknowledged `acked` satisfies the version in force.
    pub fn satisfied(&self, acked: &[String], now: Millis) -> bool {
        match self.required(now) {
            None => true,
            Some(req) => acked.contains(&req.version) || (!req.reacknowledge && !acked.is_empty()),
        }
    }

    /// Every version's default-language text, oldest first.
    pub fn versions(&self) -> Vec<&NdaText> {
        let mut all: Vec<&NdaText> = self
            .versions
            .values()
            .map(|l| &l[DEFAULT_LANGUAGE])
            .collect();
        all.sort_by(|a, b| (a.effective, &a.version).cmp(&(b.effective, &b.version)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(version: &str, effective: &str, reack: bool, body: &str) -> String {
        format!(
            "+++\nversion = \"{version}\"\ntitle = \"T\"\neffective = \"{effective}\"\nreacknowledge = {reack}\n+++\n\n{body}\n"
        )
    }

    fn set(files: &[(&str, String)]) -> NdaSet {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        NdaSet::load(dir.path()).unwrap()
    }

    fn at(date: &str) -> Millis {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn the_newest_effective_version_is_required() {
        let s = set(&[
            ("v1.md", doc("v1", "2026-01-01", false, "one")),
            ("v2.md", doc("v2", "2026-06-01", true, "two")),
            ("v3.md", doc("v3", "2030-01-01", true, "future")),
        ]);
        assert_eq!(s.required(at("2026-03-01")).unwrap().version, "v1");
        assert_eq!(s.required(at("2026-07-01")).unwrap().version, "v2");
        assert_eq!(s.required(at("2025-01-01")), None);
    }

    #[test]
    fn reacknowledge_decides_whether_an_older_acknowledgement_counts() {
        let s = set(&[
            ("v1.md", doc("v1", "2026-01-01", false, "one")),
            ("v2.md", doc("v2", "2026-06-01", false, "two")),
        ]);
        assert!(
            s.satisfied(&["v1".into()], at("2026-07-01")),
            "v2 does not ask again"
        );
        assert!(
            !s.satisfied(&[], at("2026-07-01")),
            "a newcomer acknowledges v2"
        );
        let strict = set(&[
            ("v1.md", doc("v1", "2026-01-01", false, "one")),
            ("v2.md", doc("v2", "2026-06-01", true, "two")),
        ]);
        assert!(!strict.satisfied(&["v1".into()], at("2026-07-01")));
        assert!(strict.satisfied(&["v2".into()], at("2026-07-01")));
    }

    #[test]
    fn languages_share_a_version_and_hash_their_own_text() {
        let s = set(&[
            ("v1.md", doc("v1", "2026-01-01", false, "hello")),
            ("v1.ru.md", doc("v1", "2026-01-01", false, "привет")),
        ]);
        let en = s.text("v1", "en").unwrap();
        let ru = s.text("v1", "ru").unwrap();
        assert_eq!(ru.language, "ru");
        assert_ne!(en.sha256, ru.sha256);
        assert_eq!(s.text("v1", "de").unwrap().language, "en");
        assert_eq!(en.sha256, hex::encode(Sha256::digest(en.body.as_bytes())));
    }

    #[test]
    fn bad_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.md"), "no header").unwrap();
        let e = NdaSet::load(dir.path()).unwrap_err();
        assert_eq!(e.file, "x.md");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("x.ru.md"),
            doc("v1", "2026-01-01", false, "x"),
        )
        .unwrap();
        assert!(
            NdaSet::load(dir.path())
                .unwrap_err()
                .reason
                .contains("no en text")
        );
    }

    #[test]
    fn the_shipped_texts_load() {
        let s = NdaSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/nda")).unwrap();
        assert!(!s.is_empty());
        let req = s.required(at("2026-11-29")).unwrap();
        assert_eq!(s.text(&req.version, "ru").unwrap().language, "ru");
    }
}
