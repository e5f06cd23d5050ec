//! Every error a client can see, mapped to HTTP in one place.
//! The client gets a stable code and a safe message; the log gets the cause.

use crate::domain::ErrorCode;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::broker::BrokerError;
use crate::channels::ChannelError;
use crate::compliance::GateError;
use crate::directory::DirectoryError;
use crate::offboarding::OffboardError;
use crate::store::StoreError;
use crate::tokens::TokenError;

/// An API error: status, stable code, human message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// For a lockout or a rate limit: how long to wait, sent as `Retry-After`.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn bad_request(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput,
            format!("{field}: {reason}"),
        )
    }

    fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(cause = %cause_chain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; see the daemon log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = crate::web::answers::ErrorBody {
            error: crate::web::answers::ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<crate::provisioning::ProvisioningError> for ApiError {
    fn from(e: crate::provisioning::ProvisioningError) -> Self {
        use crate::provisioning::ProvisioningError as P;
        let msg = e.to_string();
        match e {
            P::UnknownSource(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::ScimSourceNotFound, msg)
            }
            P::NotFound => Self::new(StatusCode::NOT_FOUND, ErrorCode::ScimTokenNotFound, msg),
            P::Store(e) => e.into(),
            other => ApiError::internal(&other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let Some(fault) = e.fault() else {
            return ApiError::internal(&e);
        };
        tracing::error!(cause = %cause_chain(&e), code = fault.code().as_str(), "storage fault");
        let message = match fault {
            crate::store::StorageFault::Full => {
                "the database's disk is full: the change was not made; free space and try again"
            }
            crate::store::StorageFault::Unavailable => {
                "the database cannot be written now: the change was not made or not confirmed; try again (repeating it is safe)"
            }
        };
        Self::new(StatusCode::SERVICE_UNAVAILABLE, fault.code(), message)
    }
}

fn cause_chain(cause: &dyn std::error::Error) -> String {
    let mut chain = cause.to_string();
    let mut source = cause.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    chain
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        use DirectoryError::*;
        let msg = e.to_string();
        match e {
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, ErrorCode::StaffNotFound, msg),
            Offboarded(_) => Self::new(StatusCode::CONFLICT, ErrorCode::StaffOffboarded, msg),
            Managed { .. } => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::StaffManagedByDirectory,
                msg,
            ),
            StatusNotSettable => Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg),
            Field { .. } => Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg),
            Store(s) => s.into(),
        }
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        let msg = e.to_string();
        match e {
            ChannelError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::ChannelNotFound, msg)
            }
            ChannelError::BadSecret(_) => {
                Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg)
            }
            ChannelError::Store(s) => s.into(),
            ChannelError::Secrets(s) => ApiError::internal(&s),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        use TokenError::*;
        let msg = e.to_string();
        match e {
            StaffNotActive(_) => Self::new(StatusCode::CONFLICT, ErrorCode::StaffNotActive, msg),
            NothingPermitted => Self::new(StatusCode::FORBIDDEN, ErrorCode::NothingPermitted, msg),
            ActionsNotPermitted(_) => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::ActionNotPermitted, msg)
            }
            TtlTooLong(_) => Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg),
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, ErrorCode::TokenNotFound, msg),
            Random => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        use crate::tokens::gate::GateRefusal::*;
        let msg = e.to_string();
        match e {
            GateError::Refused(NotActive(_)) => {
                Self::new(StatusCode::CONFLICT, ErrorCode::StaffNotActive, msg)
            }
            GateError::Refused(TotpNotEnrolled) => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::TotpNotEnrolled, msg)
            }
            GateError::Refused(TotpNotVerified) => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::TotpNotVerified, msg)
            }
            GateError::Refused(NdaNotAcknowledged(_)) => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::NdaNotAcknowledged, msg)
            }
            GateError::Token(t) => t.into(),
        }
    }
}

impl From<crate::compliance::NdaAckError> for ApiError {
    fn from(e: crate::compliance::NdaAckError) -> Self {
        use crate::compliance::NdaAckError::*;
        let msg = e.to_string();
        match e {
            NoneInForce => Self::new(StatusCode::CONFLICT, ErrorCode::NdaNoneInForce, msg),
            Stale(_) => Self::new(StatusCode::CONFLICT, ErrorCode::NdaChanged, msg),
            TotpNotVerified => Self::new(StatusCode::FORBIDDEN, ErrorCode::TotpNotVerified, msg),
            Store(s) => s.into(),
        }
    }
}

