//! Every form in which an upstream may reflect a channel secret back, as one matcher built
//! when the channel is loaded.
//!
//! Upstreams echo what they were sent: query strings percent-encoded (either hex case, `+`
//! for a space, some characters encoded and some not), JSON with `\/` and `\u003a` escapes
//! (PHP's default), HTML with character references, a header value base64-encoded (at any
//! of three alignments inside a longer base64 string, in either alphabet), or hex. Each
//! character of the secret may take any of its forms independently, so the secret is one
//! regular expression: per character an alternation of its forms, concatenated; plus the
//! whole-secret base64 and hex forms as alternatives. Matching runs on bytes (`regex`'s
//! DFA), so it costs one pass over the response.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use regex::bytes::{Regex, RegexBuilder};

/// The longest form one character can take here (`&#x0000` + 6 hex digits + `;`, or two
/// `\uXXXX` escapes): bounds how much of a stream must be held back.
const LONGEST_CHAR_FORM: usize = 16;

/// The matcher for one secret.
pub struct SecretMatcher {
    regex: Regex,
    /// No match is longer than this.
    pub max_len: usize,
}

impl std::fmt::Debug for SecretMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretMatcher(..)")
    }
}

impl SecretMatcher {
    /// Builds the matcher for `secret` (non-empty text).
    pub fn new(secret: &str) -> SecretMatcher {
        let mut alternatives = vec![per_character(secret)];
        alternatives.extend(whole_forms(secret.as_bytes()).iter().map(|f| literal(f)));
        let pattern = format!("(?-u:{})", alternatives.join("|"));
        let regex = RegexBuilder::new(&pattern)
            .unicode(false)
            .size_limit(64 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .expect("an escaped pattern always compiles");
        let max_len = secret.chars().count() * LONGEST_CHAR_FORM;
        SecretMatcher { regex, max_len }
    }

    /// Overwrites every reflected form in `buf` with `*`, at the same length.
    pub fn mask(&self, buf: &mut [u8]) {
        let found: Vec<(usize, usize)> = self
            .regex
            .find_iter(buf)
            .map(|m| (m.start(), m.end()))
            .collect();
        for (start, end) in found {
            buf[start..end].fill(b'*');
        }
    }

    /// Whether `buf` holds the secret in any form.
    pub fn found_in(&self, buf: &[u8]) -> bool {
        self.regex.is_match(buf)
    }
}

/// `\xHH` for any byte, so every pattern piece is inert.
fn literal(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\x{b:02x}")).collect()
}

/// Hex digits that match in either case: `4a` → `4[aA]`.
fn either_case(hex: &str) -> String {
    hex.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c, c.to_ascii_uppercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A byte as two hex digits in either case.
fn hex_either_case(b: u8) -> String {
    either_case(&format!("{b:02x}"))
}

/// Hex digits of `n` in either case, with up to four leading zeros.
fn hex_number(n: u32) -> String {
    format!("0{{0,4}}{}", either_case(&format!("{n:x}")))
}

/// A JSON `\uXXXX` escape (the hex digits in either case; JSON requires lower-case `u`).
fn json_unit(unit: u16) -> String {
    format!("\\\\u{}", either_case(&format!("{unit:04x}")))
}

/// Every form of one character.
fn char_forms(c: char) -> String {
    let mut utf8 = [0u8; 4];
    let raw = c.encode_utf8(&mut utf8).as_bytes();
    let mut forms = vec![literal(raw)];
    // Percent-encoded, byte by byte, either hex case.
    forms.push(
        raw.iter()
            .map(|b| format!("%{}", hex_either_case(*b)))
            .collect(),
    );
    // Mixed: for a multi-byte character each byte may be encoded or not.
    if raw.len() > 1 {
        forms.push(
            raw.iter()
                .map(|b| format!("(?:\\x{b:02x}|%{})", hex_either_case(*b)))
                .collect(),
        );
    }
    if c == ' ' {
        forms.push("\\+".into());
    }
    // JSON escapes.
    let mut units = [0u16; 2];
    forms.push(
        c.encode_utf16(&mut units)
            .iter()
            .map(|u| json_unit(*u))
            .collect(),
    );
    if c == '/' {
        forms.push("\\\\/".into());
    }
    // HTML character references, decimal and hex, and the named ones for markup.
    forms.push(format!("&#0{{0,4}}{};", c as u32));
    forms.push(format!("&#[xX]{};", hex_number(c as u32)));
    let named = match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        '/' => Some("&sol;"),
        ':' => Some("&colon;"),
        '=' => Some("&equals;"),
        _ => None,
    };
    if let Some(n) = named {
        forms.push(literal(n.as_bytes()));
    }
    format!("(?:{})", forms.join("|"))
}

fn per_character(secret: &str) -> String {
    secret.chars().map(char_forms).collect()
}

/// The base64 (both alphabets, three alignments) and hex forms of the whole secret.
fn whole_forms(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for shift in 0..3 {
            if let Some(core) = base64_core(engine, secret, shift) {
                forms.push(core);
            }
        }
    }
    let hex = hex::encode(secret);
    forms.push(hex.to_ascii_uppercase().into_bytes());
    forms.push(hex.into_bytes());
    forms.dedup();
    forms
}

/// The characters of base64(`shift` unknown bytes + `secret` + unknown bytes) that depend on
/// the secret's bytes alone: what shows wherever the secret sits in a longer encoded value.
fn base64_core(
    engine: &base64::engine::GeneralPurpose,
    secret: &[u8],
    shift: usize,
) -> Option<Vec<u8>> {
    let mut input = vec![0u8; shift];
    input.extend_from_slice(secret);
    let encoded = engine.encode(&input);
    // Characters whose 6 bits all lie inside the secret's bits.
    let start = (shift * 8).div_ceil(6);
    let end = (input.len() * 8) / 6;
    (end > start + 3).then(|| encoded.as_bytes()[start..end].to_vec())
}

#[cfg(test)]
mod tests;
