//! `staffgate channel …`: add, set the secret, list, revoke every token.

use std::io::Read;

use anyhow::Context;
use reqwest::Method;
use serde_json::json;

use super::{Client, pretty, render};
use crate::channels::ChannelView;
use crate::cli::ChannelCmd;

pub async fn run(
    api: &Client,
    command: ChannelCmd,
    format: crate::cli::Format,
) -> anyhow::Result<()> {
    match command {
        ChannelCmd::Add(a) => {
            let body = json!({ "kind": a.kind, "preset": a.preset, "upstream": a.upstream, "header": a.header, "param": a.param, "rules": a.rules, "tags": a.tags });
            let path = format!("/channels/{}", a.id);
            pretty(&api.call(Method::PUT, &path, Some(body)).await?);
        }
        ChannelCmd::SetSecret { id } => {
            let mut secret = String::new();
            std::io::stdin()
                .read_to_string(&mut secret)
                .context("reading the secret from standard input")?;
            let secret = secret.trim_end_matches(['\n', '\r']);
            let path = format!("/channels/{id}/secret");
            api.call(Method::PUT, &path, Some(json!({ "secret": secret })))
                .await?;
            println!("secret stored for {id} (encrypted; it will not be shown again)");
        }
        ChannelCmd::List => {
            let v: Vec<ChannelView> = api.call_as(Method::GET, "/channels", None).await?;
            let cols = [
                ("id", "ID"),
                ("kind", "KIND"),
                ("upstream", "UPSTREAM"),
                ("tags", "TAGS"),
                ("secret_set", "SECRET SET"),
            ];
            render::rows(format, &render::typed(&v)?, &cols)?;
        }
        ChannelCmd::RevokeTokens { id, reason } => {
            let path = format!("/channels/{id}/revoke-tokens");
            let body = json!({ "reason": reason });
            pretty(&api.call(Method::POST, &path, Some(body)).await?);
        }
    }
    Ok(())
}
