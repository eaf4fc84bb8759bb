//! Key rotation: old keys keep verifying until retired; unknown key ids are refused.

mod common;

use common::*;
use o2okit::*;

const NOON: &str = "2026-06-15T04:00:00Z";

fn text_signed_by(ring: &Keyring, id: u64) -> String {
    amount_off(id, 500).sign(ring).unwrap().to_scanner_text()
}

#[test]
fn rotation_keeps_old_vouchers_working_until_the_old_key_is_retired() {
    let till = Till::new(shenzhen());
    let when = at(NOON);
    let mut ring = keyring(); // key 1 active
    let old = text_signed_by(&ring, 1);

    ring.add(KeyId(2), key(2)).unwrap();
    ring.activate(KeyId(2)).unwrap();
    let new = text_signed_by(&ring, 2);
    assert_eq!(Token::parse(&new).unwrap().header().unwrap().key, KeyId(2));

    // Both verify while key 1 is verify-only.
    assert!(till.decide_text(&old, &ring, when).is_accepted());
    assert!(till.decide_text(&new, &ring, when).is_accepted());

    // Retiring key 1 refuses its vouchers, and only those.
    ring.retire(KeyId(1)).unwrap();
    assert_eq!(
        till.decide_text(&old, &ring, when).rejection(),
        Some(Rejection::RetiredKey)
    );
    assert!(till.decide_text(&new, &ring, when).is_accepted());
}

#[test]
fn unknown_key_id_is_refused() {
    let till = Till::new(shenzhen());
    let signer = Keyring::with_active_key(MERCHANT, KeyId(7), key(7));
    let text = text_signed_by(&signer, 1);
    assert_eq!(
        till.decide_text(&text, &keyring(), at(NOON)).rejection(),
        Some(Rejection::UnknownKey)
    );
}

#[test]
fn same_key_id_with_other_secret_is_a_bad_signature() {
    let till = Till::new(shenzhen());
    let forger = Keyring::with_active_key(MERCHANT, KeyId(1), key(0xEE));
    let text = text_signed_by(&forger, 1);
    assert_eq!(
        till.decide_text(&text, &keyring(), at(NOON)).rejection(),
        Some(Rejection::BadSignature)
    );
}

#[test]
fn another_merchants_voucher_is_refused() {
    let till = Till::new(shenzhen());
    let other = Keyring::with_active_key(MerchantId(89), KeyId(1), key(1));
    let v = Voucher::new(
        VoucherId(1),
        MerchantId(89),
        Currency::CNY,
        Benefit::AmountOff { minor: 500 },
    );
    let text = v.sign(&other).unwrap().to_scanner_text();
    assert_eq!(
        till.decide_text(&text, &keyring(), at(NOON)).rejection(),
        Some(Rejection::WrongMerchant)
    );
}

#[test]
fn a_keyring_exports_and_imports_its_secrets_only_on_request() {
    let mut ring = keyring();
    ring.add(KeyId(2), key(2)).unwrap();
    ring.activate(KeyId(2)).unwrap();
    ring.retire(KeyId(1)).unwrap();
    let export = ring.export_secrets();
    // Debug of the keyring and of the export never shows a secret byte.
    let shown = format!("{ring:?} {export:?}");
    assert!(
        !shown.contains("[1, 1, 1") && !shown.contains("0101"),
        "{shown}"
    );
    let KeyMaterial::Hmac(secret) = &export.keys[1].material else {
        panic!("an HMAC key exports its secret")
    };
    assert_eq!(secret.expose_secret(), &[2u8; 32][..]);
    let again = Keyring::import(export.clone()).unwrap();
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        vec![
            (KeyId(1), KeyStatus::Retired),
            (KeyId(2), KeyStatus::Active)
        ]
    );
    // The imported keyring verifies what the original signs.
    let text = amount_off(5, 100).sign(&ring).unwrap().to_scanner_text();
    let till = Till::new(shenzhen());
    assert!(
        till.decide_text(&text, &again, at("2026-06-15T04:00:00Z"))
            .is_accepted()
    );
    // Two active keys in an export are refused.
    let mut twice = export;
    twice.keys[0].status = KeyStatus::Active;
    assert!(matches!(
        Keyring::import(twice),
        Err(KeyError::RetiringActiveKey(KeyId(2)))
    ));
}
