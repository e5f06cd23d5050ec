//! Every error code staffgate answers with: one enum, so the API, the broker, the pages, the
//! CLI and the OpenAPI document agree on each spelling, and a new code is added in one place.

use std::fmt;

macro_rules! error_codes {
    ($($variant:ident = $code:literal,)*) => {
        /// A stable, machine-readable error code (`staff_not_found`, `token_revoked`…).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, for the OpenAPI document and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it is sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    ActionNotInToken = "action_not_in_token",
    ActionNotPermitted = "action_not_permitted",
    ActionUnmapped = "action_unmapped",
    ApiKeyMalformed = "api_key_malformed",
    ApiKeyMissing = "api_key_missing",
    ApiKeyNotFound = "api_key_not_found",
    ApiKeyOwnerNotActive = "api_key_owner_not_active",
    ApiKeyUnknown = "api_key_unknown",
    BackupNotSqlite = "backup_not_sqlite",
    BodyOnReadRefused = "body_on_read_refused",
    BodyTooLarge = "body_too_large",
    BrokerOnOwnListener = "broker_on_own_listener",
    ChannelNotFound = "channel_not_found",
    ChannelSecretMissing = "channel_secret_missing",
    DirectoryAccountDisabled = "directory_account_disabled",
    DirectoryAccountExpired = "directory_account_expired",
    DirectoryAccountLocked = "directory_account_locked",
    DirectoryUnavailable = "directory_unavailable",
    HeadersTooLarge = "headers_too_large",
    Internal = "internal",
    InvalidCredentials = "invalid_credentials",
    InvalidInput = "invalid_input",
    InvalidJson = "invalid_json",
    LogoutTokenInvalid = "logout_token_invalid",
    MethodNotAllowed = "method_not_allowed",
    MethodOverrideRefused = "method_override_refused",
    NdaChanged = "nda_changed",
    NdaInvalid = "nda_invalid",
    NdaNoneInForce = "nda_none_in_force",
    NdaNotAcknowledged = "nda_not_acknowledged",
    NotFound = "not_found",
    NotReady = "not_ready",
    NothingPermitted = "nothing_permitted",
    OidcClaimsUnusable = "oidc_claims_unusable",
    OidcIdTokenInvalid = "oidc_id_token_invalid",
    OidcIssuerMismatch = "oidc_issuer_mismatch",
    OidcNotProvisioned = "oidc_not_provisioned",
    OidcPickupInvalid = "oidc_pickup_invalid",
    OidcProviderRefused = "oidc_provider_refused",
    OidcProviderUnavailable = "oidc_provider_unavailable",
    OidcSourceNotFound = "oidc_source_not_found",
    OidcStateInvalid = "oidc_state_invalid",
    OidcUsernameTaken = "oidc_username_taken",
    PasswordChangeRequired = "password_change_required",
    PasswordExpired = "password_expired",
    PathRejected = "path_rejected",
    PolicyDenied = "policy_denied",
    PolicyInvalid = "policy_invalid",
    ReplicaNotCurrent = "replica_not_current",
    RequestTimeout = "request_timeout",
    RoleForbidden = "role_forbidden",
    ScheduleNotPending = "schedule_not_pending",
    ScimSourceNotFound = "scim_source_not_found",
    ScimTokenNotFound = "scim_token_not_found",
    SessionInvalid = "session_invalid",
    SigninNotAllowed = "signin_not_allowed",
    SigninRateLimited = "signin_rate_limited",
    StaffManagedByDirectory = "staff_managed_by_directory",
    StaffNotActive = "staff_not_active",
    StaffNotFound = "staff_not_found",
    StaffNotOffboarded = "staff_not_offboarded",
    StaffOffboarded = "staff_offboarded",
    StorageFull = "storage_full",
    StorageUnavailable = "storage_unavailable",
    SyncPlanNotFound = "sync_plan_not_found",
    SyncPlanNotHeld = "sync_plan_not_held",
    SyncRunning = "sync_running",
    SyncSourceNotFound = "sync_source_not_found",
    TokenExpired = "token_expired",
    TokenMalformed = "token_malformed",
    TokenMissing = "token_missing",
    TokenNotFound = "token_not_found",
    TokenRevoked = "token_revoked",
    TokenUnknown = "token_unknown",
    TokenWrongChannel = "token_wrong_channel",
    TotpAlreadyEnrolled = "totp_already_enrolled",
    TotpInvalid = "totp_invalid",
    TotpLocked = "totp_locked",
    TotpNotEnrolled = "totp_not_enrolled",
    TotpNotVerified = "totp_not_verified",
    TotpReplayed = "totp_replayed",
    UpstreamEncodingUnsupported = "upstream_encoding_unsupported",
    UpstreamPartialContent = "upstream_partial_content",
    UpstreamTimeout = "upstream_timeout",
    UpstreamUnreachable = "upstream_unreachable",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_distinct_lowercase_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }
}
