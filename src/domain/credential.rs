//! Opaque bearer credentials: brokered channel tokens (`sgt_…`), admin API keys (`sgk_…`)
//! sign-in sessions (`sgs_…`) and SCIM provisioning tokens (`sgp_…`).
//!
//! Layout: `<prefix>_<43 chars: 256 random bits, base64url><6 chars: CRC-32 of what precedes>`.
//! The fixed prefix and the checksum let secret scanners find leaked credentials with no false
//! positives, and let the broker refuse a mistyped token without touching any table.
//! Only the SHA-256 of the canonical text is ever stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

const RANDOM_BYTES: usize = 32;
const BODY_CHARS: usize = 43;
const CHECK_CHARS: usize = 6;

/// Which kind of credential a string claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A brokered channel token, presented to `/broker/…`.
    BrokeredToken,
    /// An admin API key, presented to `/api/v1/…`.
    ApiKey,
    /// A sign-in session id, as a cookie or a bearer for staff API clients.
    Session,
    /// A SCIM source's bearer token, presented by its identity provider to `/scim/v2/…`.
    ScimToken,
}

impl CredentialKind {
    fn prefix(self) -> &'static str {
        match self {
            CredentialKind::BrokeredToken => "sgt_",
            CredentialKind::ApiKey => "sgk_",
            CredentialKind::Session => "sgs_",
            CredentialKind::ScimToken => "sgp_",
        }
    }

    fn len(self) -> usize {
        self.prefix().len() + BODY_CHARS + CHECK_CHARS
    }
}

/// Why a presented credential was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialFormatError {
    /// Wrong length or prefix.
    #[error("credential has the wrong shape")]
    Shape,
    /// A character outside base64url.
    #[error("credential contains characters that cannot occur in it")]
    Alphabet,
    /// The checksum does not match: a typo or a truncated copy.
    #[error("credential checksum does not match")]
    Checksum,
}

/// SHA-256 of a credential's canonical text: the only form ever stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CredentialHash(pub [u8; 32]);

impl std::hash::Hash for CredentialHash {
    /// The value is already a uniform SHA-256 output: eight of its bytes are a good hash.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl CredentialHash {
    pub fn of(text: &str) -> Self {
        CredentialHash(Sha256::digest(text.as_bytes()).into())
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.0.to_vec()
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(CredentialHash)
    }
}

impl std::fmt::Debug for CredentialHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A hash is not a secret, but a short form is enough to correlate.
        write!(f, "CredentialHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// The CRC-32 of `text` in base64url, on the stack: `parse` runs on every brokered call.
fn checksum(text: &str) -> [u8; CHECK_CHARS] {
    let mut out = [0u8; CHECK_CHARS];
    let written = URL_SAFE_NO_PAD
        .encode_slice(crc32fast::hash(text.as_bytes()).to_be_bytes(), &mut out)
        .expect("4 bytes encode to 6 characters");
    debug_assert_eq!(written, CHECK_CHARS);
    out
}

/// Makes a new credential from the operating system's random source.
pub fn generate(kind: CredentialKind) -> Result<(SecretString, CredentialHash), getrandom::Error> {
    let mut random = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut random)?;
    let mut text = String::with_capacity(kind.len());
    text.push_str(kind.prefix());
    URL_SAFE_NO_PAD.encode_string(random, &mut text);
    let check = checksum(&text);
    text.push_str(std::str::from_utf8(&check).expect("base64url is ASCII"));
    let hash = CredentialHash::of(&text);
    Ok((SecretString::from(text), hash))
}

/// Checks a presented credential's shape and checksum and returns its hash.
pub fn parse(kind: CredentialKind, text: &str) -> Result<CredentialHash, CredentialFormatError> {
    if text.len() != kind.len() || !text.starts_with(kind.prefix()) {
        return Err(CredentialFormatError::Shape);
    }
    let ok = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    if !text.as_bytes()[kind.prefix().len()..].iter().all(ok) {
        return Err(CredentialFormatError::Alphabet);
    }
    let (head, check) = text.split_at(text.len() - CHECK_CHARS);
    if checksum(head) != check.as_bytes() {
        return Err(CredentialFormatError::Checksum);
    }
    Ok(CredentialHash::of(text))
}

/// Telegram bot libraries check that a token looks like `<digits>:<characters>`; tokens for
/// `telegram` channels are handed out in that shape. The digits carry no authority.
pub fn telegram_shape(token_id: i64, token: &str) -> String {
    format!("{token_id}:{token}")
}

/// Strips the optional `<digits>:` Telegram shape before parsing.
pub fn strip_telegram_shape(text: &str) -> &str {
    match text.split_once(':') {
        Some((digits, rest))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            rest
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn generated_tokens_parse_to_the_same_hash() {
        let (token, hash) = generate(CredentialKind::BrokeredToken).unwrap();
        assert_eq!(
            parse(CredentialKind::BrokeredToken, token.expose_secret()),
            Ok(hash)
        );
        assert_eq!(token.expose_secret().len(), 53);
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let (token, _) = generate(CredentialKind::BrokeredToken).unwrap();
        let mut bytes = token.expose_secret().as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(bytes).unwrap();
        assert_eq!(
            parse(CredentialKind::BrokeredToken, &typo),
            Err(CredentialFormatError::Checksum)
        );
    }

    #[test]
    fn api_keys_are_not_tokens() {
        let (key, _) = generate(CredentialKind::ApiKey).unwrap();
        assert_eq!(
            parse(CredentialKind::BrokeredToken, key.expose_secret()),
            Err(CredentialFormatError::Shape)
        );
    }

    #[test]
    fn telegram_shape_round_trips() {
        let (token, hash) = generate(CredentialKind::BrokeredToken).unwrap();
        let shaped = telegram_shape(42, token.expose_secret());
        let stripped = strip_telegram_shape(&shaped);
        assert_eq!(parse(CredentialKind::BrokeredToken, stripped), Ok(hash));
    }

    #[test]
    fn garbage_is_refused_by_shape() {
        for bad in [
            "",
            "sgt_",
            "Bearer x",
            "sgt_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(parse(CredentialKind::BrokeredToken, bad).is_err(), "{bad}");
        }
    }
}
