//! The display board end to end: headless screenshots, the announcement WAV,
//! and a board whose event stream is cut and resumed against a real server.

use display_board::follow::{self, Sink};
use display_board::model::{Board, Call, Filter};
use display_board::voice::{self, Lang, VoicePack};
use hall_proto::v1 as pb;
use hall_tests::{always_open, issue_ok, login, TestServer};
use std::process::Command;
use std::sync::{Arc, Mutex};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_display-board"))
}

/// Share of pixels in a region brighter than `min` on every channel.
fn bright_share(png_path: &std::path::Path, x0: u32, y0: u32, x1: u32, y1: u32, min: u8) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1920, 1080));
    let mut n = 0;
    let mut bright = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * info.width + x) * 4) as usize;
            n += 1;
            if buf[i] >= min && buf[i + 1] >= min && buf[i + 2] >= min {
                bright += 1;
            }
        }
    }
    bright as f64 / n as f64
}

#[test]
fn every_screen_renders_headless_with_chinese_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().arg("--screenshot").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["board.png", "board-flash.png", "board-disconnected.png", "board-en.png", "window-screen.png"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    // The hall name (示例区政务服务中心, white on dark blue) is drawn: a
    // missing CJK font leaves the header empty.
    let header = bright_share(&dir.path().join("board.png"), 30, 20, 600, 100, 200);
    assert!(header > 0.05, "header text share {header}");
    // The window screen shows its number in large type.
    let ws = bright_share(&dir.path().join("window-screen.png"), 400, 400, 1500, 750, 60);
    assert!(ws > 0.05, "window screen share {ws}");
    if let Ok(docs) = std::env::var("HALL_SCREENSHOT_DIR") {
        for f in ["board.png", "window-screen.png", "board-disconnected.png"] {
            std::fs::copy(dir.path().join(f), std::path::Path::new(&docs).join(format!("display-{f}"))).unwrap();
        }
    }
}

