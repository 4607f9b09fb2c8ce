//! State snapshots as plain files (`snapshots/<seq>.snap`), written
//! atomically.

use super::{SCHEMA_VERSION, SNAPSHOTS_KEPT, Store, StoreError, io_err};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Writes `path` atomically: temporary file, fsync, rename, fsync of the folder.
fn write_file_atomically(path: &Path, parts: &[&[u8]]) -> Result<(), StoreError> {
    use std::io::Write;
    let dir = path.parent().expect("a file in a folder");
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let tmp = path.with_extension("tmp");
    let written = (|| {
        let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        for p in parts {
            f.write_all(p).map_err(|e| io_err(&tmp, e))?;
        }
        f.sync_all().map_err(|e| io_err(&tmp, e))
    })();
    if let Err(e) = written {
        // A partial file would hold on to space a full disk needs back.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

impl Store {
    /// Stores a snapshot of the state after `seq`, dropping older ones.
    ///
    /// Snapshots are plain files (`snapshots/<seq>.snap`), not sled values:
    /// sled keeps large values in its caches, which cost the server tens of
    /// MiB for nothing. Written to a temporary file, fsynced, then renamed, so
    /// a crash leaves either the old or the new snapshot, never half of one.
    pub fn save_snapshot(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.dir.join("snapshots").join(format!("{seq:020}.snap"));
        write_file_atomically(&path, &[&SCHEMA_VERSION.to_be_bytes(), bytes])?;
        for old in self.snapshot_files().into_iter().rev().skip(SNAPSHOTS_KEPT) {
            let _ = std::fs::remove_file(old.1);
        }
        Ok(())
    }

    /// Deletes every snapshot older than `seq` (the retention run: older
    /// snapshots still hold the personal data it dropped).
    pub fn drop_snapshots_before(&self, seq: u64) -> Result<(), StoreError> {
        for (s, path) in self.snapshot_files() {
            if s < seq {
                std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
            }
        }
        Ok(())
    }

    /// Snapshot files, oldest first: (seq, path).
    pub(super) fn snapshot_files(&self) -> Vec<(u64, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("snapshots")) else {
            return vec![];
        };
        let mut out: Vec<(u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let seq = name.strip_suffix(".snap")?.parse().ok()?;
                Some((seq, e.path()))
            })
            .collect();
        out.sort();
        out
    }

    /// The newest readable snapshot of this schema version: (seq, bytes).
    pub fn latest_snapshot(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        for (seq, path) in self.snapshot_files().into_iter().rev() {
            match std::fs::read(&path) {
                Ok(v) if v.len() >= 8 && v[..8] == SCHEMA_VERSION.to_be_bytes() => {
                    return Ok(Some((seq, v[8..].to_vec())));
                }
                Ok(_) => {
                    tracing::warn!(file = %path.display(), "snapshot of another schema version skipped")
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "snapshot unreadable, skipped")
                }
            }
        }
        Ok(None)
    }
}
