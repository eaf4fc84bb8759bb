//! Keys with roles (issue 13): a key signs only what its role covers, a verifier refuses a
//! token signed outside its key's role, store keys are derived per store, and a till that
//! holds only what the head office publishes can mint nothing — on both schemes where the
//! scheme allows it.

mod common;

use common::*;
use o2okit::*;

const VOUCHERS: KeyId = KeyId(1);
const MEMBERS: KeyId = KeyId(2);
const STORE_A: StoreId = StoreId(1001);
const STORE_B: StoreId = StoreId(1002);
const CHECK_IN_A: KeyId = KeyId(101);
const CHECK_IN_B: KeyId = KeyId(102);

#[derive(Debug, Clone, Copy)]
enum Kind {
    Hmac,
    Ed25519,
}

const SCHEMES: [Kind; 2] = [Kind::Hmac, Kind::Ed25519];

fn material(scheme: Kind, seed: u8) -> KeyMaterial {
    match scheme {
        Kind::Hmac => SigningKey::from_bytes(&[seed; 32]).unwrap().into(),
        Kind::Ed25519 => Ed25519Key::from_seed(&[seed; 32]).into(),
    }
}

/// A keyring holding one active key of `role`.
fn signer(scheme: Kind, id: KeyId, role: KeyRole, seed: u8) -> Keyring {
    let mut ring = Keyring::new(MERCHANT);
    ring.add_key(id, role, material(scheme, seed)).unwrap();
    ring.activate(id).unwrap();
    ring
}

/// The head office: a voucher key, a members key and the two stores' check-in keys.
fn head_office(scheme: Kind) -> Keyring {
    let mut ring = Keyring::new(MERCHANT);
    for (id, role, seed) in [
        (VOUCHERS, KeyRole::Vouchers, 1),
        (MEMBERS, KeyRole::Members, 2),
        (CHECK_IN_A, KeyRole::CheckIn(STORE_A), 3),
        (CHECK_IN_B, KeyRole::CheckIn(STORE_B), 4),
    ] {
        ring.add_key(id, role, material(scheme, seed)).unwrap();
        ring.activate(id).unwrap();
    }
    ring
}

fn store(id: StoreId) -> Store {
    let mut store = shenzhen();
    store.id = id;
    store
}

fn voucher_decision(text: &str, keys: &impl Verifier, at_store: StoreId) -> Decision {
    let store = store(at_store);
    let basket = cny(10_000);
    verify(
        text,
        keys,
        &RedemptionContext::new(&store, at("2026-06-15T04:00:00Z"), &basket),
    )
}

fn check_in(text: &str, keys: &impl Verifier) -> Result<CheckIn, Rejection> {
    verify_check_in(
        text,
        keys,
        &CheckInPolicy::default(),
        at("2026-06-15T04:00:10Z"),
        None,
        None,
    )
}

fn code(ring: &Keyring, store: StoreId) -> Result<String, Error> {
    let policy = CheckInPolicy::default();
    rotating_code(ring, store, &policy, at("2026-06-15T04:00:10Z")).map(|t| t.to_scanner_text())
}

#[test]
fn every_role_signs_its_own_tokens_and_nothing_else() {
    for scheme in SCHEMES {
        let ring = head_office(scheme);
        let till = ring.verifying_keyring();
        let voucher = amount_off(1, 500).sign(&ring).unwrap();
        assert_eq!(voucher.header().unwrap().key, VOUCHERS, "{scheme:?}");
        assert!(voucher_decision(&voucher.to_scanner_text(), &till, STORE_A).is_accepted());
        let card =
            membership_card(&ring, MemberId(5), &CardNumber::from_serial(5).unwrap()).unwrap();
        assert_eq!(card.header().unwrap().key, MEMBERS);
        assert!(verify_membership_card(&card.to_scanner_text(), &till).is_ok());
        let a = code(&ring, STORE_A).unwrap();
        assert_eq!(check_in(&a, &till).unwrap().store, STORE_A, "{scheme:?}");
        let b = code(&ring, STORE_B).unwrap();
        assert_eq!(check_in(&b, &till).unwrap().store, STORE_B);
        // No key covers a third store's codes.
        assert!(matches!(
            code(&ring, StoreId(9)),
            Err(Error::Key(KeyError::NotPermitted(_)))
        ));
    }
}

