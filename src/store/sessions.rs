//! Sign-in sessions. Sign-in itself comes with the LDAP and first-login work; offboarding
//! already ends every session.

use sqlx::AnyConnection;

use super::StoreError;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

/// Ends every open session of a staff member; returns how many.
pub async fn revoke_for_staff(
    conn: &mut AnyConnection,
    staff: StaffId,
    now: Millis,
) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE staff_id = $1 AND revoked_at IS NULL AND expires_at > $2")
        .bind(staff)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}
