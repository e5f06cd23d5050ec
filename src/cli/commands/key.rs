//! `staffgate key …`: API keys for automation.

use reqwest::Method;
use serde_json::json;

use super::{Client, pretty, render, rows};
use crate::cli::KeyCmd;

pub async fn run(api: &Client, command: KeyCmd) -> anyhow::Result<()> {
    match command {
        KeyCmd::Create { name, role, staff } => {
            let body = json!({ "name": name, "role": role, "staff": staff });
            let v = api.call(Method::POST, "/keys", Some(body)).await?;
            eprintln!(
                "key #{} '{}' ({}); shown once:",
                v["id"],
                render::cell(&v["name"]),
                render::cell(&v["role"])
            );
            println!("{}", render::cell(&v["key"]));
        }
        KeyCmd::List => {
            let v = api.call(Method::GET, "/keys", None).await?;
            let cols = [
                ("id", "ID"),
                ("name", "NAME"),
                ("role", "ROLE"),
                ("revoked", "REVOKED"),
                ("last_used_at", "LAST USED"),
            ];
            render::table(&rows(&v), &cols);
        }
        KeyCmd::Revoke { id } => {
            let path = format!("/keys/{id}");
            pretty(&api.call(Method::DELETE, &path, None).await?)
        }
        KeyCmd::Generate => unreachable!("needs no daemon: handled before"),
    }
    Ok(())
}
