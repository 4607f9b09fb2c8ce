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
//! Why one long file: segments, archive files and snapshots share the one
//! lock and the sequence bookkeeping that makes a restart exact; this module
//! is also the only one that may import sled.

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

/// One sled database holding the events from `first` on.
#[derive(Clone)]
struct Segment {
    first: u64,
    dir: PathBuf,
    db: sled::Db,
    events: sled::Tree,
    meta: sled::Tree,
    /// `tail`: the last sequence number appended, overwritten in place after
    /// every append (not fsynced: it costs one small write). sled cuts a
    /// record torn by a crash or power loss off its log on open, silently;
    /// comparing with this note says what was cut.
    tail: Arc<File>,
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

fn open_segment(dir: &Path, first: u64) -> Result<Segment, StoreError> {
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
    fn noted_tail(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut b = [0u8; 8];
        self.tail.read_exact_at(&mut b, 0).ok()?;
        Some(u64::from_be_bytes(b))
    }

    fn note_tail(&self, seq: u64) {
        use std::os::unix::fs::FileExt;
        if let Err(e) = self.tail.write_all_at(&seq.to_be_bytes(), 0) {
            // Only the torn-tail report depends on it.
            tracing::debug!(error = %e, "noting the log's tail failed");
        }
    }
}

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

/// Segment folders under `log/`, oldest first.
fn segment_dirs(dir: &Path) -> Vec<(u64, PathBuf)> {
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

    /// Archive files, oldest first: (first seq, last seq, path).
    fn archive_files(&self) -> Vec<(u64, u64, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("archive")) else {
            return vec![];
        };
        let mut out: Vec<(u64, u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (a, b) = name.strip_suffix(".log")?.split_once('-')?;
                Some((a.parse().ok()?, b.parse().ok()?, e.path()))
            })
            .collect();
        out.sort();
        out
    }

    /// Records in `[from, until)` out of the archive files. Streams each
    /// file and skips values it does not need (an archive holds a whole
    /// segment, hundreds of MiB).
    fn read_archive(&self, from: u64, until: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        use std::io::{BufReader, Read};
        let mut out: Vec<Record> = Vec::new();
        for (first, last, path) in self.archive_files() {
            if last < from {
                continue;
            }
            // A damaged archive names itself and the range it should hold,
            // so an operator knows which file to restore from a backup.
            let damaged = |seq: u64, problem: String| StoreError::Damaged {
                seq,
                problem: format!(
                    "archive {} (events {first}-{last}): {problem}",
                    path.display()
                ),
            };
            let mut previous = first.saturating_sub(1);
            let f = File::open(&path).map_err(|e| io_err(&path, e))?;
            let mut r = BufReader::with_capacity(1 << 16, f);
            let mut header = [0u8; 12];
            loop {
                match r.read_exact(&mut header) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(io_err(&path, e)),
                }
                let seq = key_seq(&header[..8]);
                let len = u32::from_be_bytes(header[8..].try_into().expect("4 bytes")) as usize;
                if seq <= previous || seq > last || len > MAX_RECORD {
                    return Err(damaged(
                        previous + 1,
                        format!(
                            "a record header after {previous} is garbage (sequence {seq}, {len} bytes)"
                        ),
                    ));
                }
                previous = seq;
                if seq >= until || out.len() >= limit {
                    return Ok(out);
                }
                if seq >= from && out.last().is_none_or(|r| r.seq < seq) {
                    let mut value = vec![0u8; len];
                    r.read_exact(&mut value)
                        .map_err(|_| damaged(seq, "cut short".into()))?;
                    out.push(decode(seq, &value).map_err(|e| damaged(seq, e.to_string()))?);
                } else {
                    r.seek_relative(len as i64).map_err(|e| io_err(&path, e))?;
                }
            }
        }
        Ok(out)
    }

    /// Starts a new segment after `seq` when the current one is full. Call
    /// it right after a snapshot at `seq` (so a restart never needs the
    /// archive). The closed segment is archived on a background thread.
    pub fn rotate_if_full(&self, seq: u64) -> Result<bool, StoreError> {
        let current = self.current()?;
        if seq + 1 < current.first + self.segment_events {
            return Ok(false);
        }
        // One archiving at a time: if the previous one still runs, wait for
        // the next snapshot.
        let mut archiver = self.archiver.lock().expect("archiver lock");
        if archiver.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(false);
        }
        let Ok(guard) = self.archiving.try_lock() else {
            return Ok(false);
        };
        drop(guard);
        // The next segment is built under a temporary name and renamed into
        // place only once its meta (schema version, site secret) is on disk:
        // a failure half-way (a full disk) must not leave an empty folder
        // that a restart would take for the newest segment.
        let next_dir = self.dir.join("log").join(format!("{:020}", seq + 1));
        let building = next_dir.with_extension("new");
        let built = (|| {
            let _ = std::fs::remove_dir_all(&building);
            let next = open_segment(&building, seq + 1)?;
            let mut batch = sled::Batch::default();
            for kv in current.meta.iter() {
                let (k, v) = kv.map_err(|e| self.err(e))?;
                batch.insert(k, v);
            }
            next.meta.apply_batch(batch).map_err(|e| self.err(e))?;
            next.db.flush().map_err(|e| self.err(e))?;
            drop(next);
            std::fs::rename(&building, &next_dir).map_err(|e| io_err(&next_dir, e))?;
            let log = self.dir.join("log");
            File::open(&log)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(&log, e))
        })();
        if let Err(e) = built {
            let _ = std::fs::remove_dir_all(&building);
            return Err(e);
        }
        let next = open_segment(&next_dir, seq + 1)?;
        {
            let mut segs = self.segs.write().expect("segments lock");
            segs.closing = Some(current.clone());
            segs.current = Some(next);
        }
        let store = self.clone();
        let handle = std::thread::Builder::new()
            .name("hall-archiver".into())
            .spawn(move || {
                if let Err(e) = store.archive_segment(current) {
                    tracing::error!(error = %e, "archiving a log segment failed; it stays in place");
                }
            })
            .map_err(|e| io_err(&self.dir, e))?;
        *archiver = Some(handle);
        Ok(true)
    }

    /// Copies a closed segment into an archive file, then deletes it.
    fn archive_segment(&self, seg: Segment) -> Result<(), StoreError> {
        let _one_at_a_time = self.archiving.lock().expect("archiving lock");
        // Streamed to a temporary file, fsynced, renamed: a crash leaves the
        // segment in place and it is archived again at the next open.
        let archive_dir = self.dir.join("archive");
        std::fs::create_dir_all(&archive_dir).map_err(|e| io_err(&archive_dir, e))?;
        let tmp = archive_dir.join(format!("{:020}.tmp", seg.first));
        let mut last = seg.first.saturating_sub(1);
        let written = (|| {
            use std::io::Write;
            let f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            for kv in seg.events.iter() {
                let (k, v) = kv.map_err(|e| self.err(e))?;
                w.write_all(&k).map_err(|e| io_err(&tmp, e))?;
                w.write_all(&(v.len() as u32).to_be_bytes())
                    .map_err(|e| io_err(&tmp, e))?;
                w.write_all(&v).map_err(|e| io_err(&tmp, e))?;
                last = key_seq(&k);
            }
            let f = w.into_inner().map_err(|e| io_err(&tmp, e.into_error()))?;
            f.sync_all().map_err(|e| io_err(&tmp, e))
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if last >= seg.first {
            let path = archive_dir.join(format!("{:020}-{last:020}.log", seg.first));
            std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
            File::open(&archive_dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(&archive_dir, e))?;
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
        let dir = seg.dir.clone();
        {
            let mut segs = self.segs.write().expect("segments lock");
            if segs.closing.as_ref().is_some_and(|c| c.first == seg.first) {
                segs.closing = None;
            }
        }
        drop(seg);
        std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        tracing::info!(last, "log segment archived");
        Ok(())
    }

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

    /// Snapshot files, oldest first: (seq, path).
    fn snapshot_files(&self) -> Vec<(u64, PathBuf)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> Record {
        Record {
            seq,
            json: format!("{{\"n\":{seq}}}").into_bytes(),
            wire: vec![seq as u8, 1, 2],
        }
    }

    #[test]
    fn leftovers_of_a_crash_or_a_full_disk_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        Store::open(dir.path(), false).unwrap().close().unwrap();
        let stale = [
            dir.path()
                .join("snapshots")
                .join("00000000000000000009.tmp"),
            dir.path().join("archive").join("00000000000000000001.tmp"),
        ];
        for f in &stale {
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, b"partial").unwrap();
        }
        let half_built = dir.path().join("log").join("00000000000000000100.new");
        std::fs::create_dir_all(&half_built).unwrap();
        let s = Store::open(dir.path(), false).unwrap();
        for f in &stale {
            assert!(!f.exists(), "{}", f.display());
        }
        assert!(!half_built.exists());
        assert_eq!(
            s.last_seq().unwrap(),
            0,
            "the real segment is still current"
        );
    }

    #[test]
    fn append_read_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let secret;
        {
            let s = Store::open(dir.path(), true).unwrap();
            assert_eq!(s.last_seq().unwrap(), 0);
            s.append(&(1..=300).map(rec).collect::<Vec<_>>()).unwrap();
            secret = s.site_secret().unwrap();
            assert_eq!(secret.len(), 32);
        }
        let s = Store::open(dir.path(), false).unwrap();
        assert_eq!(s.last_seq().unwrap(), 300);
        assert_eq!(s.site_secret().unwrap(), secret, "secret survives reopen");
        // Big-endian keys sort numerically: 256 comes after 255, not after 25.
        let got = s.read_from(255, 3).unwrap();
        assert_eq!(
            got.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [255, 256, 257]
        );
        assert_eq!(got[1].json, rec(256).json);
        assert_eq!(got[1].wire, rec(256).wire);
    }

    #[test]
    fn snapshots_keep_the_newest_two() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), false).unwrap();
        assert!(s.latest_snapshot().unwrap().is_none());
        for seq in [10, 20, 30] {
            s.save_snapshot(seq, format!("state{seq}").as_bytes())
                .unwrap();
        }
        assert_eq!(
            s.latest_snapshot().unwrap(),
            Some((30, b"state30".to_vec()))
        );
        let kept: Vec<u64> = s.snapshot_files().iter().map(|f| f.0).collect();
        assert_eq!(kept, [20, 30]);
        // A torn or foreign file is skipped, not trusted.
        let torn = dir
            .path()
            .join("snapshots")
            .join(format!("{:020}.snap", 40));
        std::fs::write(torn, b"xx").unwrap();
        assert_eq!(
            s.latest_snapshot().unwrap(),
            Some((30, b"state30".to_vec()))
        );
    }

    #[test]
    fn damaged_record_is_reported_not_panicked() {
        assert!(matches!(
            decode(7, &[0, 0]),
            Err(StoreError::Damaged { seq: 7, .. })
        ));
        assert!(matches!(
            decode(7, &[0, 0, 0, 9, b'{']),
            Err(StoreError::Damaged { seq: 7, .. })
        ));
    }

    #[test]
    fn a_damaged_archive_names_its_file_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_with(dir.path(), false, 40).unwrap();
        s.append(&(1..=45).map(rec).collect::<Vec<_>>()).unwrap();
        assert!(s.rotate_if_full(45).unwrap());
        s.append(&(46..=50).map(rec).collect::<Vec<_>>()).unwrap();
        s.close().unwrap();
        drop(s);
        let archive = std::fs::read_dir(dir.path().join("archive"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "log"))
            .unwrap();
        // Garbage over the middle of the file, as a bad sector leaves it.
        let mut bytes = std::fs::read(&archive).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid..mid + 24].fill(0xA5);
        std::fs::write(&archive, &bytes).unwrap();
        let s = Store::open_with(dir.path(), false, 40).unwrap();
        let err = s.read_from(1, 1000).unwrap_err().to_string();
        let name = archive.file_name().unwrap().to_string_lossy().to_string();
        assert!(err.contains(&name) && err.contains("events 1-45"), "{err}");
    }

    fn seqs(rs: &[Record]) -> Vec<u64> {
        rs.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn rotated_segments_are_archived_and_still_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_with(dir.path(), false, 40).unwrap();
        let secret = s.site_secret().unwrap();
        s.append(&(1..=30).map(rec).collect::<Vec<_>>()).unwrap();
        assert!(!s.rotate_if_full(30).unwrap(), "not full yet");
        s.append(&(31..=45).map(rec).collect::<Vec<_>>()).unwrap();
        assert!(s.rotate_if_full(45).unwrap());
        s.append(&(46..=50).map(rec).collect::<Vec<_>>()).unwrap();
        // Readable at every moment: while archiving runs and after.
        assert_eq!(
            seqs(&s.read_from(1, 1000).unwrap()),
            (1..=50).collect::<Vec<_>>()
        );
        s.close().unwrap(); // waits for the archiver
        assert_eq!(s.archive_files().len(), 1);
        assert_eq!(
            segment_dirs(dir.path()).len(),
            1,
            "the closed segment is gone"
        );
        assert_eq!(
            seqs(&s.read_from(1, 1000).unwrap()),
            (1..=50).collect::<Vec<_>>()
        );
        assert_eq!(seqs(&s.read_from(44, 3).unwrap()), [44, 45, 46]);
        assert_eq!(s.read_from(10, 1).unwrap()[0].wire, rec(10).wire);
        assert_eq!(s.last_seq().unwrap(), 50);
        assert_eq!(s.site_secret().unwrap(), secret, "meta moves with the log");
        drop(s);
        let s = Store::open_with(dir.path(), false, 40).unwrap();
        assert_eq!(s.last_seq().unwrap(), 50);
        assert_eq!(
            seqs(&s.read_from(1, 1000).unwrap()),
            (1..=50).collect::<Vec<_>>()
        );
        assert_eq!(s.site_secret().unwrap(), secret);
    }

    #[test]
    fn a_segment_left_by_a_crash_is_archived_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open_with(dir.path(), false, 10).unwrap();
            s.append(&(1..=12).map(rec).collect::<Vec<_>>()).unwrap();
            s.rotate_if_full(12).unwrap();
            s.append(&(13..=14).map(rec).collect::<Vec<_>>()).unwrap();
            s.close().unwrap();
        }
        // Pretend the archiver died before deleting: put a copy of an old
        // segment back beside the current one.
        let old = dir.path().join("log").join(format!("{:020}", 1));
        {
            let seg = open_segment(&old, 1).unwrap();
            let mut b = sled::Batch::default();
            for r in (1..=12).map(rec) {
                b.insert(&r.seq.to_be_bytes(), encode(&r));
            }
            seg.events.apply_batch(b).unwrap();
            seg.db.flush().unwrap();
        }
        let s = Store::open_with(dir.path(), false, 10).unwrap();
        assert_eq!(segment_dirs(dir.path()).len(), 1);
        assert_eq!(
            seqs(&s.read_from(1, 1000).unwrap()),
            (1..=14).collect::<Vec<_>>(),
            "no duplicates"
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path(), false).unwrap();
            s.set_meta("schema_version", &99u64.to_be_bytes()).unwrap();
        }
        let err = Store::open(dir.path(), false).unwrap_err().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
