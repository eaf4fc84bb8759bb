//! Signed tokens: the compact, versioned binary envelope that every o2okit code travels in
//! (vouchers now; membership cards, check-in and share codes use the same envelope).
//!
//! # Format, version 1
//!
//! ```text
//! offset  field
//! 0       format version: 1
//! 1       low nibble: token kind (1 voucher, 2 membership card, 3 check-in, 4 share code)
//!         high nibble: signature scheme (0 = HMAC-SHA256 truncated to 96 bits, 1 = Ed25519)
//! 2..     merchant id   (LEB128 varint)
//!         key id        (LEB128 varint)
//!         body          (kind-specific, see the voucher module)
//! last    scheme 0: 12 bytes, the first 12 of HMAC-SHA256(key, every byte before them)
//!         scheme 1: 64 bytes, the Ed25519 signature (RFC 8032) of every byte before them
//! ```
//!
//! HMAC is the smallest and fastest, for one shop whose devices may all hold the secret.
//! Ed25519 is for a chain: the head office signs, devices verify with public keys and can
//! mint nothing ([`crate::keys`]). An Ed25519 voucher is 52 bytes longer.
//!
//! The header is authenticated with the body: a token of one kind can never be read as
//! another, nor moved to another merchant or key. The key id names a key whose role the
//! verifier knows ([`crate::keys::KeyRole`]); the scheme nibble leaves room for further
//! signature schemes without breaking version-1 tokens. Readers refuse unknown versions,
//! kinds and schemes rather than guess.
//!
//! # Text forms
//! - [`Token::to_scanner_text`]: Crockford base32, made for keyboard-wedge scanners and QR
//!   alphanumeric mode.
//! - [`Token::to_base64url`]: RFC 4648 §5 without padding, for APIs and JSON.

mod scanner_text;
pub(crate) mod wire;

use crate::ids::{KeyId, MerchantId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::fmt;
use wire::Reader;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Length of the truncated HMAC-SHA256 tag, bytes: 96 bits.
///
/// Why not all 32: every byte costs 1.6 characters of scanner text, and a voucher's code must
/// stay inside QR version 4 at level M (90 characters) to scan from a phone at arm's length.
/// A forger without the key must guess the tag, and every guess costs a scan at a till:
/// 2⁻⁹⁶ a try is far beyond reach (EMV payment cryptograms use 64 bits; RFC 2104 §5 allows
/// truncation to half the hash and no fewer than 80 bits).
pub const TAG_LEN: usize = 12;

/// Length of an Ed25519 signature, bytes.
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// How a token is signed: the high nibble of its second byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scheme {
    /// HMAC-SHA256 truncated to [`TAG_LEN`] bytes: a shared secret signs and verifies.
    HmacSha256,
    /// Ed25519 (RFC 8032, verified strictly): a private key signs, a public key verifies.
    Ed25519,
}

impl Scheme {
    /// The nibble in the token header.
    pub(crate) fn code(self) -> u8 {
        match self {
            Scheme::HmacSha256 => 0,
            Scheme::Ed25519 => 1,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Scheme::HmacSha256),
            1 => Some(Scheme::Ed25519),
            _ => None,
        }
    }

    /// Bytes of signature (or tag) at the end of a token of this scheme.
    pub fn signature_len(self) -> usize {
        match self {
            Scheme::HmacSha256 => TAG_LEN,
            Scheme::Ed25519 => ED25519_SIGNATURE_LEN,
        }
    }
}

/// The shortest possible header: version, kind, one-byte merchant and key ids.
const MIN_HEADER_LEN: usize = 4;

/// The longest token accepted, bytes: far above any real voucher, it bounds the work a
/// hostile input can cause.
pub const MAX_LEN: usize = 1024;

/// Why bytes or text are not a well-formed token. Structural only: nothing here says whether
/// the signature is good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No text or bytes at all.
    #[error("empty token")]
    Empty,
    /// A character outside the text form's alphabet.
    #[error("character {character:?} at position {position} is not part of a token")]
    InvalidCharacter {
        /// Byte offset in the text.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// Text of a length or padding no byte string encodes to.
    #[error("token text is not in canonical form (wrong length or padding bits)")]
    NonCanonical,
    /// Text that is neither the scanner form nor base64url.
    #[error("token text is neither scanner text nor base64url")]
    UnknownTextForm,
    /// Too short to hold a header and a tag.
    #[error("token too short: {0} bytes")]
    TooShort(usize),
    /// Longer than [`MAX_LEN`].
    #[error("token too long: {0} bytes (at most {MAX_LEN})")]
    TooLong(usize),
    /// A format version this build does not read.
    #[error("unsupported token format version {0}")]
    UnsupportedVersion(u8),
    /// A signature scheme this build does not know.
    #[error("unsupported signature scheme {0}")]
    UnsupportedScheme(u8),
    /// A token kind this build does not know.
    #[error("unknown token kind {0}")]
    UnknownKind(u8),
    /// A field ran past the end of the token.
    #[error("token truncated in field {0}")]
    Truncated(&'static str),
    /// A field holds a value the format does not allow.
    #[error("invalid value in token field {0}")]
    InvalidField(&'static str),
    /// Bytes left over after the last field.
    #[error("unexpected bytes after the last field")]
    TrailingBytes,
}

/// What a token is for. The kind is signed with the rest, so one kind cannot pose as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub enum TokenKind {
    /// An electronic voucher.
    Voucher,
    /// A member's electronic membership card.
    MembershipCard,
    /// A store's in-store check-in code.
    CheckIn,
    /// A member's referral (share) code.
    Share,
}

impl TokenKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            TokenKind::Voucher => 1,
            TokenKind::MembershipCard => 2,
            TokenKind::CheckIn => 3,
            TokenKind::Share => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => TokenKind::Voucher,
            2 => TokenKind::MembershipCard,
            3 => TokenKind::CheckIn,
            4 => TokenKind::Share,
            _ => return None,
        })
    }
}

