//! `staffgate offboard`, `reinstate` and `scheduled`: HR's commands.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, pretty, render};
use crate::cli::{Format, OffboardingsCmd};
use crate::domain::receipt::Receipt;
use crate::store::schedule::ScheduledRow;
use crate::web::answers::{OffboardingInProgress, Scheduled};

/// Offboards now (prints the receipt) or schedules (`at`). Exits 3 when `wait` was given
/// and some replica did not confirm in time: the offboarding itself is done.
pub async fn run(
    api: &Client,
    username: &str,
    reason: &str,
    at: Option<String>,
    format: Format,
    wait: Option<String>,
) -> anyhow::Result<()> {
    let path = format!("/staff/{username}/offboard");
    if let Some(at) = at {
        let body = json!({ "reason": reason, "at": at });
        let v: Scheduled = api.call_as(Method::POST, &path, Some(body)).await?;
        println!(
            "scheduled #{}: {username} will be offboarded at {}",
            v.scheduled,
            render::cell(&serde_json::to_value(v.at)?)
        );
        return Ok(());
    }
    let body = json!({ "reason": reason, "wait": wait });
    let v = api.call(Method::POST, &path, Some(body)).await?;
    let in_progress = serde_json::from_value::<OffboardingInProgress>(v.clone()).is_ok();
    let v = if in_progress {
        until_recorded(api, username).await?
    } else {
        v
    };
    let receipt: Receipt = serde_json::from_value(v.clone())?;
    if receipt.already_offboarded {
        // A second offboarding changes nothing: say so, then show the first receipt (on
        // standard error when standard output is for a machine).
        let line = format!(
            "{username} was already offboarded on {} by {} ({}); nothing more was revoked",
            receipt.offboarded_at.to_rfc3339(),
            receipt.by,
            receipt.reason
        );
        match format {
            Format::Table => println!("{line}\n"),
            _ => eprintln!("{line}"),
        }
    }
    show_receipt(&v, format)?;
    let confirmed = receipt.propagation.is_some_and(|p| p.confirmed);
    if wait.is_some() && !confirmed {
        // The offboarding is done; some replica did not confirm it.
        std::process::exit(3);
    }
    Ok(())
}

pub async fn reinstate(api: &Client, username: &str, reason: &str) -> anyhow::Result<()> {
    let path = format!("/staff/{username}/reinstate");
    let body = json!({ "reason": reason });
    pretty(&api.call(Method::POST, &path, Some(body)).await?);
    Ok(())
}

fn show_receipt(v: &Value, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Table => render::receipt(v),
        Format::Json => pretty(&render::with_times(v)),
        Format::Csv => render::rows(format, std::slice::from_ref(v), RECEIPT_COLUMNS)?,
    }
    Ok(())
}

const RECEIPT_COLUMNS: &[(&str, &str)] = &[
    ("offboarded_at", "OFFBOARDED"),
    ("staff", "STAFF"),
    ("name", "NAME"),
    ("by", "BY"),
    ("reason", "REASON"),
    ("tokens_revoked", "TOKENS"),
    ("sessions_ended", "SESSIONS"),
    ("api_keys_revoked", "KEYS"),
];

/// `staffgate offboardings list|show`: receipts, newest first, or one person's.
pub async fn receipts(
    api: &Client,
    command: OffboardingsCmd,
    format: Format,
) -> anyhow::Result<()> {
    match command {
        OffboardingsCmd::List { search, limit } => {
            let q = super::query(&[("q", search), ("limit", Some(limit.to_string()))]);
            let v: Vec<Receipt> = api
                .call_as(Method::GET, &format!("/offboardings?{q}"), None)
                .await?;
            render::rows(format, &render::typed(&v)?, RECEIPT_COLUMNS)
        }
        OffboardingsCmd::Show { username } => {
            let path = format!("/staff/{username}/offboarding");
            show_receipt(&api.call(Method::GET, &path, None).await?, format)
        }
    }
}

/// Lists scheduled offboardings, or cancels one.
pub async fn scheduled(api: &Client, cancel: Option<i64>, format: Format) -> anyhow::Result<()> {
    if let Some(id) = cancel {
        let path = format!("/offboardings/scheduled/{id}");
        api.call(Method::DELETE, &path, None).await?;
        println!("scheduled offboarding #{id} cancelled");
        return Ok(());
    }
    let v: Vec<ScheduledRow> = api
        .call_as(Method::GET, "/offboardings/scheduled", None)
        .await?;
    let cols = [
        ("id", "ID"),
        ("staff", "STAFF"),
        ("at", "AT"),
        ("reason", "REASON"),
        ("created_by", "BY"),
    ];
    render::rows(format, &render::typed(&v)?, &cols)
}

/// After a 202 (the database is slow to take the offboarding), polls for its receipt: HR is
/// told it is done only once it is.
async fn until_recorded(api: &Client, username: &str) -> anyhow::Result<Value> {
    eprintln!("{username}: the offboarding is still being written; waiting for its receipt…");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let path = format!("/staff/{username}/offboarding");
        if let Ok(receipt) = api.call(Method::GET, &path, None).await {
            return Ok(receipt);
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!(
                "{username}: the offboarding was accepted but is not recorded after 2 minutes; it will complete when the database takes it: check `staffgate staff show {username}`"
            );
        }
    }
}
