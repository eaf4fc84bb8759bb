//! A visit store on disk: o2okit's own columns, appended a day (or any batch) at a time, so a
//! report over years reads no CSV again.
//!
//! A store is a folder:
//! - `o2okit-visits.json`, the manifest: the format version, the merchant's time zone, how many
//!   member and store ids the dictionaries hold (their byte lengths and SHA-256), and each
//!   segment with its visit count, time span and SHA-256;
//! - `members.bin` and `stores.bin`: the ids in the order of their numbers, each as a 4-byte
//!   little-endian length and its UTF-8 bytes;
//! - `segment-NNNNNN.bin`: one appended batch, sorted by time: an 8-byte magic and the visit
//!   count, then the columns as little-endian arrays (instants `i64`, member numbers `u32`,
//!   store numbers `u32`, spends `i64`), members and stores numbered store-wide.
//!
//! An append holds `o2okit-visits.lock` (an operating-system lock, gone with its process),
//! writes the segment and the new ids first, syncs them, then replaces the manifest (write,
//! sync, rename): a crash leaves the store as it was before the append or after it, never
//! between. Bytes past the manifest's lengths (a torn append) are ignored, and cut off by the
//! next append. The lock is `flock`'s on Unix and `LockFileEx`'s on Windows; on a network file
//! system that does not honour them, keep to one appending process.
//!
//! Opening checks the id files against the manifest (lengths, checksums); loading checks each
//! segment (size, checksum, numbers in range, span). Either refuses a damaged store with
//! [`VisitStoreError::Corrupt`].

use super::dictionary::{Dictionary, random_seed};
use super::log::{ANONYMOUS, VisitLog, VisitLogBuilder};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The version of the store's layout this release reads and writes.
pub const VISIT_STORE_FORMAT: u32 = 1;

const MANIFEST: &str = "o2okit-visits.json";
/// Held (an advisory lock of the operating system) while an append writes.
const LOCK: &str = "o2okit-visits.lock";
const MAGIC: &[u8; 8] = b"O2OVSEG1";
const BYTES_PER_VISIT: usize = 24;

/// Why a store cannot be opened or appended to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisitStoreError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The folder already holds a store (create) or holds none (open).
    #[error("{0}")]
    Exists(String),
    /// A store written by a newer release.
    #[error("the store is in format {found}; this release reads format {VISIT_STORE_FORMAT}")]
    Format {
        /// The store's format.
        found: u32,
    },
    /// A file does not match the manifest (truncated, altered, or not a store's).
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    /// More members or stores than 32-bit numbers hold.
    #[error("the store would hold more than 4,294,967,294 {0}")]
    Full(&'static str),
    /// Another handle, in this process or another, is appending to the store; try again
    /// when it is done.
    #[error("{0} is being appended to by another handle or process")]
    Busy(PathBuf),
    /// The batch is, byte for byte, one the store already holds (the same day appended
    /// twice); appending it again would count its visits twice.
    #[error("these visits are already in the store, as {0}")]
    AlreadyAppended(String),
}

/// One appended batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Segment {
    file: String,
    visits: u64,
    first: i64,
    last: i64,
    sha256: String,
}

/// A dictionary file's valid prefix, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ids {
    count: u64,
    bytes: u64,
    sha256: String,
}