impl From<crate::principal::Forbidden> for ApiError {
    fn from(e: crate::principal::Forbidden) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::RoleForbidden,
            e.to_string(),
        )
    }
}

impl From<crate::principal::api_key::KeyRefusal> for ApiError {
    fn from(e: crate::principal::api_key::KeyRefusal) -> Self {
        use crate::principal::api_key::KeyRefusal::*;
        let msg = e.to_string();
        let code = match e {
            Missing => ErrorCode::ApiKeyMissing,
            Malformed => ErrorCode::ApiKeyMalformed,
            Unknown => ErrorCode::ApiKeyUnknown,
            OwnerNotActive => ErrorCode::ApiKeyOwnerNotActive,
            Store(s) => return s.into(),
        };
        Self::new(StatusCode::UNAUTHORIZED, code, msg)
    }
}

impl From<crate::compliance::ReloadError> for ApiError {
    fn from(e: crate::compliance::ReloadError) -> Self {
        use crate::compliance::ReloadError::*;
        let msg = e.to_string();
        match e {
            Nda(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::NdaInvalid, msg),
            Policies(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::PolicyInvalid,
                msg,
            ),
            Store(s) => s.into(),
        }
    }
}

impl From<OffboardError> for ApiError {
    fn from(e: OffboardError) -> Self {
        use OffboardError::*;
        let msg = e.to_string();
        match e {
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, ErrorCode::StaffNotFound, msg),
            Reason(_) => Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg),
            NotOffboarded(_) => Self::new(StatusCode::CONFLICT, ErrorCode::StaffNotOffboarded, msg),
            When(_) => Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg),
            AlreadyOffboarded(_) => {
                Self::new(StatusCode::CONFLICT, ErrorCode::StaffOffboarded, msg)
            }
            ScheduleNotPending(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::ScheduleNotPending, msg)
            }
            ReceiptCorrupt | Interrupted(_) => ApiError::internal(&e),
            Wait => Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg),
            NotRecorded { fault, .. } | TooManyUnrecorded { fault } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, fault.code(), msg)
            }
            NoReceipt(_) => Self::new(StatusCode::CONFLICT, ErrorCode::StaffNotOffboarded, msg),
            Store(s) => s.into(),
        }
    }
}

impl From<crate::directory::sync::SyncError> for ApiError {
    fn from(e: crate::directory::sync::SyncError) -> Self {
        use crate::directory::sync::SyncError::*;
        let msg = e.to_string();
        match e {
            UnknownSource(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::SyncSourceNotFound, msg)
            }
            Busy(_) => Self::new(StatusCode::CONFLICT, ErrorCode::SyncRunning, msg),
            PlanNotFound(_) => Self::new(StatusCode::NOT_FOUND, ErrorCode::SyncPlanNotFound, msg),
            PlanNotHeld { .. } => Self::new(StatusCode::CONFLICT, ErrorCode::SyncPlanNotHeld, msg),
            Ldap(_) | Pull(_) => {
                tracing::warn!(error = %msg, "directory sync failed");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::DirectoryUnavailable,
                    msg,
                )
            }
            Offboard(o) => o.into(),
            Corrupt(_) => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}

