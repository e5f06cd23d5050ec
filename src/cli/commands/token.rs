//! `staffgate token …`: issue on someone's behalf, list, revoke.

use anyhow::bail;
use reqwest::Method;
use serde_json::json;

use super::{Client, pretty, query, render};
use crate::cli::{Format, TokenCmd};
use crate::tokens::{Issued, TokenView};
use secrecy::ExposeSecret;

pub async fn run(api: &Client, command: TokenCmd, format: Format) -> anyhow::Result<()> {
    match command {
        TokenCmd::Issue {
            staff,
            channel,
            actions,
            ttl,
        } => {
            let actions: Option<Vec<String>> =
                actions.map(|a| a.split(',').map(|s| s.trim().to_owned()).collect());
            let body =
                json!({ "staff": staff, "channel": channel, "actions": actions, "ttl": ttl });
            let issued: Issued = api.call_as(Method::POST, "/tokens", Some(body)).await?;
            eprintln!(
                "token #{} for {} on {} ({}), expires {}",
                issued.id,
                issued.staff,
                issued.channel.as_str(),
                render::cell(&serde_json::to_value(issued.actions)?),
                render::cell(&serde_json::to_value(issued.expires_at)?)
            );
            println!("{}", issued.token.expose_secret());
        }
        TokenCmd::List { staff, channel } => {
            let q = query(&[("staff", staff), ("channel", channel)]);
            let path = format!("/tokens?{q}");
            let v: Vec<TokenView> = api.call_as(Method::GET, &path, None).await?;
            let cols = [
                ("id", "ID"),
                ("staff", "STAFF"),
                ("channel", "CHANNEL"),
                ("actions", "ACTIONS"),
                ("state", "STATE"),
                ("expires_at", "EXPIRES"),
                ("last_used_at", "LAST USED"),
            ];
            render::rows(format, &render::typed(&v)?, &cols)?;
        }
        TokenCmd::Revoke { id, staff } => match (id, staff) {
            (Some(id), None) => {
                let path = format!("/tokens/{id}");
                pretty(&api.call(Method::DELETE, &path, None).await?)
            }
            (None, Some(u)) => {
                let path = format!("/staff/{u}/revoke-tokens");
                let body = json!({ "reason": "revoked from the command line" });
                pretty(&api.call(Method::POST, &path, Some(body)).await?)
            }
            _ => bail!("give a token id or --staff USERNAME"),
        },
    }
    Ok(())
}
