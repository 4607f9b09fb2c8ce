//! The terminal's state → the Slint `CounterAdapter` global, and the
//! screen's typed actions back to the core's; headless rendering for
//! screenshots and tests.
//!
//! Not for decisions: [`crate::core`] makes them.

use crate::core::{self, Action, Desk};
use crate::terminal::State;
use crate::{CounterAction, CounterAdapter, CounterWindow, DeskState, SiteTab, TicketRow};
use hall_client::follow::Connection;
use hall_client::texts::{self, Lang};
use hall_proto::v1 as pb;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::rc::Rc;

fn minutes_since(ms: i64, now_ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    format!("{} 分钟", ((now_ms - ms) / 60_000).max(0))
}

pub use crate::core::transfer_targets;

/// "设备提醒：kiosk-1/printer 打印纸已用完 · kiosk-2/printer 打印纸将尽".
pub fn device_alert_text(alerts: &[pb::DeviceAlert]) -> String {
    if alerts.is_empty() {
        return String::new();
    }
    // A printer that cannot print stops its kiosk's issuing.
    let words = |s: &str| match s {
        "paper_out" | "cover_open" => format!("{}，已暂停取号", texts::printer_state(s, Lang::Zh)),
        _ => texts::printer_state(s, Lang::Zh).to_string(),
    };
    let parts: Vec<String> = alerts.iter().map(|d| format!("{} {}（{}）", d.device_id, words(&d.status), d.status)).collect();
    format!("设备提醒：{}", parts.join(" · "))
}

fn row(state: &State, t: &pb::Ticket, now_ms: i64) -> TicketRow {
    let name = state.categories.get(&t.category).map(|c| c.name.clone()).unwrap_or_else(|| t.category.clone());
    TicketRow {
        number: t.number.clone().into(),
        category: name.into(),
        priority: texts::priority_of(t.priority, Lang::Zh).into(),
        waited: minutes_since(t.issued_at_ms, now_ms).into(),
        note: t.masked_name.clone().into(),
    }
}

