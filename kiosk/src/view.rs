//! The flow's state → the Slint `KioskAdapter` global; headless rendering
//! for screenshots, tests and the hall's headless mode.

use crate::flow::{self, PrintState, Settings, State, Touch};
use crate::{ItemRow, KioskAdapter, KioskWindow, Screen, TouchKind, ZoneRow};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::rc::Rc;

fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::from(Rc::new(VecModel::from(v)))
}

/// Brings a list on screen up to date in place: rows that did not change
/// keep their elements, so a finger pressing a button is not lost when the
/// queue figures refresh under it.
fn sync_rows<T: Clone + PartialEq + 'static>(current: ModelRc<T>, rows: Vec<T>, set: impl FnOnce(ModelRc<T>)) {
    use slint::Model;
    if let Some(vm) = current.as_any().downcast_ref::<VecModel<T>>() {
        if vm.row_count() == rows.len() {
            for (i, r) in rows.into_iter().enumerate() {
                if vm.row_data(i).as_ref() != Some(&r) {
                    vm.set_row_data(i, r);
                }
            }
        } else {
            vm.set_vec(rows);
        }
        return;
    }
    set(model(rows));
}

/// "等候 5 人 · 约 12 分钟" (or closed / quota used up).
fn queue_text(i: &crate::flow::Item, en: bool) -> String {
    match (i.open_now, i.quota_left, en) {
        (false, _, false) => format!("暂停取号 · {}–{}", i.issue_from, i.issue_until),
        (false, _, true) => format!("Closed now (issuing {}–{})", i.issue_from, i.issue_until),
        (true, Some(0), false) => "今日号源已取完".into(),
        (true, Some(0), true) => "No numbers left today".into(),
        (true, _, false) if i.waiting == 0 => "无需等候".into(),
        (true, _, true) if i.waiting == 0 => "No wait".into(),
        (true, _, false) => format!("等候 {} 人 · 约 {} 分钟", i.waiting, i.wait_min),
        (true, _, true) => format!("{} waiting · about {} min", i.waiting, i.wait_min),
    }
}

/// A ticket's QR code as an image (black modules on white, 1 px each, with a
/// quiet zone; the view scales it up without smoothing).
pub fn qr_image(text: &str) -> slint::Image {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else { return slint::Image::default() };
    let w = code.width();
    let quiet = 4;
    let size = (w + 2 * quiet) as u32;
    let mut buf = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(size, size);
    let colors = code.to_colors();
    for (i, px) in buf.make_mut_slice().iter_mut().enumerate() {
        let (x, y) = (i % size as usize, i / size as usize);
        let dark = x >= quiet
            && y >= quiet
            && x < quiet + w
            && y < quiet + w
            && colors[(y - quiet) * w + (x - quiet)] == qrcode::Color::Dark;
        let v = if dark { 0 } else { 255 };
        *px = slint::Rgb8Pixel { r: v, g: v, b: v };
    }
    slint::Image::from_rgb8(buf)
}

/// Words for a printer reason code (the shared table), with the code.
pub fn printer_words(code: &str, en: bool) -> String {
    format!("{} ({code})", hall_client::texts::printer_state(code, hall_client::texts::Lang::from_en(en)))
}

