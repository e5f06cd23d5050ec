//! Every error a client can see, mapped to HTTP in one place.
//! The client gets a stable code and a safe message; the log gets the cause.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::broker::BrokerError;
use crate::broker::route::RouteError;
use crate::channels::ChannelError;
use crate::compliance::GateError;
use crate::directory::DirectoryError;
use crate::offboarding::OffboardError;
use crate::store::StoreError;
use crate::tokens::{Denial, TokenError};

/// An API error: status, stable code, human message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("{field}: {reason}"),
        )
    }

    fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(cause = %cause_chain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the daemon log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = crate::web::answers::ErrorBody {
            error: crate::web::answers::ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let Some(fault) = e.fault() else {
            return ApiError::internal(&e);
        };
        tracing::error!(cause = %cause_chain(&e), code = fault.code(), "storage fault");
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
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, "staff_not_found", msg),
            Offboarded(_) => Self::new(StatusCode::CONFLICT, "staff_offboarded", msg),
            Managed { .. } => Self::new(StatusCode::CONFLICT, "staff_managed_by_directory", msg),
            StatusNotSettable => Self::new(StatusCode::BAD_REQUEST, "invalid_input", msg),
            Field { .. } => Self::new(StatusCode::BAD_REQUEST, "invalid_input", msg),
            Store(s) => s.into(),
        }
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        let msg = e.to_string();
        match e {
            ChannelError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "channel_not_found", msg),
            ChannelError::BadSecret(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_input", msg),
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
            StaffNotActive(_) => Self::new(StatusCode::CONFLICT, "staff_not_active", msg),
            NothingPermitted => Self::new(StatusCode::FORBIDDEN, "nothing_permitted", msg),
            ActionsNotPermitted(_) => Self::new(StatusCode::FORBIDDEN, "action_not_permitted", msg),
            TtlTooLong(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_input", msg),
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, "token_not_found", msg),
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
                Self::new(StatusCode::CONFLICT, "staff_not_active", msg)
            }
            GateError::Refused(TotpNotEnrolled) => {
                Self::new(StatusCode::FORBIDDEN, "totp_not_enrolled", msg)
            }
            GateError::Refused(TotpNotVerified) => {
                Self::new(StatusCode::FORBIDDEN, "totp_not_verified", msg)
            }
            GateError::Refused(NdaNotAcknowledged(_)) => {
                Self::new(StatusCode::FORBIDDEN, "nda_not_acknowledged", msg)
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
            NoneInForce => Self::new(StatusCode::CONFLICT, "nda_none_in_force", msg),
            Stale(_) => Self::new(StatusCode::CONFLICT, "nda_changed", msg),
            TotpNotVerified => Self::new(StatusCode::FORBIDDEN, "totp_not_verified", msg),
            Store(s) => s.into(),
        }
    }
}

impl From<crate::principal::Forbidden> for ApiError {
    fn from(e: crate::principal::Forbidden) -> Self {
        Self::new(StatusCode::FORBIDDEN, "role_forbidden", e.to_string())
    }
}

impl From<crate::principal::api_key::KeyRefusal> for ApiError {
    fn from(e: crate::principal::api_key::KeyRefusal) -> Self {
        use crate::principal::api_key::KeyRefusal::*;
        let msg = e.to_string();
        let code = match e {
            Missing => "api_key_missing",
            Malformed => "api_key_malformed",
            Unknown => "api_key_unknown",
            OwnerNotActive => "api_key_owner_not_active",
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
            Nda(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "nda_invalid", msg),
            Policies(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "policy_invalid", msg),
            Store(s) => s.into(),
        }
    }
}

impl From<OffboardError> for ApiError {
    fn from(e: OffboardError) -> Self {
        use OffboardError::*;
        let msg = e.to_string();
        match e {
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, "staff_not_found", msg),
            Reason(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_input", msg),
            NotOffboarded(_) => Self::new(StatusCode::CONFLICT, "staff_not_offboarded", msg),
            When(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_input", msg),
            AlreadyOffboarded(_) => Self::new(StatusCode::CONFLICT, "staff_offboarded", msg),
            ScheduleNotPending(_) => Self::new(StatusCode::NOT_FOUND, "schedule_not_pending", msg),
            ReceiptCorrupt | Interrupted(_) => ApiError::internal(&e),
            Wait => Self::new(StatusCode::BAD_REQUEST, "invalid_input", msg),
            NotRecorded { fault, .. } | TooManyUnrecorded { fault } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, fault.code(), msg)
            }
            NoReceipt(_) => Self::new(StatusCode::CONFLICT, "staff_not_offboarded", msg),
            Store(s) => s.into(),
        }
    }
}

