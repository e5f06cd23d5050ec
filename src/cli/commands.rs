//! Each command: build the request, call the daemon, print.

use std::io::Read;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::Client;
use super::render;
use super::{
    AuditCmd, ChannelCmd, Cli, Command, Format, KeyCmd, NdaCmd, PolicyCmd, StaffCmd, TokenCmd,
};

fn pretty(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn rows(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Runs every command but `serve`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
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
            return Ok(());
        }
        Command::Key(KeyCmd::Generate) => {
            use secrecy::ExposeSecret;
            println!("{}", crate::apikeys::generate_text()?.expose_secret());
            return Ok(());
        }
        Command::Serve { .. } => bail!("serve is handled by main"),
        _ => {}
    }
    let api = Client::new(&cli.url, cli.admin_key.clone(), &cli.data_dir)?;
    match cli.command {
        Command::Serve { .. }
        | Command::Policy(PolicyCmd::Check { .. })
        | Command::Key(KeyCmd::Generate) => unreachable!("handled above"),
        Command::Staff(StaffCmd::Add {
            username,
            email,
            name,
            groups,
            pending,
        }) => {
            let status = if pending { "pending" } else { "active" };
            let body = json!({ "email": email, "name": name, "groups": groups, "status": status });
            pretty(
                &api.call(Method::PUT, &format!("/staff/{username}"), Some(body))
                    .await?,
            );
        }
        Command::Staff(StaffCmd::List) => {
            let v = api.call(Method::GET, "/staff", None).await?;
            render::table(
                &rows(&v),
                &[
                    ("username", "USERNAME"),
                    ("name", "NAME"),
                    ("status", "STATUS"),
                    ("groups", "GROUPS"),
                ],
            );
        }
        Command::Staff(StaffCmd::Show { username }) => pretty(
            &api.call(Method::GET, &format!("/staff/{username}"), None)
                .await?,
        ),
        Command::Channel(ChannelCmd::Add(a)) => {
            let body = json!({ "kind": a.kind, "preset": a.preset, "upstream": a.upstream, "header": a.header, "param": a.param, "rules": a.rules, "tags": a.tags });
            pretty(
                &api.call(Method::PUT, &format!("/channels/{}", a.id), Some(body))
                    .await?,
            );
        }
        Command::Channel(ChannelCmd::SetSecret { id }) => {
            let mut secret = String::new();
            std::io::stdin()
                .read_to_string(&mut secret)
                .context("reading the secret from standard input")?;
            let secret = secret.trim_end_matches(['\n', '\r']);
            api.call(
                Method::PUT,
                &format!("/channels/{id}/secret"),
                Some(json!({ "secret": secret })),
            )
            .await?;
            println!("secret stored for {id} (encrypted; it will not be shown again)");
        }
        Command::Channel(ChannelCmd::List) => {
            let v = api.call(Method::GET, "/channels", None).await?;
            render::table(
                &rows(&v),
                &[
                    ("id", "ID"),
                    ("kind", "KIND"),
                    ("upstream", "UPSTREAM"),
                    ("tags", "TAGS"),
                    ("secret_set", "SECRET SET"),
                ],
            );
        }
        Command::Channel(ChannelCmd::RevokeTokens { id, reason }) => {
            pretty(
                &api.call(
                    Method::POST,
                    &format!("/channels/{id}/revoke-tokens"),
                    Some(json!({ "reason": reason })),
                )
                .await?,
            );
        }
        Command::Policy(PolicyCmd::Reload) => {
            pretty(&api.call(Method::POST, "/policies/reload", None).await?)
        }
        Command::Token(TokenCmd::Issue {
            staff,
            channel,
            actions,
            ttl,
        }) => {
            let actions: Option<Vec<String>> =
                actions.map(|a| a.split(',').map(|s| s.trim().to_owned()).collect());
            let body =
                json!({ "staff": staff, "channel": channel, "actions": actions, "ttl": ttl });
            let v = api.call(Method::POST, "/tokens", Some(body)).await?;
            eprintln!(
                "token #{} for {} on {} ({}), expires {}",
                v["id"],
                render::cell(&v["staff"]),
                render::cell(&v["channel"]),
                render::cell(&v["actions"]),
                render::cell(&v["expires_at"])
            );
            println!("{}", render::cell(&v["token"]));
        }
        Command::Token(TokenCmd::List { staff, channel }) => {
            let mut q = vec![];
            if let Some(s) = staff {
                q.push(format!("staff={s}"));
            }
            if let Some(c) = channel {
                q.push(format!("channel={c}"));
            }
            let v = api
                .call(Method::GET, &format!("/tokens?{}", q.join("&")), None)
                .await?;
            render::table(
                &rows(&v),
                &[
                    ("id", "ID"),
                    ("staff", "STAFF"),
                    ("channel", "CHANNEL"),
                    ("actions", "ACTIONS"),
                    ("state", "STATE"),
                    ("expires_at", "EXPIRES"),
                    ("last_used_at", "LAST USED"),
                ],
            );
        }
        Command::Token(TokenCmd::Revoke { id, staff }) => match (id, staff) {
            (Some(id), None) => pretty(
                &api.call(Method::DELETE, &format!("/tokens/{id}"), None)
                    .await?,
            ),
            (None, Some(u)) => pretty(
                &api.call(
                    Method::POST,
                    &format!("/staff/{u}/revoke-tokens"),
                    Some(json!({ "reason": "revoked from the command line" })),
                )
                .await?,
            ),
            _ => bail!("give a token id or --staff USERNAME"),
        },
        Command::Offboard {
            username,
            reason,
            at: Some(at),
            ..
        } => {
            let v = api
                .call(
                    Method::POST,
                    &format!("/staff/{username}/offboard"),
                    Some(json!({ "reason": reason, "at": at })),
                )
                .await?;
            println!(
                "scheduled #{}: {username} will be offboarded at {}",
                v["scheduled"],
                render::cell(&v["at"])
            );
        }
        Command::Status { json } => {
            let v = api.call(Method::GET, "/status", None).await?;
            if json { pretty(&v) } else { render::status(&v) }
        }
        Command::Scheduled { cancel: Some(id) } => {
            api.call(
                Method::DELETE,
                &format!("/offboardings/scheduled/{id}"),
                None,
            )
            .await?;
            println!("scheduled offboarding #{id} cancelled");
        }
        Command::Scheduled { cancel: None } => {
            let v = api
                .call(Method::GET, "/offboardings/scheduled", None)
                .await?;
            render::table(
                &rows(&v),
                &[
                    ("id", "ID"),
                    ("staff", "STAFF"),
                    ("at", "AT"),
                    ("reason", "REASON"),
                    ("created_by", "BY"),
                ],
            );
        }
        Command::Offboard {
            username,
            reason,
            json,
            wait,
            at: None,
        } => {
            let v = api
                .call(
                    Method::POST,
                    &format!("/staff/{username}/offboard"),
                    Some(json!({ "reason": reason, "wait": wait })),
                )
                .await?;
            let v = if v["state"] == "in_progress" {
                until_recorded(&api, &username).await?
            } else {
                v
            };
            if json {
                pretty(&v)
            } else {
                render::receipt(&v)
            }
            if wait.is_some() && v["propagation"]["confirmed"] != true {
                // The offboarding is done; some replica did not confirm it.
                std::process::exit(3);
            }
        }
        Command::Reinstate { username, reason } => {
            pretty(
                &api.call(
                    Method::POST,
                    &format!("/staff/{username}/reinstate"),
                    Some(json!({ "reason": reason })),
                )
                .await?,
            );
        }
        Command::Access {
            format,
            channel,
            staff,
        } => {
            let mut q = vec![];
            if let Some(s) = staff {
                q.push(format!("staff={s}"));
            }
            if let Some(c) = channel {
                q.push(format!("channel={c}"));
            }
            let v = api
                .call(Method::GET, &format!("/access?{}", q.join("&")), None)
                .await?;
            let cols = [
                ("staff", "STAFF"),
                ("name", "NAME"),
                ("channel", "CHANNEL"),
                ("actions", "ACTIONS"),
                ("policies", "BECAUSE OF"),
                ("live_tokens", "LIVE TOKENS"),
                ("last_used_at", "LAST USED"),
            ];
            match format {
                Format::Json => pretty(&v),
                Format::Csv => render::csv(&rows(&v), &cols)?,
                Format::Table => render::table(&rows(&v), &cols),
            }
        }
        Command::Audit(AuditCmd::List { after, limit }) => {
            let v = api
                .call(
                    Method::GET,
                    &format!("/audit?after={after}&limit={limit}"),
                    None,
                )
                .await?;
            render::table(
                &rows(&v),
                &[
                    ("seq", "SEQ"),
                    ("at", "AT"),
                    ("actor", "ACTOR"),
                    ("event", "EVENT"),
                    ("subject", "SUBJECT"),
                ],
            );
        }
        Command::Audit(AuditCmd::Verify) => {
            let v = api.call(Method::GET, "/audit/verify", None).await?;
            if v["ok"] == json!(true) {
                println!("audit log intact: {} entries verified", v["entries"]);
            } else {
                pretty(&v["first_bad"]);
                bail!("audit log is NOT intact after entry {}", v["entries"]);
            }
        }
        Command::Key(KeyCmd::Create { name, role, staff }) => {
            let v = api
                .call(
                    Method::POST,
                    "/keys",
                    Some(json!({ "name": name, "role": role, "staff": staff })),
                )
                .await?;
            eprintln!(
                "key #{} '{}' ({}); shown once:",
                v["id"],
                render::cell(&v["name"]),
                render::cell(&v["role"])
            );
            println!("{}", render::cell(&v["key"]));
        }
        Command::Key(KeyCmd::List) => {
            let v = api.call(Method::GET, "/keys", None).await?;
            render::table(
                &rows(&v),
                &[
                    ("id", "ID"),
                    ("name", "NAME"),
                    ("role", "ROLE"),
                    ("revoked", "REVOKED"),
                    ("last_used_at", "LAST USED"),
                ],
            );
        }
        Command::Key(KeyCmd::Revoke { id }) => pretty(
            &api.call(Method::DELETE, &format!("/keys/{id}"), None)
                .await?,
        ),
        Command::Staff(StaffCmd::ResetTotp { username, reason }) => pretty(
            &api.call(
                Method::POST,
                &format!("/staff/{username}/totp/reset"),
                Some(json!({ "reason": reason })),
            )
            .await?,
        ),
        Command::Staff(StaffCmd::Activate { username, reason }) => pretty(
            &api.call(
                Method::POST,
                &format!("/staff/{username}/activate"),
                Some(json!({ "reason": reason })),
            )
            .await?,
        ),
        Command::Backup { file } => {
            let bytes = api.download("/backup", &file).await?;
            println!(
                "wrote {} ({bytes} bytes); restore: stop the daemon, put it in place of <data_dir>/staffgate.db \
                 (remove staffgate.db-wal and -shm), keep the same master key",
                file.display()
            );
        }
        Command::Nda(NdaCmd::Report { version, format }) => {
            let path = match version {
                Some(v) => format!("/nda/acknowledgements?version={v}"),
                None => "/nda/acknowledgements".into(),
            };
            let v = api.call(Method::GET, &path, None).await?;
            render::nda_report(&v, format)?;
        }
        Command::Sync {
            source,
            dry_run,
            confirm,
            status,
            format,
        } => super::sync::run(&api, source, dry_run, confirm, status, format).await?,
    }
    Ok(())
}

/// After a 202 (the database is slow to take the offboarding), polls for its receipt: HR is
/// told it is done only once it is.
async fn until_recorded(api: &Client, username: &str) -> anyhow::Result<Value> {
    eprintln!("{username}: the offboarding is still being written; waiting for its receipt…");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if let Ok(receipt) = api
            .call(Method::GET, &format!("/staff/{username}/offboarding"), None)
            .await
        {
            return Ok(receipt);
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!(
                "{username}: the offboarding was accepted but is not recorded after 2 minutes; it will complete when the database takes it: check `staffgate staff show {username}`"
            );
        }
    }
}
