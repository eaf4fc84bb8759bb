//! The deny list: voucher ids the head office knows are revoked or already spent, signed, so
//! that a till working offline refuses them in [`crate::verify`].
//!
//! A signed voucher stays valid wherever its signature checks; only the ledger knows that it
//! was used. A till that cannot reach the chain's ledger consults the last deny list it
//! received instead: a revoked voucher is refused as [`Rejection::Revoked`], an exhausted one
//! as [`Rejection::AlreadyUsed`]. The head office publishes a full list now and then and a
//! small delta as often as it likes; a till applies deltas in order.
//!
//! # Formats, version 1
//!
//! ```text
//! list:   "O2ODL" 1, merchant varint, version varint,
//!         revoked ids, exhausted ids,
//!         Ed25519 signature (64 bytes) of every byte before it
//! delta:  "O2ODD" 1, merchant varint, from version varint, to version varint,
//!         revoked ids added, exhausted ids added, exhausted ids removed (a void restored a use),
//!         Ed25519 signature (64 bytes) of every byte before it
//! ids:    count varint, then the ids sorted ascending: the first as a varint, each next one as
//!         the varint of its difference from the one before (never 0)
//! ```
//!
//! Both are signed by the root key whose public half tills pin for key sets
//! ([`crate::KeySet`]): the head office holds it, a till holds nothing that can sign one.
//!
//! Size: an id costs the bytes of its difference from the previous one. Ids issued from a
//! counter or a range (as `Voucher` ids are) cost 1 to 3 bytes; one million ids spread over
//! 2³² take about 2 MB. Ids drawn at random from all of 2⁶⁴ would cost about 6 bytes each.
//!
//! Lookup: a bit filter of 8 bits per id (one bit per id, hashed) answers most misses (the
//! everyday case: a valid voucher) from one word, without touching the ids. Past it, an
//! open-addressing hash table of the ids (at most half full, linear probing) finds a listed
//! id in one memory access, rarely two; ids within 2³² of the smallest (ids from a counter)
//! take 4 bytes a slot, others 8. Memory: the sorted ids (8 bytes each), the table (8 to 16
//! bytes per id when its ids take 4 bytes), the filter (1 byte): 17 to 25 MB for a million.

use crate::ids::{MerchantId, VoucherId};
use crate::keys::{Ed25519Key, PublicKey};
use crate::rejection::Rejection;
use crate::token::wire::{Reader, Writer};

const LIST_MAGIC: &[u8; 5] = b"O2ODL";
const DELTA_MAGIC: &[u8; 5] = b"O2ODD";
const FORMAT: u8 = 1;
const SIGNATURE_LEN: usize = 64;

/// The most ids one list or delta may hold: far above any chain's, it bounds what a hostile
/// file can make a till allocate.
pub const MAX_IDS: usize = 50_000_000;

/// The hash table of a set's ids. Its empty slot is 0.
#[derive(Debug, Clone)]
enum Table {
    /// Ids within 2³² − 1 of the smallest: slot value `id − base + 1` in 4 bytes.
    Narrow { base: u64, slots: Vec<u32> },
    /// Any ids: the id itself in 8 bytes (id 0, the empty slot's value, is kept apart).
    Wide { slots: Vec<u64>, has_zero: bool },
}

impl Default for Table {
    fn default() -> Self {
        Table::Narrow {
            base: 0,
            slots: vec![0],
        }
    }
}

/// The slot `id` hashes to among `len` (fast range reduction of a multiplicative hash).
#[inline]
fn home(id: u64, len: usize) -> usize {
    let hash = id.wrapping_mul(0xd6e8_feb8_6659_fd93);
    ((u128::from(hash) * len as u128) >> 64) as usize
}

/// Puts `value` (never 0) in the first free slot from `id`'s home.
fn put<T: Copy + PartialEq + Default>(slots: &mut [T], id: u64, value: T) {
    let mut slot = home(id, slots.len());
    while slots[slot] != T::default() {
        slot = if slot + 1 == slots.len() { 0 } else { slot + 1 };
    }
    slots[slot] = value;
}