pub fn show(ui: &KioskWindow, st: &State, s: &Settings, now_ms: i64) {
    let a = ui.global::<KioskAdapter>();
    let en = st.en;
    a.set_en(en);
    a.set_elder(st.elder);
    a.set_screen(screen(st.screen));
    let hall = if en && !st.catalog.hall_en.is_empty() { &st.catalog.hall_en } else { &st.catalog.hall_zh };
    a.set_hall_name(if hall.is_empty() { "政务服务中心".into() } else { hall.into() });
    a.set_clock(st.catalog.zone.clock_text(now_ms, en, false).into());
    a.set_visitor(st.visitor.as_ref().map(|v| format!("{} {}", v.masked_name, v.masked_number)).unwrap_or_default().into());
    a.set_connected(st.connected);
    a.set_retrying(st.retrying);
    a.set_blocked(st.blocked().map(|c| printer_words(c, en)).unwrap_or_default().into());
    let notice = if !st.fault.is_empty() {
        st.fault.clone()
    } else if st.catalog_loads == 0 {
        if en { "Connecting to the server…".into() } else { "正在连接服务器…".into() }
    } else if !st.catalog.open_today {
        if en {
            format!("The hall is closed today. Next opening: {}", st.catalog.next_opening)
        } else {
            format!("今日不办公。下次取号时间：{}", st.catalog.next_opening)
        }
    } else {
        st.catalog.notice.clone()
    };
    a.set_notice(notice.into());
    let zones = st.catalog.zones.iter().map(|z| ZoneRow { code: z.code.clone().into(), name: st.catalog.zone_name(&z.code, en).into() });
    sync_rows(a.get_zones(), zones.collect(), |m| a.set_zones(m));
    a.set_zone(st.zone.clone().unwrap_or_default().into());
    if a.get_search().as_str() != st.search {
        a.set_search(st.search.clone().into());
    }
    let items = st.visible_items(s).into_iter().map(|i| ItemRow {
        code: i.code.clone().into(),
        name: i.name(en).into(),
        dept: i.department.clone().into(),
        queue: queue_text(i, en).into(),
        bundle: i.bundle,
        open: i.open_now && i.quota_left != Some(0),
    });
    sync_rows(a.get_items(), items.collect(), |m| a.set_items(m));
    let mut depts: Vec<SharedString> = Vec::new();
    for i in st.catalog.items.iter().filter(|i| !i.bundle && !i.department.is_empty()) {
        if !depts.iter().any(|d| d.as_str() == i.department) {
            depts.push(i.department.clone().into());
        }
    }
    sync_rows(a.get_depts(), depts, |m| a.set_depts(m));
    a.set_message(st.message.clone().into());
    if let Some(i) = st.selected_item() {
        a.set_d_name(i.name(en).into());
        a.set_d_dept(format!("{} · {}", i.department, st.catalog.zone_name(&i.zone, en)).into());
        a.set_d_queue(queue_text(i, en).into());
        let materials: Vec<SharedString> = i.materials.iter().map(SharedString::from).collect();
        let half = materials.len().div_ceil(2);
        sync_rows(a.get_d_materials_a(), materials[..half].to_vec(), |m| a.set_d_materials_a(m));
        sync_rows(a.get_d_materials_b(), materials[half..].to_vec(), |m| a.set_d_materials_b(m));
        sync_rows(a.get_d_materials(), materials, |m| a.set_d_materials(m));
        a.set_d_limit(i.time_limit(en).into());
        a.set_d_fees(i.fees.clone().into());
        a.set_d_notes(i.notes.clone().into());
        a.set_d_stages(
            if i.bundle {
                format!("{}{}", if en { "Steps: " } else { "办理环节：" }, i.stages.join(" → "))
            } else {
                String::new()
            }
            .into(),
        );
        a.set_d_can_take(i.open_now && i.quota_left != Some(0));
        a.set_can_skip(!i.id_required);
    }
    a.set_c_person(
        st.visitor
            .as_ref()
            .map(|v| format!("{}（{}）", v.masked_name, v.masked_number))
            .unwrap_or_else(|| if en { "no ID card read".into() } else { "未读取身份证".into() })
            .into(),
    );
    a.set_green_eligible(st.green_eligible(s));
    a.set_green(st.green);
    if let Some(d) = &st.done {
        a.set_t_number(d.number.clone().into());
        a.set_t_category(d.category.clone().into());
        a.set_t_priority(d.priority.clone().into());
        a.set_t_ahead(
            if en {
                format!("{} people ahead of you · about {} min", d.people_ahead, d.wait_min)
            } else {
                format!("您前面还有 {} 人 · 预计等候约 {} 分钟", d.people_ahead, d.wait_min)
            }
            .into(),
        );
        a.set_t_zone(
            if d.zone.is_empty() {
                String::new()
            } else if en {
                format!("Please wait in: {}", d.zone)
            } else {
                format!("请到 {} 等候叫号", d.zone)
            }
            .into(),
        );
        a.set_t_qr(qr_image(&d.status_url));
        let (text, failed) = match &d.printed {
            PrintState::Printing => (if en { "Printing your slip…".into() } else { "正在打印号票…".into() }, false),
            PrintState::Printed => (if en { "Please take your slip.".into() } else { "请取走号票，留意叫号。".into() }, false),
            PrintState::Failed(c) => (
                if en {
                    format!("The slip could not be printed ({}). Please remember your number: {}", printer_words(c, en), d.number)
                } else {
                    format!("号票未能打印（{}）。请记下您的号码：{}", printer_words(c, en), d.number)
                },
                true,
            ),
        };
        a.set_t_print(text.into());
        a.set_t_print_failed(failed);
    }
}

/// The flow's screen as the window's.
pub fn screen(s: flow::Screen) -> Screen {
    match s {
        flow::Screen::Home => Screen::Home,
        flow::Screen::Detail => Screen::Detail,
        flow::Screen::Identity => Screen::Identity,
        flow::Screen::Confirm => Screen::Confirm,
        flow::Screen::Issuing => Screen::Issuing,
        flow::Screen::Done => Screen::Done,
        flow::Screen::CheckIn => Screen::Checkin,
        flow::Screen::Failed => Screen::Failed,
    }
}

/// A touch on the window (kind and argument) as the flow's.
pub fn touch(kind: TouchKind, arg: &str) -> Touch {
    let on = arg == "on";
    match kind {
        TouchKind::Home => Touch::Home,
        TouchKind::Back => Touch::Back,
        TouchKind::Zone => Touch::Zone((!arg.is_empty()).then(|| arg.to_string())),
        TouchKind::Search => Touch::Search(arg.into()),
        TouchKind::Choose => Touch::Choose(arg.into()),
        TouchKind::Take => Touch::TakeNumber,
        TouchKind::Skip => Touch::SkipId,
        TouchKind::Green => Touch::Green(on),
        TouchKind::Confirm => Touch::Confirm,
        TouchKind::Checkin => Touch::CheckIn,
        TouchKind::Lang => Touch::Lang { en: arg == "en" },
        TouchKind::Elder => Touch::Elder(on),
    }
}

/// A touch kind by the name the stdin commands use (`choose`, `take`, …:
/// the enum's names in `kiosk.slint`).
pub fn touch_kind(name: &str) -> Option<TouchKind> {
    Some(match name {
        "home" => TouchKind::Home,
        "back" => TouchKind::Back,
        "zone" => TouchKind::Zone,
        "search" => TouchKind::Search,
        "choose" => TouchKind::Choose,
        "take" => TouchKind::Take,
        "skip" => TouchKind::Skip,
        "green" => TouchKind::Green,
        "confirm" => TouchKind::Confirm,
        "checkin" => TouchKind::Checkin,
        "lang" => TouchKind::Lang,
        "elder" => TouchKind::Elder,
        _ => return None,
    })
}

pub use hall_client::headless::{install_headless, snapshot_png};
