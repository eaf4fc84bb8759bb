//! Ledger values to and from PostgreSQL rows. u64 ids and amounts are stored as the i64 with
//! the same bits and instants as Unix microseconds, as in the SQLite ledger.

use crate::ids::{CampaignId, MemberId, MerchantId, StoreId, VoucherId};
use crate::ledger::account::{Movement, MovementKind};
use crate::ledger::record::{Terms, VoucherRecord};
use crate::ledger::{IdempotencyKey, LedgerError, Receipt, ReceiptId, VisitEvent};
use crate::local_time::LocalDateTime;
use crate::membership::enrollment::Pseudonym;
use crate::membership::member::{CardNumber, Member};
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

/// u64 → the i64 with the same bits.
pub(super) fn int(value: u64) -> i64 {
    value as i64
}

/// The i64 with the same bits → u64.
pub(super) fn uint(value: i64) -> u64 {
    value as u64
}

pub(super) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn corrupt(what: &str, value: i64) -> LedgerError {
    LedgerError::Corrupt(format!("{what} {value} is out of range"))
}

pub(super) fn instant(micros: i64) -> Result<DateTime<Utc>, LedgerError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt("instant", micros))
}

fn opt_instant(micros: Option<i64>) -> Result<Option<DateTime<Utc>>, LedgerError> {
    micros.map(instant).transpose()
}

fn small(value: i64, what: &str) -> Result<u32, LedgerError> {
    u32::try_from(value).map_err(|_| corrupt(what, value))
}

fn key(text: String) -> Result<IdempotencyKey, LedgerError> {
    IdempotencyKey::new(text).map_err(|e| LedgerError::Corrupt(e.to_string()))
}

/// The columns [`voucher_of`] reads, in order.
macro_rules! voucher_columns {
    () => {
        "voucher, has_terms, max_uses, max_uses_per_member, face_value, valid_until, campaign, \
         uses, value_spent, issued_at, revoked_at"
    };
}
pub(super) use voucher_columns;

/// A voucher record's columns after `merchant, voucher`, in [`voucher_columns`] order.
pub(super) struct VoucherColumns {
    has_terms: bool,
    rest: [Option<i64>; 9],
}

impl VoucherColumns {
    pub(super) fn of(r: &VoucherRecord) -> Self {
        let t = r.terms;
        VoucherColumns {
            has_terms: t.is_some(),
            rest: [
                t.map(|t| i64::from(t.max_uses)),
                t.and_then(|t| t.max_uses_per_member).map(i64::from),
                t.and_then(|t| t.face_value_minor).map(int),
                t.and_then(|t| t.valid_until)
                    .map(|u| i64::from(u.minutes_since_epoch())),
                t.and_then(|t| t.campaign).map(|c| i64::from(c.0)),
                Some(i64::from(r.uses)),
                Some(int(r.value_spent_minor)),
                r.issued_at.map(micros),
                r.revoked_at.map(micros),
            ],
        }
    }

    /// The parameters `$3` to `$12` of a statement writing a voucher row.
    pub(super) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 10] {
        let r = &self.rest;
        [
            &self.has_terms,
            &r[0],
            &r[1],
            &r[2],
            &r[3],
            &r[4],
            &r[5],
            &r[6],
            &r[7],
            &r[8],
        ]
    }
}

/// A voucher row read with [`voucher_columns`].
pub(super) fn voucher_of(row: &Row) -> Result<VoucherRecord, LedgerError> {
    let opt_small = |i: usize, what: &str| -> Result<Option<u32>, LedgerError> {
        row.get::<_, Option<i64>>(i)
            .map(|v| small(v, what))
            .transpose()
    };
    let terms = if row.get::<_, bool>(1) {
        Some(Terms {
            max_uses: opt_small(2, "max_uses")?
                .ok_or_else(|| LedgerError::Corrupt("voucher terms without max_uses".into()))?,
            max_uses_per_member: opt_small(3, "max_uses_per_member")?,
            face_value_minor: row.get::<_, Option<i64>>(4).map(uint),
            valid_until: opt_small(5, "valid_until")?
                .map(|m| {
                    LocalDateTime::from_minutes_since_epoch(m)
                        .ok_or_else(|| corrupt("valid_until", i64::from(m)))
                })
                .transpose()?,
            campaign: opt_small(6, "campaign")?.map(CampaignId),
        })
    } else {
        None
    };
    Ok(VoucherRecord {
        voucher: VoucherId(uint(row.get(0))),
        terms,
        uses: small(row.get(7), "uses")?,
        value_spent_minor: uint(row.get(8)),
        issued_at: opt_instant(row.get(9))?,
        revoked_at: opt_instant(row.get(10))?,
    })
}

