//! The scanner text of a realistic voucher fits QR version 4 at level M, so it scans from a
//! phone screen at arm's length.
//!
//! Note on the capacity: ISO/IEC 18004 Table 7 gives version 4 at level M 90 alphanumeric
//! characters (114 is version 4 at level L). The test holds o2okit to 90 and asks the QR
//! encoder which version the text really needs.

mod common;

use common::*;
use o2okit::*;

/// QR version 4-M alphanumeric capacity (ISO/IEC 18004 Table 7).
const QR_4M_ALPHANUMERIC: usize = 90;
/// The QR alphanumeric character set (ISO/IEC 18004 §7.4.4).
const QR_ALPHANUMERIC: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

#[test]
fn reference_voucher_fits_qr_version_4_m() {
    let token = reference_voucher().sign(&keyring()).unwrap();
    let text = token.to_scanner_text();
    println!(
        "reference voucher: {} bytes, {} scanner characters",
        token.as_bytes().len(),
        text.len()
    );
    assert!(
        text.len() <= QR_4M_ALPHANUMERIC,
        "{} characters: {text}",
        text.len()
    );
    assert!(text.chars().all(|c| QR_ALPHANUMERIC.contains(c)));
    #[cfg(feature = "qr-render")]
    assert_eq!(
        o2okit::qr::encode(&text, o2okit::qr::EcLevel::M)
            .unwrap()
            .version(),
        4
    );
    assert_eq!(
        Voucher::open(&token, &keyring()).unwrap(),
        reference_voucher()
    );
}

/// The budget for an Ed25519 voucher: 195 alphanumeric characters. ISO/IEC 18004
/// Table 7 gives that capacity to version 6 at level L; version 6 at level M holds 154 and
/// version 7 at level M 178.
const ED25519_BUDGET: usize = 195;
/// QR version 7-M alphanumeric capacity (ISO/IEC 18004 Table 7).
const QR_7M_ALPHANUMERIC: usize = 178;

#[test]
fn reference_voucher_signed_with_ed25519_fits_195_characters_qr_7_m_or_6_l() {
    let mut ring = Keyring::new(MERCHANT);
    ring.add_key(
        KeyId(1),
        KeyRole::Vouchers,
        Ed25519Key::from_seed(&[0x42; 32]),
    )
    .unwrap();
    ring.activate(KeyId(1)).unwrap();
    let token = reference_voucher().sign(&ring).unwrap();
    let text = token.to_scanner_text();
    println!(
        "reference voucher, Ed25519: {} bytes, {} scanner characters",
        token.as_bytes().len(),
        text.len()
    );
    assert_eq!(token.header().unwrap().scheme, Scheme::Ed25519);
    assert!(
        text.len() <= ED25519_BUDGET.min(QR_7M_ALPHANUMERIC),
        "{} characters: {text}",
        text.len()
    );
    #[cfg(feature = "qr-render")]
    {
        let version = |level| o2okit::qr::encode(&text, level).unwrap().version();
        assert_eq!(version(o2okit::qr::EcLevel::M), 7);
        assert_eq!(version(o2okit::qr::EcLevel::L), 6);
    }
    let till = ring.verifying_keyring();
    assert_eq!(Voucher::open(&token, &till).unwrap(), reference_voucher());
}