impl Ids {
    fn empty() -> Ids {
        Ids {
            count: 0,
            bytes: 0,
            sha256: hex(&Sha256::digest([])),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    zone: String,
    members: Ids,
    stores: Ids,
    segments: Vec<Segment>,
}

/// What an append added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Visits added.
    pub visits: usize,
    /// Member ids the store had not seen.
    pub new_members: usize,
    /// Store ids the store had not seen.
    pub new_stores: usize,
}

/// An open visit store.
#[derive(Debug)]
pub struct VisitStore {
    dir: PathBuf,
    manifest: Manifest,
    zone: Tz,
    members: Dictionary,
    stores: Dictionary,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> VisitStoreError + '_ {
    move |source| VisitStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn corrupt(what: String) -> VisitStoreError {
    VisitStoreError::Corrupt(what)
}

/// Writes `bytes` to `path` through a temporary file, synced, then renamed over it.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), VisitStoreError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Reads the first `ids.count` ids of a dictionary file, `ids.bytes` long. The hash table is
/// built when first needed (an append), not here: a report only reads the ids.
fn read_ids(path: &Path, ids: &Ids) -> Result<Dictionary, VisitStoreError> {
    let mut bytes = std::fs::read(path).map_err(io(path))?;
    let name = path.display();
    let valid = usize::try_from(ids.bytes)
        .ok()
        .filter(|&n| n <= bytes.len())
        .ok_or_else(|| corrupt(format!("{name} is shorter than the manifest says")))?;
    bytes.truncate(valid);
    if hex(&Sha256::digest(&bytes)) != ids.sha256 {
        return Err(corrupt(format!("{name} does not match its checksum")));
    }
    let mut arena = String::with_capacity(valid);
    let mut ends = Vec::with_capacity(usize::try_from(ids.count).unwrap_or(0).min(valid));
    let mut at = 0;
    while at < valid {
        let len = bytes
            .get(at..at + 4)
            .filter(|_| at + 4 <= valid)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| corrupt(format!("{name}: an id cut short")))?;
        let text = bytes
            .get(at + 4..at + 4 + len)
            .filter(|_| at + 4 + len <= valid)
            .ok_or_else(|| corrupt(format!("{name}: an id cut short")))?;
        let text =
            std::str::from_utf8(text).map_err(|_| corrupt(format!("{name}: an id not UTF-8")))?;
        arena.push_str(text);
        ends.push(arena.len());
        at += 4 + len;
    }
    if ends.len() as u64 != ids.count {
        return Err(corrupt(format!(
            "{name} holds {} ids, the manifest says {}",
            ends.len(),
            ids.count
        )));
    }
    // Distinct: an append interns each id once, and the checksum says the file is as written.
    Ok(Dictionary::from_texts(random_seed(), arena, ends))
}

/// The 4-byte-length-prefixed form of `texts`.
fn encode_ids<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::new();
    for text in texts {
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// Cuts a dictionary file back to its valid prefix and appends `new` to it, synced; returns
/// what the manifest says of the result.
fn append_ids(path: &Path, valid: &Ids, count: usize, new: &[u8]) -> Result<Ids, VisitStoreError> {
    let mut bytes = std::fs::read(path).map_err(io(path))?;
    bytes.truncate(usize::try_from(valid.bytes).unwrap_or(usize::MAX));
    bytes.extend_from_slice(new);
    let ids = Ids {
        count: count as u64,
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(&bytes)),
    };
    let valid = valid.bytes;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))?;
    file.set_len(valid).map_err(io(path))?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(valid)).map_err(io(path))?;
    file.write_all(new).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    Ok(ids)
}