#[test]
fn a_voucher_key_cannot_sign_a_check_in_code_and_a_check_in_key_cannot_sign_a_voucher() {
    for scheme in SCHEMES {
        let vouchers = signer(scheme, VOUCHERS, KeyRole::Vouchers, 1);
        assert!(matches!(
            code(&vouchers, STORE_A),
            Err(Error::Key(KeyError::NotPermitted(_)))
        ));
        assert!(matches!(
            membership_card(&vouchers, MemberId(5), &CardNumber::from_serial(5).unwrap()),
            Err(Error::Key(KeyError::NotPermitted(_)))
        ));
        let screen = signer(scheme, CHECK_IN_A, KeyRole::CheckIn(STORE_A), 3);
        assert!(matches!(
            amount_off(1, 500).sign(&screen),
            Err(Error::Key(KeyError::NotPermitted(_)))
        ));
        assert!(matches!(
            share_code(&screen, MemberId(5)),
            Err(Error::Key(KeyError::NotPermitted(_)))
        ));

        // A thief who relabels a key's role on their own machine gains nothing: the verifier
        // knows the role of each key id.
        let verifier = head_office(scheme).verifying_keyring();
        let relabelled_voucher_key = signer(scheme, VOUCHERS, KeyRole::All, 1);
        let forged_code = code(&relabelled_voucher_key, STORE_A).unwrap();
        assert_eq!(
            check_in(&forged_code, &verifier),
            Err(Rejection::KeyNotPermitted),
            "{scheme:?}"
        );
        let relabelled_screen = signer(scheme, CHECK_IN_A, KeyRole::All, 3);
        let forged_voucher = amount_off(1, 500).sign(&relabelled_screen).unwrap();
        assert_eq!(
            voucher_decision(&forged_voucher.to_scanner_text(), &verifier, STORE_A).rejection(),
            Some(Rejection::KeyNotPermitted)
        );
    }
}

#[test]
fn a_check_in_key_of_store_a_is_refused_at_store_b() {
    let root = MerchantSecret::from_bytes(&[0x5e; 32]).unwrap();
    let key_of = |store| root.derive(MERCHANT, KeyRole::CheckIn(store));
    // The head office derives every store's key from its one secret.
    let mut head_office = Keyring::new(MERCHANT);
    head_office
        .add_key(CHECK_IN_A, KeyRole::CheckIn(STORE_A), key_of(STORE_A))
        .unwrap();
    head_office
        .add_key(CHECK_IN_B, KeyRole::CheckIn(STORE_B), key_of(STORE_B))
        .unwrap();
    // Store A's screen holds only its own derived key.
    let screen_a = signer_with(CHECK_IN_A, KeyRole::CheckIn(STORE_A), key_of(STORE_A));
    let code_a = code(&screen_a, STORE_A).unwrap();
    assert_eq!(check_in(&code_a, &head_office).unwrap().store, STORE_A);
    assert!(matches!(
        code(&screen_a, STORE_B),
        Err(Error::Key(KeyError::NotPermitted(_)))
    ));
    // Store A's key, relabelled by a thief to sign store B's codes: refused.
    let thief = signer_with(CHECK_IN_A, KeyRole::CheckIn(STORE_B), key_of(STORE_A));
    let forged = code(&thief, STORE_B).unwrap();
    assert_eq!(
        check_in(&forged, &head_office),
        Err(Rejection::KeyNotPermitted)
    );
    // Under store B's key id, store A's key is simply a bad signature.
    let thief = signer_with(CHECK_IN_B, KeyRole::CheckIn(STORE_B), key_of(STORE_A));
    let forged = code(&thief, STORE_B).unwrap();
    assert_eq!(
        check_in(&forged, &head_office),
        Err(Rejection::BadSignature)
    );
}