/// The unauthenticated header of a token: enough to find the key that checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// What the token is for.
    pub kind: TokenKind,
    /// The merchant that signed it.
    pub merchant: MerchantId,
    /// The key that signed it.
    pub key: KeyId,
    /// How it is signed.
    pub scheme: Scheme,
}

/// A token cut at its field boundaries.
pub(crate) struct Parts<'t> {
    pub(crate) header: Header,
    /// Everything the tag covers: header and body.
    pub(crate) signed: &'t [u8],
    pub(crate) body: &'t [u8],
    pub(crate) tag: &'t [u8],
}

/// A token's bytes: header, body and tag. Holding a `Token` says nothing about its signature;
/// [`crate::Keyring`] checks that.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token {
    bytes: Vec<u8>,
}

impl Token {
    /// Wraps bytes after checking the header and the length.
    ///
    /// # Errors
    /// [`TokenError`] for a length outside bounds, an unknown version, scheme or kind, or a
    /// malformed id.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TokenError> {
        let token = Token { bytes };
        token.header()?;
        Ok(token)
    }

    /// Decodes the scanner text form (case, `O`/`I`/`L` and surrounding whitespace forgiven).
    ///
    /// # Errors
    /// [`TokenError`] for characters outside the alphabet, a non-canonical form, or a bad
    /// header.
    pub fn from_scanner_text(text: &str) -> Result<Self, TokenError> {
        if text.len() > scanner_text::encoded_len(MAX_LEN) + 8 {
            return Err(TokenError::TooLong(text.len() * 5 / 8));
        }
        Self::from_bytes(scanner_text::decode(text)?)
    }

    /// Decodes the base64url form (no padding; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`TokenError`] for invalid base64url or a bad header.
    pub fn from_base64url(text: &str) -> Result<Self, TokenError> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        if text.len() > MAX_LEN.div_ceil(3) * 4 {
            return Err(TokenError::TooLong(text.len() * 3 / 4));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| TokenError::UnknownTextForm)?;
        Self::from_bytes(bytes)
    }

    /// Decodes either text form: the scanner form first, then base64url.
    ///
    /// The two alphabets overlap, but no text is a valid header in both: a version-1 token's
    /// scanner text starts with `0` and its base64url text with `A`.
    ///
    /// # Errors
    /// The scanner form's error when the text is in neither form.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        match Self::from_scanner_text(text) {
            Ok(token) => Ok(token),
            Err(scanner_error) => Self::from_base64url(text).map_err(|_| scanner_error),
        }
    }

    /// The scanner text: upper-case Crockford base32.
    pub fn to_scanner_text(&self) -> String {
        scanner_text::encode(&self.bytes)
    }

    /// The base64url text (RFC 4648 §5, no padding).
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Parses the header.
    ///
    /// # Errors
    /// As [`Token::from_bytes`].
    pub fn header(&self) -> Result<Header, TokenError> {
        Ok(self.split()?.header)
    }

    /// Splits the token into its parts.
    pub(crate) fn split(&self) -> Result<Parts<'_>, TokenError> {
        split(&self.bytes)
    }

    pub(crate) fn from_signed_parts(bytes: Vec<u8>) -> Self {
        Token { bytes }
    }
}

/// Splits a token's bytes into their parts, checking the header and the length.
pub(crate) fn split(bytes: &[u8]) -> Result<Parts<'_>, TokenError> {
    let len = bytes.len();
    if len == 0 {
        return Err(TokenError::Empty);
    }
    if len > MAX_LEN {
        return Err(TokenError::TooLong(len));
    }
    let mut reader = Reader::new(bytes);
    let version = reader.u8("version")?;
    if version != FORMAT_VERSION {
        return Err(TokenError::UnsupportedVersion(version));
    }
    if len < MIN_HEADER_LEN + TAG_LEN {
        return Err(TokenError::TooShort(len));
    }
    let kind_byte = reader.u8("kind")?;
    let scheme =
        Scheme::from_code(kind_byte >> 4).ok_or(TokenError::UnsupportedScheme(kind_byte >> 4))?;
    let kind = TokenKind::from_code(kind_byte & 0x0f).ok_or(TokenError::UnknownKind(kind_byte))?;
    let merchant = MerchantId(reader.varint_u32("merchant")?);
    let key = KeyId(reader.varint_u32("key")?);
    let signature_len = scheme.signature_len();
    if reader.remaining() < signature_len {
        return Err(TokenError::TooShort(len));
    }
    let (signed, tag) = bytes.split_at(len - signature_len);
    let body = &signed[len - reader.remaining()..];
    Ok(Parts {
        header: Header {
            kind,
            merchant,
            key,
            scheme,
        },
        signed,
        body,
        tag,
    })
}

