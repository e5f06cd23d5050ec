//! `staffgate offboard`, `reinstate` and `scheduled`: HR's commands.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, pretty, render};
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
    json: bool,
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
    if json {
        pretty(&v)
    } else {
        render::receipt(&v)
    }
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

/// Lists scheduled offboardings, or cancels one.
pub async fn scheduled(api: &Client, cancel: Option<i64>) -> anyhow::Result<()> {
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
    render::table(&render::typed(&v)?, &cols);
    Ok(())
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
