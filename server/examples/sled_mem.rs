//! Measures sled 0.34's resident memory while appending event-sized records
//! in flushed batches, as the store does (used to size the RSS budget).
fn rss() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<f64>()
        .unwrap()
        / 1024.0
}
fn main() {
    let dir = std::env::temp_dir().join(format!("sled-mem-{}", std::process::id()));
    let size: usize = std::env::args().nth(1).map_or(700, |s| s.parse().unwrap());
    let db = sled::Config::new()
        .path(&dir)
        .cache_capacity(16 << 20)
        .open()
        .unwrap();
    let t = db.open_tree("events").unwrap();
    println!("start {:.1} MiB", rss());
    let mut seq = 0u64;
    for round in 1..=20 {
        for _ in 0..(150_000 / 50) {
            let mut b = sled::Batch::default();
            for _ in 0..50 {
                seq += 1;
                b.insert(&seq.to_be_bytes(), vec![7u8; size]);
            }
            t.apply_batch(b).unwrap();
            db.flush().unwrap();
        }
        println!("{} records: {:.1} MiB", round * 150_000, rss());
    }
    drop(t);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
