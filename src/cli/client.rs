//! A small client for the daemon's API.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(url: &str, key: Option<String>, data_dir: &Path) -> anyhow::Result<Client> {
        let key = match key {
            Some(k) => k,
            None => {
                let path = data_dir.join("bootstrap-admin.key");
                std::fs::read_to_string(&path)
                    .with_context(|| {
                        format!(
                            "no admin key: set STAFFGATE_ADMIN_KEY or make {} readable",
                            path.display()
                        )
                    })?
                    .trim()
                    .to_owned()
            }
        };
        Ok(Client {
            base: url.trim_end_matches('/').to_owned(),
            key,
            http: reqwest::Client::new(),
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            anyhow!(
                "cannot reach the daemon at {}: {}",
                self.base,
                e.without_url()
            )
        })?;
        let status = resp.status();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let error = serde_json::from_value::<crate::web::answers::ErrorBody>(value).ok();
        let (code, message) = error.as_ref().map_or(("unknown", ""), |e| {
            (e.error.code.as_str(), e.error.message.as_str())
        });
        if status == StatusCode::UNAUTHORIZED {
            bail!("{code}: {message} (check STAFFGATE_ADMIN_KEY)");
        }
        bail!("{code}: {message}")
    }

    /// Like [`Self::call`], read into the type the daemon answers with.
    pub async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let value = self.call(method, path, body).await?;
        serde_json::from_value(value).map_err(|e| anyhow!("the daemon's answer did not parse: {e}"))
    }

    /// POSTs to `path` and writes the answer's body to `target` (mode 0600, via a temporary
    /// file, so a failed download never leaves a half file under the real name).
    pub async fn download(&self, path: &str, target: &Path) -> anyhow::Result<u64> {
        let resp = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot reach the daemon at {}: {}",
                    self.base,
                    e.without_url()
                )
            })?;
        if !resp.status().is_success() {
            let value: Value = resp.json().await.unwrap_or(Value::Null);
            let code = value["error"]["code"].as_str().unwrap_or("unknown");
            let message = value["error"]["message"].as_str().unwrap_or("");
            bail!("{code}: {message}");
        }
        let bytes = resp.bytes().await.context("the download was cut short")?;
        let partial = target.with_extension("partial");
        crate::secrets::write_private(&partial, &bytes)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        Ok(bytes.len() as u64)
    }
}
