//! `staffgate scim token …`: the tokens SCIM sources' identity providers present.

use reqwest::Method;
use secrecy::ExposeSecret;

use super::{Client, pretty, render};
use crate::cli::{ScimCmd, ScimTokenCmd};
use crate::provisioning::NewToken;
use crate::store::scim::TokenView;

pub async fn run(api: &Client, command: ScimCmd, format: crate::cli::Format) -> anyhow::Result<()> {
    let ScimCmd::Token(command) = command;
    match command {
        ScimTokenCmd::Create { source } => {
            let path = format!("/scim/{source}/tokens");
            let t: NewToken = api.call_as(Method::POST, &path, None).await?;
            eprintln!("SCIM token #{} for {}; shown once:", t.id, t.source);
            println!("{}", t.token.expose_secret());
        }
        ScimTokenCmd::List => {
            let v: Vec<TokenView> = api.call_as(Method::GET, "/scim/tokens", None).await?;
            let cols = [
                ("id", "ID"),
                ("source", "SOURCE"),
                ("created_at", "CREATED"),
                ("revoked_at", "REVOKED"),
            ];
            render::rows(format, &render::typed(&v)?, &cols)?;
        }
        ScimTokenCmd::Revoke { id } => pretty(
            &api.call(Method::DELETE, &format!("/scim/tokens/{id}"), None)
                .await?,
        ),
    }
    Ok(())
}
