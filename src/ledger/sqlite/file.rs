//! The ledger's file on disk: created atomically, never silently re-created, watched for
//! being removed or replaced while open.
//!
//! A ledger is its main file plus, while any connection has it open, the `-wal` and `-shm`
//! files beside it: the WAL holds the latest acknowledged commits until they are
//! checkpointed into the main file. Copying the main file alone, or deleting the WAL after a
//! crash, loses acknowledged sales; [`super::SqliteLedger::backup_to`] makes a safe copy.

use crate::ledger::{LedgerError, StorageError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A path as error messages show it: at most 200 characters.
pub(super) fn shown(path: &Path) -> String {
    crate::error::excerpt(&path.display().to_string())
}

pub(super) fn io_error(path: &str, e: &std::io::Error) -> LedgerError {
    LedgerError::Storage(StorageError::caused_by(
        path,
        std::io::Error::new(e.kind(), e.to_string()),
    ))
}

/// A fresh name beside `path` for a file being prepared: `.<name>.o2okit-new-<pid>-<n>`.
pub(super) fn staging_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.o2okit-new-{}-{n}", std::process::id()))
}

/// Removes a staging file and any SQLite side files it left.
pub(super) fn remove_staging(staging: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = staging.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Flushes a finished file to disk.
pub(super) fn sync_file(path: &Path, shown: &str) -> Result<(), LedgerError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(shown, &e))
}

/// Puts a finished `staging` file at `target`, which must not exist: a hard link where the
/// file system has them (atomic: it fails if `target` appeared meanwhile), else a rename after
/// a check. A crash at any point leaves either no `target` or a complete one.
pub(super) fn place_new_file(
    staging: &Path,
    target: &Path,
    shown: &str,
) -> Result<(), LedgerError> {
    match std::fs::hard_link(staging, target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(LedgerError::AlreadyExists {
                path: shown.to_owned(),
            });
        }
        Err(_) => {
            if target.symlink_metadata().is_ok() {
                return Err(LedgerError::AlreadyExists {
                    path: shown.to_owned(),
                });
            }
            std::fs::rename(staging, target).map_err(|e| io_error(shown, &e))?;
        }
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the new directory entry durable; not every platform can open a directory.
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// Which file a path named when the ledger was opened, to notice it removed or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileIdentity {
    path: PathBuf,
    id: Option<(u64, u64)>,
}

impl FileIdentity {
    /// The identity of the file at `path` now.
    pub(super) fn of(path: &Path) -> Result<Self, LedgerError> {
        let meta = std::fs::metadata(path).map_err(|e| io_error(&shown(path), &e))?;
        Ok(FileIdentity {
            path: path.to_owned(),
            id: id_of(&meta),
        })
    }

    /// The path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Fails with [`LedgerError::FileReplaced`] unless the path still names the same file.
    pub(super) fn check(&self) -> Result<(), LedgerError> {
        match std::fs::metadata(&self.path) {
            Ok(meta) if id_of(&meta) == self.id => Ok(()),
            _ => Err(LedgerError::FileReplaced {
                path: shown(&self.path),
            }),
        }
    }
}

#[cfg(unix)]
fn id_of(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn id_of(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}
