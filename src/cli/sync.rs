//! `staffgate sync`: run a directory sync through the daemon and print its plan.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::bail;
use reqwest::Method;
use serde_json::Value;

use super::Format;
use super::client::Client;
use super::render;

/// Rows shown per section in a table; JSON shows everything.
const SHOWN: usize = 50;

pub async fn run(
    api: &Client,
    source: Option<String>,
    dry_run: bool,
    confirm: Option<i64>,
    status: bool,
    format: Format,
) -> anyhow::Result<()> {
    if status {
        let v = api.call(Method::GET, "/sync/status", None).await?;
        return print_status(&v, format);
    }
    if let Some(id) = confirm {
        let held = api
            .call(Method::GET, &format!("/sync/plans/{id}"), None)
            .await?;
        if !matches!(format, Format::Json) {
            println!(
                "plan {id} ({}), held because: {}",
                render::cell(&held["source"]),
                render::cell(&held["reason"])
            );
        }
        let v = api
            .call(Method::POST, &format!("/sync/plans/{id}/confirm"), None)
            .await?;
        return print_outcome(&v, format);
    }
    let sources = match source {
        Some(s) => vec![s],
        None => {
            let v = api.call(Method::GET, "/sync/status", None).await?;
            let names: Vec<String> = v["sources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["source"].as_str().map(str::to_owned))
                .collect();
            if names.is_empty() {
                bail!("no directory source is configured ([ldap.<name>] in the config file)");
            }
            names
        }
    };
    for name in sources {
        let path = format!("/sync/{name}{}", if dry_run { "?dry_run=true" } else { "" });
        let v = with_progress(api, &name, api.call(Method::POST, &path, None)).await?;
        print_outcome(&v, format)?;
    }
    Ok(())
}

/// Shows a live count of entries read while a long sync runs, on a terminal only.
async fn with_progress(
    api: &Client,
    source: &str,
    call: impl std::future::Future<Output = anyhow::Result<Value>>,
) -> anyhow::Result<Value> {
    if !std::io::stderr().is_terminal() {
        return call.await;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("{source}: searching the directory"));
    tokio::pin!(call);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let result = loop {
        tokio::select! {
            r = &mut call => break r,
            _ = tick.tick() => {
                bar.tick();
                if let Ok(v) = api.call(Method::GET, "/sync/status", None).await
                    && let Some(now) = v["sources"].as_array().into_iter().flatten()
                        .find(|s| s["source"] == source)
                        .map(|s| running_text(&s["running"]))
                        .and_then(|t| t.as_str().map(str::to_owned))
                {
                    bar.set_message(format!("{source}: {now}"));
                }
            }
        }
    };
    bar.finish_and_clear();
    result
}

fn section(title: &str, rows: &Value, columns: &[(&str, &str)]) {
    let all = rows.as_array().cloned().unwrap_or_default();
    if all.is_empty() {
        return;
    }
    println!("\n{title} ({})", all.len());
    render::table(&all[..all.len().min(SHOWN)], columns);
    if all.len() > SHOWN {
        println!(
            "… and {} more (use --format json for all)",
            all.len() - SHOWN
        );
    }
}

fn print_outcome(v: &Value, format: Format) -> anyhow::Result<()> {
    if matches!(format, Format::Json) {
        println!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    let plan = &v["plan"];
    let count = |k: &str| plan[k].as_array().map_or(0, Vec::len);
    println!(
        "source {}: {} entries; {} joiners, {} movers, {} leavers, {} skipped",
        render::cell(&plan["source"]),
        render::cell(&plan["entries"]),
        count("joiners"),
        count("movers"),
        count("leavers"),
        count("skipped"),
    );
    let movers: Vec<Value> = plan["movers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| serde_json::json!({ "username": m["person"]["username"], "changed": m["changed"], "groups": m["person"]["groups"] }))
        .collect();
    section(
        "JOINERS (pending until first login)",
        &plan["joiners"],
        &[
            ("username", "USERNAME"),
            ("email", "E-MAIL"),
            ("groups", "GROUPS"),
        ],
    );
    section(
        "MOVERS",
        &Value::Array(movers),
        &[
            ("username", "USERNAME"),
            ("changed", "CHANGED"),
            ("groups", "GROUPS NOW"),
        ],
    );
    section(
        "LEAVERS",
        &plan["leavers"],
        &[("username", "USERNAME"), ("rule", "RULE")],
    );
    section(
        "SKIPPED",
        &plan["skipped"],
        &[("dn", "ENTRY"), ("reason", "REASON")],
    );
    println!();
    match (v["dry_run"].as_bool(), v["verdict"]["verdict"].as_str()) {
        (Some(true), Some("hold")) => println!(
            "guard: WOULD HOLD: {}",
            render::cell(&v["verdict"]["reason"])
        ),
        (Some(true), _) => println!("guard: would apply (dry run: nothing changed)"),
        (_, Some("hold")) => println!(
            "guard: HELD: {}\nnobody was offboarded; after checking, apply it with: staffgate sync --confirm {}",
            render::cell(&v["verdict"]["reason"]),
            render::cell(&v["plan_id"])
        ),
        _ => {
            let a = &v["applied"];
            println!(
                "applied: {} joined, {} moved, {} offboarded, {} tokens revoked",
                render::cell(&a["joined"]),
                render::cell(&a["moved"]),
                a["offboarded"].as_array().map_or(0, Vec::len),
                render::cell(&a["tokens_revoked"])
            );
        }
    }
    Ok(())
}

/// A running sync in a few words: `reading: 41200 entries` or `applying: 12000 of 100000`.
fn running_text(r: &Value) -> Value {
    match r["phase"].as_str() {
        Some("reading") => format!("reading: {} entries", render::cell(&r["entries_read"])).into(),
        Some("applying") => format!(
            "applying: {} of {}",
            render::cell(&r["applied"]),
            render::cell(&r["to_apply"])
        )
        .into(),
        _ => Value::Null,
    }
}

fn print_status(v: &Value, format: Format) -> anyhow::Result<()> {
    if matches!(format, Format::Json) {
        println!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    let rows: Vec<Value> = v["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            serde_json::json!({
                "source": s["source"], "mode": s["mode"], "connected": s["connected"],
                "last": s["last_sync"]["at"], "verdict": s["last_sync"]["verdict"],
                "changes": s["changes_applied"], "lag_ms": s["lag_ms"],
                "error": s["last_error"]["message"],
                "now": running_text(&s["running"]),
            })
        })
        .collect();
    render::table(
        &rows,
        &[
            ("source", "SOURCE"),
            ("mode", "MODE"),
            ("connected", "LIVE"),
            ("last", "LAST SYNC"),
            ("verdict", "VERDICT"),
            ("changes", "CHANGES"),
            ("lag_ms", "LAG MS"),
            ("now", "RUNNING NOW"),
            ("error", "LAST ERROR"),
        ],
    );
    if v["runs_here"] == false && v["runs_on"].is_string() {
        println!(
            "Directory syncs run on replica {}; ask it for the live state.",
            render::cell(&v["runs_on"])
        );
    }
    section(
        "IDENTITY PROVIDERS",
        &v["identity_providers"],
        &[
            ("source", "SOURCE"),
            ("issuer", "ISSUER"),
            ("discovered_secs_ago", "DISCOVERED S AGO"),
            ("key_set_secs_ago", "KEYS S AGO"),
            ("refreshed", "REFRESHED"),
            ("ended_at_refresh", "ENDED AT REFRESH"),
            ("refresh_failed", "REFRESH FAILED"),
            ("logouts", "LOGOUTS"),
            ("last_error", "LAST ERROR"),
        ],
    );
    section(
        "HELD PLANS",
        &v["held_plans"],
        &[
            ("id", "PLAN"),
            ("source", "SOURCE"),
            ("created_at", "HELD AT"),
            ("reason", "REASON"),
        ],
    );
    Ok(())
}