/// Bytes of the stack buffer the verify path decodes into: a voucher with every limit fits;
/// anything longer takes the allocating path.
pub(crate) const STACK_LEN: usize = 256;

/// Decodes scanner text into `buffer` and checks its header, allocating nothing: the till's
/// hot path. `None` for anything else (base64url, too long, malformed), which the caller hands
/// to [`Token::parse`] for the exact error.
pub(crate) fn scanner_bytes<'b>(text: &str, buffer: &'b mut [u8; STACK_LEN]) -> Option<&'b [u8]> {
    let len = scanner_text::decode_into(text, buffer).ok()?;
    let bytes = &buffer[..len];
    split(bytes).ok().map(|_| bytes)
}

/// The scanner text: what a QR code or a keyboard-wedge scanner carries.
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_scanner_text())
    }
}

/// In JSON, a token is its scanner text.
impl Serialize for Token {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A token reads from its scanner text or base64url.
impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Token::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses scanner text or base64url, as [`Token::parse`].
impl std::str::FromStr for Token {
    type Err = TokenError;
    fn from_str(text: &str) -> Result<Self, TokenError> {
        Token::parse(text)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.to_scanner_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: u8) -> Vec<u8> {
        let mut bytes = vec![FORMAT_VERSION, kind, 0x81, 0x01, 0x02, 0xaa];
        bytes.extend_from_slice(&[0x55; TAG_LEN]);
        bytes
    }

    #[test]
    fn header_is_parsed() {
        let token = Token::from_bytes(sample(1)).unwrap();
        let parts = token.split().unwrap();
        assert_eq!(parts.header.kind, TokenKind::Voucher);
        assert_eq!(parts.header.merchant, MerchantId(129));
        assert_eq!(parts.header.key, KeyId(2));
        assert_eq!(parts.body, &[0xaa]);
        assert_eq!(parts.signed.len(), 6);
        assert_eq!(parts.tag, &[0x55; TAG_LEN]);
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        let mut v2 = sample(1);
        v2[0] = 2;
        assert_eq!(
            Token::from_bytes(v2),
            Err(TokenError::UnsupportedVersion(2))
        );
        assert_eq!(
            Token::from_bytes(sample(9)),
            Err(TokenError::UnknownKind(9))
        );
        assert_eq!(
            Token::from_bytes(sample(0x21)),
            Err(TokenError::UnsupportedScheme(2))
        );
        // Scheme 1 (Ed25519) needs 64 bytes of signature.
        assert_eq!(
            Token::from_bytes(sample(0x11)),
            Err(TokenError::TooShort(sample(0x11).len()))
        );
        let mut ed = sample(0x11);
        ed.extend_from_slice(&[0x55; ED25519_SIGNATURE_LEN - TAG_LEN]);
        let parts = Token::from_bytes(ed.clone()).unwrap();
        let parts = parts.split().unwrap();
        assert_eq!(parts.header.scheme, Scheme::Ed25519);
        assert_eq!(parts.body, &[0xaa]);
        assert_eq!(parts.tag.len(), ED25519_SIGNATURE_LEN);
        assert_eq!(Token::from_bytes(vec![]), Err(TokenError::Empty));
        assert_eq!(
            Token::from_bytes(sample(1)[..10].to_vec()),
            Err(TokenError::TooShort(10))
        );
        assert_eq!(
            Token::from_bytes(vec![1; MAX_LEN + 1]),
            Err(TokenError::TooLong(MAX_LEN + 1))
        );
    }

    #[test]
    fn text_forms_round_trip_and_are_told_apart() {
        let token = Token::from_bytes(sample(1)).unwrap();
        let scanner = token.to_scanner_text();
        let b64 = token.to_base64url();
        assert!(scanner.starts_with('0'));
        assert!(b64.starts_with('A'));
        assert_eq!(Token::from_scanner_text(&scanner).unwrap(), token);
        assert_eq!(Token::from_base64url(&b64).unwrap(), token);
        assert_eq!(Token::parse(&scanner).unwrap(), token);
        assert_eq!(Token::parse(&b64).unwrap(), token);
        assert_eq!(Token::parse(&format!("{scanner}\n")).unwrap(), token);
        assert!(Token::parse("not a token!").is_err());
        assert_eq!(Token::parse(""), Err(TokenError::Empty));
    }
}
