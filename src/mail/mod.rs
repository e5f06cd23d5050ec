//! E-mail: what is worth telling people, queued in the outbox in the same transaction as
//! the change it reports, and sent by one replica through the company's relay.
//!
//! An SMTP outage delays mail; it never blocks, slows or undoes an offboarding, because
//! the change commits with its queued mail and sending happens apart.

pub mod sender;
mod text;

use std::sync::Arc;

use sqlx::AnyConnection;

pub use text::Lang;

use crate::config::MailConfig;
use crate::domain::receipt::Receipt;
use crate::domain::time::now_millis;
use crate::store::StoreError;
use crate::store::outbox::Mail;

/// A plan with more joiners than this is a bulk import: its joiners are not mailed one by
/// one (the company announces a rollout itself).
pub const MAX_JOINER_MAILS: usize = 200;

/// Builds and queues mails; does nothing while mail is off.
#[derive(Clone)]
pub struct Notices {
    config: Arc<MailConfig>,
}

impl Notices {
    pub fn new(config: MailConfig) -> Notices {
        Notices {
            config: Arc::new(config),
        }
    }

    pub fn enabled(&self) -> bool {
        self.config.host.is_some()
    }

    async fn queue(
        &self,
        conn: &mut AnyConnection,
        kind: &'static str,
        dedupe: Option<String>,
        recipients: Vec<String>,
        body: text::Body,
    ) -> Result<(), StoreError> {
        if !self.enabled() || recipients.is_empty() {
            return Ok(());
        }
        let mail = Mail {
            kind,
            dedupe,
            recipients,
            subject: body.subject,
            text: body.text,
            html: body.html,
        };
        crate::store::outbox::insert(conn, &mail, now_millis()).await
    }

    /// The receipt, to HR and security.
    pub async fn offboarded(
        &self,
        conn: &mut AnyConnection,
        receipt: &Receipt,
    ) -> Result<(), StoreError> {
        let mut to = self.config.hr.clone();
        to.extend(self.config.security_contacts.iter().cloned());
        to.dedup();
        let dedupe = format!("offboarded:{}", receipt.audit_seq);
        self.queue(
            conn,
            "offboarding_receipt",
            Some(dedupe),
            to,
            text::receipt(receipt),
        )
        .await
    }

    /// A joiner's invitation to finish first login.
    pub async fn joined(
        &self,
        conn: &mut AnyConnection,
        username: &str,
        name: &str,
        email: &str,
    ) -> Result<(), StoreError> {
        if email.is_empty() {
            return Ok(());
        }
        let body = text::first_login(Lang::En, name, &self.config.public_url);
        let dedupe = format!("first_login:{username}");
        self.queue(
            conn,
            "first_login",
            Some(dedupe),
            vec![email.to_owned()],
            body,
        )
        .await
    }

    /// A reminder to acknowledge NDA `version`, once per person and version.
    pub async fn nda_required(
        &self,
        conn: &mut AnyConnection,
        person: (&str, &str, &str),
        lang: Lang,
        version: &str,
        title: &str,
    ) -> Result<(), StoreError> {
        let (username, name, email) = person;
        if email.is_empty() {
            return Ok(());
        }
        let body = text::nda(lang, name, version, title, &self.config.public_url);
        let dedupe = format!("nda:{version}:{username}");
        self.queue(
            conn,
            "nda_required",
            Some(dedupe),
            vec![email.to_owned()],
            body,
        )
        .await
    }

    /// The guard held a plan: tell the admins.
    pub async fn guard_tripped(
        &self,
        conn: &mut AnyConnection,
        source: &str,
        plan_id: i64,
        leavers: usize,
        reason: &str,
    ) -> Result<(), StoreError> {
        let body = text::guard(source, plan_id, leavers, reason);
        let dedupe = format!("guard:{plan_id}");
        self.queue(
            conn,
            "guard_alert",
            Some(dedupe),
            self.config.admins.clone(),
            body,
        )
        .await
    }

    pub async fn offboarding_late(
        &self,
        conn: &mut AnyConnection,
        username: &str,
        late_ms: i64,
        code: &str,
    ) -> Result<(), StoreError> {
        let body = text::offboarding_late(username, late_ms, code);
        self.queue(
            conn,
            "offboarding_late",
            None,
            self.config.admins.clone(),
            body,
        )
        .await
    }

    pub fn config(&self) -> &MailConfig {
        &self.config
    }
}

pub use crate::store::outbox::Depth as OutboxDepth;

/// The outbox at a glance: waiting, oldest, sent in the last day, last error.
pub async fn outbox(store: &crate::store::Store) -> Result<OutboxDepth, crate::store::StoreError> {
    crate::store::outbox::depth(store.pool(), crate::domain::time::now_millis()).await
}
