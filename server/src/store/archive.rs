//! Rotation and the archive: a full segment is closed, copied into a flat
//! file (`archive/<first>-<last>.log`, fsynced) by a background thread and
//! deleted; archived events are read back by streaming those files.
//!
//! An archive file is one gzip stream of the records (sequence, length,
//! value). The records are JSON and protobuf with much repetition: gzip
//! makes them about a seventh of their size, which is what keeps a year of
//! the hall's log under a gigabyte (`hall-bench soak`). Files written
//! before archives were compressed are plain and are read as they are
//! (a plain file starts with a sequence number's zero byte, a gzip stream
//! with `1f 8b`).

use super::segment::{Segment, open_segment};
use super::{MAX_RECORD, Record, Store, StoreError, decode, io_err, key_seq};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// An archive file for reading: decompressed if it is a gzip stream.
fn open_archive(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let mut r = BufReader::with_capacity(1 << 16, File::open(path)?);
    if r.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::GzDecoder::new(r),
        )))
    } else {
        Ok(Box::new(r))
    }
}

/// Skips `n` bytes of a stream that cannot seek.
fn skip(r: &mut dyn Read, n: usize) -> std::io::Result<()> {
    let skipped = std::io::copy(&mut r.take(n as u64), &mut std::io::sink())?;
    if skipped < n as u64 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// A new archive file: records go through gzip into `path`.
struct ArchiveWriter {
    out: flate2::write::GzEncoder<BufWriter<File>>,
}

impl ArchiveWriter {
    fn create(path: &Path) -> std::io::Result<ArchiveWriter> {
        let f = File::create(path)?;
        Ok(ArchiveWriter {
            out: flate2::write::GzEncoder::new(
                BufWriter::with_capacity(1 << 20, f),
                flate2::Compression::default(),
            ),
        })
    }

    fn record(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.out.write_all(key)?;
        self.out.write_all(&(value.len() as u32).to_be_bytes())?;
        self.out.write_all(value)
    }

    /// Ends the stream and fsyncs the file.
    fn finish(self) -> std::io::Result<()> {
        let f = self
            .out
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        f.sync_all()
    }
}

impl Store {
    /// Archive files, oldest first: (first seq, last seq, path).
    pub(super) fn archive_files(&self) -> Vec<(u64, u64, PathBuf)> {
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
    pub(super) fn read_archive(
        &self,
        from: u64,
        until: u64,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
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
            let mut r = open_archive(&path).map_err(|e| io_err(&path, e))?;
            let mut header = [0u8; 12];
            loop {
                match r.read_exact(&mut header) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    // A gzip stream with a bad sector in it.
                    Err(e)
                        if e.kind() == std::io::ErrorKind::InvalidData
                            || e.kind() == std::io::ErrorKind::InvalidInput =>
                    {
                        return Err(damaged(
                            previous + 1,
                            format!("unreadable after {previous}: {e}"),
                        ));
                    }
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
                    skip(&mut r, len).map_err(|_| damaged(seq, "cut short".into()))?;
                }
            }
            // The file ended before the last record its name promises: a
            // cut-short file (or gzip stream) is damage, not the end.
            if previous < last {
                return Err(damaged(previous + 1, format!("ends after {previous}")));
            }
        }
        Ok(out)
    }

    /// Starts a new segment after `seq` when the current one is full. Call
    /// it right after a snapshot at `seq` (so a restart never needs the
    /// archive). The closed segment is archived on a background thread.
    pub fn rotate_if_full(&self, seq: u64) -> Result<bool, StoreError> {
        self.rotate(seq, false)
    }

    /// Rotates whatever the current segment holds (the retention run: sled
    /// keeps overwritten bytes in its files, so old records leave sled only
    /// by being archived to a flat file, which is then rewritten).
    pub fn rotate_now(&self, seq: u64) -> Result<bool, StoreError> {
        self.rotate(seq, true)
    }

    /// Waits for a running archiving to finish; true when every closed
    /// segment has reached its archive file (none is left in place by a
    /// failed archiving).
    pub fn wait_archived(&self) -> bool {
        if let Some(h) = self.archiver.lock().expect("archiver lock").take() {
            let _ = h.join();
        }
        self.segs.read().expect("segments lock").closing.is_none()
    }

    fn rotate(&self, seq: u64, force: bool) -> Result<bool, StoreError> {
        let current = self.current()?;
        if seq < current.first || (!force && seq + 1 < current.first + self.segment_events) {
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

    /// Passes the archived records after `after`, oldest first, through
    /// `rewrite` (files holding only older records are not read), which
    /// keeps a record, replaces it, or stops the pass (the records after it
    /// stay as they are). Each archive file with a change is written
    /// beside, fsynced and renamed over the old one (a reader still
    /// streaming the old file keeps its handle). Returns how many records
    /// were rewritten.
    pub fn rewrite_archive(
        &self,
        after: u64,
        mut rewrite: impl FnMut(&Record) -> Rewrite,
    ) -> Result<u64, StoreError> {
        let _one_at_a_time = self.archiving.lock().expect("archiving lock");
        let mut total = 0;
        let mut stopped = false;
        for (first, last, path) in self.archive_files() {
            if stopped {
                break;
            }
            if last <= after {
                continue;
            }
            let records = self.read_archive(first, last + 1, usize::MAX)?;
            let mut changed = 0;
            let out: Vec<Record> = records
                .into_iter()
                .map(|r| {
                    if stopped || r.seq <= after {
                        return r;
                    }
                    match rewrite(&r) {
                        Rewrite::Keep => r,
                        Rewrite::Stop => {
                            stopped = true;
                            r
                        }
                        Rewrite::Replace(new) => {
                            changed += 1;
                            Record { seq: r.seq, ..new }
                        }
                    }
                })
                .collect();
            if changed == 0 {
                continue;
            }
            let tmp = path.with_extension("rewrite.tmp");
            let written = (|| {
                let mut w = ArchiveWriter::create(&tmp).map_err(|e| io_err(&tmp, e))?;
                for r in &out {
                    w.record(&r.seq.to_be_bytes(), &super::encode(r))
                        .map_err(|e| io_err(&tmp, e))?;
                }
                w.finish().map_err(|e| io_err(&tmp, e))?;
                std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
                let dir = self.dir.join("archive");
                File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| io_err(&dir, e))
            })();
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            total += changed;
        }
        Ok(total)
    }

    /// Copies a closed segment into an archive file, then deletes it.
    pub(super) fn archive_segment(&self, seg: Segment) -> Result<(), StoreError> {
        let _one_at_a_time = self.archiving.lock().expect("archiving lock");
        // Streamed to a temporary file, fsynced, renamed: a crash leaves the
        // segment in place and it is archived again at the next open.
        let archive_dir = self.dir.join("archive");
        std::fs::create_dir_all(&archive_dir).map_err(|e| io_err(&archive_dir, e))?;
        let tmp = archive_dir.join(format!("{:020}.tmp", seg.first));
        let mut last = seg.first.saturating_sub(1);
        let written = (|| {
            let mut w = ArchiveWriter::create(&tmp).map_err(|e| io_err(&tmp, e))?;
            for kv in seg.events.iter() {
                let (k, v) = kv.map_err(|e| self.err(e))?;
                w.record(&k, &v).map_err(|e| io_err(&tmp, e))?;
                last = key_seq(&k);
            }
            w.finish().map_err(|e| io_err(&tmp, e))
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
}

/// What `Store::rewrite_archive` does with one record.
#[derive(Debug)]
pub enum Rewrite {
    Keep,
    Replace(Record),
    /// Keep this record and every later one: the pass is over.
    Stop,
}
