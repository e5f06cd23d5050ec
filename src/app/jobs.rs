//! Background jobs. Those that must run on one replica at a time hold a lease each
//! (directory syncs, provider refreshes, the mail outbox, cleanup).
//!
//! Scheduled offboardings are the exception: every replica looks for due ones, because each
//! is claimed and carried out in one transaction (exactly once whoever looks), and a lease
//! would make a failover late by the lease's lifetime, where HR expects the last working
//! day's moment to within a second.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::replica::Lease;
use crate::web::AppState;

use crate::directory::SYNC_JOB as DIRECTORY;

/// How long expired tokens stay in the database for the access review.
const TOKEN_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A running job and the lease it holds (`None`: it needs none).
type Job = (Option<&'static str>, JoinHandle<()>);

fn lease(state: &AppState, name: &'static str) -> Lease {
    Lease {
        store: state.store.clone(),
        name,
        holder: state.presence.id.clone(),
        timing: state.presence.lease,
    }
}

/// Starts every job.
pub fn spawn(state: &Arc<AppState>) -> Vec<Job> {
    let mut jobs = Vec::new();
    jobs.push((None, tokio::spawn(scheduled(state.clone()))));
    let s = state.clone();
    jobs.push((
        Some("cleanup"),
        tokio::spawn(lease(state, "cleanup").run(move || cleanup(s.clone()))),
    ));
    if let Some(relay) = state.mail.clone() {
        let store = state.store.clone();
        jobs.push((
            Some("mail_outbox"),
            tokio::spawn(
                lease(state, "mail_outbox").run(move || outbox(store.clone(), relay.clone())),
            ),
        ));
    }
    if !state.sync.sources.is_empty() || !state.sync.pulls.is_empty() {
        let s = state.clone();
        jobs.push((
            Some(DIRECTORY),
            tokio::spawn(lease(state, DIRECTORY).run(move || directory(s.clone()))),
        ));
    }
    if !state.signin.oidc.all().is_empty() {
        let s = state.clone();
        jobs.push((
            Some("oidc_refresh"),
            tokio::spawn(lease(state, "oidc_refresh").run(move || oidc_refresh(s.clone()))),
        ));
    }
    jobs
}

/// Refreshes provider sessions as each source's interval comes round (checked every second).
async fn oidc_refresh(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for provider in state.signin.oidc.all() {
            match state.signin.oidc_refresh_due(provider).await {
                Ok(round) if round != Default::default() => {
                    tracing::info!(source = %provider.config.name, ?round, "provider sessions refreshed")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(source = %provider.config.name, error = %e, "provider refresh round failed")
                }
            }
        }
    }
}

/// Stops the jobs and gives their leases up, so another replica takes over at once.
pub async fn stop(state: &AppState, jobs: Vec<Job>) {
    for (name, job) in jobs {
        job.abort();
        let _ = job.await;
        if let Some(name) = name {
            lease(state, name).release().await;
        }
    }
}

/// Carries out scheduled offboardings (a quarter-second tick keeps them under a second late)
/// and writes the offboardings the database refused earlier.
async fn scheduled(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.offboarding.retry_owed().await;
        if let Err(e) = state.offboarding.run_due().await {
            tracing::error!(error = %e, "scheduled offboarding failed; retrying on the next tick");
        }
    }
}

/// Sends queued mail.
async fn outbox(store: crate::store::Store, relay: crate::mail::sender::Relay) {
    crate::mail::sender::Sender { store, relay }.run().await
}

/// Every directory source's sync loop; they stop when the lease is lost.
async fn directory(state: Arc<AppState>) {
    let running: Vec<_> = state
        .sync
        .spawn_all()
        .into_iter()
        .map(tokio_util::task::AbortOnDropHandle::new)
        .collect();
    futures_util::future::join_all(running).await;
}

/// Once a minute: old sessions, failures, acknowledgements and long-expired tokens go.
async fn cleanup(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let now = crate::domain::time::now_millis();
        let result = async {
            let mut tx = state.store.begin().await?;
            let done =
                crate::store::cleanup::prune(tx.conn(), now, TOKEN_RETENTION.as_millis() as i64)
                    .await?;
            tx.commit().await?;
            Ok::<_, crate::store::StoreError>(done)
        }
        .await;
        match result {
            Ok(done) if !done.is_empty() => tracing::info!(?done, "cleanup removed old rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cleanup failed; retrying in a minute"),
        }
    }
}
