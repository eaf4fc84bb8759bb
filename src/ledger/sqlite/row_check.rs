//! Row checks: every row that holds a voucher's state, a receipt or an account balance carries
//! a checksum of its own content, verified whenever the row is read and for every row when the
//! ledger is opened.
//!
//! SQLite notices a damaged page structure (`PRAGMA quick_check`), but not bytes changed inside
//! a record: a use count that drops from 1 to 0 would re-arm a spent voucher. The check is the
//! first 8 bytes of SHA-256 over the table name and the row's columns. It guards against
//! accidental damage (a bad disk, a bad copy), not against someone who edits the file on
//! purpose and recomputes it: tamper evidence is a keyed journal's job.

use sha2::{Digest, Sha256};

/// A row whose content does not match its check.
#[derive(Debug, thiserror::Error)]
#[error("{table} row {key}: content does not match its check (the file is damaged)")]
pub(crate) struct RowCheckMismatch {
    pub(crate) table: &'static str,
    pub(crate) key: String,
}

impl RowCheckMismatch {
    /// As the rusqlite error a row mapper returns.
    pub(crate) fn into_sqlite(self) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(self))
    }
}

/// Builds the check of one row.
pub(super) struct RowCheck(Sha256);

impl RowCheck {
    /// A check for a row of `table`.
    pub(super) fn new(table: &str) -> Self {
        let mut hash = Sha256::new();
        hash.update(table.as_bytes());
        hash.update([0]);
        RowCheck(hash)
    }

    /// Adds an integer column (NULL as `None`).
    pub(super) fn int(mut self, value: Option<i64>) -> Self {
        match value {
            None => self.0.update([0]),
            Some(v) => {
                self.0.update([1]);
                self.0.update(v.to_le_bytes());
            }
        }
        self
    }

    /// Adds integer columns in order.
    pub(super) fn ints(self, values: &[Option<i64>]) -> Self {
        values.iter().fold(self, |check, &v| check.int(v))
    }

    /// Adds a text column.
    pub(super) fn text(mut self, value: &str) -> Self {
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value.as_bytes());
        self
    }

    /// The check, as SQLite stores it.
    pub(super) fn finish(self) -> i64 {
        let digest = self.0.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_le_bytes(first)
    }
}

/// Fails with [`RowCheckMismatch`] unless `stored` equals `computed`.
pub(super) fn verify(
    table: &'static str,
    key: impl ToString,
    stored: Option<i64>,
    computed: i64,
) -> rusqlite::Result<()> {
    if stored == Some(computed) {
        Ok(())
    } else {
        Err(RowCheckMismatch {
            table,
            key: key.to_string(),
        }
        .into_sqlite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_and_the_table_change_the_check() {
        let base = RowCheck::new("t").int(Some(1)).int(None).text("k").finish();
        assert_eq!(
            base,
            RowCheck::new("t").int(Some(1)).int(None).text("k").finish()
        );
        assert_ne!(
            base,
            RowCheck::new("u").int(Some(1)).int(None).text("k").finish()
        );
        assert_ne!(
            base,
            RowCheck::new("t").int(Some(0)).int(None).text("k").finish()
        );
        assert_ne!(
            base,
            RowCheck::new("t")
                .int(Some(1))
                .int(Some(0))
                .text("k")
                .finish()
        );
        assert_ne!(
            base,
            RowCheck::new("t").int(Some(1)).int(None).text("j").finish()
        );
        assert!(verify("t", 1, Some(base), base).is_ok());
        assert!(verify("t", 1, None, base).is_err());
    }
}