fn signer_with(id: KeyId, role: KeyRole, key: SigningKey) -> Keyring {
    let mut ring = Keyring::new(MERCHANT);
    ring.add_key(id, role, key).unwrap();
    ring.activate(id).unwrap();
    ring
}

#[test]
fn a_kiosk_store_key_signs_vouchers_of_its_store_only() {
    for scheme in SCHEMES {
        let kiosk = signer(scheme, KeyId(7), KeyRole::StoreVouchers(STORE_A), 7);
        let welcome = amount_off(1, 500).at_stores([STORE_A]);
        let text = welcome.sign(&kiosk).unwrap().to_scanner_text();
        let till = kiosk.verifying_keyring();
        assert!(voucher_decision(&text, &till, STORE_A).is_accepted());
        for elsewhere in [
            amount_off(2, 500),
            amount_off(3, 500).at_stores([STORE_B]),
            amount_off(4, 500).at_stores([STORE_A, STORE_B]),
        ] {
            assert!(matches!(
                elsewhere.sign(&kiosk),
                Err(Error::Key(KeyError::NotPermitted(_)))
            ));
        }
        // A stolen kiosk key relabelled to sign vouchers valid everywhere: refused.
        let thief = signer(scheme, KeyId(7), KeyRole::Vouchers, 7);
        let forged = amount_off(5, 50_000)
            .sign(&thief)
            .unwrap()
            .to_scanner_text();
        assert_eq!(
            voucher_decision(&forged, &till, STORE_A).rejection(),
            Some(Rejection::KeyNotPermitted),
            "{scheme:?}"
        );
    }
}

/// The root key the head office signs key sets with; tills pin its public half.
fn root() -> Ed25519Key {
    Ed25519Key::from_seed(&[0xAA; 32])
}

fn published(ring: &Keyring, version: u64, retired: &[KeyId]) -> Vec<u8> {
    let mut set = KeySet::new(MERCHANT, version, at("2026-06-01T00:00:00Z"));
    for exported in ring.export_secrets().keys {
        let KeyMaterial::Ed25519(key) = exported.material else {
            panic!("a key set publishes Ed25519 keys")
        };
        let mut key = PublishedKey::new(exported.id, exported.role, key.public_key());
        if retired.contains(&exported.id) {
            key = key.retired();
        }
        set = set.with_key(key);
    }
    set.sign(&root()).unwrap()
}

#[test]
fn a_till_holding_every_published_file_cannot_mint_a_token_another_till_accepts() {
    let head_office = head_office(Kind::Ed25519);
    let set = published(&head_office, 1, &[]);
    let pinned = root().public_key();
    let other_till =
        VerifyingKeyring::from_key_set(&set, &pinned, MERCHANT, at("2026-06-15T00:00:00Z"), 0)
            .unwrap();

    // Everything the till holds: the key-set file and the pinned root public key, and every
    // public key in the set. Try each as an HMAC secret and as an Ed25519 seed, under every
    // key id of the set, for every kind of token.
    let opened = KeySet::open(&set, &pinned).unwrap();
    let mut candidates: Vec<Vec<u8>> = vec![pinned.to_bytes().to_vec(), set.clone()];
    candidates.extend(opened.keys.iter().map(|k| k.public_key.to_bytes().to_vec()));
    let mut tried = 0;
    for bytes in &candidates {
        for id in [VOUCHERS, MEMBERS, CHECK_IN_A, CHECK_IN_B] {
            let mut materials = vec![KeyMaterial::from(SigningKey::from_bytes(bytes).unwrap())];
            if let Ok(seed) = <[u8; 32]>::try_from(&bytes[..]) {
                materials.push(Ed25519Key::from_seed(&seed).into());
            }
            for material in materials {
                let mut thief = Keyring::new(MERCHANT);
                thief.add_key(id, KeyRole::All, material).unwrap();
                thief.activate(id).unwrap();
                let voucher = amount_off(9, 50_000)
                    .sign(&thief)
                    .unwrap()
                    .to_scanner_text();
                assert!(!voucher_decision(&voucher, &other_till, STORE_A).is_accepted());
                let card =
                    membership_card(&thief, MemberId(1), &CardNumber::from_serial(1).unwrap())
                        .unwrap();
                assert!(verify_membership_card(&card.to_scanner_text(), &other_till).is_err());
                let share = share_code(&thief, MemberId(1)).unwrap();
                assert!(verify_share_code(&share.to_scanner_text(), &other_till).is_err());
                assert!(check_in(&code(&thief, STORE_A).unwrap(), &other_till).is_err());
                tried += 1;
            }
        }
    }
    assert!(tried >= 4 * 6, "{tried}");
    // And the public keys themselves cannot be made to sign.
    let mut ring = Keyring::new(MERCHANT);
    let public = opened.keys[0].public_key;
    ring.add_key(VOUCHERS, KeyRole::Vouchers, public).unwrap();
    assert_eq!(ring.activate(VOUCHERS), Err(KeyError::CannotSign(VOUCHERS)));
    assert!(matches!(
        amount_off(9, 1).sign(&ring),
        Err(Error::Key(KeyError::NoActiveKey))
    ));
}

