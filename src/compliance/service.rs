//! The compliance service: the gate's checks, NDA acknowledgements and the HR report,
//! finishing first login, and keeping the verifier's NDA block list current.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde_json::json;

use super::nda::{NdaError, NdaSet};
use super::{Cleared, Facts, GateError, Requester};
use crate::audit::{self, Actor};
use crate::config::ComplianceConfig;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::time::{Millis, now_millis};
use crate::store::nda::{AckRow, NewAck};
use crate::store::{Store, StoreError};
use crate::tokens::Verifier;
use crate::tokens::gate::{GateFacts, Requirements, SecondFactor};

/// Why an acknowledgement was refused.
#[derive(Debug, thiserror::Error)]
pub enum NdaAckError {
    /// No NDA version is in force.
    #[error("no NDA version is in force")]
    NoneInForce,
    /// The version or text the person saw is not the one in force now (changed meanwhile,
    /// or tampered with): they must read it again.
    #[error("the NDA shown was not version {0} as in force now; read it again")]
    Stale(String),
    /// TOTP is required and this session has not met the second factor: an acknowledgement
    /// (and the activation it may complete) comes only from the person, second factor included.
    #[error("pass the second factor (TOTP) in this session first")]
    TotpNotVerified,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who acknowledged a version, and who is still missing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub version: Option<String>,
    pub acknowledged: Vec<AckRow>,
    pub missing: Vec<serde_json::Value>,
}

pub struct Compliance {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub config: ComplianceConfig,
    nda_dir: PathBuf,
    nda: RwLock<Arc<NdaSet>>,
    /// The version the verifier's block list was last computed for.
    gated: RwLock<Option<String>>,
    notices: crate::mail::Notices,
}

impl Compliance {
    pub fn new(
        store: Store,
        verifier: Arc<Verifier>,
        config: ComplianceConfig,
        nda_dir: PathBuf,
        notices: crate::mail::Notices,
    ) -> Result<Compliance, NdaError> {
        let set = NdaSet::load(&nda_dir)?;
        Ok(Compliance {
            store,
            verifier,
            config,
            nda_dir,
            nda: RwLock::new(Arc::new(set)),
            gated: RwLock::new(None),
            notices,
        })
    }

    pub fn nda(&self) -> Arc<NdaSet> {
        self.nda.read().expect("nda lock").clone()
    }

    /// Re-reads `policies/nda` (with the policy reload); a bad folder keeps the old set.
    pub fn reload_nda(&self) -> Result<(), NdaError> {
        let set = NdaSet::load(&self.nda_dir)?;
        *self.nda.write().expect("nda lock") = Arc::new(set);
        Ok(())
    }

    /// A person's TOTP enrolment and acknowledged versions.
    pub async fn facts(&self, staff: &StaffMember) -> Result<Facts, StoreError> {
        let (totp_enrolled, nda_acked) =
            crate::store::nda::first_login_facts(self.store.pool(), staff.id).await?;
        Ok(Facts {
            totp_enrolled,
            nda_acked,
        })
    }