/// Whether `value` sits in the run of slots from `id`'s home.
#[inline]
fn holds<T: Copy + PartialEq + Default>(slots: &[T], id: u64, value: T) -> bool {
    let mut slot = home(id, slots.len());
    loop {
        let found = slots[slot];
        if found == value {
            return true;
        }
        if found == T::default() {
            return false;
        }
        slot = if slot + 1 == slots.len() { 0 } else { slot + 1 };
    }
}

impl Table {
    fn of(ids: &[u64]) -> Self {
        let len = (ids.len() * 2).next_power_of_two().max(2);
        match (ids.first(), ids.last()) {
            (Some(&min), Some(&max)) if max - min < u64::from(u32::MAX) => {
                let mut slots = vec![0u32; len];
                for &id in ids {
                    put(&mut slots, id, (id - min + 1) as u32);
                }
                Table::Narrow { base: min, slots }
            }
            _ => {
                let mut slots = vec![0u64; len];
                for &id in ids.iter().filter(|&&id| id != 0) {
                    put(&mut slots, id, id);
                }
                Table::Wide {
                    slots,
                    has_zero: ids.first() == Some(&0),
                }
            }
        }
    }

    #[inline]
    fn contains(&self, id: u64) -> bool {
        match self {
            Table::Narrow { base, slots } => match id.checked_sub(*base) {
                Some(offset) if offset < u64::from(u32::MAX) => holds(slots, id, offset as u32 + 1),
                _ => false,
            },
            Table::Wide { slots, has_zero } => {
                if id == 0 {
                    *has_zero
                } else {
                    holds(slots, id, id)
                }
            }
        }
    }
}

/// Why deny-list bytes were refused. Nothing is changed by a refused list or delta.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DenyListError {
    /// Not a deny list (or delta) of a format this build reads, or cut short.
    #[error("not a deny list: {0}")]
    Malformed(String),
    /// A format version this build does not read.
    #[error("unsupported deny-list format {0}")]
    UnsupportedFormat(u8),
    /// The signature does not check against the pinned root key.
    #[error("deny list signature does not check")]
    BadSignature,
    /// A list or delta of another merchant.
    #[error("deny list of merchant {found}, expected {expected}")]
    WrongMerchant {
        /// The merchant of the till.
        expected: MerchantId,
        /// The merchant named in the list.
        found: MerchantId,
    },
    /// A list older than the one held: refused, so an attacker cannot bring back spent
    /// vouchers by replaying an old list.
    #[error("deny list version {offered} is older than the version {held} held")]
    Rollback {
        /// The version held.
        held: u64,
        /// The version offered.
        offered: u64,
    },
    /// A delta that does not start at the version held: apply the ones between first, or
    /// load a full list.
    #[error("delta from version {from} does not apply to version {held}")]
    VersionGap {
        /// The version held.
        held: u64,
        /// The delta's starting version.
        from: u64,
    },
}

/// A sorted set of voucher ids with a miss filter and a hash table for fast lookups.
#[derive(Debug, Clone, Default)]
struct IdSet {
    ids: Vec<u64>,
    /// Every id at its hashed slot or the first free one after (linear probing).
    table: Table,
    /// One bit per hashed id, 8 bits per id rounded up to a power of two.
    filter: Vec<u64>,
    /// 64 − log2(bits in the filter).
    filter_shift: u32,
}

/// Two sets are equal when they hold the same ids (the rest is derived from them).
impl PartialEq for IdSet {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
    }
}

impl Eq for IdSet {}

impl IdSet {
    fn from_sorted(ids: Vec<u64>) -> Self {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let table = Table::of(&ids);
        let bits = (ids.len() * 8).next_power_of_two().max(64);
        let filter_shift = 64 - bits.trailing_zeros();
        let mut filter = vec![0u64; bits / 64];
        for &id in &ids {
            let bit = Self::filter_bit(id, filter_shift);
            filter[bit / 64] |= 1 << (bit % 64);
        }
        IdSet {
            ids,
            table,
            filter,
            filter_shift,
        }
    }