#[test]
fn key_sets_load_rotate_with_an_overlap_and_refuse_rollback_tampering_and_strangers() {
    let pinned = root().public_key();
    let old = Ed25519Key::from_seed(&[0x01; 32]);
    let new = Ed25519Key::from_seed(&[0x02; 32]);
    let t = |s: &str| at(s);
    let sign_with = |key: &Ed25519Key, id: KeyId| {
        let mut ring = Keyring::new(MERCHANT);
        ring.add_key(id, KeyRole::Vouchers, key.clone()).unwrap();
        ring.activate(id).unwrap();
        amount_off(1, 500).sign(&ring).unwrap().to_scanner_text()
    };
    let old_voucher = sign_with(&old, KeyId(1));
    let new_voucher = sign_with(&new, KeyId(2));

    // Version 1: the old key only. Version 2: the new key from June 10, the old one until
    // June 20: both trusted in between.
    let v1 = KeySet::new(MERCHANT, 1, t("2026-05-01T00:00:00Z"))
        .with_key(PublishedKey::new(
            KeyId(1),
            KeyRole::Vouchers,
            old.public_key(),
        ))
        .sign(&root())
        .unwrap();
    let v2 = KeySet::new(MERCHANT, 2, t("2026-06-01T00:00:00Z"))
        .with_key(
            PublishedKey::new(KeyId(1), KeyRole::Vouchers, old.public_key())
                .valid_between(None, Some(t("2026-06-20T00:00:00Z"))),
        )
        .with_key(
            PublishedKey::new(KeyId(2), KeyRole::Vouchers, new.public_key())
                .valid_between(Some(t("2026-06-10T00:00:00Z")), None),
        )
        .sign(&root())
        .unwrap();

    let till = VerifyingKeyring::from_key_set(&v1, &pinned, MERCHANT, t("2026-06-01T00:00:00Z"), 0)
        .unwrap();
    assert_eq!(till.key_set_version(), Some(1));
    assert!(voucher_decision(&old_voucher, &till, STORE_A).is_accepted());
    assert_eq!(
        voucher_decision(&new_voucher, &till, STORE_A).rejection(),
        Some(Rejection::UnknownKey)
    );
    let accepts = |ring: &VerifyingKeyring| {
        (
            voucher_decision(&old_voucher, ring, STORE_A).is_accepted(),
            voucher_decision(&new_voucher, ring, STORE_A).is_accepted(),
        )
    };
    let overlap = till
        .with_key_set(&v2, &pinned, t("2026-06-15T00:00:00Z"))
        .unwrap();
    assert_eq!(accepts(&overlap), (true, true));
    let before = till
        .with_key_set(&v2, &pinned, t("2026-06-05T00:00:00Z"))
        .unwrap();
    assert_eq!(accepts(&before), (true, false));
    let after = overlap
        .with_key_set(&v2, &pinned, t("2026-06-21T00:00:00Z"))
        .unwrap();
    assert_eq!(accepts(&after), (false, true));
    assert_eq!(
        voucher_decision(&old_voucher, &after, STORE_A).rejection(),
        Some(Rejection::RetiredKey)
    );

    // Rollback: a till on version 2 refuses version 1.
    assert_eq!(
        after
            .with_key_set(&v1, &pinned, t("2026-06-21T00:00:00Z"))
            .unwrap_err(),
        KeySetError::Rollback {
            have: 2,
            offered: 1
        }
    );

    // ... and after a restart, when the till passes the highest version it has loaded.
    assert_eq!(
        VerifyingKeyring::from_key_set(&v1, &pinned, MERCHANT, t("2026-06-21T00:00:00Z"), 2)
            .unwrap_err(),
        KeySetError::Rollback {
            have: 2,
            offered: 1
        }
    );
    assert!(
        VerifyingKeyring::from_key_set(&v2, &pinned, MERCHANT, t("2026-06-21T00:00:00Z"), 2)
            .is_ok()
    );

    // Tampering: the framing is refused as such; any byte of the payload or the signature is
    // a bad signature, found before the payload is read.
    for (index, expected) in [
        (0, KeySetError::Malformed("no key set header".into())),
        (5, KeySetError::UnsupportedFormat(0)),
    ] {
        let mut bytes = v2.clone();
        bytes[index] ^= 0x01;
        assert_eq!(
            KeySet::open(&bytes, &pinned).unwrap_err(),
            expected,
            "byte {index}"
        );
    }
    for index in [
        10,
        20,
        v2.len() / 2,
        v2.len() - 65,
        v2.len() - 64,
        v2.len() - 1,
    ] {
        let mut bytes = v2.clone();
        bytes[index] ^= 0x01;
        assert_eq!(
            KeySet::open(&bytes, &pinned).unwrap_err(),
            KeySetError::BadSignature,
            "byte {index}"
        );
    }
    // Version 0 is not a version.
    assert!(matches!(
        KeySet::new(MERCHANT, 0, t("2026-06-01T00:00:00Z")).sign(&root()),
        Err(KeySetError::Malformed(_))
    ));
    assert_eq!(
        KeySet::open(&v2[..v2.len() - 1], &pinned).unwrap_err(),
        KeySetError::Malformed(format!(
            "payload length {} does not match the {} bytes given",
            v2.len() - 74,
            v2.len() - 1
        ))
    );
    // Signed by another root, or for another merchant.
    let stranger = Ed25519Key::from_seed(&[0xBB; 32]);
    let foreign = KeySet::new(MERCHANT, 3, t("2026-06-01T00:00:00Z"))
        .sign(&stranger)
        .unwrap();
    assert_eq!(
        KeySet::open(&foreign, &pinned).unwrap_err(),
        KeySetError::BadSignature
    );
    let other_merchant = KeySet::new(MerchantId(5), 3, t("2026-06-01T00:00:00Z"))
        .sign(&root())
        .unwrap();
    assert!(matches!(
        VerifyingKeyring::from_key_set(
            &other_merchant,
            &pinned,
            MERCHANT,
            t("2026-06-01T00:00:00Z"),
            0
        ),
        Err(KeySetError::WrongMerchant { .. })
    ));
    // A key listed twice is refused when signing and when reading.
    let twice = KeySet::new(MERCHANT, 4, t("2026-06-01T00:00:00Z"))
        .with_key(PublishedKey::new(
            KeyId(1),
            KeyRole::Vouchers,
            old.public_key(),
        ))
        .with_key(PublishedKey::new(
            KeyId(1),
            KeyRole::Members,
            new.public_key(),
        ));
    assert_eq!(
        twice.sign(&root()).unwrap_err(),
        KeySetError::DuplicateKey(KeyId(1))
    );
}

