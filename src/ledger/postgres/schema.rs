//! The schema on the server: created and migrated by the library, versioned, and keyed by
//! merchant so one database can serve several merchants.
//!
//! `o2okit_schema` holds one row, the schema version; `o2okit_merchants` the merchants this
//! database serves. Every other table's key starts with the merchant. Instants are Unix
//! microseconds and u64 ids and amounts the i64 with the same bits, as in the SQLite ledger.

use super::pool::{Failure, Finish, Pool, Tx};
use crate::ids::MerchantId;
use crate::ledger::LedgerError;

/// The schema version this build writes and reads.
pub(super) const VERSION: i32 = 3;

const CREATE_SCHEMA_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS o2okit_schema (
        only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
        version INTEGER NOT NULL
    )";

const VERSION_1: &str = "
    CREATE TABLE o2okit_merchants (
        merchant BIGINT PRIMARY KEY
    );
    CREATE TABLE o2okit_vouchers (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        voucher BIGINT NOT NULL,
        has_terms BOOLEAN NOT NULL,
        max_uses BIGINT CHECK (max_uses >= 0),
        max_uses_per_member BIGINT,
        face_value BIGINT,
        valid_until BIGINT,
        campaign BIGINT,
        uses BIGINT NOT NULL CHECK (uses >= 0),
        value_spent BIGINT NOT NULL,
        issued_at BIGINT,
        revoked_at BIGINT,
        PRIMARY KEY (merchant, voucher)
    );
    CREATE TABLE o2okit_receipts (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        id BIGINT GENERATED ALWAYS AS IDENTITY,
        idempotency_key TEXT NOT NULL,
        voucher BIGINT NOT NULL,
        store BIGINT NOT NULL,
        member BIGINT,
        at BIGINT NOT NULL,
        spend BIGINT NOT NULL,
        amount BIGINT NOT NULL,
        voided_at BIGINT,
        PRIMARY KEY (merchant, id),
        UNIQUE (merchant, idempotency_key)
    );
    CREATE INDEX o2okit_receipts_by_voucher ON o2okit_receipts (merchant, voucher, member);
    CREATE TABLE o2okit_accounts (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        member BIGINT NOT NULL,
        points BIGINT NOT NULL,
        balance BIGINT NOT NULL,
        PRIMARY KEY (merchant, member)
    );
    CREATE TABLE o2okit_movements (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        id BIGINT GENERATED ALWAYS AS IDENTITY,
        idempotency_key TEXT NOT NULL,
        member BIGINT NOT NULL,
        kind SMALLINT NOT NULL,
        amount BIGINT NOT NULL,
        at BIGINT NOT NULL,
        points_after BIGINT NOT NULL,
        balance_after BIGINT NOT NULL,
        PRIMARY KEY (merchant, id),
        UNIQUE (merchant, idempotency_key)
    );
    CREATE INDEX o2okit_movements_by_member ON o2okit_movements (merchant, member, id);
    CREATE TABLE o2okit_visits (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        id BIGINT GENERATED ALWAYS AS IDENTITY,
        member BIGINT,
        store BIGINT NOT NULL,
        at BIGINT NOT NULL,
        spend BIGINT NOT NULL,
        voucher BIGINT,
        campaign BIGINT,
        discount BIGINT NOT NULL,
        PRIMARY KEY (merchant, id)
    );
    CREATE INDEX o2okit_visits_by_member ON o2okit_visits (merchant, member);
    CREATE TABLE o2okit_members (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        member BIGINT NOT NULL,
        pseudonym BYTEA NOT NULL,
        card BIGINT NOT NULL,
        enrolled_store BIGINT NOT NULL,
        referred_by BIGINT,
        enrolled_at BIGINT NOT NULL,
        welcome_voucher BIGINT,
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (merchant, member),
        UNIQUE (merchant, card)
    );
    CREATE TABLE o2okit_check_ins (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        member BIGINT NOT NULL,
        store BIGINT NOT NULL,
        hour BIGINT NOT NULL,
        step BIGINT,
        at BIGINT NOT NULL
    );
    CREATE INDEX o2okit_check_ins_by_member ON o2okit_check_ins (merchant, member, store);
    INSERT INTO o2okit_schema (version) VALUES (1);
";

