//! The scanner text form: Crockford base32, upper case.
//!
//! Why this alphabet: a keyboard-wedge barcode scanner "types" what it reads, so every
//! character must be one that survives key-code translation. Digits and upper-case letters do
//! (symbols such as `/`, `+`, `=`, `:` move between keyboard layouts). All 32 symbols are also
//! in QR's alphanumeric mode, which packs 2 characters into 11 bits, so a token costs 5.5 bits
//! of QR capacity per 5 bits of data.
//!
//! Decoding forgives what scanners and people do: lower case (a scanner with Caps Lock on),
//! `O` for `0`, `I` and `L` for `1`, surrounding whitespace (the scanner's Enter or Tab
//! suffix). It refuses everything else, including a length no byte string encodes to and
//! non-zero padding bits, so one byte string has one canonical text.

use super::TokenError;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const INVALID: u8 = 0xff;

const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 32 {
        let c = ALPHABET[i];
        table[c as usize] = i as u8;
        table[c.to_ascii_lowercase() as usize] = i as u8;
        i += 1;
    }
    table[b'O' as usize] = 0;
    table[b'o' as usize] = 0;
    table[b'I' as usize] = 1;
    table[b'i' as usize] = 1;
    table[b'L' as usize] = 1;
    table[b'l' as usize] = 1;
    table
};

/// Number of characters that `len` bytes encode to.
pub(crate) fn encoded_len(len: usize) -> usize {
    (len * 8).div_ceil(5)
}

/// Encodes bytes as upper-case Crockford base32, without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 0x1f) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 0x1f) as usize] as char);
    }
    out
}

/// Decodes scanner text (see the module documentation for what is forgiven).
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, TokenError> {
    let mut out = vec![0; text.len() * 5 / 8];
    let len = decode_into(text, &mut out)?;
    out.truncate(len);
    Ok(out)
}

/// Decodes scanner text into `out` and returns the number of bytes written: the verify path
/// decodes into a stack buffer and allocates nothing.
///
/// # Errors
/// As [`decode`]; [`TokenError::TooLong`] when `out` cannot hold the bytes.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Result<usize, TokenError> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Err(TokenError::Empty);
    }
    let symbols = text.as_bytes();
    // A canonical encoding leaves 0–4 padding bits: lengths ≡ 1, 3 or 6 (mod 8) never occur.
    if matches!(symbols.len() % 8, 1 | 3 | 6) {
        return Err(TokenError::NonCanonical);
    }
    let len = symbols.len() * 5 / 8;
    if len > out.len() {
        return Err(TokenError::TooLong(len));
    }
    // Eight symbols are exactly five bytes: decode whole groups without a bit buffer, every
    // lookup independent of the others.
    let mut groups = symbols.chunks_exact(8);
    let mut written = 0;
    for group in &mut groups {
        let v: [u8; 8] = std::array::from_fn(|i| DECODE[group[i] as usize]);
        if v.iter().fold(0, |seen, value| seen | value) == INVALID {
            return Err(invalid_character(text));
        }
        let word = (u64::from(v[0]) << 35)
            | (u64::from(v[1]) << 30)
            | (u64::from(v[2]) << 25)
            | (u64::from(v[3]) << 20)
            | (u64::from(v[4]) << 15)
            | (u64::from(v[5]) << 10)
            | (u64::from(v[6]) << 5)
            | u64::from(v[7]);
        out[written..written + 5].copy_from_slice(&word.to_be_bytes()[3..]);
        written += 5;
    }
    let mut buffer = 0u32;
    let mut bits = 0;
    for &c in groups.remainder() {
        let value = DECODE[c as usize];
        if value == INVALID {
            return Err(invalid_character(text));
        }
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[written] = (buffer >> bits) as u8;
            written += 1;
        }
    }
    if buffer & ((1 << bits) - 1) != 0 {
        return Err(TokenError::NonCanonical);
    }
    Ok(written)
}

/// The error for the first character of `text` outside the alphabet.
fn invalid_character(text: &str) -> TokenError {
    let (position, character) = text
        .char_indices()
        .find(|(_, c)| !c.is_ascii() || DECODE[*c as usize] == INVALID)
        .unwrap_or((0, '\u{fffd}'));
    TokenError::InvalidCharacter {
        position,
        character,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(&[0xff]), "ZW");
        assert_eq!(encode(b"foobar"), "CSQPYRK1E8");
        assert_eq!(decode("CSQPYRK1E8").unwrap(), b"foobar");
    }

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 1..64 {
            let text = encode(&data[..len]);
            assert_eq!(text.len(), encoded_len(len));
            assert_eq!(decode(&text).unwrap(), &data[..len]);
        }
    }

    #[test]
    fn decoding_into_a_buffer_writes_what_decode_returns_and_refuses_a_short_one() {
        let data: Vec<u8> = (0..=255u8).rev().collect();
        let text = encode(&data[..100]);
        let mut buffer = [0u8; 100];
        assert_eq!(decode_into(&text, &mut buffer), Ok(100));
        assert_eq!(&buffer[..], decode(&text).unwrap());
        assert_eq!(
            decode_into(&text, &mut buffer[..99]),
            Err(TokenError::TooLong(100))
        );
    }

    #[test]
    fn forgives_case_aliases_and_whitespace() {
        let text = encode(b"o2okit");
        assert_eq!(
            decode(&format!(" {}\r\n", text.to_lowercase())).unwrap(),
            b"o2okit"
        );
        assert_eq!(decode("0O0o"), decode("0000"));
        assert_eq!(decode("1IiL"), decode("1111"));
    }

    #[test]
    fn refuses_foreign_characters_and_non_canonical_forms() {
        assert_eq!(decode("   "), Err(TokenError::Empty));
        assert!(matches!(
            decode("AB/D"),
            Err(TokenError::InvalidCharacter { position: 2, .. })
        ));
        assert_eq!(
            decode("ABCDEFG/HJKMNPQR"),
            Err(TokenError::InvalidCharacter {
                position: 7,
                character: '/'
            })
        );
        assert!(matches!(
            decode("ABCDEFGHJKMNPQé"),
            Err(TokenError::InvalidCharacter {
                position: 14,
                character: 'é'
            })
        ));
        assert!(matches!(
            decode("ABUD"),
            Err(TokenError::InvalidCharacter { .. })
        ));
        // "ZZ" is 0xff plus two set padding bits; "ZW" is the canonical form.
        assert_eq!(decode("ZZ"), Err(TokenError::NonCanonical));
        assert_eq!(decode("ZZZ"), Err(TokenError::NonCanonical));
    }
}
