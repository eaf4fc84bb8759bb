//! The scanner text of a realistic voucher fits QR version 4 at level M (114 alphanumeric
//! characters), so it scans from a phone screen at arm's length.

mod common;

use common::*;
use o2okit::*;

/// QR version 4-M alphanumeric capacity (ISO/IEC 18004 Table 7).
const QR_4M_ALPHANUMERIC: usize = 114;
/// The QR alphanumeric character set (ISO/IEC 18004 §7.4.4).
const QR_ALPHANUMERIC: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// A voucher with a time window, weekday and hour limits, three stores, a minimum spend,
/// single use and a member binding: the reference voucher. Ids are the size a chain
/// of 5,000 stores with millions of members and vouchers would use.
pub fn reference_voucher() -> Voucher {
    Voucher::new(
        VoucherId(48_000_123),
        MERCHANT,
        Currency::CNY,
        Benefit::AmountOff { minor: 2_000 },
    )
    .campaign(CampaignId(12))
    .for_member(MemberId(0x9e37_79b9_7f4a_7c15))
    .valid_between(local("2026-06-01T00:00"), local("2026-07-01T00:00"))
    .on_weekdays(WeekdaySet::WORKDAYS)
    .during(DailyWindow::hm(11, 0, 14, 0).unwrap())
    .at_stores([StoreId(4_001), StoreId(4_002), StoreId(4_999)])
    .min_spend(10_000)
    .max_uses(1)
}

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
    assert_eq!(
        Voucher::open(&token, &keyring()).unwrap(),
        reference_voucher()
    );
}
