//! Reading a provider's SCIM `Users` and `Groups` with an OAuth 2.0 client-credentials token
//! (`[scim_pull.<name>]`). Every answer is bounded: a page's size, the number of pages and
//! of people, so a hostile or broken provider cannot grow memory without end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::ScimError;
use super::listing::{self, Page, PulledUser};
use crate::config::scim_pull::ScimPullSource;
use crate::directory::person::Skipped;
use crate::domain::names::GroupName;

/// A page larger than this is refused.
const MAX_PAGE_BYTES: usize = 32 << 20;
/// More users (or groups) than this from one provider is refused, not half-read.
pub const MAX_RESOURCES: usize = 500_000;

/// Why a pull failed. Nothing here carries the client secret or the access token.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the token endpoint refused the client credentials: {0}")]
    Token(String),
    #[error("{what} answered HTTP {status}")]
    Status { what: &'static str, status: u16 },
    #[error("{what} could not be reached: {reason}")]
    Transport { what: &'static str, reason: String },
    #[error("{what} answered something that is not a SCIM list: {why}")]
    Unreadable { what: &'static str, why: ScimError },
    #[error("{what} answered a page larger than {MAX_PAGE_BYTES} bytes")]
    PageTooLarge { what: &'static str },
    #[error("{what} lists more than {MAX_RESOURCES} resources")]
    TooMany { what: &'static str },
}

/// What a provider lists.
#[derive(Debug, Default)]
pub struct Pulled {
    pub users: Vec<PulledUser>,
    /// The groups each user (by the provider's id) is a member of.
    pub groups: HashMap<String, Vec<GroupName>>,
    pub skipped: Vec<Skipped>,
}

/// One provider's reader.
pub struct Reader<'a> {
    source: &'a ScimPullSource,
    http: reqwest::Client,
    token: SecretString,
}

fn http_client(source: &ScimPullSource) -> Result<reqwest::Client, PullError> {
    // No redirects: a provider cannot send the token (or staffgate) elsewhere.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(source.timeout)
        .build()
        .map_err(|e| PullError::Transport {
            what: "the HTTP client",
            reason: e.to_string(),
        })
}

/// A client-credentials token from the provider's token endpoint.
async fn token(source: &ScimPullSource, http: &reqwest::Client) -> Result<SecretString, PullError> {
    let token_url =
        TokenUrl::new(source.token_url.clone()).map_err(|e| PullError::Token(e.to_string()))?;
    let client = BasicClient::new(ClientId::new(source.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            source.client_secret.expose_secret().to_owned(),
        ))
        .set_token_uri(token_url);
    let answer = client
        .exchange_client_credentials()
        .add_scopes(source.scopes.iter().cloned().map(Scope::new))
        .request_async(http)
        .await
        .map_err(|e| PullError::Token(token_refusal(&e)))?;
    Ok(SecretString::from(
        answer.access_token().secret().to_owned(),
    ))
}

/// The refusal's kind only: the provider's own words may echo what was sent.
fn token_refusal<RE: std::error::Error + 'static, T: oauth2::ErrorResponse>(
    e: &oauth2::RequestTokenError<RE, T>,
) -> String {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => {
            let text = serde_json::to_value(r)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "an error".into());
            text.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect()
        }
        oauth2::RequestTokenError::Request(_) => "the endpoint could not be reached".into(),
        oauth2::RequestTokenError::Parse(_, _) => "the answer is not an OAuth token".into(),
        oauth2::RequestTokenError::Other(_) => "an unexpected answer".into(),
    }
}

impl<'a> Reader<'a> {
    /// Gets a token; the reader then reads with it.
    pub async fn connect(source: &'a ScimPullSource) -> Result<Reader<'a>, PullError> {
        let http = http_client(source)?;
        let token = token(source, &http).await?;
        Ok(Reader {
            source,
            http,
            token,
        })
    }

    async fn get(&self, what: &'static str, path: &str, start: u64) -> Result<Value, PullError> {
        let mut url = format!("{}/{path}?startIndex={start}", self.source.url);
        if let Some(n) = self.source.page_size {
            url.push_str(&format!("&count={n}"));
        }
        let transport = |e: reqwest::Error| PullError::Transport {
            what,
            reason: e.without_url().to_string(),
        };
        let mut response = self
            .http
            .get(url)
            .bearer_auth(self.token.expose_secret())
            .header("Accept", "application/scim+json, application/json")
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(PullError::Status {
                what,
                status: response.status().as_u16(),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(PullError::PageTooLarge { what });
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| PullError::Unreadable {
            what,
            why: ScimError::InvalidSyntax(e.to_string()),
        })
    }

    /// Every page of `path`, read by `parse`.
    async fn all<T>(
        &self,
        what: &'static str,
        path: &str,
        parse: fn(&Value) -> Result<Page<T>, ScimError>,
        progress: &AtomicUsize,
    ) -> Result<(Vec<T>, Vec<Skipped>), PullError> {
        let (mut items, mut skipped) = (Vec::new(), Vec::new());
        let mut start = 1;
        loop {
            let body = self.get(what, path, start).await?;
            let page = parse(&body).map_err(|why| PullError::Unreadable { what, why })?;
            progress.fetch_add(page.returned, Ordering::Relaxed);
            let next = page.next(start);
            items.extend(page.items);
            skipped.extend(page.skipped);
            if items.len() + skipped.len() > MAX_RESOURCES {
                return Err(PullError::TooMany { what });
            }
            match next {
                Some(n) => start = n,
                None => return Ok((items, skipped)),
            }
        }
    }

    /// Every user, and (where the source reads them) every group's members.
    pub async fn read(&self, progress: &AtomicUsize) -> Result<Pulled, PullError> {
        let (users, mut skipped) = self
            .all(
                "the provider's Users",
                "Users",
                listing::users_page,
                progress,
            )
            .await?;
        let mut groups: HashMap<String, Vec<GroupName>> = HashMap::new();
        if self.source.groups {
            let (found, bad) = self
                .all(
                    "the provider's Groups",
                    "Groups",
                    listing::groups_page,
                    &AtomicUsize::new(0),
                )
                .await?;
            skipped.extend(bad);
            // A member is named by the user's id; Canaille 0.3.6 names them by userName.
            let by_name: HashMap<String, &str> = users
                .iter()
                .map(|u| (u.doc.user_name.to_lowercase(), u.id.as_str()))
                .collect();
            let ids: std::collections::HashSet<&str> =
                users.iter().map(|u| u.id.as_str()).collect();
            for g in found {
                for member in g.members {
                    let id = if ids.contains(member.as_str()) {
                        Some(member.as_str())
                    } else {
                        by_name.get(&member.to_lowercase()).copied()
                    };
                    if let Some(id) = id {
                        groups
                            .entry(id.to_owned())
                            .or_default()
                            .push(g.name.clone());
                    }
                }
            }
        }
        Ok(Pulled {
            users,
            groups,
            skipped,
        })
    }
}