    /// The gate, with the requirements in force and the facts read for `staff`.
    pub fn clear<'a>(
        &self,
        staff: &'a StaffMember,
        facts: &Facts,
        requester: Requester,
    ) -> Result<Cleared<'a>, GateError> {
        let now = now_millis();
        let set = self.nda();
        let nda_missing = (!set.satisfied(&facts.nda_acked, now)).then(|| {
            set.required(now)
                .map(|t| t.version.clone())
                .unwrap_or_default()
        });
        let on = Requirements {
            totp: self.config.require_totp,
            nda: self.config.require_nda,
        };
        let told = GateFacts {
            totp_enrolled: facts.totp_enrolled,
            nda_missing,
        };
        Ok(crate::tokens::gate::clear(staff, on, &told, requester)?)
    }

    /// Whether first login is complete for these facts, in a session that met the second
    /// factor with `factor` (an identity provider's accepted factor stands in for enrolment).
    pub fn first_login_done(&self, facts: &Facts, factor: Option<&SecondFactor>) -> bool {
        let idp = matches!(factor, Some(SecondFactor::Idp(_)));
        (!self.config.require_totp || facts.totp_enrolled || idp)
            && (!self.config.require_nda || self.nda().satisfied(&facts.nda_acked, now_millis()))
    }

    /// Moves a pending person to active once first login is complete; returns them as now.
    pub async fn finish_first_login(
        &self,
        staff: &StaffMember,
        factor: Option<&SecondFactor>,
    ) -> Result<StaffMember, StoreError> {
        if staff.status != StaffStatus::Pending
            || (self.config.require_totp && factor.is_none())
            || !self.first_login_done(&self.facts(staff).await?, factor)
        {
            return Ok(staff.clone());
        }
        let mut tx = self.store.begin().await?;
        let (status, _) = crate::store::staff::lock_state(tx.conn(), staff.id).await?;
        if status != StaffStatus::Pending {
            return Ok(staff.clone());
        }
        crate::store::staff::mark_active(tx.conn(), staff.id, now_millis()).await?;
        let change = audit::Change::FirstLoginDone {
            username: staff.username.to_string(),
            factor: factor.map(|f| f.label().to_owned()),
        };
        audit::record(
            tx.conn(),
            &Actor(format!("staff:{}", staff.username)),
            &change,
        )
        .await?;
        tx.commit().await?;
        let member = StaffMember {
            status: StaffStatus::Active,
            ..staff.clone()
        };
        self.verifier.put_staff(member.clone());
        Ok(member)
    }

    /// Records that `staff` read and accepted the version in force, in `language`, whose
    /// text had `sha256`. Repeating it is harmless; the first record stands.
    #[allow(clippy::too_many_arguments)] // what the acknowledgement records, field by field
    pub async fn acknowledge(
        &self,
        staff: &StaffMember,
        factor_passed: bool,
        version: &str,
        sha256: &str,
        language: &str,
        address: &str,
        user_agent: &str,
    ) -> Result<(), NdaAckError> {
        if self.config.require_totp && !factor_passed {
            return Err(NdaAckError::TotpNotVerified);
        }
        let now = now_millis();
        let set = self.nda();
        let required = set.required(now).ok_or(NdaAckError::NoneInForce)?;
        let shown = set
            .text(version, language)
            .filter(|t| t.version == required.version && t.sha256 == sha256)
            .ok_or_else(|| NdaAckError::Stale(required.version.clone()))?;
        let ua: String = user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(512)
            .collect();
        let mut tx = self.store.begin().await?;
        let fresh = crate::store::nda::insert(
            tx.conn(),
            &NewAck {
                staff_id: staff.id,
                version: &shown.version,
                language: &shown.language,
                text_sha256: &shown.sha256,
                at: now,
                address,
                user_agent: &ua,
            },
        )
        .await?;
        if fresh {
            let change = audit::Change::NdaAcknowledged {
                username: staff.username.to_string(),
                version: shown.version.to_string(),
                language: shown.language.to_string(),
                sha256: shown.sha256.to_string(),
                address: address.to_string(),
            };
            audit::record(
                tx.conn(),
                &Actor(format!("staff:{}", staff.username)),
                &change,
            )
            .await?;
        }
        tx.commit().await?;
        self.verifier.nda_satisfied(staff.id);
        Ok(())
    }

    /// Who acknowledged `version` (default: the one in force), and who of the people who
    /// are not offboarded has not.
    /// Every NDA acknowledgement `staff` made, oldest first (their evidence).
    pub async fn acknowledgements_of(
        &self,
        staff: crate::domain::staff::StaffId,
    ) -> Result<Vec<crate::store::nda::AckRow>, StoreError> {
        crate::store::nda::list(self.store.pool(), None, Some(staff)).await
    }

    pub async fn report(&self, version: Option<&str>) -> Result<Report, StoreError> {
        let set = self.nda();
        let version = version
            .map(str::to_owned)
            .or_else(|| set.required(now_millis()).map(|t| t.version.clone()));
        let acknowledged =
            crate::store::nda::list(self.store.pool(), version.as_deref(), None).await?;
        let done: HashSet<&str> = acknowledged.iter().map(|a| a.username.as_str()).collect();
        let missing = crate::store::staff::list(self.store.pool())
            .await?
            .into_iter()
            .filter(|m| m.status != StaffStatus::Offboarded && !done.contains(m.username.as_str()))
            .map(|m| json!({ "username": m.username, "name": m.name, "email": m.email, "status": m.status }))
            .collect();
        Ok(Report {
            version,
            acknowledged,
            missing,
        })
    }

    /// Keeps the verifier's NDA block list in step with the version in force. Cheap when
    /// nothing changed; called at start and every minute (a version can become effective
    /// by the calendar alone).
    pub async fn refresh_gate(&self) -> Result<(), StoreError> {
        if !self.config.require_nda {
            return Ok(());
        }
        let now = now_millis();
        let set = self.nda();
        let required = set.required(now).cloned();
        let current = required.as_ref().map(|t| t.version.clone());
        if *self.gated.read().expect("gate lock") == current {
            return Ok(());
        }
        let Some(req) = required else {
            self.verifier.set_nda_gate(None, HashSet::new());
            *self.gated.write().expect("gate lock") = None;
            return Ok(());
        };
        let acked = crate::store::nda::versions_by_staff(self.store.pool()).await?;
        let missing: Vec<_> = crate::store::staff::list(self.store.pool())
            .await?
            .into_iter()
            .filter(|m| {
                let versions = acked.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
                !set.satisfied(versions, now)
            })
            .collect();
        self.remind(&missing, &req).await?;
        let blocked = missing.iter().map(|m| m.id).collect();
        let deadline: Millis = req.effective_at() + self.config.nda_grace.as_millis() as Millis;
        self.verifier.set_nda_gate(Some(deadline), blocked);
        *self.gated.write().expect("gate lock") = current;
        Ok(())
    }

    /// Mails active staff who have not acknowledged `req` (once per person and version;
    /// every replica may ask, the outbox keeps one). Joiners get the first-login mail instead.
    async fn remind(
        &self,
        missing: &[crate::domain::staff::StaffMember],
        req: &super::nda::NdaText,
    ) -> Result<(), StoreError> {
        if !self.notices.enabled() {
            return Ok(());
        }
        let languages = crate::store::nda::languages(self.store.pool()).await?;
        let mut tx = self.store.begin().await?;
        for m in missing.iter().filter(|m| m.status == StaffStatus::Active) {
            let lang = crate::mail::Lang::of(languages.get(&m.id).map(String::as_str));
            self.notices
                .nda_required(
                    tx.conn(),
                    (m.username.as_str(), &m.name, &m.email),
                    lang,
                    &req.version,
                    &req.title,
                )
                .await?;
        }
        tx.commit().await
    }
}
