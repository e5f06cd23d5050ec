//! Channels: one customer-communication account staffgate brokers.

use serde::{Deserialize, Serialize};

use super::{Action, ChannelId, Tag};

pub mod presets;
pub use presets::Preset;

/// How the real secret is injected and how the caller presents a brokered token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelKind {
    /// Secret in the path: `/bot<secret>/method`; the brokered token goes in the same place.
    Telegram,
    /// Secret in `Authorization: Bearer`.
    Bearer,
    /// Secret in a named header.
    Header { header: String },
    /// Secret in a named query parameter.
    Query { param: String },
}

impl ChannelKind {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Telegram => "telegram",
            ChannelKind::Bearer => "bearer",
            ChannelKind::Header { .. } => "header",
            ChannelKind::Query { .. } => "query",
        }
    }
}

/// Why a channel definition was refused; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelSpecError {
    #[error("kind: unknown channel kind {0:?} (expected telegram, bearer, header or query)")]
    UnknownKind(String),
    #[error("header: the header kind needs a header name made of letters, digits and '-'")]
    HeaderName,
    #[error("param: the query kind needs a parameter name made of letters, digits, '_' and '-'")]
    ParamName,
    #[error("upstream: {0}")]
    Upstream(String),
    #[error("rules[{index}]: {reason}")]
    Rule { index: usize, reason: String },
    #[error("rules: the telegram kind classifies requests by method name and takes no rules")]
    RulesNotAllowed,
    #[error("tags: {0}")]
    Tag(String),
    #[error("preset: unknown preset {0:?} (expected whatsapp-cloud, vk or viber)")]
    UnknownPreset(String),
    #[error("kind: the {preset} preset is a {kind} channel; leave kind, header and param out")]
    PresetKind {
        preset: &'static str,
        kind: &'static str,
    },
    #[error(
        "rules: a {0} channel needs rules (\"METHOD PATH ACTION\") or a preset (whatsapp-cloud, vk, viber): nothing is brokered by default"
    )]
    NoRules(&'static str),
}

/// The base URL requests are forwarded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream(reqwest::Url);

impl Upstream {
    pub fn parse(raw: &str) -> Result<Self, ChannelSpecError> {
        let bad = |m: &str| ChannelSpecError::Upstream(m.to_owned());
        let mut url = reqwest::Url::parse(raw).map_err(|e| bad(&format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must be http:// or https://"));
        }
        if url.host_str().is_none() {
            return Err(bad("must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "must not carry credentials; set the channel secret instead",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must not have a query or fragment"));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Upstream(url))
    }

    /// Base URL, always ending in `/`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &reqwest::Url {
        &self.0
    }

    /// On this machine: `localhost` or a loopback address.
    pub fn is_loopback(&self) -> bool {
        let Some(host) = self.0.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Which HTTP methods a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodMatch {
    Any,
    One(String),
}

/// `METHOD PATH ACTION`, e.g. `POST /v17.0/*/messages send`. In PATH, `*` matches one segment
/// and a final `**` matches the rest. First matching rule wins; no match means denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub method: MethodMatch,
    pub path: Vec<String>,
    pub action: Action,
}

impl Rule {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let parts: Vec<&str> = raw.split_whitespace().collect();
        let [method, path, action] = parts[..] else {
            return Err("expected \"METHOD PATH ACTION\", e.g. \"GET /messages/** read\"".into());
        };
        let method = match method {
            "*" => MethodMatch::Any,
            m if m.bytes().all(|b| b.is_ascii_uppercase()) => MethodMatch::One(m.to_owned()),
            _ => return Err("method must be uppercase (GET, POST, …) or *".into()),
        };
        let Some(path) = path.strip_prefix('/') else {
            return Err("path must start with '/'".into());
        };
        let segments: Vec<String> = path.split('/').map(str::to_owned).collect();
        if let Some(pos) = segments.iter().position(|s| s == "**")
            && pos != segments.len() - 1
        {
            return Err("'**' may only end a path".into());
        }
        let action = Action::parse(action).map_err(|e| e.to_string())?;
        Ok(Rule {
            method,
            path: segments,
            action,
        })
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if let MethodMatch::One(m) = &self.method
            && m != method
        {
            return false;
        }
        let mut want = self.path.iter();
        let mut have = path.trim_start_matches('/').split('/');
        loop {
            match (want.next().map(String::as_str), have.next()) {
                (Some("**"), _) => return true,
                (None, None) => return true,
                (Some("*"), Some(_)) => {}
                (Some(w), Some(h)) if w == h => {}
                _ => return false,
            }
        }
    }

    pub fn to_text(&self) -> String {
        let method = match &self.method {
            MethodMatch::Any => "*",
            MethodMatch::One(m) => m,
        };
        format!("{method} /{} {}", self.path.join("/"), self.action)
    }
}

