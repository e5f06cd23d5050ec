//! Time as stored: milliseconds since the Unix epoch, UTC.

use chrono::{DateTime, TimeZone, Utc};

pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn to_datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Reads an RFC 3339 time back into milliseconds (the other half of [`serialize_millis`]).
pub fn deserialize_millis<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Millis, D::Error> {
    let at: chrono::DateTime<chrono::Utc> = serde::Deserialize::deserialize(de)?;
    Ok(at.timestamp_millis())
}

/// Serialises stored milliseconds as an RFC 3339 time.
pub fn serialize_millis<S: serde::Serializer>(ms: &Millis, ser: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&to_datetime(*ms), ser)
}
