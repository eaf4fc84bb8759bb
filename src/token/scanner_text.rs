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
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Err(TokenError::Empty);
    }
    let symbols = text.as_bytes();
    // A canonical encoding leaves 0–4 padding bits: lengths ≡ 1, 3 or 6 (mod 8) never occur.
    if matches!(symbols.len() % 8, 1 | 3 | 6) {
        return Err(TokenError::NonCanonical);
    }
    let mut out = Vec::with_capacity(symbols.len() * 5 / 8);
    // Eight symbols are exactly five bytes: decode whole groups without a bit buffer.
    let mut groups = symbols.chunks_exact(8);
    for group in &mut groups {
        let mut word = 0u64;
        let mut seen = 0u8;
        for &c in group {
            let value = DECODE[c as usize];
            seen |= value;
            word = (word << 5) | u64::from(value);
        }
        if seen == INVALID {
            return Err(invalid_character(text));
        }
        out.extend_from_slice(&word.to_be_bytes()[3..]);
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
            out.push((buffer >> bits) as u8);
        }
    }
    if buffer & ((1 << bits) - 1) != 0 {
        return Err(TokenError::NonCanonical);
    }
    Ok(out)
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