    #[inline]
    fn filter_bit(id: u64, shift: u32) -> usize {
        (id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize
    }

    fn from_unsorted(mut ids: Vec<u64>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        Self::from_sorted(ids)
    }

    #[inline]
    fn contains(&self, id: u64) -> bool {
        if self.ids.is_empty() {
            return false;
        }
        let bit = Self::filter_bit(id, self.filter_shift);
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return false;
        }
        self.table.contains(id)
    }

    /// This set with `added` in and `removed` out.
    fn changed(&self, added: &[u64], removed: &[u64]) -> Self {
        let mut ids: Vec<u64> = self
            .ids
            .iter()
            .copied()
            .filter(|id| removed.binary_search(id).is_err())
            .collect();
        ids.extend_from_slice(added);
        Self::from_unsorted(ids)
    }
}

fn write_ids(w: &mut Writer, ids: &[u64]) {
    w.varint(ids.len() as u64);
    let mut previous = None;
    for &id in ids {
        w.varint(previous.map_or(id, |p| id - p));
        previous = Some(id);
    }
}

fn read_ids(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<u64>, DenyListError> {
    let malformed = |e: crate::token::TokenError| DenyListError::Malformed(e.to_string());
    let count = r.varint(field).map_err(malformed)?;
    // Every id takes at least one byte: a count above the bytes left is a lie.
    if count > MAX_IDS as u64 || count > r.remaining() as u64 {
        return Err(DenyListError::Malformed(format!("{field}: {count} ids")));
    }
    let mut ids = Vec::with_capacity(count as usize);
    let mut previous: Option<u64> = None;
    for _ in 0..count {
        let value = r.varint(field).map_err(malformed)?;
        let id = match previous {
            None => value,
            Some(_) if value == 0 => {
                return Err(DenyListError::Malformed(format!("{field}: an id twice")));
            }
            Some(p) => p
                .checked_add(value)
                .ok_or_else(|| DenyListError::Malformed(format!("{field}: id past 2^64")))?,
        };
        ids.push(id);
        previous = Some(id);
    }
    Ok(ids)
}

/// Checks the frame and the signature of `bytes` and returns a reader after the magic.
fn open_frame<'b>(
    bytes: &'b [u8],
    magic: &[u8; 5],
    root: &PublicKey,
) -> Result<Reader<'b>, DenyListError> {
    if bytes.len() < magic.len() + 1 + SIGNATURE_LEN || &bytes[..5] != magic {
        return Err(DenyListError::Malformed("no deny-list header".into()));
    }
    if bytes[5] != FORMAT {
        return Err(DenyListError::UnsupportedFormat(bytes[5]));
    }
    let (signed, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
    if !root.verifies(signed, signature) {
        return Err(DenyListError::BadSignature);
    }
    Ok(Reader::new(&signed[6..]))
}

/// `payload` framed as a list (or, with `delta`, a delta) and signed by `root`, whatever it
/// holds: lets a fuzzer reach the readers behind the signature check.
#[cfg(fuzzing)]
pub(crate) fn sign_payload(root: &Ed25519Key, delta: bool, payload: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_capacity(payload.len() + 6);
    w.bytes(if delta { DELTA_MAGIC } else { LIST_MAGIC });
    w.u8(FORMAT);
    w.bytes(payload);
    signed(w, root)
}

fn signed(mut w: Writer, root: &Ed25519Key) -> Vec<u8> {
    let signature = root.sign(w.as_slice());
    w.bytes(&signature);
    w.into_bytes()
}

fn read_merchant(r: &mut Reader<'_>, expected: MerchantId) -> Result<(), DenyListError> {
    let found = MerchantId(
        r.varint_u32("merchant")
            .map_err(|e| DenyListError::Malformed(e.to_string()))?,
    );
    if found != expected {
        return Err(DenyListError::WrongMerchant { expected, found });
    }
    Ok(())
}

fn read_version(r: &mut Reader<'_>, field: &'static str) -> Result<u64, DenyListError> {
    r.varint(field)
        .map_err(|e| DenyListError::Malformed(e.to_string()))
}

fn finish(r: &Reader<'_>) -> Result<(), DenyListError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(DenyListError::Malformed(
            "bytes after the last field".into(),
        ))
    }
}

