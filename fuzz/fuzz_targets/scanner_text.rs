//! Scanner text parsing: never panics; whatever decodes re-encodes to its canonical form
//! (upper case, O→0, I/L→1, no surrounding whitespace).
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::Token;

fuzz_target!(|text: &str| {
    if let Ok(token) = Token::from_scanner_text(text) {
        let canonical: String = text
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .chars()
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            })
            .collect();
        assert_eq!(token.to_scanner_text(), canonical);
    }
    let _ = Token::from_base64url(text);
});
