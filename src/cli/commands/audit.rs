//! `staffgate audit …`: the log and its verification.

use anyhow::bail;
use reqwest::Method;
use serde_json::json;

use super::{Client, pretty, render, rows};
use crate::cli::AuditCmd;

pub async fn run(api: &Client, command: AuditCmd) -> anyhow::Result<()> {
    match command {
        AuditCmd::List { after, limit } => {
            let path = format!("/audit?after={after}&limit={limit}");
            let v = api.call(Method::GET, &path, None).await?;
            let cols = [
                ("seq", "SEQ"),
                ("at", "AT"),
                ("actor", "ACTOR"),
                ("event", "EVENT"),
                ("subject", "SUBJECT"),
            ];
            render::table(&rows(&v), &cols);
        }
        AuditCmd::Verify => {
            let v = api.call(Method::GET, "/audit/verify", None).await?;
            if v["ok"] == json!(true) {
                println!("audit log intact: {} entries verified", v["entries"]);
            } else {
                pretty(&v["first_bad"]);
                bail!("audit log is NOT intact after entry {}", v["entries"]);
            }
        }
    }
    Ok(())
}