impl From<crate::signin::SigninError> for ApiError {
    fn from(e: crate::signin::SigninError) -> Self {
        use crate::signin::SigninError::*;
        let msg = e.to_string();
        match e {
            RateLimited { retry_after_secs } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::SigninRateLimited,
                msg,
            )
            .retry_after(retry_after_secs),
            Refused => Self::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials, msg),
            Offboarded(_) => Self::new(StatusCode::FORBIDDEN, ErrorCode::StaffOffboarded, msg),
            Account { state, .. } => {
                use crate::directory::ldap::AccountState::*;
                let code = match state {
                    MustChangePassword => ErrorCode::PasswordChangeRequired,
                    PasswordExpired => ErrorCode::PasswordExpired,
                    Locked => ErrorCode::DirectoryAccountLocked,
                    Disabled => ErrorCode::DirectoryAccountDisabled,
                    AccountExpired => ErrorCode::DirectoryAccountExpired,
                    OutsideHours | WrongWorkstation => ErrorCode::SigninNotAllowed,
                };
                Self::new(StatusCode::FORBIDDEN, code, msg)
            }
            Directory(ref cause) => {
                tracing::warn!(error = %cause, "sign-in: directory unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::DirectoryUnavailable,
                    msg,
                )
            }
            NoSession => Self::new(StatusCode::UNAUTHORIZED, ErrorCode::SessionInvalid, msg),
            Oidc(ref cause) => {
                use crate::directory::oidc::OidcError as O;
                let (status, code) = match cause {
                    O::UnknownSource(_) => (StatusCode::NOT_FOUND, ErrorCode::OidcSourceNotFound),
                    O::Discovery(_) | O::Provider(_) | O::Userinfo(_) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        ErrorCode::OidcProviderUnavailable,
                    ),
                    O::Exchange(_) => (StatusCode::BAD_GATEWAY, ErrorCode::OidcProviderRefused),
                    O::NoIdToken | O::UnknownKey | O::IdToken(_) => {
                        (StatusCode::UNAUTHORIZED, ErrorCode::OidcIdTokenInvalid)
                    }
                    O::MissingClaim(_) | O::BadUsername(_) | O::TooManyGroups(_) => {
                        (StatusCode::FORBIDDEN, ErrorCode::OidcClaimsUnusable)
                    }
                };
                tracing::warn!(error = %cause, "OpenID Connect sign-in refused");
                Self::new(status, code, msg)
            }
            OidcState => Self::new(StatusCode::BAD_REQUEST, ErrorCode::OidcStateInvalid, msg),
            OidcIssuer => Self::new(StatusCode::BAD_REQUEST, ErrorCode::OidcIssuerMismatch, msg),
            OidcProviderRefused(_) => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::OidcProviderRefused, msg)
            }
            OidcUsernameTaken { .. } => {
                Self::new(StatusCode::CONFLICT, ErrorCode::OidcUsernameTaken, msg)
            }
            OidcNotProvisioned => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::OidcNotProvisioned, msg)
            }
            OidcApply(_) => ApiError::internal(&e),
            OidcPickup => Self::new(StatusCode::BAD_REQUEST, ErrorCode::OidcPickupInvalid, msg),
            LogoutToken(_) => {
                Self::new(StatusCode::BAD_REQUEST, ErrorCode::LogoutTokenInvalid, msg)
            }
            Random => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}

impl From<crate::store::BackupError> for ApiError {
    fn from(e: crate::store::BackupError) -> Self {
        use crate::store::BackupError::*;
        match e {
            NotSqlite => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::BackupNotSqlite,
                e.to_string(),
            ),
            File(_) => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}

impl From<crate::signin::FactorError> for ApiError {
    fn from(e: crate::signin::FactorError) -> Self {
        use crate::signin::FactorError::*;
        let msg = e.to_string();
        match e {
            NotEnrolled => Self::new(StatusCode::CONFLICT, ErrorCode::TotpNotEnrolled, msg),
            AlreadyEnrolled => Self::new(StatusCode::CONFLICT, ErrorCode::TotpAlreadyEnrolled, msg),
            WrongCode => Self::new(StatusCode::UNAUTHORIZED, ErrorCode::TotpInvalid, msg),
            Replayed => Self::new(StatusCode::UNAUTHORIZED, ErrorCode::TotpReplayed, msg),
            LockedOut { retry_after_secs } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::TotpLocked, msg)
                    .retry_after(retry_after_secs)
            }
            Offboarded(_) => Self::new(StatusCode::FORBIDDEN, ErrorCode::StaffOffboarded, msg),
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, ErrorCode::StaffNotFound, msg),
            Seed => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        let (status, code) = e.answer();
        Self::new(status, code, e.to_string())
    }
}

impl From<crate::apikeys::KeyError> for ApiError {
    fn from(e: crate::apikeys::KeyError) -> Self {
        use crate::apikeys::KeyError::*;
        let msg = e.to_string();
        match e {
            BadName => Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg),
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, ErrorCode::ApiKeyNotFound, msg),
            OwnerNotActive => Self::new(StatusCode::CONFLICT, ErrorCode::StaffNotActive, msg),
            Random | BootstrapFile { .. } => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}
