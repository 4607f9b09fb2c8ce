//! The store's tests: real sled on disk in a temporary folder.

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

/// Events 1-45 archived (segments of 40, rotated at 45) and 46-50 in the
/// current segment, closed; the archive file's path.
fn one_archive_and_a_segment() -> (tempfile::TempDir, std::path::PathBuf) {
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
    (dir, archive)
}

#[test]
fn a_damaged_archive_names_its_file_and_range() {
    let (dir, archive) = one_archive_and_a_segment();
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

/// Every byte of every file under `dir` searched for `needle`.
fn occurrences(dir: &std::path::Path, needle: &[u8]) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += occurrences(&p, needle);
        } else {
            let mut b = std::fs::read(&p).unwrap_or_default();
            // An archive is a gzip stream: its bytes as they are stored.
            if b.starts_with(&[0x1f, 0x8b]) {
                let mut plain = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&b[..]), &mut plain)
                    .unwrap();
                b = plain;
            }
            n += b.windows(needle.len()).filter(|w| *w == needle).count();
        }
    }
    n
}

#[test]
fn a_rotated_and_rewritten_log_keeps_no_old_bytes_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open_with(dir.path(), false, 1_000_000).unwrap();
    let marker = b"PERSON-4c1d2e3f";
    let with_marker = |seq: u64| Record {
        seq,
        json: format!("{{\"n\":{seq},\"p\":\"PERSON-4c1d2e3f\"}}").into_bytes(),
        wire: b"PERSON-4c1d2e3f".to_vec(),
    };
    let records: Vec<Record> = (1..=500)
        .map(|i| if i % 50 == 0 { with_marker(i) } else { rec(i) })
        .collect();
    s.append(&records).unwrap();
    assert!(occurrences(dir.path(), marker) > 0);
    // Out of sled (which keeps overwritten bytes) into a flat archive...
    assert!(s.rotate_now(500).unwrap());
    assert!(s.wait_archived());
    // ...then rewritten without the marker, in two passes: the first stops
    // at record 251 (what a retention run does at its cutoff), the second
    // starts after the first's mark.
    let strip = |r: &Record| {
        let hit = r.json.windows(marker.len()).any(|w| w == marker);
        if hit {
            Rewrite::Replace(Record {
                seq: r.seq,
                json: format!("{{\"n\":{}}}", r.seq).into_bytes(),
                wire: vec![0],
            })
        } else {
            Rewrite::Keep
        }
    };
    let n = s
        .rewrite_archive(0, |r| if r.seq > 250 { Rewrite::Stop } else { strip(r) })
        .unwrap();
    assert_eq!(n, 5);
    assert!(
        occurrences(dir.path(), marker) > 0,
        "records after the stop were kept"
    );
    let n = s.rewrite_archive(250, strip).unwrap();
    assert_eq!(n, 5);
    s.append(&[rec(501)]).unwrap();
    assert_eq!(
        occurrences(dir.path(), marker),
        0,
        "the marker is still on disk"
    );
    // The log reads back whole and in order, rewritten records included.
    let back = s.read_from(1, 1000).unwrap();
    assert_eq!(
        back.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=501).collect::<Vec<_>>()
    );
    assert_eq!(back[49].json, b"{\"n\":50}");
    assert_eq!(
        (back[48].json.clone(), back[48].wire.clone()),
        (rec(49).json, rec(49).wire)
    );
    // And after a reopen.
    s.close().unwrap();
    drop(s);
    let s = Store::open(dir.path(), false).unwrap();
    assert_eq!(s.read_from(1, 1000).unwrap().len(), 501);
}

#[test]
fn archives_are_compressed_and_a_plain_one_from_before_is_still_read() {
    let (dir, archive) = one_archive_and_a_segment();
    let gz = std::fs::read(&archive).unwrap();
    assert!(
        gz.starts_with(&[0x1f, 0x8b]),
        "a new archive is a gzip stream"
    );
    // The same records as an archive written before compression: plain.
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert!(plain.len() > gz.len());
    std::fs::write(&archive, &plain).unwrap();
    let s = Store::open_with(dir.path(), false, 40).unwrap();
    assert_eq!(
        seqs(&s.read_from(1, 1000).unwrap()),
        (1..=50).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(&s.read_from(30, 5).unwrap()),
        (30..35).collect::<Vec<_>>()
    );
}

#[test]
fn a_cut_short_archive_is_damage_not_its_end() {
    let (dir, archive) = one_archive_and_a_segment();
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let s = Store::open_with(dir.path(), false, 40).unwrap();
    let err = s.read_from(1, 1000).unwrap_err().to_string();
    assert!(err.contains("events 1-45"), "{err}");
}
