use base64::Engine;
use proptest::prelude::*;

use super::*;

const SECRET: &str = "123456:AAH-x/y+z_Q=&k";

fn masked(secret: &str, text: &str) -> String {
    let m = SecretMatcher::new(secret);
    let mut buf = text.as_bytes().to_vec();
    m.mask(&mut buf);
    String::from_utf8(buf).unwrap()
}

fn gone(secret: &str, text: &str) {
    let out = masked(secret, text);
    assert!(
        !SecretMatcher::new(secret).found_in(out.as_bytes()),
        "still there in {out}"
    );
    assert_eq!(out.len(), text.len(), "masked at the same length");
    assert!(out.contains('*'), "{text} → {out}");
}

#[test]
fn raw_and_percent_encoded_forms_are_masked() {
    gone(SECRET, &format!("token={SECRET}!"));
    let upper: String = form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    gone(SECRET, &format!("q={upper}"));
    let lower: String = SECRET
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect();
    gone(SECRET, &format!("q={lower}"));
    let full: String = SECRET.bytes().map(|b| format!("%{b:02x}")).collect();
    gone(SECRET, &format!("q={full}"));
    gone("a b", "x=a+b;");
    gone("a b", "x=a%20b;");
}

#[test]
fn json_escapes_per_character_are_masked() {
    gone(SECRET, &SECRET.replace('/', "\\/"));
    let php: String = SECRET
        .chars()
        .map(|c| {
            if c == ':' {
                "\\u003a".into()
            } else {
                c.to_string()
            }
        })
        .collect();
    gone(SECRET, &format!("{{\"t\":\"{php}\"}}"));
    let all: String = SECRET
        .chars()
        .map(|c| format!("\\u{:04X}", c as u32))
        .collect();
    gone(SECRET, &all);
}

#[test]
fn html_character_references_are_masked() {
    let dec: String = SECRET.chars().map(|c| format!("&#{};", c as u32)).collect();
    gone(SECRET, &format!("<p>{dec}</p>"));
    let hex: String = SECRET
        .chars()
        .map(|c| format!("&#x{:X};", c as u32))
        .collect();
    gone(SECRET, &hex);
    gone(SECRET, &SECRET.replace('&', "&amp;"));
}

#[test]
fn base64_at_every_alignment_and_hex_are_masked() {
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for prefix in ["", "a", "ab", "abc"] {
            let text = engine.encode(format!("{prefix}{SECRET}tail"));
            gone(SECRET, &format!("Basic {text}"));
        }
    }
    gone(SECRET, &hex::encode(SECRET));
    gone(SECRET, &hex::encode_upper(SECRET));
}

#[test]
fn text_without_the_secret_passes_unchanged() {
    let text = "{\"ok\":true,\"result\":{\"id\":1,\"first_name\":\"Support\"}}";
    assert_eq!(masked(SECRET, text), text);
}

/// One form of `secret`: each character raw, percent-encoded (either case), JSON-escaped or
/// as an HTML reference, chosen by `picks`.
fn mixed(secret: &str, picks: &[u8]) -> String {
    secret
        .chars()
        .zip(picks.iter().cycle())
        .map(|(c, p)| match p % 6 {
            0 => c.to_string(),
            1 => c.to_string().bytes().map(|b| format!("%{b:02X}")).collect(),
            2 => c.to_string().bytes().map(|b| format!("%{b:02x}")).collect(),
            3 => format!("\\u{:04x}", c as u32),
            4 => format!("&#{};", c as u32),
            _ => format!("&#x{:x};", c as u32),
        })
        .collect()
}

fn stream(secret: &str, text: &[u8], cuts: &[usize]) -> Vec<u8> {
    let matcher = std::sync::Arc::new(SecretMatcher::new(secret));
    let mut s = crate::broker::scrub::Scrubber::new(Some(matcher));
    let mut out = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts {
        out.extend_from_slice(&s.push(&text[at..c.max(at)]));
        at = c.max(at);
    }
    out.extend_from_slice(&s.push(&text[at..]));
    out.extend_from_slice(&s.finish());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_form_survives_any_chunking(
        secret in "[A-Za-z0-9:/%+&;#\\\\\"'<>= _.-]{8,40}",
        picks in proptest::collection::vec(any::<u8>(), 1..40),
        before in "[a-z {}\":,]{0,30}",
        after in "[a-z {}\":,]{0,30}",
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let text = format!("{before}{}{after}", mixed(&secret, &picks));
        let out = stream(&secret, text.as_bytes(), &cuts);
        prop_assert_eq!(out.len(), text.len());
        prop_assert!(!SecretMatcher::new(&secret).found_in(&out));
        prop_assert!(!out.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    #[test]
    fn text_holding_no_secret_passes_byte_for_byte(
        secret in "[A-Z0-9:/%+&;#_-]{12,40}",
        text in "[a-z ,.{}\"]{0,300}",
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let out = stream(&secret, text.as_bytes(), &cuts);
        prop_assert_eq!(out, text.as_bytes());
    }

    #[test]
    fn base64_anywhere_in_a_longer_value_is_masked(
        secret in "[ -~]{8,40}",
        prefix in proptest::collection::vec(any::<u8>(), 0..5),
        suffix in proptest::collection::vec(any::<u8>(), 0..5),
        url in any::<bool>(),
    ) {
        let mut input = prefix.clone();
        input.extend_from_slice(secret.as_bytes());
        input.extend_from_slice(&suffix);
        let text = if url {
            base64::engine::general_purpose::URL_SAFE.encode(&input)
        } else {
            base64::engine::general_purpose::STANDARD.encode(&input)
        };
        let m = SecretMatcher::new(&secret);
        prop_assert!(m.found_in(text.as_bytes()), "{}", text);
    }
}