/// The voucher ids of one merchant that tills must refuse, at one version.
///
/// # Example
/// ```
/// use o2okit::{DenyList, Ed25519Key, MerchantId, Rejection, VoucherId};
///
/// let root = Ed25519Key::from_seed(&[9; 32]); // the head office's; tills pin its public key
/// let merchant = MerchantId(7);
/// // Head office: version 1 revokes voucher 12; version 2 adds that 40 is spent.
/// let v1 = DenyList::new(merchant, 1).with_revoked([VoucherId(12)]);
/// let v2 = v1.clone().with_version(2).with_exhausted([VoucherId(40)]);
/// let (full, delta) = (v1.sign(&root), v1.delta_to(&v2).sign(&root));
/// // Till: loads the full list once, then applies deltas as they come.
/// let mut held = DenyList::open(&full, &root.public_key(), merchant)?;
/// held.apply_delta(&delta, &root.public_key())?;
/// assert_eq!(held.version(), 2);
/// assert_eq!(held.check(VoucherId(12)), Some(Rejection::Revoked));
/// assert_eq!(held.check(VoucherId(40)), Some(Rejection::AlreadyUsed));
/// assert_eq!(held.check(VoucherId(41)), None);
/// # Ok::<(), o2okit::DenyListError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyList {
    merchant: MerchantId,
    version: u64,
    revoked: IdSet,
    exhausted: IdSet,
}

/// The change from one deny-list version to the next, made by [`DenyList::delta_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyListDelta {
    merchant: MerchantId,
    from: u64,
    to: u64,
    revoked: Vec<u64>,
    exhausted: Vec<u64>,
    restored: Vec<u64>,
}

impl DenyList {
    /// An empty list of `merchant` at `version`.
    pub fn new(merchant: MerchantId, version: u64) -> Self {
        DenyList {
            merchant,
            version,
            revoked: IdSet::default(),
            exhausted: IdSet::default(),
        }
    }

    /// The list at another version (the head office bumps it with every change it publishes).
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// The list with these vouchers revoked.
    pub fn with_revoked(mut self, vouchers: impl IntoIterator<Item = VoucherId>) -> Self {
        let added: Vec<u64> = vouchers.into_iter().map(|v| v.0).collect();
        self.revoked = self.revoked.changed(&added, &[]);
        self
    }

    /// The list with these vouchers spent (every use, or all their value).
    pub fn with_exhausted(mut self, vouchers: impl IntoIterator<Item = VoucherId>) -> Self {
        let added: Vec<u64> = vouchers.into_iter().map(|v| v.0).collect();
        self.exhausted = self.exhausted.changed(&added, &[]);
        self
    }

    /// The list without these vouchers among the spent ones (a void gave a use back).
    pub fn without_exhausted(mut self, vouchers: impl IntoIterator<Item = VoucherId>) -> Self {
        let mut removed: Vec<u64> = vouchers.into_iter().map(|v| v.0).collect();
        removed.sort_unstable();
        self.exhausted = self.exhausted.changed(&[], &removed);
        self
    }

