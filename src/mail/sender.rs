//! Sends the outbox through the relay, with retries and backoff. Runs on one replica at a
//! time (its lease is taken in `app::jobs`).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailConfig, SmtpSecurity};
use crate::domain::time::{Millis, now_millis};
use crate::store::Store;
use crate::store::outbox::Queued;

/// How often the outbox is looked at: mail waits at most this long after its change.
const TICK: Duration = Duration::from_secs(1);
/// A relay that does not answer within this is treated as down.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the relay cannot be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("mail.ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("mail TLS: {0}")]
    Tls(String),
    #[error("mail.from: {0}")]
    From(String),
}

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The company's relay and who mail comes from.
#[derive(Clone)]
pub struct Relay {
    pub transport: Transport,
    pub from: Mailbox,
}

/// Sets the relay up from the configuration, at start, so a bad CA file or sender stops
/// the daemon; `None` while mail is off.
pub fn relay(c: &MailConfig) -> Result<Option<Relay>, MailSetupError> {
    let Some(host) = c.host.as_deref() else {
        return Ok(None);
    };
    let mut params = TlsParameters::builder(host.to_owned());
    if let Some(path) = &c.ca_file {
        let fail = |reason: String| MailSetupError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| fail(e.to_string()))?;
        params = params.add_root_certificate(cert);
    }
    let params = params
        .build_rustls()
        .map_err(|e| MailSetupError::Tls(e.to_string()))?;
    let (tls, port) = match c.security {
        SmtpSecurity::Plain => (Tls::None, 25),
        SmtpSecurity::StartTls => (Tls::Required(params), 587),
        SmtpSecurity::Tls => (Tls::Wrapper(params), 465),
    };
    let mut builder = Transport::builder_dangerous(host)
        .port(c.port.unwrap_or(port))
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let (Some(user), Some(password)) = (&c.username, &c.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    let from = c
        .from
        .parse()
        .map_err(|e: lettre::address::AddressError| MailSetupError::From(e.to_string()))?;
    Ok(Some(Relay {
        transport: builder.build(),
        from,
    }))
}

/// The wait before attempt `attempts + 1`: 2 s doubling to 5 minutes.
pub fn backoff(attempts: i64) -> Millis {
    let exp = attempts.clamp(0, 20) as u32;
    (2_000i64.saturating_mul(1 << exp.min(8))).min(300_000)
}

/// The outbox job.
pub struct Sender {
    pub store: Store,
    pub relay: Relay,
}

impl Sender {
    pub async fn run(self) {
        loop {
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "mail outbox round failed");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    async fn round(&self) -> Result<(), crate::store::StoreError> {
        for mail in crate::store::outbox::due(self.store.pool(), now_millis(), 20).await? {
            let sent = self.send(&mail).await;
            let mut tx = self.store.begin().await?;
            match sent {
                Ok(()) => {
                    crate::store::outbox::mark_sent(tx.conn(), mail.id, now_millis()).await?;
                    tracing::info!(id = mail.id, kind = %mail.kind, "mail sent");
                }
                Err(reason) => {
                    let next = now_millis() + backoff(mail.attempts);
                    crate::store::outbox::mark_failed(tx.conn(), mail.id, next, &reason).await?;
                    tracing::warn!(id = mail.id, kind = %mail.kind, attempts = mail.attempts + 1, error = %reason, "mail not sent; will retry");
                }
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Sends one mail; the error text names the relay's answer, never a credential.
    async fn send(&self, mail: &Queued) -> Result<(), String> {
        let mut builder = Message::builder()
            .from(self.relay.from.clone())
            .subject(mail.subject.clone());
        for to in &mail.recipients {
            let mailbox: Mailbox = to.parse().map_err(|e| format!("recipient {to}: {e}"))?;
            builder = builder.to(mailbox);
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| format!("building the mail: {e}"))?;
        self.relay
            .transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff(0), 2_000);
        assert_eq!(backoff(1), 4_000);
        assert_eq!(backoff(3), 16_000);
        assert_eq!(backoff(8), 300_000);
        assert_eq!(backoff(50), 300_000);
    }
}
