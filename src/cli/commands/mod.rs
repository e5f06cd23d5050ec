//! Each command: build the request, call the daemon, print. One file per noun; this file
//! dispatches and keeps the commands that need no daemon.

mod access;
mod audit;
mod channel;
mod key;
mod offboard;
mod scim;
mod staff;
mod token;

use anyhow::bail;
use reqwest::Method;
use serde_json::Value;

use super::client::Client;
use super::render;
use super::{Cli, Command, Format, KeyCmd, NdaCmd, PolicyCmd};

fn pretty(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// `?a=1&b=2` from the filters given (empty when none).
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

/// Runs every command but `serve`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if offline(&cli.command)? {
        return Ok(());
    }
    let api = Client::new(&cli.url, cli.admin_key.clone(), &cli.data_dir)?;
    let format: Format = cli.format;
    match cli.command {
        Command::Serve { .. }
        | Command::Policy(PolicyCmd::Check { .. })
        | Command::Key(KeyCmd::Generate) => unreachable!("handled by offline"),
        Command::Staff(c) => staff::run(&api, c, format).await?,
        Command::Channel(c) => channel::run(&api, c, format).await?,
        Command::Token(c) => token::run(&api, c, format).await?,
        Command::Key(c) => key::run(&api, c, format).await?,
        Command::Scim(c) => scim::run(&api, c, format).await?,
        Command::Audit(c) => audit::run(&api, c, format).await?,
        Command::Policy(PolicyCmd::Reload) => {
            pretty(&api.call(Method::POST, "/policies/reload", None).await?)
        }
        Command::Offboard {
            username,
            reason,
            at,
            wait,
        } => offboard::run(&api, &username, &reason, at, format, wait).await?,
        Command::Reinstate { username, reason } => {
            offboard::reinstate(&api, &username, &reason).await?
        }
        Command::Scheduled { cancel } => offboard::scheduled(&api, cancel, format).await?,
        Command::Offboardings(c) => offboard::receipts(&api, c, format).await?,
        Command::Access { channel, staff } => access::run(&api, format, channel, staff).await?,
        Command::Status => {
            let v = api.call(Method::GET, "/status", None).await?;
            match format {
                Format::Table => render::status(&v),
                _ => pretty(&render::with_times(&v)),
            }
        }
        Command::Backup { file } => {
            let bytes = api.download("/backup", &file).await?;
            println!(
                "wrote {} ({bytes} bytes); restore: stop the daemon, put it in place of <data_dir>/staffgate.db \
                 (remove staffgate.db-wal and -shm), keep the same master key",
                file.display()
            );
        }
        Command::Nda(NdaCmd::Report { version }) => {
            let path = format!("/nda/acknowledgements?{}", query(&[("version", version)]));
            let v = api.call(Method::GET, &path, None).await?;
            render::nda_report(&v, format)?;
        }
        Command::Sync {
            source,
            dry_run,
            confirm,
            status,
        } => super::sync::run(&api, source, dry_run, confirm, status, format).await?,
    }
    Ok(())
}

/// The commands that need no daemon; answers whether `command` was one.
fn offline(command: &Command) -> anyhow::Result<bool> {
    match command {
        Command::Policy(PolicyCmd::Check { dir }) => {
            let bundle = crate::policy::load_dir(dir).map_err(|e| {
                for p in &e.0 {
                    eprintln!("{p}");
                }
                anyhow::anyhow!("{} problem(s) in {}", e.0.len(), dir.display())
            })?;
            println!(
                "{}: {} policies valid against the schema",
                dir.display(),
                bundle.origin.len()
            );
            Ok(true)
        }
        Command::Key(KeyCmd::Generate) => {
            use secrecy::ExposeSecret;
            println!("{}", crate::apikeys::generate_text()?.expose_secret());
            Ok(true)
        }
        Command::Serve { .. } => bail!("serve is handled by main"),
        _ => Ok(false),
    }
}
