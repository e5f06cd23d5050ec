//! Masks the channel secret in upstream responses, across chunk boundaries.
//!
//! Each occurrence is overwritten with `*` of the same length, so Content-Length stays true.
//! The tail of a chunk that could be the start of a secret is held back until the next chunk
//! (or the end) shows whether it is.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use memchr::memmem;
use secrecy::{ExposeSecret, SecretBox};

/// Streaming scrubber for one response.
pub struct Scrubber {
    needles: Arc<[SecretBox<[u8]>]>,
    carry: BytesMut,
    longest: usize,
}

impl Scrubber {
    /// Masks each of `needles` (a channel secret's forms, see `ChannelSecret::forms`).
    pub fn new(needles: Arc<[SecretBox<[u8]>]>) -> Scrubber {
        let longest = needles
            .iter()
            .map(|n| n.expose_secret().len())
            .max()
            .unwrap_or(0);
        Scrubber {
            needles,
            carry: BytesMut::new(),
            longest,
        }
    }

    /// Masks every needle in `buf` in place.
    pub fn mask(&self, buf: &mut [u8]) {
        for needle in self.needles.iter() {
            let needle = needle.expose_secret();
            let finder = memmem::Finder::new(needle);
            let mut from = 0;
            while let Some(at) = finder.find(&buf[from..]) {
                let start = from + at;
                buf[start..start + needle.len()].fill(b'*');
                from = start + needle.len();
            }
        }
    }

    /// How many trailing bytes of `buf` could begin a needle.
    fn hold_back(&self, buf: &[u8]) -> usize {
        let max = self.longest.saturating_sub(1).min(buf.len());
        (1..=max)
            .rev()
            .find(|&k| {
                self.needles.iter().any(|n| {
                    let n = n.expose_secret();
                    n.len() > k && n.starts_with(&buf[buf.len() - k..])
                })
            })
            .unwrap_or(0)
    }

    /// Feeds one chunk; returns what can be sent now.
    pub fn push(&mut self, chunk: &[u8]) -> Bytes {
        self.carry.extend_from_slice(chunk);
        let mut buf = std::mem::take(&mut self.carry);
        self.mask(&mut buf);
        let keep = self.hold_back(&buf);
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
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::channels::ChannelSecret;

    fn run(secret: &str, chunks: &[&str]) -> String {
        let mut s = Scrubber::new(ChannelSecret::new(SecretString::from(secret)).forms());
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