    /// The merchant.
    pub fn merchant(&self) -> MerchantId {
        self.merchant
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// How many ids the list holds (revoked and spent).
    pub fn len(&self) -> usize {
        self.revoked.ids.len() + self.exhausted.ids.len()
    }

    /// Whether the list holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Why a till must refuse `voucher`: [`Rejection::Revoked`] or [`Rejection::AlreadyUsed`];
    /// `None` when the list does not name it.
    #[inline]
    pub fn check(&self, voucher: VoucherId) -> Option<Rejection> {
        if self.revoked.contains(voucher.0) {
            Some(Rejection::Revoked)
        } else if self.exhausted.contains(voucher.0) {
            Some(Rejection::AlreadyUsed)
        } else {
            None
        }
    }

    /// The signed bytes of the whole list.
    pub fn sign(&self, root: &Ed25519Key) -> Vec<u8> {
        signed(self.unsigned(), root)
    }

    fn unsigned(&self) -> Writer {
        let mut w = Writer::with_capacity(16 + 2 * self.len());
        w.bytes(LIST_MAGIC);
        w.u8(FORMAT);
        w.varint(u64::from(self.merchant.0));
        w.varint(self.version);
        write_ids(&mut w, &self.revoked.ids);
        write_ids(&mut w, &self.exhausted.ids);
        w
    }

    #[cfg(feature = "sqlite")]
    /// The list's bytes without a signature, for a till's own storage of the list it built
    /// from signed deltas (its ledger file, which it trusts as it trusts its receipts).
    pub(crate) fn stored_bytes(&self) -> Vec<u8> {
        self.unsigned().into_bytes()
    }

    #[cfg(feature = "sqlite")]
    /// A list from [`DenyList::stored_bytes`].
    pub(crate) fn from_stored_bytes(
        bytes: &[u8],
        merchant: MerchantId,
    ) -> Result<Self, DenyListError> {
        if bytes.len() < 6 || &bytes[..5] != LIST_MAGIC {
            return Err(DenyListError::Malformed("no deny-list header".into()));
        }
        if bytes[5] != FORMAT {
            return Err(DenyListError::UnsupportedFormat(bytes[5]));
        }
        Self::read_body(Reader::new(&bytes[6..]), merchant)
    }

    /// Reads a signed list, checking it against the pinned root key and the till's merchant.
    ///
    /// # Errors
    /// [`DenyListError`]: malformed, unsupported, a bad signature (checked before anything
    /// else is read), another merchant's list.
    pub fn open(
        bytes: &[u8],
        root: &PublicKey,
        merchant: MerchantId,
    ) -> Result<Self, DenyListError> {
        Self::read_body(open_frame(bytes, LIST_MAGIC, root)?, merchant)
    }

    /// A list's fields after its header.
    fn read_body(mut r: Reader<'_>, merchant: MerchantId) -> Result<Self, DenyListError> {
        read_merchant(&mut r, merchant)?;
        let version = read_version(&mut r, "version")?;
        let revoked = read_ids(&mut r, "revoked")?;
        let exhausted = read_ids(&mut r, "exhausted")?;
        finish(&r)?;
        Ok(DenyList {
            merchant,
            version,
            revoked: IdSet::from_sorted(revoked),
            exhausted: IdSet::from_sorted(exhausted),
        })
    }

    /// Replaces this list with a newer full one.
    ///
    /// # Errors
    /// As [`DenyList::open`]; [`DenyListError::Rollback`] for a list older than this one
    /// (this one is kept).
    pub fn replace_with(&mut self, bytes: &[u8], root: &PublicKey) -> Result<(), DenyListError> {
        let newer = Self::open(bytes, root, self.merchant)?;
        if newer.version < self.version {
            return Err(DenyListError::Rollback {
                held: self.version,
                offered: newer.version,
            });
        }
        *self = newer;
        Ok(())
    }

    /// What changed from this list to `newer`, for the head office to publish.
    pub fn delta_to(&self, newer: &DenyList) -> DenyListDelta {
        let added = |old: &IdSet, new: &IdSet| -> Vec<u64> {
            new.ids
                .iter()
                .copied()
                .filter(|&id| old.ids.binary_search(&id).is_err())
                .collect()
        };
        DenyListDelta {
            merchant: self.merchant,
            from: self.version,
            to: newer.version,
            revoked: added(&self.revoked, &newer.revoked),
            exhausted: added(&self.exhausted, &newer.exhausted),
            restored: added(&newer.exhausted, &self.exhausted),
        }
    }

    /// Applies a signed delta that starts at this list's version.
    ///
    /// # Errors
    /// As [`DenyList::open`]; [`DenyListError::VersionGap`] for a delta from another version,
    /// [`DenyListError::Rollback`] for one that does not move forward. Nothing changes on an
    /// error.
    pub fn apply_delta(&mut self, bytes: &[u8], root: &PublicKey) -> Result<(), DenyListError> {
        let mut r = open_frame(bytes, DELTA_MAGIC, root)?;
        read_merchant(&mut r, self.merchant)?;
        let from = read_version(&mut r, "from version")?;
        let to = read_version(&mut r, "to version")?;
        let revoked = read_ids(&mut r, "revoked")?;
        let exhausted = read_ids(&mut r, "exhausted")?;
        let restored = read_ids(&mut r, "restored")?;
        finish(&r)?;
        if from != self.version {
            return Err(DenyListError::VersionGap {
                held: self.version,
                from,
            });
        }
        if to <= from {
            return Err(DenyListError::Rollback {
                held: self.version,
                offered: to,
            });
        }
        self.revoked = self.revoked.changed(&revoked, &[]);
        self.exhausted = self.exhausted.changed(&exhausted, &restored);
        self.version = to;
        Ok(())
    }
}

impl DenyListDelta {
    /// A delta from its parts (each list of ids in any order, without repeats).
    #[cfg(feature = "sqlite")]
    pub(crate) fn from_parts(
        merchant: MerchantId,
        from: u64,
        to: u64,
        mut revoked: Vec<u64>,
        mut exhausted: Vec<u64>,
        mut restored: Vec<u64>,
    ) -> Self {
        for ids in [&mut revoked, &mut exhausted, &mut restored] {
            ids.sort_unstable();
            ids.dedup();
        }
        DenyListDelta {
            merchant,
            from,
            to,
            revoked,
            exhausted,
            restored,
        }
    }

