//! The board's window in process (headless): the notice ticker and the
//! flash after a call run in the .slint file by themselves (no Rust timer),
//! and the ticker travels across the window's real width. One test
//! function: Slint's platform is per process.

use display_board::model::{Board, Filter};
use display_board::view::{self, ViewOptions};
use display_board::voice::Lang;
use display_board::{BoardAdapter, BoardWindow, sample};
use slint::ComponentHandle;
use std::time::Duration;

/// The ticker strip (50 of its 70 rows) as raw pixels.
fn ticker_strip(ui: &BoardWindow, dir: &std::path::Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    view::snapshot_png(ui, &path).unwrap();
    if let Ok(keep) = std::env::var("BOARD_SHOTS") {
        std::fs::copy(&path, std::path::Path::new(&keep).join(name)).unwrap();
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let row = info.width as usize * 4;
    buf[(info.height as usize - 60) * row..(info.height as usize - 10) * row].to_vec()
}

#[test]
fn the_ticker_and_the_flash_run_in_the_window_at_any_width() {
    // Wider than the 1920 px the ticker once assumed (a 1440p screen).
    view::install_headless(2560, 1440);
    let ui = BoardWindow::new().unwrap();
    let mut board = Board::new(Filter::default());
    board.apply_snapshot(&sample::snapshot());
    view::set_labels(&ui, Lang::Zh);
    view::show(&ui, &board, &ViewOptions::default());
    let a = ui.global::<BoardAdapter>();
    assert!(!board.notice.is_empty());
    let dir = tempfile::tempdir().unwrap();

    // The notice moves with nothing but time passing.
    let first = ticker_strip(&ui, dir.path(), "a.png");
    assert!(first.chunks(4).any(|p| p[..3] == [0xff, 0xd5, 0x4f]), "the ticker strip is at the bottom");
    wait_until(Duration::from_secs(5), "the ticker to move", || ticker_strip(&ui, dir.path(), "b.png") != first);
    // Stopped (for screenshots), it stays put.
    a.set_ticker_running(false);
    let third = ticker_strip(&ui, dir.path(), "c.png");
    // Nothing to wait for: time passes to show that nothing moves.
    std::thread::sleep(Duration::from_millis(300));
    assert!(third == ticker_strip(&ui, dir.path(), "d.png"), "a stopped ticker moved");

    // A call flashes for a few seconds, then stops by itself.
    assert!(!a.get_flash());
    a.set_call_serial(a.get_call_serial() + 1);
    // Change handlers run before the next frame.
    slint::platform::update_timers_and_animations();
    assert!(a.get_flash(), "a call flashes at once");
    wait_until(Duration::from_secs(10), "the flash to end by itself", || {
        slint::platform::update_timers_and_animations();
        !a.get_flash()
    });
}

/// Polls `done` every 50 ms until it holds; fails after `limit`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
