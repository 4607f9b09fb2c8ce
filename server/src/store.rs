//! The only module that touches sled: an append-only event log, periodic
//! snapshots and the meta tree (schema version, site secret).
//!
//! Trees: `events` (big-endian u64 sequence -> record) and `meta`; state
//! snapshots are files beside them (`snapshots/`). A record holds the
//! engine event as JSON (the truth, evolvable with serde defaults) and the
//! wire event bytes that subscribers replay without re-encoding.
//!
//! Durability: `append` writes one batch and calls sled's `flush`, which uses
//! `sync_file_range` — enough when the process is killed. With `fsync` on
//! (the default) it also `fsync`s the data file, so an acknowledged ticket
//! survives a power cut too; group commit pays that once per batch.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Version of the record and snapshot formats. A snapshot of another version
/// is ignored (the log is replayed instead); a log of a newer version is refused.
pub const SCHEMA_VERSION: u64 = 1;
/// Snapshots kept; older ones are deleted.
const SNAPSHOTS_KEPT: usize = 2;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// sled failed (disk full, corrupt file, another process holds the lock, ...).
    #[error("storage error in {dir}: {source}")]
    Sled { dir: String, source: sled::Error },
    /// fsync of the data file failed.
    #[error("fsync of {file} failed: {source}")]
    Sync {
        file: String,
        source: std::io::Error,
    },
    /// The data was written by a newer version of the server.
    #[error("{dir} holds schema version {found}; this server reads up to {SCHEMA_VERSION}")]
    NewerSchema { dir: String, found: u64 },
    /// A stored record is damaged.
    #[error("damaged record at sequence {seq}: {problem}")]
    Damaged { seq: u64, problem: String },
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

#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    events: sled::Tree,
    meta: sled::Tree,
    fsync: bool,
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

/// Opens the sled database, waiting up to 3 s for the file lock: a previous
/// instance (a dropped handle in this process, or a process being killed)
/// releases it a moment after it is gone.
fn open_db(dir: &Path) -> Result<sled::Db, sled::Error> {
    let mut tries = 0;
    loop {
        match sled::Config::new()
            .path(dir)
            .cache_capacity(16 << 20)
            .open()
        {
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

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, fsync: bool) -> Result<Store, StoreError> {
        let sled_err = |source| StoreError::Sled {
            dir: dir.display().to_string(),
            source,
        };
        let db = open_db(dir).map_err(sled_err)?;
        let store = Store {
            dir: dir.to_path_buf(),
            events: db.open_tree("events").map_err(sled_err)?,
            meta: db.open_tree("meta").map_err(sled_err)?,
            db,
            fsync,
        };
        match store.meta.get("schema_version").map_err(sled_err)? {
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
                store
                    .meta
                    .insert("schema_version", &SCHEMA_VERSION.to_be_bytes())
                    .map_err(sled_err)?;
            }
        }
        if store.meta.get("site_secret").map_err(sled_err)?.is_none() {
            let secret: [u8; 32] = rand::random();
            store
                .meta
                .insert("site_secret", &secret)
                .map_err(sled_err)?;
        }
        store.db.flush().map_err(sled_err)?;
        Ok(store)
    }

    fn err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            dir: self.dir.display().to_string(),
            source,
        }
    }

    /// The site secret keying person hashes (created on first open, kept forever).
    pub fn site_secret(&self) -> Result<Vec<u8>, StoreError> {
        Ok(self
            .meta
            .get("site_secret")
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec())
            .unwrap_or_default())
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .meta
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
    }

    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.meta.insert(key, value).map_err(|e| self.err(e))?;
        self.sync()
    }

    /// Highest stored sequence number, 0 for an empty log.
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .events
            .last()
            .map_err(|e| self.err(e))?
            .map_or(0, |(k, _)| {
                u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8]))
            }))
    }

    /// Appends records in one batch and makes them durable before returning.
    pub fn append(&self, records: &[Record]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for r in records {
            batch.insert(&r.seq.to_be_bytes(), encode(r));
        }
        self.events.apply_batch(batch).map_err(|e| self.err(e))?;
        self.sync()
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| self.err(e))?;
        if self.fsync {
            // sled keeps everything in one data file, "db"; sync_file_range
            // (sled's flush) does not reach the disk's cache or the metadata.
            let file = self.dir.join("db");
            File::open(&file)
                .and_then(|f| f.sync_data())
                .map_err(|source| StoreError::Sync {
                    file: file.display().to_string(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Up to `limit` records from `from` (inclusive), in order.
    pub fn read_from(&self, from: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        for kv in self.events.range(from.to_be_bytes()..).take(limit) {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let seq = u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8]));
            out.push(decode(seq, &v)?);
        }
        Ok(out)
    }

    /// Stores a snapshot of the state after `seq`, dropping older ones.
    ///
    /// Snapshots are plain files (`snapshots/<seq>.snap`), not sled values:
    /// sled keeps large values in its caches, which cost the server tens of
    /// MiB for nothing. Written to a temporary file, fsynced, then renamed, so
    /// a crash leaves either the old or the new snapshot, never half of one.
    pub fn save_snapshot(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let dir = self.dir.join("snapshots");
        let io = |file: &Path, source| StoreError::Sync {
            file: file.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let tmp = dir.join(format!("{seq:020}.tmp"));
        let path = dir.join(format!("{seq:020}.snap"));
        {
            use std::io::Write;
            let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
            f.write_all(&SCHEMA_VERSION.to_be_bytes())
                .map_err(|e| io(&tmp, e))?;
            f.write_all(bytes).map_err(|e| io(&tmp, e))?;
            f.sync_all().map_err(|e| io(&tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&dir, e))?;
        for old in self
            .snapshot_files()?
            .into_iter()
            .rev()
            .skip(SNAPSHOTS_KEPT)
        {
            let _ = std::fs::remove_file(old.1);
        }
        Ok(())
    }

    /// Snapshot files, oldest first: (seq, path).
    fn snapshot_files(&self) -> Result<Vec<(u64, PathBuf)>, StoreError> {
        let dir = self.dir.join("snapshots");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(vec![]);
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
        Ok(out)
    }

    /// The newest readable snapshot of this schema version: (seq, bytes).
    pub fn latest_snapshot(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        for (seq, path) in self.snapshot_files()?.into_iter().rev() {
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

    /// Flushes everything (shutdown).
    pub fn close(&self) -> Result<(), StoreError> {
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
        let tree = self.db.open_tree("bench_probe").map_err(|e| self.err(e))?;
        let start = std::time::Instant::now();
        let mut n = 0;
        for i in 0.. {
            if start.elapsed() >= duration {
                break;
            }
            n += 1;
            let mut batch = sled::Batch::default();
            for j in 0..per_batch {
                batch.insert(&((i * per_batch + j) as u64).to_be_bytes(), &[0u8; 200][..]);
            }
            tree.apply_batch(batch).map_err(|e| self.err(e))?;
            self.sync()?;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        drop(tree);
        self.db.drop_tree("bench_probe").map_err(|e| self.err(e))?;
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
        let kept: Vec<u64> = s.snapshot_files().unwrap().iter().map(|f| f.0).collect();
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
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path(), false).unwrap();
            s.meta
                .insert("schema_version", &99u64.to_be_bytes())
                .unwrap();
            s.db.flush().unwrap();
        }
        let err = Store::open(dir.path(), false).unwrap_err().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
