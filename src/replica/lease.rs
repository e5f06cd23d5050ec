//! Background jobs that must run on one replica at a time hold a lease in the database.
//!
//! The holder renews every [`RENEW`]; a lease not renewed for [`TTL`] may be taken by another
//! replica. A holder that could not renew for `TTL - RENEW` stops its job first, so two
//! replicas never run it at once even when the holder lost the database.

use std::future::Future;
use std::time::Duration;

use tokio_util::task::AbortOnDropHandle;

use crate::domain::time::{Millis, now_millis};
use crate::store::Store;

pub const TTL: Duration = Duration::from_secs(5);
pub const RENEW: Duration = Duration::from_millis(1_500);

/// One job's lease, held for one replica.
pub struct Lease {
    pub store: Store,
    pub name: &'static str,
    pub holder: String,
}

impl Lease {
    async fn try_take(&self) -> Result<bool, crate::store::StoreError> {
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        let got = crate::store::leases::acquire(
            tx.conn(),
            self.name,
            &self.holder,
            now,
            now + TTL.as_millis() as Millis,
        )
        .await?;
        tx.commit().await?;
        Ok(got)
    }

    /// Runs the job `start` makes while this replica holds the lease, for as long as the
    /// daemon runs; starts it again after taking the lease back.
    pub async fn run<F, Fut>(self, start: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut tick = tokio::time::interval(RENEW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut job: Option<AbortOnDropHandle<()>> = None;
        let mut renewed: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            match tokio::time::timeout(RENEW, self.try_take()).await {
                Ok(Ok(true)) => {
                    renewed = Some(tokio::time::Instant::now());
                    if job.as_ref().is_none_or(|j| j.is_finished()) {
                        tracing::info!(job = self.name, "took the lease; running the job here");
                        job = Some(AbortOnDropHandle::new(tokio::spawn(start())));
                    }
                }
                Ok(Ok(false)) => {
                    if job.take().is_some() {
                        tracing::warn!(
                            job = self.name,
                            "lease taken by another replica; stopped the job here"
                        );
                    }
                    renewed = None;
                }
                Ok(Err(_)) | Err(_) => {
                    let expiring = renewed.is_none_or(|at| at.elapsed() >= TTL - RENEW);
                    if expiring && job.take().is_some() {
                        tracing::warn!(
                            job = self.name,
                            "cannot renew the lease; stopped the job here"
                        );
                    }
                }
            }
        }
    }

    /// Gives the lease up (on a clean stop), so another replica takes it at once.
    pub async fn release(&self) {
        let result = async {
            let mut tx = self.store.begin().await?;
            crate::store::leases::release(tx.conn(), self.name, &self.holder).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, job = self.name, "could not release the lease");
        }
    }
}