#[test]
fn a_retired_key_in_a_key_set_verifies_nothing() {
    let ring = head_office(Kind::Ed25519);
    let voucher = amount_off(1, 500).sign(&ring).unwrap().to_scanner_text();
    let set = published(&ring, 5, &[VOUCHERS]);
    let till = VerifyingKeyring::from_key_set(
        &set,
        &root().public_key(),
        MERCHANT,
        at("2026-06-15T00:00:00Z"),
        0,
    )
    .unwrap();
    assert_eq!(
        voucher_decision(&voucher, &till, STORE_A).rejection(),
        Some(Rejection::RetiredKey)
    );
    // Retiring on a till directly works too.
    let mut till = ring.verifying_keyring();
    assert!(voucher_decision(&voucher, &till, STORE_A).is_accepted());
    till.retire(VOUCHERS).unwrap();
    assert_eq!(
        voucher_decision(&voucher, &till, STORE_A).rejection(),
        Some(Rejection::RetiredKey)
    );
}

#[test]
fn a_token_of_one_scheme_is_refused_by_a_key_of_the_other() {
    // The same key id holds an HMAC key on one side and an Ed25519 key on the other.
    let hmac = signer(Kind::Hmac, VOUCHERS, KeyRole::Vouchers, 1);
    let ed = signer(Kind::Ed25519, VOUCHERS, KeyRole::Vouchers, 1);
    let from_hmac = amount_off(1, 500).sign(&hmac).unwrap().to_scanner_text();
    let from_ed = amount_off(1, 500).sign(&ed).unwrap().to_scanner_text();
    assert_eq!(
        voucher_decision(&from_hmac, &ed.verifying_keyring(), STORE_A).rejection(),
        Some(Rejection::BadSignature)
    );
    assert_eq!(
        voucher_decision(&from_ed, &hmac.verifying_keyring(), STORE_A).rejection(),
        Some(Rejection::BadSignature)
    );
}

