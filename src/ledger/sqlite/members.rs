//! Members and check-ins in the SQLite ledger.

use super::{insert_visit, instant, int, load_record, micros, sqlite_error, store_record, uint};
use crate::ids::{MemberId, MerchantId, StoreId, VoucherId};
use crate::ledger::LedgerError;
use crate::ledger::members::{
    CheckInOutcome, CheckInRequest, EarlierCheckIns, free_card_serial, hour_of, new_member,
    refusal, visit_of_check_in,
};
use crate::ledger::record::VoucherRecord;
use crate::membership::enrollment::Pseudonym;
use crate::membership::member::{CardNumber, Member};
use rusqlite::{Connection, OptionalExtension, Row, params};

pub(super) const MEMBER_COLUMNS: &str =
    "member, pseudonym, card, enrolled_store, referred_by, enrolled_at, welcome_voucher";

pub(super) fn member_of(
    merchant: MerchantId,
    row: &Row<'_>,
) -> rusqlite::Result<(Pseudonym, Member)> {
    let bytes: Vec<u8> = row.get(1)?;
    let pseudonym: [u8; 32] = bytes
        .try_into()
        .map_err(|_| rusqlite::Error::IntegralValueOutOfRange(1, 0))?;
    let serial = uint(row.get(2)?);
    let card = CardNumber::from_serial(serial)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    Ok((
        Pseudonym::from_bytes(pseudonym),
        Member {
            id: MemberId(uint(row.get(0)?)),
            merchant,
            card,
            enrolled_store: StoreId(row.get(3)?),
            referred_by: row.get::<_, Option<i64>>(4)?.map(|m| MemberId(uint(m))),
            enrolled_at: instant(row.get(5)?)?,
            welcome_voucher: row.get::<_, Option<i64>>(6)?.map(|v| VoucherId(uint(v))),
        },
    ))
}

/// One member by a column's value.
pub(super) fn find_member(
    c: &Connection,
    merchant: MerchantId,
    column: &str,
    value: i64,
) -> rusqlite::Result<Option<(Pseudonym, Member)>> {
    c.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE {column} = ?1"
    ))?
    .query_row([value], |row| member_of(merchant, row))
    .optional()
}

/// The check-in transaction's body (the caller holds the write lock).
pub(super) fn check_in(
    tx: &Connection,
    merchant: MerchantId,
    request: &CheckInRequest<'_>,
) -> Result<CheckInOutcome, LedgerError> {
    let id = request.pseudonym.member_id();
    let known = find_member(tx, merchant, "member", int(id.0)).map_err(sqlite_error)?;
    let (member, enrolled) = match known {
        Some((pseudonym, _)) if pseudonym != *request.pseudonym => {
            return Err(LedgerError::IdentityCollision(id));
        }
        Some((_, member)) => (member, false),
        None => {
            let mut taken = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM members WHERE card = ?1)")
                .map_err(sqlite_error)?;
            let serial = free_card_serial(request.pseudonym, |s| {
                taken.query_row([int(s)], |r| r.get::<_, bool>(0))
            })
            .map_err(sqlite_error)?;
            (new_member(merchant, request, serial)?, true)
        }
    };
    let (store, hour) = (request.check_in.store, hour_of(request));
    let earlier = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM check_ins
                            WHERE member = ?1 AND store = ?2 AND step IS ?3),
                    (SELECT max(hour) FROM check_ins WHERE member = ?1 AND store = ?2)",
        )
        .and_then(|mut s| {
            s.query_row(
                params![int(id.0), store.0, request.check_in.step.map(int)],
                |r| {
                    Ok(EarlierCheckIns {
                        step_seen: r.get(0)?,
                        latest_hour: r.get::<_, Option<i64>>(1)?.map(uint),
                    })
                },
            )
        })
        .map_err(sqlite_error)?;
    if let Some(reason) = refusal(request, earlier) {
        return Ok(CheckInOutcome::Refused { reason });
    }
    if enrolled {
        if let Some(voucher) = request.welcome
            && load_record(tx, voucher.id).map_err(sqlite_error)?.is_some()
        {
            return Err(LedgerError::VoucherConflict(voucher.id));
        }
        tx.prepare_cached(&format!(
            "INSERT INTO members ({MEMBER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .and_then(|mut s| {
            s.execute(params![
                int(id.0),
                &request.pseudonym.as_bytes()[..],
                int(member.card.serial()),
                member.enrolled_store.0,
                member.referred_by.map(|m| int(m.0)),
                micros(member.enrolled_at),
                member.welcome_voucher.map(|v| int(v.0)),
            ])
        })
        .map_err(sqlite_error)?;
        if let Some(voucher) = request.welcome {
            let record = VoucherRecord::issued(None, voucher, request.at)?;
            store_record(tx, &record).map_err(sqlite_error)?;
        }
    }
    tx.prepare_cached(
        "INSERT INTO check_ins (member, store, hour, step, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            int(id.0),
            store.0,
            int(hour),
            request.check_in.step.map(int),
            micros(request.at)
        ])
    })
    .map_err(sqlite_error)?;
    let visit = visit_of_check_in(request);
    insert_visit(tx, &visit).map_err(sqlite_error)?;
    Ok(CheckInOutcome::Visited {
        member,
        enrolled,
        visit,
    })
}
