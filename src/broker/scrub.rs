//! Masks the channel secret in upstream responses, in every form it may be reflected in
//! (see [`super::reflect`]), across chunk boundaries.
//!
//! Each occurrence is overwritten with `*` of the same length, so Content-Length stays true.
//! The last `max_len - 1` bytes of what has arrived are held back until the next chunk (or
//! the end): no form is longer than `max_len`, so a form that begins in what is sent lies
//! wholly in what was scanned.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::secrets::reflect::SecretMatcher;

/// Streaming scrubber for one response.
pub struct Scrubber {
    matcher: Option<Arc<SecretMatcher>>,
    carry: BytesMut,
}

impl Scrubber {
    /// Masks the secret `matcher` finds; with `None` (no secret set) passes bytes through.
    pub fn new(matcher: Option<Arc<SecretMatcher>>) -> Scrubber {
        Scrubber {
            matcher,
            carry: BytesMut::new(),
        }
    }

    /// Masks every form in `buf` in place.
    pub fn mask(&self, buf: &mut [u8]) {
        if let Some(m) = &self.matcher {
            m.mask(buf);
        }
    }

    /// Feeds one chunk; returns what can be sent now.
    pub fn push(&mut self, chunk: &[u8]) -> Bytes {
        let Some(m) = &self.matcher else {
            return Bytes::copy_from_slice(chunk);
        };
        self.carry.extend_from_slice(chunk);
        let mut buf = std::mem::take(&mut self.carry);
        m.mask(&mut buf);
        let keep = m.max_len.saturating_sub(1).min(buf.len());
        self.carry = buf.split_off(buf.len() - keep);
        buf.freeze()
    }

    /// Ends the stream; returns whatever was held back.
    pub fn finish(&mut self) -> Bytes {
        let mut rest = std::mem::take(&mut self.carry);
        self.mask(&mut rest);
        rest.freeze()
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::channels::ChannelSecret;

    fn run(secret: &str, chunks: &[&str]) -> String {
        let mut s = Scrubber::new(Some(
            ChannelSecret::new(SecretString::from(secret)).matcher(),
        ));
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&s.push(c.as_bytes()));
        }
        out.extend_from_slice(&s.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_secret_in_one_chunk_is_masked_at_the_same_length() {
        assert_eq!(run("s3cret", &["a s3cret b"]), "a ****** b");
    }

    #[test]
    fn a_secret_split_across_chunks_is_masked() {
        assert_eq!(run("s3cret", &["xx s3", "cr", "et yy"]), "xx ****** yy");
    }

    #[test]
    fn a_prefix_that_turns_out_not_to_be_the_secret_is_released() {
        assert_eq!(run("s3cret", &["s3c", "x"]), "s3cx");
        assert_eq!(run("s3cret", &["ends with s3"]), "ends with s3");
    }

    #[test]
    fn percent_encoded_secrets_are_masked_too() {
        assert_eq!(run("123:AB", &["u=123%3AAB"]), "u=********");
    }
}
