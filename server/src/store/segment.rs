//! One log segment: a sled database holding the events from `first` on,
//! opened with the wait for sled's file lock, and its torn-tail note.

use super::{StoreError, io_err, key_seq, sled_err};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One sled database holding the events from `first` on.
#[derive(Clone)]
pub(super) struct Segment {
    pub(super) first: u64,
    pub(super) dir: PathBuf,
    pub(super) db: sled::Db,
    pub(super) events: sled::Tree,
    pub(super) meta: sled::Tree,
    /// `tail`: the last sequence number appended, overwritten in place after
    /// every append (not fsynced: it costs one small write). sled cuts a
    /// record torn by a crash or power loss off its log on open, silently;
    /// comparing with this note says what was cut.
    pub(super) tail: Arc<File>,
}

/// Opens a sled database, waiting up to 3 s for the file lock: a previous
/// instance (a dropped handle in this process, or a process being killed)
/// releases it a moment after it is gone.
fn open_db(dir: &Path) -> Result<sled::Db, sled::Error> {
    let mut tries = 0;
    loop {
        match sled::Config::new().path(dir).cache_capacity(8 << 20).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && tries < 60 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

pub(super) fn open_segment(dir: &Path, first: u64) -> Result<Segment, StoreError> {
    let e = sled_err(dir);
    let db = open_db(dir).map_err(&e)?;
    let tail_path = dir.join("tail");
    let tail = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&tail_path)
        .map_err(|e| io_err(&tail_path, e))?;
    let seg = Segment {
        first,
        dir: dir.to_path_buf(),
        events: db.open_tree("events").map_err(&e)?,
        meta: db.open_tree("meta").map_err(&e)?,
        db,
        tail: Arc::new(tail),
    };
    let last = seg
        .events
        .last()
        .map_err(&e)?
        .map_or(first - 1, |(k, _)| key_seq(&k));
    if let Some(noted) = seg.noted_tail()
        && noted > last
    {
        tracing::error!(
            segment = %dir.display(),
            kept_up_to = last,
            cut_from = last + 1,
            cut_to = noted,
            "torn tail: the log was cut back to its last whole record; events {}..={noted} were lost (a write cut short by a crash or power loss); numbering goes on after {noted}",
            last + 1
        );
    }
    Ok(seg)
}

impl Segment {
    /// The last sequence number noted as appended, if noted.
    pub(super) fn noted_tail(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut b = [0u8; 8];
        self.tail.read_exact_at(&mut b, 0).ok()?;
        Some(u64::from_be_bytes(b))
    }

    pub(super) fn note_tail(&self, seq: u64) {
        use std::os::unix::fs::FileExt;
        if let Err(e) = self.tail.write_all_at(&seq.to_be_bytes(), 0) {
            // Only the torn-tail report depends on it.
            tracing::debug!(error = %e, "noting the log's tail failed");
        }
    }
}

/// Segment folders under `log/`, oldest first.
pub(super) fn segment_dirs(dir: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir.join("log")) else {
        return vec![];
    };
    let mut out: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().into_string().ok()?.parse().ok()?, e.path())))
        .collect();
    out.sort();
    out
}
