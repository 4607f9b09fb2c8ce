//! The counter terminal's window in process (headless, the real Slint window
//! path): keys after a keyboard login, the desk state in the header, and a
//! layout that holds the longest texts of the built-in hall without
//! clipping or moving. One test function: Slint's platform is per process.

use counter_terminal::terminal::{CategoryInfo, State};
use counter_terminal::{view, CounterAction, CounterAdapter, CounterWindow, DeskState};
use hall_proto::v1 as pb;
use slint::ComponentHandle;
use slint::platform::{Key, WindowEvent};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

fn press(ui: &CounterWindow, text: impl Into<slint::SharedString>) {
    let text = text.into();
    ui.window().dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
    ui.window().dispatch_event(WindowEvent::KeyReleased { text });
}

/// The built-in hall's category with the most (and longest) materials, and
/// its longest window name.
fn longest_texts() -> (String, CategoryInfo, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/config/default-hall.toml");
    let hall: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut best: Option<(usize, String, CategoryInfo)> = None;
    for c in hall["categories"].as_array().unwrap() {
        let materials: Vec<String> = c
            .get("guidance")
            .and_then(|g| g.get("materials"))
            .and_then(|m| m.as_array())
            .map(|m| m.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        let weight = materials.len() * 1000 + materials.iter().map(|m| m.chars().count()).sum::<usize>();
        if best.as_ref().is_none_or(|b| weight > b.0) {
            let name = c["name_zh"].as_str().unwrap().to_string();
            best = Some((weight, c["code"].as_str().unwrap().to_string(), CategoryInfo { name, materials }));
        }
    }
    let window = hall["windows"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap().to_string()).max_by_key(|n| n.chars().count()).unwrap();
    let (_, code, info) = best.unwrap();
    assert!(info.materials.len() >= 4, "the test needs a category with four materials or more");
    (code, info, window)
}

fn state(current: Option<pb::TicketState>) -> State {
    let (code, info, window_name) = longest_texts();
    let mut st = counter_terminal::sample::state(0);
    st.categories.insert(code.clone(), info);
    let q = st.queue.as_mut().unwrap();
    q.device_alerts.clear();
    let w = q.window.as_mut().unwrap();
    w.name = window_name;
    w.state = pb::WindowState::Serving as i32;
    q.current = current.map(|s| pb::Ticket {
        number: "AB123".into(),
        category: code,
        state: s as i32,
        masked_name: "欧阳*华".into(),
        bundle_stage: 1,
        bundle_stages: 3,
        call_reason: "本窗口主办业务，按取号先后；该号为一件事第二环节，保留原排队位置".into(),
        recall_count: 2,
        ..Default::default()
    });
    st
}

struct Png {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Png {
    fn read(path: &Path) -> Png {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut rgba = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut rgba).unwrap();
        Png { width: info.width, height: info.height, rgba }
    }
    fn px(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]]
    }
    fn near(&self, x: u32, y: u32, rgb: [u8; 3]) -> bool {
        let p = self.px(x, y);
        (0..3).all(|c| (p[c] as i32 - rgb[c] as i32).abs() < 12)
    }
}

const WHITE: [u8; 3] = [255, 255, 255];
const BACKGROUND: [u8; 3] = [0xec, 0xef, 0xf1];

fn shot(ui: &CounterWindow, dir: &Path, name: &str) -> Png {
    let p = dir.join(name);
    view::snapshot_png(ui, &p).unwrap();
    if let Ok(keep) = std::env::var("COUNTER_SHOTS") {
        std::fs::copy(&p, Path::new(&keep).join(name)).unwrap();
    }
    Png::read(&p)
}

/// The left edge of the waiting list (the right panel), at a row inside it.
fn right_panel_left(png: &Png) -> u32 {
    let y = 200;
    (600..png.width).find(|&x| png.near(x, y, WHITE) && png.near(x - 1, y, BACKGROUND)).expect("the waiting list")
}

#[test]
fn the_window_takes_keys_after_login_and_holds_the_longest_texts() {
    view::install_headless(1280, 800);
    let ui = CounterWindow::new().unwrap();
    let a = ui.global::<CounterAdapter>();
    let actions = Rc::new(RefCell::new(Vec::new()));
    let logins = Rc::new(RefCell::new(0));
    {
        let actions = actions.clone();
        a.on_action(move |x| actions.borrow_mut().push(x));
        let logins = logins.clone();
        a.on_login(move || *logins.borrow_mut() += 1);
    }
    view::show(&ui, &State { connected: true, ..Default::default() }, 0);
    ui.show().unwrap();

    // Keyboard login: the PIN field has the focus; the PIN, then Enter.
    for c in ["1", "2", "3", "4"] {
        press(&ui, c);
    }
    press(&ui, Key::Return);
    assert_eq!(a.get_login_pin(), "1234");
    assert_eq!(*logins.borrow(), 1, "Enter in the PIN field logs in");

    // The server said yes: the main screen. F1 works at once, without a click.
    view::show(&ui, &state(None), 0);
    slint::platform::update_timers_and_animations();
    press(&ui, Key::F1);
    assert_eq!(*actions.borrow(), vec![CounterAction::CallNext], "F1 right after login");

    // Called, not yet served: the header says so; F8 pauses.
    let called = state(Some(pb::TicketState::Called));
    view::show(&ui, &called, 0);
    assert_eq!(a.get_desk_state(), DeskState::Called);
    press(&ui, Key::F8);
    assert_eq!(actions.borrow().last(), Some(&CounterAction::Pause));
    // Paused: F8 resumes (decided by the state, not a label).
    let mut paused = called.clone();
    paused.queue.as_mut().unwrap().window.as_mut().unwrap().state = pb::WindowState::Paused as i32;
    view::show(&ui, &paused, 0);
    assert_eq!(a.get_desk_state(), DeskState::Paused);
    press(&ui, Key::F8);
    assert_eq!(actions.borrow().last(), Some(&CounterAction::Resume));

    // The longest texts of the built-in hall: the current-ticket card holds
    // every line (nothing drawn past its bottom edge, into the gap above the
    // buttons), and the panels keep their widths when the ticket arrives.
    let dir = tempfile::tempdir().unwrap();
    view::show(&ui, &state(None), 0);
    let empty = shot(&ui, dir.path(), "main-empty.png");
    let mut serving = state(Some(pb::TicketState::Serving));
    serving.queue.as_mut().unwrap().window.as_mut().unwrap().state = pb::WindowState::Serving as i32;
    view::show(&ui, &serving, 0);
    let full = shot(&ui, dir.path(), "main-longest.png");
    assert_eq!(right_panel_left(&empty), right_panel_left(&full), "the left panel changed width");

    // Down the card's left padding: white from its top to its bottom edge.
    let x = 25;
    let top = 64 + 14 + 10;
    assert!(full.near(x, top, WHITE), "the card starts below the header");
    let bottom = (top..full.height).find(|&y| !full.near(x, y, WHITE)).unwrap();
    let right = right_panel_left(&full) - 14;
    // The card's own bottom padding is blank, and so is the gap below it.
    for y in bottom - 6..bottom {
        for x in 30..right - 30 {
            assert!(full.near(x, y, WHITE), "text at the card's bottom edge ({x}, {y})");
        }
    }
    for y in bottom + 2..bottom + 10 {
        for x in 14..right {
            assert!(full.near(x, y, BACKGROUND), "text drawn past the card's bottom edge at ({x}, {y}), card ends at {bottom}");
        }
    }
}