#[test]
fn rotation_per_role_leaves_the_other_roles_active() {
    let mut ring = head_office(Kind::Hmac);
    ring.add_key(KeyId(50), KeyRole::Vouchers, key(50)).unwrap();
    ring.activate(KeyId(50)).unwrap();
    assert_eq!(ring.status(VOUCHERS), Some(KeyStatus::VerifyOnly));
    assert_eq!(ring.status(MEMBERS), Some(KeyStatus::Active));
    assert_eq!(ring.status(CHECK_IN_A), Some(KeyStatus::Active));
    let voucher = amount_off(1, 500).sign(&ring).unwrap();
    assert_eq!(voucher.header().unwrap().key, KeyId(50));
    // Export and import keep roles and statuses.
    let again = Keyring::import(ring.export_secrets()).unwrap();
    assert_eq!(again.role(KeyId(50)), Some(KeyRole::Vouchers));
    assert_eq!(again.status(VOUCHERS), Some(KeyStatus::VerifyOnly));
    let till = again.verifying_keyring();
    assert!(voucher_decision(&voucher.to_scanner_text(), &till, STORE_A).is_accepted());
}

#[test]
fn the_narrowest_active_key_signs_and_an_all_purpose_key_can_be_stood_down() {
    // A shop growing into a chain: its old all-purpose key is still active when the new
    // voucher key arrives.
    let mut ring = Keyring::with_active_key(MERCHANT, KeyId(1), key(1));
    ring.add_key(KeyId(2), KeyRole::Vouchers, Ed25519Key::from_seed(&[2; 32]))
        .unwrap();
    ring.activate(KeyId(2)).unwrap();
    assert_eq!(ring.status(KeyId(1)), Some(KeyStatus::Active));
    let voucher = amount_off(1, 500).sign(&ring).unwrap();
    assert_eq!(voucher.header().unwrap().key, KeyId(2));
    assert_eq!(voucher.header().unwrap().scheme, Scheme::Ed25519);
    // Cards still come from the all-purpose key until it is stood down.
    let card = membership_card(&ring, MemberId(1), &CardNumber::from_serial(1).unwrap()).unwrap();
    assert_eq!(card.header().unwrap().key, KeyId(1));
    ring.deactivate(KeyId(1)).unwrap();
    assert!(matches!(
        membership_card(&ring, MemberId(1), &CardNumber::from_serial(1).unwrap()),
        Err(Error::Key(KeyError::NotPermitted(_)))
    ));
    ring.retire(KeyId(1)).unwrap();
    assert_eq!(
        ring.deactivate(KeyId(9)),
        Err(KeyError::UnknownKey(KeyId(9)))
    );
}