    /// The version it applies to.
    pub fn from_version(&self) -> u64 {
        self.from
    }

    /// The version it leads to.
    pub fn to_version(&self) -> u64 {
        self.to
    }

    /// The signed bytes to publish.
    pub fn sign(&self, root: &Ed25519Key) -> Vec<u8> {
        let ids = self.revoked.len() + self.exhausted.len() + self.restored.len();
        let mut w = Writer::with_capacity(24 + 2 * ids);
        w.bytes(DELTA_MAGIC);
        w.u8(FORMAT);
        w.varint(u64::from(self.merchant.0));
        w.varint(self.from);
        w.varint(self.to);
        write_ids(&mut w, &self.revoked);
        write_ids(&mut w, &self.exhausted);
        write_ids(&mut w, &self.restored);
        signed(w, root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn root() -> Ed25519Key {
        Ed25519Key::from_seed(&[3; 32])
    }

    #[test]
    fn table_lookup_agrees_with_a_hash_set() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut ids = Vec::new();
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ids.push(state % 100_000);
        }
        let set = IdSet::from_unsorted(ids.clone());
        let reference: HashSet<u64> = ids.into_iter().collect();
        for probe in 0..100_001 {
            assert_eq!(set.contains(probe), reference.contains(&probe), "{probe}");
        }
        assert!(!IdSet::default().contains(0));
        assert!(set.contains(*set.ids.last().unwrap()));
        // Id 0 is the table's empty slot: kept apart, never confused with one.
        let edges = IdSet::from_unsorted(vec![0, 7, u64::MAX]);
        assert!(edges.contains(0) && edges.contains(7) && edges.contains(u64::MAX));
        assert!(!edges.contains(1) && !IdSet::from_unsorted(vec![7]).contains(0));
        // Ids a counter issued sit in 4-byte slots, up to 2³² − 2 above the smallest.
        let top = 10 + u64::from(u32::MAX) - 1;
        let narrow = IdSet::from_unsorted(vec![10, 11, top]);
        assert!(matches!(narrow.table, Table::Narrow { base: 10, .. }));
        assert!(narrow.contains(10) && narrow.contains(11) && narrow.contains(top));
        assert!(!narrow.contains(9) && !narrow.contains(12) && !narrow.contains(top + 1));
        assert!(!narrow.contains(0) && !narrow.contains(u64::MAX));
        assert!(matches!(edges.table, Table::Wide { .. }));
        // Ids that all hash near each other still probe to each one.
        let clustered: Vec<u64> = (1..=5_000u64).map(|i| i << 40).collect();
        let set = IdSet::from_unsorted(clustered.clone());
        assert!(clustered.iter().all(|&id| set.contains(id)));
        assert!(!set.contains(3) && !set.contains((1 << 40) + 1));
    }

