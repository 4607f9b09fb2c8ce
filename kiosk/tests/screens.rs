//! The `kiosk` binary: every screen renders headless with Chinese text, and
//! the headless run mode takes a number end to end when driven on stdin.

use hall_tests::{TestServer, always_open};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Share of pixels in a box whose colour is close to `rgb`.
fn share_near(png_path: &Path, (x0, y0, x1, y1): (u32, u32, u32, u32), rgb: [u8; 3]) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let (mut hit, mut n) = (0, 0);
    for y in y0..y1.min(info.height) {
        for x in x0..x1.min(info.width) {
            let i = (y * info.width + x) as usize * px;
            n += 1;
            if (0..3).all(|c| (buf[i + c] as i32 - rgb[c] as i32).abs() < 40) {
                hit += 1;
            }
        }
    }
    hit as f64 / n.max(1) as f64
}

const SCREENS: [&str; 16] = [
    "home.png",
    "home-landscape.png",
    "home-en.png",
    "home-elder.png",
    "detail.png",
    "detail-bundle.png",
    "identity.png",
    "confirm.png",
    "issuing-retrying.png",
    "done.png",
    "done-landscape.png",
    "done-print-failed.png",
    "blocked.png",
    "failed.png",
    "checkin.png",
    "offline.png",
];

#[test]
fn every_screen_renders_headless_with_chinese_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk")).arg("--screenshot").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in SCREENS {
        let bytes = std::fs::read(dir.path().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(&bytes[1..4], b"PNG", "{f}");
    }
    // The hall name (示例区政务服务中心, white on red) is drawn: without the CJK
    // font the header holds no white at all.
    let header = share_near(&dir.path().join("home.png"), (30, 20, 400, 75), [255, 255, 255]);
    assert!(header > 0.08, "header text share {header}");
    // The done screen shows the number in large red type.
    let number = share_near(&dir.path().join("done.png"), (150, 520, 930, 760), [0xb7, 0x1c, 0x1c]);
    assert!(number > 0.15, "ticket number share {number}");
    // The blocked screen dims the home screen behind its message.
    let dim = share_near(&dir.path().join("blocked.png"), (0, 1500, 1080, 1900), [0x3a, 0x3a, 0x3a]);
    assert!(dim > 0.9, "dimmed share {dim}");
    // Landscape is laid out for its width: four columns of categories.
    let card_row = share_near(&dir.path().join("home-landscape.png"), (1460, 460, 1880, 600), [255, 255, 255]);
    assert!(card_row > 0.5, "fourth column share {card_row}");
    if let Ok(docs) = std::env::var("HALL_SCREENSHOT_DIR") {
        for f in ["home.png", "home-landscape.png", "detail.png", "confirm.png", "done.png", "blocked.png"] {
            std::fs::copy(dir.path().join(f), Path::new(&docs).join(format!("kiosk-{f}"))).unwrap();
        }
    }
}

/// Whether a PNG's last `margin` rows hold one colour only (the background,
/// or the dimmed background of an overlay) and its right margin matches its
/// left edge: nothing was laid out past the window's edge.
fn edges_are_blank(png_path: &Path, margin: u32) -> Result<(), String> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 4) as usize;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    let corner = px(info.width - 1, info.height - 1);
    let close = |p: [u8; 3]| (0..3).all(|c| (p[c] as i32 - corner[c] as i32).abs() < 8);
    for y in info.height - margin..info.height {
        for x in 0..info.width {
            if !close(px(x, y)) {
                return Err(format!("something drawn at the bottom edge ({x}, {y}) of {}x{}", info.width, info.height));
            }
        }
    }
    // Full-width bands (header, banners) reach both edges: a row's right
    // margin must look like its left edge.
    for y in 0..info.height {
        let left = px(0, y);
        for x in info.width - margin..info.width {
            let p = px(x, y);
            if !(0..3).all(|c| (p[c] as i32 - left[c] as i32).abs() < 8) {
                return Err(format!("something drawn at the right edge ({x}, {y}) of {}x{}", info.width, info.height));
            }
        }
    }
    Ok(())
}

