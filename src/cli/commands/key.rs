//! `staffgate key …`: API keys for automation.

use reqwest::Method;
use serde_json::json;

use super::{Client, pretty, render};
use crate::apikeys::{KeyView, NewKey};
use crate::cli::KeyCmd;
use secrecy::ExposeSecret;

pub async fn run(api: &Client, command: KeyCmd, format: crate::cli::Format) -> anyhow::Result<()> {
    match command {
        KeyCmd::Create { name, role, staff } => {
            let body = json!({ "name": name, "role": role, "staff": staff });
            let key: NewKey = api.call_as(Method::POST, "/keys", Some(body)).await?;
            eprintln!(
                "key #{} '{}' ({}); shown once:",
                key.id,
                key.name,
                key.role.as_str()
            );
            println!("{}", key.key.expose_secret());
        }
        KeyCmd::List => {
            let v: Vec<KeyView> = api.call_as(Method::GET, "/keys", None).await?;
            let cols = [
                ("id", "ID"),
                ("name", "NAME"),
                ("role", "ROLE"),
                ("revoked", "REVOKED"),
                ("last_used_at", "LAST USED"),
            ];
            render::rows(format, &render::typed(&v)?, &cols)?;
        }
        KeyCmd::Revoke { id } => {
            let path = format!("/keys/{id}");
            pretty(&api.call(Method::DELETE, &path, None).await?)
        }
        KeyCmd::Generate => unreachable!("needs no daemon: handled before"),
    }
    Ok(())
}
