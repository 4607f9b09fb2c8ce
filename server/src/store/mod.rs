//! The only module that touches sled: an append-only event log in segments,
//! periodic snapshots, and the meta tree (schema version, site secret).
//!
//! The log is split into segments. The current segment is a sled database
//! (`log/<first seq>/`, trees `events` — big-endian u64 sequence -> record —
//! and `meta`). When it holds `segment_events` events and a snapshot covers
//! them, the writer `rotate`s: a new sled database takes the appends, and a
//! background thread copies the closed one into a flat archive file
//! (`archive/<first>-<last>.log`, fsynced) and deletes it. Why: sled 0.34's
//! memory and start-up time grow with the number of records it holds (here
//! ≈ 1.2 s and 100 MiB to reopen 3 M records) and deleting keys makes it
//! grow more, so sled only ever holds the recent part of the log. Archived
//! events are read only by subscribers resuming from far back and by a full
//! replay. State snapshots are files too (`snapshots/`).
//!
//! A record holds the engine event as JSON (the truth, evolvable with serde
//! defaults) and the wire event bytes that subscribers replay as they are.
//!
//! Durability: `append` writes one batch and calls sled's `flush`, which uses
//! `sync_file_range` — enough when the process is killed. With `fsync` on
//! (the default) it also `fsync`s the data file, so an acknowledged ticket
//! survives a power cut too; group commit pays that once per batch.
//!
//! The module is the only one that may import sled. Its parts share the
//! `Store`'s lock and sequence bookkeeping (which makes a restart exact), so
//! they are child modules that extend `Store`: `segment` (one sled database
//! and its torn-tail note), `archive` (rotation and the flat archive files),
//! `snapshot` (state snapshot files); the log itself, meta and recovery of
//! a full disk are here.

mod archive;
pub use archive::Rewrite;
mod segment;
mod snapshot;
#[cfg(test)]
mod tests;

use segment::{Segment, open_segment, segment_dirs};

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// Version of the record and snapshot formats. A snapshot of another version
/// is ignored (the log is replayed instead); a log of a newer version is refused.
pub const SCHEMA_VERSION: u64 = 1;
/// Snapshots kept; older ones are deleted.
const SNAPSHOTS_KEPT: usize = 2;
/// Default events per segment before rotation.
pub const SEGMENT_EVENTS: u64 = 250_000;
/// Largest record an archive may hold (a catalogue replacement is ~0.2 MiB);
/// a larger length in a header means the header is garbage.
const MAX_RECORD: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// sled failed (disk full, corrupt file, another process holds the lock, ...).
    #[error("storage error in {dir}: {source}")]
    Sled { dir: String, source: sled::Error },
    /// A file of the store could not be written, synced or read.
    #[error("{file}: {source}")]
    Sync {
        file: String,
        source: std::io::Error,
    },
    /// The data was written by a newer version of the server.
    #[error("{dir} holds schema version {found}; this server reads up to {SCHEMA_VERSION}")]
    NewerSchema { dir: String, found: u64 },
    /// The current segment was closed after a failed write and could not be
    /// opened again yet (the disk is still full).
    #[error("the event log in {dir} is closed after a write failure and not yet reopened")]
    Closed { dir: String },
    /// A stored record is damaged.
    #[error("damaged record at sequence {seq}: {problem}")]
    Damaged { seq: u64, problem: String },
}

impl StoreError {
    /// The disk (or the user's quota) is full: a condition that passes when
    /// space is freed, unlike a damaged file or a failing device.
    pub fn is_disk_full(&self) -> bool {
        use std::io::ErrorKind::{QuotaExceeded, StorageFull};
        let kind = match self {
            StoreError::Sled {
                source: sled::Error::Io(e),
                ..
            } => e.kind(),
            StoreError::Sync { source, .. } => source.kind(),
            // Closed only after a write failed on a full disk and the
            // segment could not be opened again yet.
            StoreError::Closed { .. } => return true,
            _ => return false,
        };
        matches!(kind, StorageFull | QuotaExceeded)
    }
}

/// One stored event record as the store sees it: opaque bytes.
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: u64,
    /// JSON of the engine's `LoggedEvent`.
    pub json: Vec<u8>,
    /// Encoded wire event.
    pub wire: Vec<u8>,
}

struct Segments {
    /// `None` only between dropping a segment that failed a write and
    /// opening it again (see [`Store::reopen`]).
    current: Option<Segment>,
    /// Rotated out, being archived; still readable until its file exists.
    closing: Option<Segment>,
}

#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    segs: Arc<RwLock<Segments>>,
    /// Serialises archiving (one closed segment at a time).
    archiving: Arc<Mutex<()>>,
    /// The running archiver thread, joined by `close` so a clean shutdown
    /// leaves no half-archived segment behind.
    archiver: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    fsync: bool,
    segment_events: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