/// Version 2: the head office's sync state (`HeadOffice` on PostgreSQL): every till's journal
/// records, the redemptions they report, revocations, and the deny list's versions.
const VERSION_2: &str = "
    CREATE TABLE o2okit_sync_meta (
        merchant BIGINT PRIMARY KEY REFERENCES o2okit_merchants,
        deny_version BIGINT NOT NULL
    );
    CREATE TABLE o2okit_sync_records (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        till BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        previous BYTEA NOT NULL,
        mac BYTEA NOT NULL,
        payload BYTEA NOT NULL,
        PRIMARY KEY (merchant, till, seq)
    );
    CREATE TABLE o2okit_sync_tills (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        till BIGINT NOT NULL,
        through BIGINT NOT NULL,
        PRIMARY KEY (merchant, till)
    );
    CREATE TABLE o2okit_sync_redemptions (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        till BIGINT NOT NULL,
        receipt BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        voucher BIGINT NOT NULL,
        store BIGINT NOT NULL,
        member BIGINT,
        at BIGINT NOT NULL,
        spend BIGINT NOT NULL,
        amount BIGINT NOT NULL,
        idempotency_key TEXT NOT NULL,
        max_uses BIGINT NOT NULL,
        stored_value BIGINT,
        campaign BIGINT,
        voided_at BIGINT,
        PRIMARY KEY (merchant, till, receipt)
    );
    CREATE INDEX o2okit_sync_redemptions_by_voucher ON o2okit_sync_redemptions (merchant, voucher);
    CREATE TABLE o2okit_sync_voids (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        till BIGINT NOT NULL,
        receipt BIGINT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (merchant, till, receipt)
    );
    CREATE TABLE o2okit_sync_revocations (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        voucher BIGINT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (merchant, voucher)
    );
    CREATE TABLE o2okit_sync_deny (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        voucher BIGINT NOT NULL,
        reason SMALLINT NOT NULL,
        added BIGINT NOT NULL,
        removed BIGINT
    );
    CREATE INDEX o2okit_sync_deny_by_voucher ON o2okit_sync_deny (merchant, voucher);
    CREATE INDEX o2okit_sync_deny_by_added ON o2okit_sync_deny (merchant, added);
    CREATE INDEX o2okit_sync_deny_by_removed ON o2okit_sync_deny (merchant, removed)
        WHERE removed IS NOT NULL;
    UPDATE o2okit_schema SET version = 2;
";

/// Version 3: personal vouchers as issued (what campaigns' frequency caps count; vouchers
/// recorded before this version are not in it) and members' marketing opt-outs.
const VERSION_3: &str = "
    CREATE TABLE o2okit_offers (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        voucher BIGINT NOT NULL,
        member BIGINT NOT NULL,
        campaign BIGINT,
        issued_at BIGINT NOT NULL,
        PRIMARY KEY (merchant, voucher)
    );
    CREATE INDEX o2okit_offers_by_time ON o2okit_offers (merchant, issued_at);
    CREATE TABLE o2okit_marketing_opt_outs (
        merchant BIGINT NOT NULL REFERENCES o2okit_merchants,
        member BIGINT NOT NULL,
        opted_out BOOLEAN NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (merchant, member)
    );
    UPDATE o2okit_schema SET version = 3;
";

/// Creates or migrates the schema, then checks that `merchant` may use the database: it is
/// registered, or the database serves no merchant yet (the first is registered), or
/// `register` asks for it. Nothing is written when the schema is newer than this build's or
/// the merchant is refused.
pub(super) fn prepare(
    pool: &Pool,
    merchant: MerchantId,
    register: bool,
) -> Result<(), LedgerError> {
    pool.write(|tx| {
        tx.batch(CREATE_SCHEMA_TABLE)?;
        // One process at a time creates or migrates; the others wait here and find it done.
        tx.batch("LOCK TABLE o2okit_schema IN EXCLUSIVE MODE")?;
        let version: Option<i32> = tx
            .query_opt("SELECT version FROM o2okit_schema", &[])?
            .map(|row| row.get(0));
        match version {
            None => {
                tx.batch(VERSION_1)?;
                tx.batch(VERSION_2)?;
                tx.batch(VERSION_3)?;
            }
            Some(1) => {
                tx.batch(VERSION_2)?;
                tx.batch(VERSION_3)?;
            }
            Some(2) => tx.batch(VERSION_3)?,
            Some(VERSION) => {}
            Some(found) => {
                return Err(Failure::Ledger(LedgerError::SchemaTooNew {
                    found: u32::try_from(found).unwrap_or(0),
                    supported: VERSION as u32,
                }));
            }
        }
        register_merchant(tx, merchant, register)?;
        Ok(Finish::Commit(()))
    })
}

fn register_merchant(tx: &mut Tx<'_>, merchant: MerchantId, register: bool) -> Result<(), Failure> {
    let id = i64::from(merchant.0);
    let served: Vec<i64> = tx
        .query(
            "SELECT merchant FROM o2okit_merchants ORDER BY merchant",
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if served.contains(&id) {
        return Ok(());
    }
    if !served.is_empty() && !register {
        return Err(Failure::Ledger(LedgerError::UnregisteredMerchant {
            merchant,
            served: served
                .iter()
                .map(|&m| MerchantId(u32::try_from(m).unwrap_or(u32::MAX)))
                .collect(),
        }));
    }
    tx.execute(
        "INSERT INTO o2okit_merchants (merchant) VALUES ($1)",
        &[&id],
    )?;
    Ok(())
}