/// Makes the renames in `dir` durable, where the system can sync a folder (not all can, and
/// a failure there loses nothing already written).
fn sync_folder(dir: &Path) {
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Reads and parses a manifest, refusing another format version.
fn read_manifest(path: &Path) -> Result<Manifest, VisitStoreError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let format = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format")?.as_u64());
    if let Some(found) = format
        && found != u64::from(VISIT_STORE_FORMAT)
    {
        return Err(VisitStoreError::Format {
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    serde_json::from_str(&text).map_err(|e| corrupt(format!("{MANIFEST}: {e}")))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl VisitStore {
    /// Creates an empty store in folder `dir` (made if missing) for a merchant in `zone`.
    ///
    /// # Errors
    /// [`VisitStoreError::Exists`] when `dir` already holds a store; I/O errors.
    pub fn create(dir: impl AsRef<Path>, zone: Tz) -> Result<VisitStore, VisitStoreError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let manifest_path = dir.join(MANIFEST);
        if manifest_path.exists() {
            return Err(VisitStoreError::Exists(format!(
                "{} already holds a visit store",
                dir.display()
            )));
        }
        let manifest = Manifest {
            format: VISIT_STORE_FORMAT,
            zone: zone.name().to_owned(),
            members: Ids::empty(),
            stores: Ids::empty(),
            segments: Vec::new(),
        };
        let store = VisitStore {
            dir: dir.to_owned(),
            manifest,
            zone,
            members: Dictionary::new(random_seed()),
            stores: Dictionary::new(random_seed()),
        };
        for ids in ["members.bin", "stores.bin"] {
            replace(&dir.join(ids), &[])?;
        }
        store.write_manifest()?;
        Ok(store)
    }

    /// Opens the store in folder `dir`, reading its manifest and dictionaries (the segments
    /// are read by [`VisitStore::load`]).
    ///
    /// # Errors
    /// [`VisitStoreError::Exists`] when there is no store; [`VisitStoreError::Format`] for a
    /// newer format; [`VisitStoreError::Corrupt`] when a file does not match the manifest.
    pub fn open(dir: impl AsRef<Path>) -> Result<VisitStore, VisitStoreError> {
        let dir = dir.as_ref();
        let manifest_path = dir.join(MANIFEST);
        if !manifest_path.exists() {
            return Err(VisitStoreError::Exists(format!(
                "{} holds no visit store ({MANIFEST} is missing)",
                dir.display()
            )));
        }
        let manifest = read_manifest(&manifest_path)?;
        let zone: Tz = manifest
            .zone
            .parse()
            .map_err(|_| corrupt(format!("{MANIFEST}: unknown time zone {:?}", manifest.zone)))?;
        let members = read_ids(&dir.join("members.bin"), &manifest.members)?;
        let stores = read_ids(&dir.join("stores.bin"), &manifest.stores)?;
        Ok(VisitStore {
            dir: dir.to_owned(),
            manifest,
            zone,
            members,
            stores,
        })
    }

    /// The merchant's time zone, in which the loaded log's periods are cut.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Visits in the store.
    pub fn len(&self) -> u64 {
        // Saturating: a damaged manifest's counts are refused by `load` (against the files'
        // sizes), not overflowed here.
        (self.manifest.segments.iter()).fold(0u64, |n, s| n.saturating_add(s.visits))
    }

    /// Whether the store holds no visit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appended batches.
    pub fn segments(&self) -> usize {
        self.manifest.segments.len()
    }

    fn write_manifest(&self) -> Result<(), VisitStoreError> {
        self.write(&self.manifest)
    }

    /// Replaces the manifest on disk with `manifest`.
    fn write(&self, manifest: &Manifest) -> Result<(), VisitStoreError> {
        let json =
            serde_json::to_vec_pretty(manifest).map_err(|e| corrupt(format!("manifest: {e}")))?;
        replace(&self.dir.join(MANIFEST), &json)?;
        sync_folder(&self.dir);
        Ok(())
    }

    /// Appends `log`'s visits as one segment, numbering its members and stores store-wide
    /// (ids the store has seen keep their numbers). An empty log appends nothing.
    ///
    /// One append writes at a time: the store's lock file is held (an operating-system
    /// lock, released if the process dies) while it does, and a handle that another has
    /// appended through since it was opened first reads the store again.
    ///
    /// # Errors
    /// I/O errors (the store is then as it was: the manifest is replaced last);
    /// [`VisitStoreError::Full`] past 2³² − 2 members or stores;
    /// [`VisitStoreError::Busy`] while another append writes;
    /// [`VisitStoreError::AlreadyAppended`] for a batch the store holds byte for byte.
    pub fn append(&mut self, log: &VisitLog) -> Result<Appended, VisitStoreError> {
        let path = self.dir.join(LOCK);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(VisitStoreError::Busy(self.dir.clone()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        // Another handle may have appended since this one read the store: start from what
        // is on disk, or the two would number ids and name segments alike. Likewise when a
        // failed append's ids could not be forgotten.
        if read_manifest(&self.dir.join(MANIFEST))? != self.manifest || self.holds_unwritten_ids() {
            *self = VisitStore::open(&self.dir)?;
        }
        let result = self.try_append(log);
        if result.is_err() {
            // The store on disk is as it was (the manifest is replaced last, and was not):
            // forget the ids this append numbered, so the next one writes them. Should the
            // files not read now, the next append opens the store again.
            let members = read_ids(&self.dir.join("members.bin"), &self.manifest.members);
            let stores = read_ids(&self.dir.join("stores.bin"), &self.manifest.stores);
            if let (Ok(members), Ok(stores)) = (members, stores) {
                (self.members, self.stores) = (members, stores);
            }
        }
        result
    }

    /// Whether the dictionaries hold ids the manifest does not count (a failed append's).
    fn holds_unwritten_ids(&self) -> bool {
        self.members.len() as u64 != self.manifest.members.count
            || self.stores.len() as u64 != self.manifest.stores.count
    }

    fn try_append(&mut self, log: &VisitLog) -> Result<Appended, VisitStoreError> {
        if log.is_empty() {
            return Ok(Appended {
                visits: 0,
                new_members: 0,
                new_stores: 0,
            });
        }
        let (old_members, old_stores) = (self.members.len(), self.stores.len());
        let member_map = renumber(&mut self.members, log.member_count(), |m| log.member_id(m))?;
        let store_map = renumber(&mut self.stores, log.store_count(), |s| log.store_id(s))?;
        let n = log.len();
        let mut bytes = Vec::with_capacity(16 + n * BYTES_PER_VISIT);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(n as u64).to_le_bytes());
        for &t in log.at() {
            bytes.extend_from_slice(&t.to_le_bytes());
        }
        for &m in log.member() {
            let m = if m == ANONYMOUS {
                ANONYMOUS
            } else {
                member_map[m as usize]
            };
            bytes.extend_from_slice(&m.to_le_bytes());
        }
        for &s in log.store() {
            bytes.extend_from_slice(&store_map[s as usize].to_le_bytes());
        }
        for &p in log.spend() {
            bytes.extend_from_slice(&p.to_le_bytes());
        }
        let sha256 = hex(&Sha256::digest(&bytes));
        if let Some(twin) = self.manifest.segments.iter().find(|s| s.sha256 == sha256) {
            return Err(VisitStoreError::AlreadyAppended(twin.file.clone()));
        }
        let file = format!("segment-{:06}.bin", self.manifest.segments.len() + 1);
        replace(&self.dir.join(&file), &bytes)?;
        // The segment's name is durable before a manifest can name it.
        sync_folder(&self.dir);
        let new_members =
            encode_ids((old_members..self.members.len()).map(|m| self.members.text(m as u32)));
        let new_stores =
            encode_ids((old_stores..self.stores.len()).map(|s| self.stores.text(s as u32)));
        let mut manifest = self.manifest.clone();
        manifest.members = append_ids(
            &self.dir.join("members.bin"),
            &self.manifest.members,
            self.members.len(),
            &new_members,
        )?;
        manifest.stores = append_ids(
            &self.dir.join("stores.bin"),
            &self.manifest.stores,
            self.stores.len(),
            &new_stores,
        )?;
        manifest.segments.push(Segment {
            file,
            visits: n as u64,
            first: log.at()[0],
            last: log.at()[n - 1],
            sha256,
        });
        self.write(&manifest)?;
        self.manifest = manifest;
        Ok(Appended {
            visits: n,
            new_members: self.members.len() - old_members,
            new_stores: self.stores.len() - old_stores,
        })
    }

    /// Reads every segment (checked against the manifest) into one log, sorted by time. The
    /// columns are read straight into the log while a second thread checks the segments'
    /// checksums.
    ///
    /// # Errors
    /// [`VisitStoreError::Corrupt`] when a segment is missing, of the wrong size, altered
    /// (checksum) or holds numbers outside the dictionaries; I/O errors.
    pub fn load(&self) -> Result<VisitLog, VisitStoreError> {
        // Every segment's size against its count before anything is allocated: a damaged
        // manifest's counts are refused here, not reserved.
        let mut total = 0usize;
        for segment in &self.manifest.segments {
            if segment.file.contains(['/', '\\']) {
                return Err(corrupt(format!(
                    "{MANIFEST}: segment file {:?}",
                    segment.file
                )));
            }
            let path = self.dir.join(&segment.file);
            let size = std::fs::metadata(&path).map_err(io(&path))?.len();
            let expected = usize::try_from(segment.visits)
                .ok()
                .and_then(|n| n.checked_mul(BYTES_PER_VISIT)?.checked_add(16));
            if expected.and_then(|b| u64::try_from(b).ok()) != Some(size) {
                return Err(corrupt(format!(
                    "{} is not the segment the manifest lists",
                    segment.file
                )));
            }
            // Files that exist: their visits add up without overflowing.
            total = total.saturating_add(segment.visits as usize);
        }
        let (columns, sums) = std::thread::scope(|s| {
            // Checksums on a second thread, or on this one when none can be started.
            let sums = std::thread::Builder::new().spawn_scoped(s, || self.check_sums());
            let columns = self.read_columns(total);
            let sums = match sums {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|_| Err(corrupt("checking the checksums failed".into()))),
                Err(_) => self.check_sums(),
            };
            (columns, sums)
        });
        let columns = columns?;
        sums?;
        let Columns {
            at,
            member,
            store,
            spend,
        } = columns;
        let (members, stores) = if self.holds_unwritten_ids() {
            (
                read_ids(&self.dir.join("members.bin"), &self.manifest.members)?,
                read_ids(&self.dir.join("stores.bin"), &self.manifest.stores)?,
            )
        } else {
            (self.members.clone(), self.stores.clone())
        };
        Ok(
            VisitLogBuilder::from_columns(self.zone, members, stores, at, member, store, spend)
                .build(),
        )
    }

    /// Every segment's SHA-256 against the manifest's.
    fn check_sums(&self) -> Result<(), VisitStoreError> {
        let mut buf = vec![0u8; CHUNK];
        for segment in &self.manifest.segments {
            let path = self.dir.join(&segment.file);
            let mut file = std::fs::File::open(&path).map_err(io(&path))?;
            let mut hasher = Sha256::new();
            loop {
                let n = file.read(&mut buf).map_err(io(&path))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            if hex(&hasher.finalize()) != segment.sha256 {
                return Err(corrupt(format!(
                    "{} does not match its checksum",
                    segment.file
                )));
            }
        }
        Ok(())
    }

    /// Every segment's columns, appended in segment order, each segment's numbers checked
    /// against the dictionaries and its span against the manifest.
    fn read_columns(&self, total: usize) -> Result<Columns, VisitStoreError> {
        let mut columns = Columns {
            at: Vec::with_capacity(total),
            member: Vec::with_capacity(total),
            store: Vec::with_capacity(total),
            spend: Vec::with_capacity(total),
        };
        let count = |ids: &Ids| u32::try_from(ids.count).unwrap_or(u32::MAX);
        let (members, stores) = (count(&self.manifest.members), count(&self.manifest.stores));
        let mut buf = vec![0u8; CHUNK];
        for segment in &self.manifest.segments {
            let path = self.dir.join(&segment.file);
            let name = &segment.file;
            let wrong = || corrupt(format!("{name} is not the segment the manifest lists"));
            let mut file = std::fs::File::open(&path).map_err(io(&path))?;
            // `load` checked the count against the file's size; a file changed since reads
            // short (below) or fails its checksum.
            let n = segment.visits as usize;
            let mut header = [0u8; 16];
            let short = |e: std::io::Error| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => wrong(),
                _ => io(&path)(e),
            };
            file.read_exact(&mut header).map_err(short)?;
            if &header[..8] != MAGIC || header[8..] != (n as u64).to_le_bytes() {
                return Err(wrong());
            }
            let start = columns.at.len();
            read_column(&mut file, n, &mut buf, &mut columns.at, i64::from_le_bytes)
                .map_err(short)?;
            read_column(
                &mut file,
                n,
                &mut buf,
                &mut columns.member,
                u32::from_le_bytes,
            )
            .map_err(short)?;
            read_column(
                &mut file,
                n,
                &mut buf,
                &mut columns.store,
                u32::from_le_bytes,
            )
            .map_err(short)?;
            read_column(
                &mut file,
                n,
                &mut buf,
                &mut columns.spend,
                i64::from_le_bytes,
            )
            .map_err(short)?;
            let at = &columns.at[start..];
            if columns.member[start..]
                .iter()
                .any(|&m| m >= members && m != ANONYMOUS)
                || columns.store[start..].iter().any(|&s| s >= stores)
                || at.first() != Some(&segment.first)
                || at.last() != Some(&segment.last)
            {
                return Err(corrupt(format!(
                    "{name} holds numbers the store does not know"
                )));
            }
        }
        Ok(columns)
    }
}

/// Bytes read at a time from a segment.
const CHUNK: usize = 1 << 20;

/// A log's four columns.
struct Columns {
    at: Vec<i64>,
    member: Vec<u32>,
    store: Vec<u32>,
    spend: Vec<i64>,
}

/// Reads `n` little-endian values of `W` bytes from `file` onto `out`, through `buf` (a
/// multiple of `W` long).
fn read_column<const W: usize, T>(
    file: &mut std::fs::File,
    n: usize,
    buf: &mut [u8],
    out: &mut Vec<T>,
    decode: fn([u8; W]) -> T,
) -> std::io::Result<()> {
    let mut left = n * W;
    while left > 0 {
        let take = left.min(buf.len());
        file.read_exact(&mut buf[..take])?;
        out.extend(
            buf[..take]
                .chunks_exact(W)
                .map(|b| decode(b.try_into().unwrap_or([0; W]))),
        );
        left -= take;
    }
    Ok(())
}

/// The store-wide number of each of a log's `count` ids (`text(i)` is id `i`), interning
/// the new ones.
fn renumber<'a>(
    dictionary: &mut Dictionary,
    count: usize,
    text: impl Fn(u32) -> &'a str,
) -> Result<Vec<u32>, VisitStoreError> {
    let mut map = Vec::with_capacity(count);
    for i in 0..count as u32 {
        let id = dictionary.id(text(i));
        if id == ANONYMOUS {
            return Err(VisitStoreError::Full("ids"));
        }
        map.push(id);
    }
    Ok(map)
}