pub fn show(ui: &CounterWindow, state: &State, now_ms: i64) {
    let a = ui.global::<CounterAdapter>();
    a.set_logged_in(state.session.is_some());
    let stream_lost = match state.stream {
        Some(Connection::Reconnecting { since_ms }) => Some(since_ms),
        _ => None,
    };
    a.set_connected(state.connected && stream_lost.is_none());
    let since = stream_lost.map(|ms| state.zone.format(ms, "%H:%M:%S")).unwrap_or_default();
    a.set_banner(format!("{} 操作已暂停", texts::reconnecting(&since, Lang::Zh)).into());
    a.set_desk_state(desk_state(core::desk(state)));
    a.set_login_error(state.login_error.clone().into());
    a.set_message(state.message.clone().into());
    a.set_message_is_error(state.message_is_error);
    a.set_show_rating(state.rating_for.is_some());
    a.set_rating_ticket(state.rating_for.clone().unwrap_or_default().into());
    let targets: Vec<SharedString> = transfer_targets(state).into_iter().map(|(l, _)| l.into()).collect();
    a.set_transfer_targets(ModelRc::from(Rc::new(VecModel::from(targets))));
    let sends: Vec<SharedString> = core::site_targets(state).into_iter().map(|(l, ..)| l.into()).collect();
    a.set_send_targets(ModelRc::from(Rc::new(VecModel::from(sends))));
    a.set_send_note(core::unreachable_sites(state).into());
    a.set_send_status(
        if !state.peers_loaded {
            "正在读取各站点的事项…"
        } else if core::site_targets(state).is_empty() {
            "没有可转出的事项（其他站点未开放或无法连接）"
        } else {
            "办事人将在对方站点获得新号码，本号随即办结（记为转出）。"
        }
        .into(),
    );
    let Some(q) = &state.queue else { return };
    a.set_device_alert(device_alert_text(&q.device_alerts).into());
    if let Some(w) = &q.window {
        // A remote window (远程虚拟窗口) names its video room, where the
        // conversation with the station's visitor takes place.
        a.set_window_name(w.name.clone().into());
        let room = if w.remote && !w.video_url.is_empty() {
            format!("远程窗口：与办事人通话请进入视频会议室 {}", w.video_url)
        } else {
            String::new()
        };
        a.set_video_room(room.into());
        a.set_clerk_name(format!("{} {}", w.clerk_id, w.clerk_name).into());
    }
    match &q.current {
        Some(t) => {
            let info = state.categories.get(&t.category);
            a.set_current_number(t.number.clone().into());
            a.set_current_category(info.map(|c| c.name.clone()).unwrap_or_else(|| t.category.clone()).into());
            a.set_current_name(if t.masked_name.is_empty() { "未读身份证".into() } else { format!("办事人 {}", t.masked_name) }.into());
            a.set_current_waited(format!("已等 {}", minutes_since(t.issued_at_ms, t.called_at_ms.max(t.issued_at_ms))).into());
            a.set_current_stage(
                if t.bundle_stages > 0 { format!("一件事 第 {}/{} 步", t.bundle_stage + 1, t.bundle_stages) } else { String::new() }.into(),
            );
            a.set_current_reason(t.call_reason.clone().into());
            let st = match pb::TicketState::try_from(t.state).unwrap_or(pb::TicketState::Unspecified) {
                pb::TicketState::Called => format!("已呼叫（{} 次）", t.recall_count + 1),
                pb::TicketState::Serving => "办理中".into(),
                other => format!("{other:?}"),
            };
            a.set_current_state(st.into());
            let g: Vec<SharedString> = info.map(|c| c.materials.iter().take(5).map(|m| m.into()).collect()).unwrap_or_default();
            a.set_guidance(ModelRc::from(Rc::new(VecModel::from(g))));
        }
        None => {
            for f in [CounterAdapter::set_current_number, CounterAdapter::set_current_category, CounterAdapter::set_current_name,
                CounterAdapter::set_current_waited, CounterAdapter::set_current_stage, CounterAdapter::set_current_reason,
                CounterAdapter::set_current_state] {
                f(&a, SharedString::new());
            }
            a.set_guidance(ModelRc::default());
        }
    }
    a.set_waiting_total(q.waiting_total as i32);
    let waiting: Vec<TicketRow> = q.waiting.iter().take(12).map(|t| row(state, t, now_ms)).collect();
    a.set_waiting(ModelRc::from(Rc::new(VecModel::from(waiting))));
    let suspended: Vec<TicketRow> = q.suspended.iter().map(|t| row(state, t, now_ms)).collect();
    a.set_suspended(ModelRc::from(Rc::new(VecModel::from(suspended))));
    if let Some(f) = &q.today {
        let rating = if f.ratings > 0 { format!("{:.1}（{} 次评价）", f.avg_rating, f.ratings) } else { "暂无评价".into() };
        a.set_figures(format!("今日已办 {} · 平均 {:.1} 分钟 · 满意度 {rating}", f.served, f.avg_handling_s as f64 / 60.0).into());
    }
}

/// The site tabs of a terminal at several sites ([`crate::sites`]).
pub fn show_sites(ui: &CounterWindow, tabs: &[crate::sites::Tab]) {
    let rows: Vec<SiteTab> = tabs
        .iter()
        .map(|t| SiteTab { name: t.name.clone().into(), detail: t.detail.clone().into(), active: t.active, attention: t.attention })
        .collect();
    ui.global::<CounterAdapter>().set_sites(ModelRc::from(Rc::new(VecModel::from(rows))));
}

fn desk_state(d: Desk) -> DeskState {
    match d {
        Desk::Closed => DeskState::Closed,
        Desk::Idle => DeskState::Idle,
        Desk::Called => DeskState::Called,
        Desk::Serving => DeskState::Serving,
        Desk::Paused => DeskState::Paused,
    }
}

/// The screen's action as the core's.
pub fn action(a: CounterAction) -> Action {
    match a {
        CounterAction::CallNext => Action::CallNext,
        CounterAction::Recall => Action::Recall,
        CounterAction::Start => Action::Start,
        CounterAction::Finish => Action::Finish,
        CounterAction::NoShow => Action::NoShow,
        CounterAction::Suspend => Action::Suspend,
        CounterAction::Pause => Action::Pause,
        CounterAction::Resume => Action::Resume,
        CounterAction::Unresolved => Action::Unresolved,
        CounterAction::Logout => Action::Logout,
    }
}

pub use hall_client::headless::{install_headless, snapshot_png};