/// Regression: in landscape (1920×1080) the done screen's 完成 button was cut
/// off at the bottom edge. Every screen, at the real window sizes.
#[test]
fn every_screen_fits_portrait_and_landscape() {
    let dir = tempfile::tempdir().unwrap();
    let dir = match std::env::var("KIOSK_SHOTS") {
        Ok(keep) => tempfile::TempDir::new_in(keep).unwrap(),
        Err(_) => dir,
    };
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk")).arg("--screenshot").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut problems = Vec::new();
    let mut landscape = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        landscape += path.to_string_lossy().ends_with("-landscape.png") as u32;
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Err(e) = edges_are_blank(&path, 12) {
            problems.push(format!("{name}: {e}"));
        }
        // The language button (light grey, rightmost in the header) is on
        // screen; a long header line once pushed it off in portrait.
        let width = if name.contains("landscape") || name == "home-en.png" { 1920 } else { 1080 };
        let pill = share_near(&path, (width - 160, 40, width - 40, 90), [0xee, 0xee, 0xee]);
        if pill < 0.5 {
            problems.push(format!("{name}: no language button ({pill:.2})"));
        }
    }
    assert!(landscape >= 12, "every screen in landscape too ({landscape})");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_broken_config_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("kiosk.toml");
    std::fs::write(&f, "[printer]\nwidth = 76\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk")).arg("--config").arg(&f).arg("--headless").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kiosk.toml: printer.width: 76 mm is not a supported paper width"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_run_takes_a_number_driven_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("data"), always_open()).await;
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["--headless", "--every", "1", "--duration", "60", "--server", &server.url(), "--out"])
        .arg(&out)
        .env("HALL_TLS_DIR", hall_tests::identity_dir(hall_tests::Role::Kiosk, "kiosk-t"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut lines = Vec::new();
    let wait_for = |lines: &mut Vec<String>, prefix: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if lines.iter().any(|l: &String| l.starts_with(prefix)) {
                return;
            }
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                lines.push(l);
            }
        }
        panic!("no '{prefix}' line: {lines:?}");
    };
    wait_for(&mut lines, "kiosk: headless");
    // Ready: the catalogue is in, so a choice by code finds its category.
    wait_for(&mut lines, "kiosk ready: catalogue ");
    assert!(lines.contains(&"kiosk ready: catalogue 23 categories".to_string()), "the built-in hall: {lines:?}");
    writeln!(stdin, "sim-card 1").unwrap();
    wait_for(&mut lines, "card ");
    // Taken in order, one after the other.
    for c in ["choose medical_insurance", "take", "confirm"] {
        writeln!(stdin, "{c}").unwrap();
    }
    wait_for(&mut lines, "printed ");
    let issued = lines.iter().find(|l| l.starts_with("issued ")).unwrap().clone();
    let number = issued.split_whitespace().nth(1).unwrap().to_string();
    assert!(lines.contains(&format!("printed {number}")), "{lines:?}");
    assert!(lines.iter().any(|l| l == "card 李*红"), "{lines:?}");
    // The slip was saved as PNG; the screen as PNG too.
    let slips = out.join("slips");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&slips).map(|d| d.count()).unwrap_or(0) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(std::fs::read_dir(&slips).unwrap().count() >= 1);
    // The next picture (every second) shows the done screen.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(out.join("kiosk.png").exists() && out.join("kiosk-done.png").exists()) {
        assert!(Instant::now() < deadline, "no picture of the done screen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writeln!(stdin, "quit").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    server.stop().await;
}

#[test]
fn a_figures_refresh_updates_the_buttons_in_place() {
    use kiosk::flow::{Settings, State};
    use slint::{ComponentHandle, Model};
    kiosk::view::install_headless(1080, 1920);
    let ui = kiosk::KioskWindow::new().unwrap();
    let s = Settings::default();
    let mut st = State { catalog: kiosk::sample::catalog(), connected: true, catalog_loads: 1, ..State::new(false) };
    kiosk::view::show(&ui, &st, &s, 0);
    let a = ui.global::<kiosk::KioskAdapter>();
    let before = a.get_items();
    assert_eq!(before.row_data(0).unwrap().queue, "等候 12 人 · 约 18 分钟");
    // One more visitor waits: the same list, its first row changed in place,
    // so a button under a finger is not torn down and rebuilt.
    st.catalog.items[0].waiting = 13;
    kiosk::view::show(&ui, &st, &s, 0);
    let after = a.get_items();
    assert!(before == after, "the list was replaced");
    assert_eq!(after.row_data(0).unwrap().queue, "等候 13 人 · 约 18 分钟");
    // A search shortens the list: still the same model, new rows.
    st.search = "医保".into();
    kiosk::view::show(&ui, &st, &s, 0);
    assert!(a.get_items() == before);
    assert_eq!(a.get_items().row_count(), 2);
}