/// A channel's whole definition, minus its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    pub id: ChannelId,
    pub kind: ChannelKind,
    pub upstream: Upstream,
    /// The channel's own rules, checked before its preset's.
    pub rules: Vec<Rule>,
    pub preset: Option<Preset>,
    pub tags: Vec<Tag>,
    /// Allows a plain `http://` upstream that is not on this machine (the secret then
    /// crosses the network in clear).
    pub insecure_upstream: bool,
}

/// A channel definition as loosely typed input (the API's body, the stored row).
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelInput<'a> {
    /// May be left out when a preset is named.
    pub kind: Option<&'a str>,
    pub preset: Option<&'a str>,
    pub header: Option<&'a str>,
    pub param: Option<&'a str>,
    pub upstream: &'a str,
    pub rules: &'a [String],
    pub tags: &'a [String],
    pub insecure_upstream: bool,
}

impl ChannelSpec {
    /// Builds a spec from loosely typed input, refusing bad fields by name.
    pub fn parse(id: ChannelId, input: ChannelInput<'_>) -> Result<Self, ChannelSpecError> {
        let ChannelInput {
            kind,
            preset,
            header,
            param,
            upstream,
            rules,
            tags,
            insecure_upstream,
        } = input;
        let preset = preset
            .map(|p| {
                Preset::parse(p)
                    .ok_or_else(|| ChannelSpecError::UnknownPreset(p.chars().take(32).collect()))
            })
            .transpose()?;
        let kind = match preset {
            Some(preset) => kind_of_preset(preset, kind, header, param)?,
            None => parse_kind(kind.unwrap_or_default(), header, param)?,
        };
        let upstream = Upstream::parse(upstream)?;
        if upstream.url().scheme() == "http" && !upstream.is_loopback() && !insecure_upstream {
            return Err(ChannelSpecError::Upstream(
                "plain http:// only to this machine (a loopback address): the secret would cross the network in clear; use https://, or set insecure_upstream = true".into(),
            ));
        }
        let rules = if kind == ChannelKind::Telegram {
            if !rules.is_empty() {
                return Err(ChannelSpecError::RulesNotAllowed);
            }
            Vec::new()
        } else if rules.is_empty() && preset.is_none() {
            return Err(ChannelSpecError::NoRules(kind.name()));
        } else {
            rules
                .iter()
                .enumerate()
                .map(|(index, r)| {
                    Rule::parse(r).map_err(|reason| ChannelSpecError::Rule { index, reason })
                })
                .collect::<Result<_, _>>()?
        };
        let tags = tags
            .iter()
            .map(|t| Tag::parse(t).map_err(|e| ChannelSpecError::Tag(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(ChannelSpec {
            id,
            kind,
            upstream,
            rules,
            preset,
            tags,
            insecure_upstream,
        })
    }

    /// Whether a rule reads any GET: the catch-all earlier versions filled in by default.
    pub fn reads_every_get(&self) -> bool {
        self.rules.iter().any(|r| {
            r.action == Action::Read
                && matches!(&r.method, MethodMatch::One(m) if m == "GET")
                && r.path == ["**"]
        })
    }

    /// Whether the secret would go where it went before: the same kind (and header or
    /// parameter) and the same upstream origin. Anything else needs the secret set again.
    pub fn same_destination(&self, other: &ChannelSpec) -> bool {
        self.kind == other.kind && self.upstream.url().origin() == other.upstream.url().origin()
    }
}

/// A preset decides the kind; a kind, header or parameter given with it must agree.
fn kind_of_preset(
    preset: Preset,
    kind: Option<&str>,
    header: Option<&str>,
    param: Option<&str>,
) -> Result<ChannelKind, ChannelSpecError> {
    let wanted = preset.kind();
    let agrees = match (kind, &wanted) {
        (None, _) => header.is_none() && param.is_none(),
        (Some(k), w) => parse_kind(k, header, param).is_ok_and(|given| given == *w),
    };
    if !agrees {
        return Err(ChannelSpecError::PresetKind {
            preset: preset.name(),
            kind: wanted.name(),
        });
    }
    Ok(wanted)
}

fn parse_kind(
    kind: &str,
    header: Option<&str>,
    param: Option<&str>,
) -> Result<ChannelKind, ChannelSpecError> {
    Ok(match kind {
        "telegram" => ChannelKind::Telegram,
        "bearer" => ChannelKind::Bearer,
        "header" => {
            let h = header.unwrap_or_default();
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(ChannelSpecError::HeaderName);
            }
            ChannelKind::Header {
                header: h.to_ascii_lowercase(),
            }
        }
        "query" => {
            let p = param.unwrap_or_default();
            if p.is_empty()
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ChannelSpecError::ParamName);
            }
            ChannelKind::Query {
                param: p.to_owned(),
            }
        }
        other => {
            return Err(ChannelSpecError::UnknownKind(
                other.chars().take(32).collect(),
            ));
        }
    })
}

#[cfg(test)]
mod tests;