    #[test]
    fn a_list_survives_its_bytes_and_refuses_tampering() {
        let list = DenyList::new(MerchantId(7), 3)
            .with_revoked([VoucherId(5), VoucherId(u64::MAX)])
            .with_exhausted([VoucherId(0), VoucherId(9), VoucherId(10)]);
        let bytes = list.sign(&root());
        let public = root().public_key();
        assert_eq!(
            DenyList::open(&bytes, &public, MerchantId(7)).unwrap(),
            list
        );
        assert_eq!(
            DenyList::open(&bytes, &public, MerchantId(8)),
            Err(DenyListError::WrongMerchant {
                expected: MerchantId(8),
                found: MerchantId(7)
            })
        );
        let other = Ed25519Key::from_seed(&[4; 32]).public_key();
        assert_eq!(
            DenyList::open(&bytes, &other, MerchantId(7)),
            Err(DenyListError::BadSignature)
        );
        for i in 6..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[i] ^= 0x20;
            assert_eq!(
                DenyList::open(&tampered, &public, MerchantId(7)),
                Err(DenyListError::BadSignature),
                "byte {i}"
            );
        }
        assert!(matches!(
            DenyList::open(&bytes[..40], &public, MerchantId(7)),
            Err(DenyListError::Malformed(_) | DenyListError::BadSignature)
        ));
        let mut future = bytes.clone();
        future[5] = 2;
        assert_eq!(
            DenyList::open(&future, &public, MerchantId(7)),
            Err(DenyListError::UnsupportedFormat(2))
        );
    }

    #[test]
    fn deltas_apply_in_order_only_and_lists_never_roll_back() {
        let public = root().public_key();
        let v1 = DenyList::new(MerchantId(7), 1).with_exhausted([VoucherId(1), VoucherId(2)]);
        let v2 = v1
            .clone()
            .with_version(2)
            .with_revoked([VoucherId(3)])
            .without_exhausted([VoucherId(2)]);
        let v3 = v2.clone().with_version(3).with_exhausted([VoucherId(4)]);
        let d12 = v1.delta_to(&v2).sign(&root());
        let d23 = v2.delta_to(&v3).sign(&root());
        let mut till = DenyList::open(&v1.sign(&root()), &public, MerchantId(7)).unwrap();
        assert_eq!(
            till.apply_delta(&d23, &public),
            Err(DenyListError::VersionGap { held: 1, from: 2 })
        );
        till.apply_delta(&d12, &public).unwrap();
        assert_eq!(till.check(VoucherId(2)), None, "the void gave the use back");
        assert_eq!(till.check(VoucherId(3)), Some(Rejection::Revoked));
        till.apply_delta(&d23, &public).unwrap();
        assert_eq!(till, v3);
        // The same delta again, or an old full list: refused, nothing changes.
        assert_eq!(
            till.apply_delta(&d23, &public),
            Err(DenyListError::VersionGap { held: 3, from: 2 })
        );
        assert_eq!(
            till.replace_with(&v2.sign(&root()), &public),
            Err(DenyListError::Rollback {
                held: 3,
                offered: 2
            })
        );
        assert_eq!(till, v3);
        // A delta that goes nowhere is refused.
        let stuck = v3.delta_to(&v3.clone()).sign(&root());
        assert_eq!(
            till.apply_delta(&stuck, &public),
            Err(DenyListError::Rollback {
                held: 3,
                offered: 3
            })
        );
    }

    #[test]
    fn hostile_counts_and_repeated_ids_are_malformed() {
        let public = root().public_key();
        let mut w = Writer::with_capacity(32);
        w.bytes(LIST_MAGIC);
        w.u8(FORMAT);
        w.varint(7);
        w.varint(1);
        w.varint(u64::MAX); // a count no bytes back
        let bytes = signed(w, &root());
        assert!(matches!(
            DenyList::open(&bytes, &public, MerchantId(7)),
            Err(DenyListError::Malformed(_))
        ));
        let mut w = Writer::with_capacity(32);
        w.bytes(LIST_MAGIC);
        w.u8(FORMAT);
        w.varint(7);
        w.varint(1);
        w.varint(2);
        w.varint(5);
        w.varint(0); // the same id again
        w.varint(0);
        let bytes = signed(w, &root());
        assert!(matches!(
            DenyList::open(&bytes, &public, MerchantId(7)),
            Err(DenyListError::Malformed(_))
        ));
    }
}