/// The columns [`receipt_of`] reads, in order.
macro_rules! receipt_columns {
    () => {
        "id, voucher, store, member, at, spend, amount, idempotency_key, voided_at"
    };
}
pub(super) use receipt_columns;

/// A receipt row read with [`receipt_columns`] from column `first` on, with when it was
/// voided.
pub(super) fn receipt_of(
    row: &Row,
    first: usize,
) -> Result<(Receipt, Option<DateTime<Utc>>), LedgerError> {
    let c = |i: usize| first + i;
    let store: i64 = row.get(c(2));
    let receipt = Receipt {
        id: ReceiptId(uint(row.get(c(0)))),
        voucher: VoucherId(uint(row.get(c(1)))),
        store: StoreId(small(store, "store")?),
        member: row.get::<_, Option<i64>>(c(3)).map(|m| MemberId(uint(m))),
        at: instant(row.get(c(4)))?,
        spend_minor: uint(row.get(c(5))),
        amount_minor: uint(row.get(c(6))),
        idempotency_key: key(row.get(c(7)))?,
    };
    Ok((receipt, opt_instant(row.get(c(8)))?))
}

/// The columns [`movement_of`] reads, in order.
macro_rules! movement_columns {
    () => {
        "id, member, kind, amount, at, idempotency_key, points_after, balance_after"
    };
}
pub(super) use movement_columns;

pub(super) fn movement_of(row: &Row) -> Result<Movement, LedgerError> {
    let code: i16 = row.get(2);
    let amount = uint(row.get(3));
    let kind = u8::try_from(code)
        .ok()
        .and_then(|code| MovementKind::from_code(code, amount))
        .ok_or_else(|| corrupt("movement kind", i64::from(code)))?;
    Ok(Movement {
        id: uint(row.get(0)),
        member: MemberId(uint(row.get(1))),
        kind,
        at: instant(row.get(4))?,
        idempotency_key: key(row.get(5))?,
        points_after: uint(row.get(6)),
        balance_after_minor: uint(row.get(7)),
    })
}

/// The columns [`visit_of_row`] reads, in order.
macro_rules! visit_columns {
    () => {
        "member, store, at, spend, voucher, campaign, discount"
    };
}
pub(super) use visit_columns;

pub(super) fn visit_of_row(row: &Row) -> Result<VisitEvent, LedgerError> {
    Ok(VisitEvent {
        member: row.get::<_, Option<i64>>(0).map(|m| MemberId(uint(m))),
        store: StoreId(small(row.get(1), "store")?),
        at: instant(row.get(2))?,
        spend_minor: uint(row.get(3)),
        voucher: row.get::<_, Option<i64>>(4).map(|v| VoucherId(uint(v))),
        campaign: row
            .get::<_, Option<i64>>(5)
            .map(|c| small(c, "campaign").map(CampaignId))
            .transpose()?,
        discount_minor: uint(row.get(6)),
    })
}

/// A visit's columns after `merchant`, in [`visit_columns`] order.
pub(super) struct VisitColumns([Option<i64>; 7]);

impl VisitColumns {
    pub(super) fn of(v: &VisitEvent) -> Self {
        VisitColumns([
            v.member.map(|m| int(m.0)),
            Some(i64::from(v.store.0)),
            Some(micros(v.at)),
            Some(int(v.spend_minor)),
            v.voucher.map(|id| int(id.0)),
            v.campaign.map(|c| i64::from(c.0)),
            Some(int(v.discount_minor)),
        ])
    }

    pub(super) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 7] {
        let c = &self.0;
        [&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6]]
    }
}

/// The columns [`member_of`] reads, in order.
macro_rules! member_columns {
    () => {
        "member, pseudonym, card, enrolled_store, referred_by, enrolled_at, welcome_voucher"
    };
}
pub(super) use member_columns;

pub(super) fn member_of(
    merchant: MerchantId,
    row: &Row,
) -> Result<(Pseudonym, Member), LedgerError> {
    let bytes: Vec<u8> = row.get(1);
    let pseudonym: [u8; 32] = bytes
        .try_into()
        .map_err(|_| LedgerError::Corrupt("a member's pseudonym is not 32 bytes".into()))?;
    let card = CardNumber::from_serial(uint(row.get(2)))
        .map_err(|e| LedgerError::Corrupt(e.to_string()))?;
    Ok((
        Pseudonym::from_bytes(pseudonym),
        Member {
            id: MemberId(uint(row.get(0))),
            merchant,
            card,
            enrolled_store: StoreId(small(row.get(3), "store")?),
            referred_by: row.get::<_, Option<i64>>(4).map(|m| MemberId(uint(m))),
            enrolled_at: instant(row.get(5))?,
            welcome_voucher: row.get::<_, Option<i64>>(6).map(|v| VoucherId(uint(v))),
        },
    ))
}
