//! `staffgate audit …`: the log and its verification.

use anyhow::bail;
use reqwest::Method;

use super::{Client, pretty, render};
use crate::audit::Verification;
use crate::cli::AuditCmd;
use crate::domain::chain::Entry;

pub async fn run(
    api: &Client,
    command: AuditCmd,
    format: crate::cli::Format,
) -> anyhow::Result<()> {
    match command {
        AuditCmd::List { after, limit } => {
            let path = format!("/audit?after={after}&limit={limit}");
            let v: Vec<Entry> = api.call_as(Method::GET, &path, None).await?;
            let cols = [
                ("seq", "SEQ"),
                ("at", "AT"),
                ("actor", "ACTOR"),
                ("event", "EVENT"),
                ("subject", "SUBJECT"),
            ];
            render::rows(format, &render::typed(&v)?, &cols)?;
        }
        AuditCmd::Verify => {
            let v: Verification = api.call_as(Method::GET, "/audit/verify", None).await?;
            match v.first_bad {
                None if v.ok => println!("audit log intact: {} entries verified", v.entries),
                first_bad => {
                    pretty(&serde_json::to_value(first_bad)?);
                    bail!("audit log is NOT intact after entry {}", v.entries);
                }
            }
        }
    }
    Ok(())
}