fn encode(r: &Record) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + r.json.len() + r.wire.len());
    v.extend_from_slice(&(r.json.len() as u32).to_be_bytes());
    v.extend_from_slice(&r.json);
    v.extend_from_slice(&r.wire);
    v
}

fn decode(seq: u64, v: &[u8]) -> Result<Record, StoreError> {
    let damaged = |problem: &str| StoreError::Damaged {
        seq,
        problem: problem.into(),
    };
    let len = v
        .get(..4)
        .ok_or_else(|| damaged("shorter than its header"))?;
    let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
    let json = v
        .get(4..4 + len)
        .ok_or_else(|| damaged("JSON part cut short"))?;
    Ok(Record {
        seq,
        json: json.to_vec(),
        wire: v[4 + len..].to_vec(),
    })
}

fn key_seq(k: &[u8]) -> u64 {
    u64::from_be_bytes(k.try_into().unwrap_or([0; 8]))
}

fn io_err(file: &Path, source: std::io::Error) -> StoreError {
    StoreError::Sync {
        file: file.display().to_string(),
        source,
    }
}

fn sled_err(dir: &Path) -> impl Fn(sled::Error) -> StoreError + '_ {
    move |source| StoreError::Sled {
        dir: dir.display().to_string(),
        source,
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, fsync: bool) -> Result<Store, StoreError> {
        Self::open_with(dir, fsync, SEGMENT_EVENTS)
    }

    /// Opens the store with a segment size (tests use small ones).
    pub fn open_with(dir: &Path, fsync: bool, segment_events: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir.join("log")).map_err(|e| io_err(dir, e))?;
        let mut dirs = segment_dirs(dir);
        let (first, seg_dir) = dirs
            .pop()
            .unwrap_or_else(|| (1, dir.join("log").join(format!("{:020}", 1))));
        let current = open_segment(&seg_dir, first)?;
        let store = Store {
            dir: dir.to_path_buf(),
            segs: Arc::new(RwLock::new(Segments {
                current: Some(current),
                closing: None,
            })),
            archiving: Arc::default(),
            archiver: Arc::default(),
            fsync,
            segment_events: segment_events.max(1),
        };
        // Leftovers of a crash or a full disk: partial snapshot and archive
        // files, a next segment never renamed into place.
        for (folder, suffix) in [("snapshots", ".tmp"), ("archive", ".tmp"), ("log", ".new")] {
            let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with(suffix) {
                    tracing::warn!(path = %e.path().display(), "removing a partial file left by a crash or a full disk");
                    let _ = std::fs::remove_dir_all(e.path())
                        .or_else(|_| std::fs::remove_file(e.path()));
                }
            }
        }
        // Segments left by a crash in the middle of archiving: finish the job.
        for (first, old) in dirs {
            let seg = open_segment(&old, first)?;
            store.archive_segment(seg)?;
        }
        let meta = store.current()?.meta;
        let e = sled_err(dir);
        match meta.get("schema_version").map_err(&e)? {
            Some(v) => {
                let found = u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0xff; 8]));
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        dir: dir.display().to_string(),
                        found,
                    });
                }
            }
            None => {
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())
                    .map_err(&e)?;
            }
        }
        if meta.get("site_secret").map_err(&e)?.is_none() {
            let secret: [u8; 32] = rand::random();
            meta.insert("site_secret", &secret).map_err(&e)?;
        }
        store.sync()?;
        Ok(store)
    }

    fn current(&self) -> Result<Segment, StoreError> {
        self.segs
            .read()
            .expect("segments lock")
            .current
            .clone()
            .ok_or_else(|| StoreError::Closed {
                dir: self.dir.display().to_string(),
            })
    }

    /// The highest sequence number ever noted as appended to the current
    /// segment (0 if none). Above `last_seq` after a torn tail: numbering
    /// must go on after it, since subscribers may have seen those numbers.
    pub fn noted_tail(&self) -> Result<u64, StoreError> {
        Ok(self.current()?.noted_tail().unwrap_or(0))
    }

    /// Bytes free for this process on the file system holding the data dir.
    pub fn free_bytes(&self) -> Option<u64> {
        let st = nix::sys::statvfs::statvfs(&self.dir).ok()?;
        Some(st.blocks_available() as u64 * st.fragment_size() as u64)
    }

    /// Closes the current segment and opens it again. After a failed write
    /// (a full disk) sled refuses every later write on that handle, even once
    /// space is back; opening again recovers exactly what reached the disk.
    /// Meanwhile the old handle still answers reads, so it is only dropped
    /// here, when a retry is due. If opening fails (still full), the store
    /// stays closed (`StoreError::Closed`) until a later call succeeds.
    pub fn reopen(&self) -> Result<(), StoreError> {
        let mut segs = self.segs.write().expect("segments lock");
        let (first, dir) = match &segs.current {
            Some(seg) => (seg.first, seg.dir.clone()),
            None => segment_dirs(&self.dir)
                .pop()
                .ok_or_else(|| StoreError::Closed {
                    dir: self.dir.display().to_string(),
                })?,
        };
        // sled holds a file lock until its last handle is gone; `open_db`
        // waits for a reader that still holds a clone.
        segs.current = None;
        segs.current = Some(open_segment(&dir, first)?);
        Ok(())
    }

    fn err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            dir: self.dir.display().to_string(),
            source,
        }
    }

    /// The site secret keying person hashes (created on first open, kept forever).
    pub fn site_secret(&self) -> Result<Vec<u8>, StoreError> {
        Ok(self.get_meta("site_secret")?.unwrap_or_default())
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let meta = self.current()?.meta;
        Ok(meta.get(key).map_err(|e| self.err(e))?.map(|v| v.to_vec()))
    }

    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.current()?
            .meta
            .insert(key, value)
            .map_err(|e| self.err(e))?;
        self.sync()
    }

    /// Highest stored sequence number, 0 for an empty log.
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        let seg = self.current()?;
        let live = seg
            .events
            .last()
            .map_err(|e| self.err(e))?
            .map(|(k, _)| key_seq(&k));
        Ok(live.unwrap_or(seg.first - 1))
    }

    /// Appends records in one batch and makes them durable before returning.
    pub fn append(&self, records: &[Record]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for r in records {
            batch.insert(&r.seq.to_be_bytes(), encode(r));
        }
        let seg = self.current()?;
        seg.events.apply_batch(batch).map_err(|e| self.err(e))?;
        self.sync()?;
        if let Some(last) = records.last() {
            seg.note_tail(last.seq);
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        let seg = self.current()?;
        seg.db.flush().map_err(|e| self.err(e))?;
        if self.fsync {
            // sled keeps everything in one data file, "db"; sync_file_range
            // (sled's flush) does not reach the disk's cache or the metadata.
            let file = seg.dir.join("db");
            File::open(&file)
                .and_then(|f| f.sync_data())
                .map_err(|e| io_err(&file, e))?;
        }
        Ok(())
    }

    /// Up to `limit` records from `from` (inclusive), in order, from the
    /// archive files, a segment being archived and the current segment.
    pub fn read_from(&self, from: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        let (current, closing) = {
            let segs = self.segs.read().expect("segments lock");
            (segs.current.clone(), segs.closing.clone())
        };
        let current = current.ok_or_else(|| StoreError::Closed {
            dir: self.dir.display().to_string(),
        })?;
        let mut out = Vec::new();
        let mut next = from;
        let live_from = closing.as_ref().map_or(current.first, |c| c.first);
        if next < live_from {
            out = self.read_archive(next, live_from, limit)?;
            next = out.last().map_or(next, |r| r.seq + 1);
            if next < live_from && out.len() < limit {
                // Asked for events older than anything kept.
                return Ok(out);
            }
        }
        for seg in closing.iter().chain(std::iter::once(&current)) {
            for kv in seg.events.range(next.to_be_bytes()..) {
                if out.len() >= limit {
                    return Ok(out);
                }
                let (k, v) = kv.map_err(|e| self.err(e))?;
                let seq = key_seq(&k);
                out.push(decode(seq, &v)?);
                next = seq + 1;
            }
        }
        Ok(out)
    }

    /// Flushes everything and waits for a running archiving (shutdown).
    pub fn close(&self) -> Result<(), StoreError> {
        let handle = self.archiver.lock().expect("archiver lock").take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        drop(self.archiving.lock().expect("archiving lock"));
        self.sync()
    }

    /// Raw batch+flush rate probe for the benchmark: for `duration`, writes
    /// batches of `per_batch` 200-byte values into a scratch tree, each batch
    /// flushed (and fsynced when on); returns batches per second.
    pub fn probe_commit_rate(
        &self,
        duration: std::time::Duration,
        per_batch: usize,
    ) -> Result<f64, StoreError> {
        let seg = self.current()?;
        let tree = seg.db.open_tree("bench_probe").map_err(|e| self.err(e))?;
        let start = std::time::Instant::now();
        let mut n = 0;
        while start.elapsed() < duration {
            let mut batch = sled::Batch::default();
            for j in 0..per_batch {
                batch.insert(&((n * per_batch + j) as u64).to_be_bytes(), &[0u8; 200][..]);
            }
            n += 1;
            tree.apply_batch(batch).map_err(|e| self.err(e))?;
            self.sync()?;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        drop(tree);
        seg.db.drop_tree("bench_probe").map_err(|e| self.err(e))?;
        Ok(rate)
    }
}
