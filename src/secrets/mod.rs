//! Secrets at rest: sealed with XChaCha20-Poly1305 under a master key kept outside the database.
//!
//! A sealed value is `version(1) || nonce(24) || ciphertext+tag`. The associated data names
//! what the value is (`channel:telegram-support`), so a ciphertext copied onto another row
//! does not open.

pub mod reflect;

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Why the master key or a sealed value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The key file exists but is not 32 bytes (raw) or 64 hex characters.
    #[error(
        "master key file {path} holds {found} bytes: expected 32 raw bytes or 64 hex characters (as `openssl rand -hex 32` writes)"
    )]
    BadKeyFile { path: String, found: usize },
    /// No key file, next to a database that holds values sealed under a key.
    #[error(
        "master key file {path} is missing, but the database holds values sealed under this deployment's master key: put the key file back (copy it from another replica or your backup); a new key would open none of them, so none was created"
    )]
    KeyFileMissing { path: String },
    /// The key file's key is not the one the database's values are sealed under.
    #[error(
        "the master key in {path} is not this deployment's: the database's key check does not open under it. Every replica needs the same key file: copy it from a running replica or your backup"
    )]
    KeyMismatch { path: String },
    /// The key file could not be read or created.
    #[error("master key file {path}: {source}")]
    KeyFileIo {
        path: String,
        source: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("random source failed")]
    Random,
    /// A sealed value failed authentication: wrong key, wrong row or tampering.
    #[error("sealed value does not open under this master key")]
    Open,
}

/// The key that seals channel secrets and TOTP seeds. Never leaves memory.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Reads the key at `path`, creating it (mode 0600) when missing.
    pub fn load_or_create(path: &Path) -> Result<(MasterKey, bool), SecretsError> {
        match Self::load(path)? {
            Some(key) => Ok((key, false)),
            None => Ok((Self::create(path)?, true)),
        }
    }

    /// Reads the key at `path`; `None` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<MasterKey>, SecretsError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(Self::from_file_bytes(path, &bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SecretsError::KeyFileIo {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes a new random key to `path` (mode 0600; never over an existing file).
    pub fn create(path: &Path) -> Result<MasterKey, SecretsError> {
        let io = |source| SecretsError::KeyFileIo {
            path: path.display().to_string(),
            source,
        };
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|_| SecretsError::Random)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        write_private(path, hex::encode(key).as_bytes()).map_err(io)?;
        Ok(Self::from_bytes(&key))
    }

    /// 32 raw bytes, or 64 hex characters with optional surrounding whitespace.
    fn from_file_bytes(path: &Path, bytes: &[u8]) -> Result<MasterKey, SecretsError> {
        let bad = || SecretsError::BadKeyFile {
            path: path.display().to_string(),
            found: bytes.len(),
        };
        if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
            // 32 bytes that are all hex digits would be a 16-byte hex key: not ours.
            return Ok(Self::from_bytes(&raw));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad())?.trim();
        if text.len() != 64 {
            return Err(bad());
        }
        let key: [u8; 32] = hex::decode(text)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(bad)?;
        Ok(Self::from_bytes(&key))
    }

    pub fn from_bytes(key: &[u8; 32]) -> MasterKey {
        MasterKey {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Seals `plain`, binding it to `context`.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SecretsError::Random)?;
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Open)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed under `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<SecretBox<[u8]>, SecretsError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(SecretsError::Open);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Open)?;
        Ok(SecretBox::new(plain.into_boxed_slice()))
    }

    pub fn open_string(&self, context: &str, sealed: &[u8]) -> Result<SecretString, SecretsError> {
        let plain = self.open(context, sealed)?;
        let text = std::str::from_utf8(plain.expose_secret()).map_err(|_| SecretsError::Open)?;
        Ok(SecretString::from(text.to_owned()))
    }
}

/// Serialises a secret into the one answer that hands it out (a new token or API key).
/// Only fields that are shown exactly once use this.
pub fn show_once<S: serde::Serializer>(secret: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(secret.expose_secret())
}

/// Writes a file only its owner can read, refusing to follow an existing file.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let key = MasterKey::from_bytes(&[7; 32]);
        let sealed = key.seal("channel:a", b"bot-secret").unwrap();
        assert!(!sealed.windows(10).any(|w| w == b"bot-secret"));
        assert_eq!(
            key.open("channel:a", &sealed).unwrap().expose_secret(),
            b"bot-secret"
        );
        assert!(key.open("channel:b", &sealed).is_err());
        assert!(
            MasterKey::from_bytes(&[8; 32])
                .open("channel:a", &sealed)
                .is_err()
        );
    }

    #[test]
    fn a_key_file_is_32_raw_bytes_or_64_hex_characters() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.key");
        std::fs::write(&raw, [0xA5u8; 32]).unwrap();
        let hexed = dir.path().join("hex.key");
        std::fs::write(&hexed, format!("{}\n", hex::encode([0xA5u8; 32]))).unwrap();
        let (a, b) = (
            MasterKey::load(&raw).unwrap().unwrap(),
            MasterKey::load(&hexed).unwrap().unwrap(),
        );
        let sealed = a.seal("c", b"x").unwrap();
        assert!(b.open("c", &sealed).is_ok(), "the same key in both forms");
        let short = dir.path().join("short.key");
        std::fs::write(&short, "abcd").unwrap();
        let e = MasterKey::load(&short).unwrap_err().to_string();
        assert!(
            e.contains("holds 4 bytes: expected 32 raw bytes or 64 hex characters"),
            "{e}"
        );
    }

    #[test]
    fn a_new_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (_, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (_, created_again) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created_again);
    }
}
