//! The matcher of every reflected form, streamed through the scrubber: random secrets over a
//! hostile alphabet, random mixes of forms, random chunk splits.

use base64::Engine;
use proptest::prelude::*;

use crate::secrets::reflect::SecretMatcher;

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
    let mut s = super::Scrubber::new(Some(matcher));
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
