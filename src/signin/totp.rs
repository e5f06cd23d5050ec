//! TOTP (RFC 6238) with the parameters every authenticator app accepts: SHA-1, 6 digits,
//! 30-second steps, one step of clock skew either way. Pure: the database decides replays.

use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const DIGITS: u8 = 6;
pub const STEP_SECS: u64 = 30;
pub const SKEW: u16 = 1;
/// 160 bits, the length RFC 4226 recommends for SHA-1.
pub const SEED_BYTES: usize = 20;

/// Why a TOTP object could not be built (a corrupt seed, or a name authenticator apps refuse).
#[derive(Debug, thiserror::Error)]
#[error("TOTP: {0}")]
pub struct TotpSetupError(String);

fn build(seed: &[u8], account: &str, issuer: &str) -> Result<Totp, TotpSetupError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECS)
        .with_secret(Secret::from(seed.to_vec()))
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(issuer.replace(':', "_")))
        .build()
        .map_err(|e| TotpSetupError(e.to_string()))
}

/// A fresh random seed.
pub fn new_seed() -> Result<[u8; SEED_BYTES], getrandom::Error> {
    let mut seed = [0u8; SEED_BYTES];
    getrandom::fill(&mut seed)?;
    Ok(seed)
}

/// The `otpauth://` URL an authenticator app scans.
pub fn otpauth_url(seed: &[u8], account: &str, issuer: &str) -> Result<String, TotpSetupError> {
    build(seed, account, issuer)?
        .to_url()
        .map_err(|e| TotpSetupError(e.to_string()))
}

/// The seed as base32 in groups of four, for typing into an app by hand.
pub fn key_text(seed: &[u8]) -> String {
    let b32 = Secret::from(seed.to_vec()).to_base32();
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The time step a code matches at `now` (Unix seconds), within the skew; `None` for a wrong
/// or malformed code. Spaces are ignored ("123 456").
pub fn matched_step(seed: &[u8], code: &str, now: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    build(seed, "x", "staffgate").ok()?.check(&code, now)
}

/// The code for a given time: for tests and the end-to-end browser test's "phone".
pub fn code_at(seed: &[u8], now: u64) -> Option<String> {
    Some(
        build(seed, "x", "staffgate")
            .ok()?
            .generate(now)
            .to_string(),
    )
}

/// Ten single-use recovery codes, `xxxxx-xxxxx` (50 random bits each).
pub fn recovery_codes() -> Result<Vec<String>, getrandom::Error> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(10);
    for _ in 0..10 {
        let mut raw = [0u8; 10];
        getrandom::fill(&mut raw)?;
        let chars: String = raw
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        codes.push(format!("{}-{}", &chars[..5], &chars[5..]));
    }
    Ok(codes)
}

/// What is stored of a recovery code: SHA-256 of its normalised form.
pub fn recovery_hash(code: &str) -> [u8; 32] {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(normal.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the 18 published vectors (8 digits, each algorithm with its seed).
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        let mut checked = 0;
        for (time, want1, want256, want512) in table {
            for (alg, seed, want) in [
                (Algorithm::SHA1, &sha1, want1),
                (Algorithm::SHA256, &sha256, want256),
                (Algorithm::SHA512, &sha512, want512),
            ] {
                let totp = Builder::new()
                    .with_algorithm(alg)
                    .with_digits(8)
                    .with_step_duration(30)
                    .with_secret(Secret::from(seed.clone()))
                    .build()
                    .unwrap();
                assert_eq!(totp.generate(time).to_string(), want, "{alg:?} at {time}");
                checked += 1;
            }
        }
        assert_eq!(checked, 18);
    }

    #[test]
    fn codes_match_their_step_and_one_step_either_side_only() {
        let seed = [7u8; SEED_BYTES];
        let now = 1_800_000_000;
        let code = code_at(&seed, now).unwrap();
        assert_eq!(matched_step(&seed, &code, now), Some(now / 30));
        assert_eq!(matched_step(&seed, &code, now + 30), Some(now / 30));
        assert_eq!(matched_step(&seed, &code, now - 30), Some(now / 30));
        assert_eq!(matched_step(&seed, &code, now + 90), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(matched_step(&seed, &spaced, now), Some(now / 30));
    }

    #[test]
    fn malformed_codes_never_match() {
        let seed = [7u8; SEED_BYTES];
        for bad in ["", "12345", "1234567", "abcdef", "12345٣", "１２３４５６"] {
            assert_eq!(matched_step(&seed, bad, 1_800_000_000), None, "{bad:?}");
        }
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_without_formatting() {
        let codes = recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), 10);
        let c = &codes[0];
        assert_eq!(
            recovery_hash(c),
            recovery_hash(&c.to_uppercase().replace('-', " "))
        );
    }

    #[test]
    fn the_key_text_is_base32_in_groups() {
        let text = key_text(&[0u8; SEED_BYTES]);
        assert_eq!(text, "AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA");
    }
}