impl From<crate::directory::sync::SyncError> for ApiError {
    fn from(e: crate::directory::sync::SyncError) -> Self {
        use crate::directory::sync::SyncError::*;
        let msg = e.to_string();
        match e {
            UnknownSource(_) => Self::new(StatusCode::NOT_FOUND, "sync_source_not_found", msg),
            Busy(_) => Self::new(StatusCode::CONFLICT, "sync_running", msg),
            PlanNotFound(_) => Self::new(StatusCode::NOT_FOUND, "sync_plan_not_found", msg),
            PlanNotHeld { .. } => Self::new(StatusCode::CONFLICT, "sync_plan_not_held", msg),
            Ldap(_) => {
                tracing::warn!(error = %msg, "directory sync failed");
                Self::new(StatusCode::BAD_GATEWAY, "directory_unavailable", msg)
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
            RateLimited { .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "signin_rate_limited", msg)
            }
            Refused => Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", msg),
            Offboarded(_) => Self::new(StatusCode::FORBIDDEN, "staff_offboarded", msg),
            Directory(ref cause) => {
                tracing::warn!(error = %cause, "sign-in: directory unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "directory_unavailable",
                    msg,
                )
            }
            NoSession => Self::new(StatusCode::UNAUTHORIZED, "session_invalid", msg),
            Random => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}

impl From<crate::store::BackupError> for ApiError {
    fn from(e: crate::store::BackupError) -> Self {
        use crate::store::BackupError::*;
        match e {
            NotSqlite => Self::new(StatusCode::CONFLICT, "backup_not_sqlite", e.to_string()),
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
            NotEnrolled => Self::new(StatusCode::CONFLICT, "totp_not_enrolled", msg),
            AlreadyEnrolled => Self::new(StatusCode::CONFLICT, "totp_already_enrolled", msg),
            WrongCode => Self::new(StatusCode::UNAUTHORIZED, "totp_invalid", msg),
            Replayed => Self::new(StatusCode::UNAUTHORIZED, "totp_replayed", msg),
            LockedOut { .. } => Self::new(StatusCode::TOO_MANY_REQUESTS, "totp_locked", msg),
            Offboarded(_) => Self::new(StatusCode::FORBIDDEN, "staff_offboarded", msg),
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, "staff_not_found", msg),
            Seed => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        use BrokerError::*;
        let status = match &e {
            NotCurrent => StatusCode::SERVICE_UNAVAILABLE,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Route(RouteError::BadPath | RouteError::MethodOverride) => StatusCode::BAD_REQUEST,
            Route(RouteError::NoToken) | TokenMalformed => StatusCode::UNAUTHORIZED,
            Token(
                Denial::Unknown
                | Denial::Expired
                | Denial::Revoked
                | Denial::StaffNotActive
                | Denial::StaleEpoch,
            ) => StatusCode::UNAUTHORIZED,
            Route(RouteError::Unmapped)
            | WrongChannel
            | ActionNotInToken
            | PolicyDenied
            | Token(Denial::NdaNotAcknowledged) => StatusCode::FORBIDDEN,
            ChannelUnknown => StatusCode::NOT_FOUND,
            SecretMissing => StatusCode::SERVICE_UNAVAILABLE,
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            MethodOverride | BodyOnRead => StatusCode::BAD_REQUEST,
            UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            UpstreamUnreachable | UpstreamEncoding | UpstreamPartial => StatusCode::BAD_GATEWAY,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<crate::apikeys::KeyError> for ApiError {
    fn from(e: crate::apikeys::KeyError) -> Self {
        use crate::apikeys::KeyError::*;
        let msg = e.to_string();
        match e {
            BadName => Self::new(StatusCode::BAD_REQUEST, "invalid_input", msg),
            NotFound(_) => Self::new(StatusCode::NOT_FOUND, "api_key_not_found", msg),
            OwnerNotActive => Self::new(StatusCode::CONFLICT, "staff_not_active", msg),
            Random | BootstrapFile { .. } => ApiError::internal(&e),
            Store(s) => s.into(),
        }
    }
}