#[test]
fn announce_wav_has_the_length_of_its_clips_and_is_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.wav");
    let out = bin().args(["--announce-wav"]).arg(&f).args(["--ticket", "A001", "--window", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pack = VoicePack::load(&voice::pack::default_dir()).unwrap();
    let clips = voice::plan("A001", 3, Lang::Zh).unwrap();
    let phrase: usize = clips.iter().map(|c| pack.clips[c].samples.len()).sum();
    let gap = (pack.sample_rate * voice::GAP_MS / 1000) as usize;
    let expected = pack.chime.samples.len() + 2 * (gap + phrase);
    let mut r = hound::WavReader::open(&f).unwrap();
    assert_eq!(r.duration() as usize, expected);
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let loud = samples.iter().filter(|s| s.unsigned_abs() > 1000).count();
    assert!(loud > samples.len() / 20, "mostly silent: {loud} of {}", samples.len());
    // Bad input is refused with a reason.
    let out = bin().args(["--announce-wav"]).arg(&f).args(["--ticket", "A-1", "--window", "3"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be spoken"));
}

#[derive(Clone, Default)]
struct Collect {
    calls: Arc<Mutex<Vec<String>>>,
    connected: Arc<std::sync::atomic::AtomicBool>,
}

impl Sink for Collect {
    fn changed(&mut self, _board: &Board, call: Option<&Call>) {
        if let Some(c) = call {
            self.calls.lock().unwrap().push(format!("{}@{}", c.number, c.window));
        }
    }
    fn connection(&mut self, state: hall_client::follow::Connection) {
        self.connected.store(state.is_connected(), std::sync::atomic::Ordering::SeqCst);
    }
}

async fn call_next(server: &TestServer, s: &pb::Session) -> String {
    let mut c = server.counter().await;
    let t = c.call_next(pb::WindowRequest { session: Some(s.clone()) }).await.unwrap().into_inner();
    format!("{}@{}", t.number, s.window)
}

#[tokio::test]
async fn a_cut_stream_resumes_and_shows_every_missed_call_in_order() {
    let dir = tempfile::tempdir().unwrap();
    hall_tests::speak_as(hall_tests::Role::Board);
    let server = TestServer::start(dir.path(), always_open()).await;
    let session = login(&mut server.counter().await, 1, "c01").await;
    let mut kiosk = server.kiosk().await;
    for i in 0..6 {
        issue_ok(&mut kiosk, "social_insurance", &format!("r{i}")).await;
    }
    let sink = Collect::default();
    let board = Arc::new(tokio::sync::Mutex::new(Board::new(Filter::default())));

    // Follow, see two calls, then cut the stream.
    let (b, mut s, url) = (board.clone(), sink.clone(), server.url());
    let task = tokio::spawn(async move {
        let ch = hall_tests::channel_as(&url, hall_tests::Role::Board).await;
        let mut board = b.lock().await;
        let _ = follow::sync_once(ch, &mut board, &mut s).await;
    });
    // Subscribed (snapshot taken) before the first call.
    for _ in 0..200 {
        if sink.connected.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut expected = Vec::new();
    for _ in 0..2 {
        expected.push(call_next(&server, &session).await);
        let mut fin = server.counter().await;
        fin.finish(pb::FinishRequest { session: Some(session.clone()), outcome: pb::FinishOutcome::Resolved as i32, unresolved_reason: String::new(), ..Default::default() })
            .await
            .unwrap();
    }
    wait_for(&sink, 2).await;
    task.abort();
    let _ = task.await;

    // Calls while the board is away (one of them a recall).
    for i in 0..3 {
        expected.push(call_next(&server, &session).await);
        if i == 1 {
            let mut c = server.counter().await;
            let t = c.recall(pb::WindowRequest { session: Some(session.clone()) }).await.unwrap().into_inner();
            expected.push(format!("{}@1", t.number));
        }
        let mut fin = server.counter().await;
        fin.finish(pb::FinishRequest { session: Some(session.clone()), outcome: pb::FinishOutcome::Resolved as i32, unresolved_reason: String::new(), ..Default::default() })
            .await
            .unwrap();
    }
    assert_eq!(sink.calls.lock().unwrap().len(), 2, "nothing arrives while cut");

    // Resume from the last sequence: every missed call, in order, once.
    let (b, mut s, url) = (board.clone(), sink.clone(), server.url());
    let task = tokio::spawn(async move {
        let ch = hall_tests::channel_as(&url, hall_tests::Role::Board).await;
        let mut board = b.lock().await;
        let _ = follow::sync_once(ch, &mut board, &mut s).await;
    });
    wait_for(&sink, expected.len()).await;
    task.abort();
    assert_eq!(*sink.calls.lock().unwrap(), expected);
    server.stop().await;
}

async fn wait_for(sink: &Collect, n: usize) {
    for _ in 0..200 {
        if sink.calls.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("only {:?} after waiting for {n}", sink.calls.lock().unwrap());
}

/// The latest board the follower reported.
#[derive(Clone, Default)]
struct Latest(Arc<Mutex<Option<Board>>>);

impl Sink for Latest {
    fn changed(&mut self, board: &Board, _call: Option<&Call>) {
        *self.0.lock().unwrap() = Some(board.clone());
    }
    fn connection(&mut self, _state: hall_client::follow::Connection) {}
}

impl Latest {
    /// Waits (5 s at most) until the board has applied event `seq`.
    async fn at(&self, seq: u64) -> Board {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if let Some(b) = self.0.lock().unwrap().clone().filter(|b| b.seq >= seq) {
                return b;
            }
            assert!(std::time::Instant::now() < deadline, "the board did not reach seq {seq}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// A queue as shown: code, waiting, estimate (minutes).
type QueueShown = (String, u32, u32);
/// A window tile as shown: number, state, current ticket, clerk.
type TileShown = (u32, i32, String, String);

/// What the board shows of a snapshot: the queues and the window tiles.
fn shown(b: &Board) -> (Vec<QueueShown>, Vec<TileShown>) {
    (
        b.queues.iter().map(|q| (q.code.clone(), q.waiting, q.wait_min)).collect(),
        b.windows.values().map(|w| (w.number, w.state, w.current.clone(), w.clerk_name.clone())).collect(),
    )
}

/// The waiting counts, estimates and window tiles follow the events alone
/// (the board no longer re-reads the snapshot): after every step the board
/// shows what a fresh snapshot says.
#[tokio::test]
async fn queue_counts_and_window_tiles_follow_the_events_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    hall_tests::speak_as(hall_tests::Role::Board);
    let server = TestServer::start(dir.path(), always_open()).await;
    let latest = Latest::default();
    let (mut s, url) = (latest.clone(), server.url());
    let task = tokio::spawn(async move {
        let ch = hall_tests::channel_as(&url, hall_tests::Role::Board).await;
        let mut board = Board::new(Filter::default());
        let _ = follow::sync_once(ch, &mut board, &mut s).await;
    });
    let mut events = server.events().await;
    let truth = |snap: &pb::BoardState| {
        let mut b = Board::new(Filter::default());
        b.apply_snapshot(snap);
        b
    };
    let check = |board: &Board, snap: &pb::BoardState, step: &str| {
        assert_eq!(shown(board), shown(&truth(snap)), "after {step}");
    };
    let before = latest.at(0).await;
    let social = |b: &Board| b.queues.iter().find(|q| q.code == "social_insurance").map(|q| (q.waiting, q.wait_min)).unwrap();
    assert_eq!(social(&before), (0, 0));

    // A clerk opens window 1: its tile says so.
    let session = login(&mut server.counter().await, 1, "c01").await;
    let snap = events.snapshot(pb::SnapshotRequest {}).await.unwrap().into_inner();
    let board = latest.at(snap.seq).await;
    assert_eq!(board.windows[&1].state, pb::WindowState::Open as i32);
    check(&board, &snap, "login");

    // Visitors take numbers: the count and the estimate grow.
    let mut kiosk = server.kiosk().await;
    for i in 0..3 {
        issue_ok(&mut kiosk, "social_insurance", &format!("q{i}")).await;
    }
    let snap = events.snapshot(pb::SnapshotRequest {}).await.unwrap().into_inner();
    let board = latest.at(snap.seq).await;
    let (waiting, wait_min) = social(&board);
    assert_eq!(waiting, 3);
    assert!(wait_min > 0, "an estimate for three people waiting");
    check(&board, &snap, "three tickets");

    // A call, the start of service, a transfer to another queue and a pause:
    // counts and tiles move with each event, no snapshot needed.
    let mut counter = server.counter().await;
    let win = pb::WindowRequest { session: Some(session.clone()) };
    counter.call_next(win.clone()).await.unwrap();
    counter.start_service(win.clone()).await.unwrap();
    let snap = events.snapshot(pb::SnapshotRequest {}).await.unwrap().into_inner();
    let board = latest.at(snap.seq).await;
    assert_eq!(board.windows[&1].state, pb::WindowState::Serving as i32);
    check(&board, &snap, "a call");
    counter
        .transfer(pb::TransferRequest {
            session: Some(session.clone()),
            target: Some(pb::transfer_request::Target::Category("medical_insurance".into())),
            with_return: false,
            reason: String::new(),
        })
        .await
        .unwrap();
    counter.pause(pb::PauseRequest { session: Some(session.clone()), reason: "暂离".into() }).await.unwrap();
    let snap = events.snapshot(pb::SnapshotRequest {}).await.unwrap().into_inner();
    let board = latest.at(snap.seq).await;
    assert_eq!(board.queues.iter().find(|q| q.code == "medical_insurance").unwrap().waiting, 1, "the transferred ticket waits there");
    assert_eq!(board.windows[&1].state, pb::WindowState::Paused as i32);
    check(&board, &snap, "a transfer and a pause");
    task.abort();
    server.stop().await;
}
