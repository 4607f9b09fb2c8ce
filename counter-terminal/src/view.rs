//! The terminal's state → the Slint `CounterAdapter` global; headless
//! rendering for screenshots and tests.

use crate::terminal::{State, Target};
use crate::{CounterAdapter, CounterWindow, TicketRow};
use hall_proto::v1 as pb;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::rc::Rc;

fn priority_label(p: i32) -> &'static str {
    match pb::PriorityClass::try_from(p).unwrap_or(pb::PriorityClass::Normal) {
        pb::PriorityClass::Elderly => "老年人",
        pb::PriorityClass::Disabled => "残疾人",
        pb::PriorityClass::Veteran => "军人",
        pb::PriorityClass::Pregnant => "孕妇",
        pb::PriorityClass::Appointment => "预约",
        pb::PriorityClass::KeyProject => "帮办",
        _ => "",
    }
}

fn minutes_since(ms: i64, now_ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    format!("{} 分钟", ((now_ms - ms) / 60_000).max(0))
}

/// Transfer targets offered in the dialog: every category but the current one.
pub fn transfer_targets(state: &State) -> Vec<(String, Target)> {
    let current = state.queue.as_ref().and_then(|q| q.current.as_ref()).map(|t| t.category.clone()).unwrap_or_default();
    let mut cats: Vec<(&String, &crate::terminal::CategoryInfo)> =
        state.categories.iter().filter(|(c, i)| **c != current && !i.materials.is_empty()).collect();
    cats.sort_by(|a, b| a.0.cmp(b.0));
    cats.into_iter().take(9).map(|(c, i)| (format!("{}（{}）", i.name, c), Target::Category(c.clone()))).collect()
}

/// "设备提醒：kiosk-1/printer 打印纸已用完 · kiosk-2/printer 打印纸将尽".
pub fn device_alert_text(alerts: &[pb::DeviceAlert]) -> String {
    if alerts.is_empty() {
        return String::new();
    }
    let words = |s: &str| match s {
        "paper_out" => "打印纸已用完，已暂停取号",
        "paper_near_end" => "打印纸将尽，请及时更换",
        "cover_open" => "打印机盖未关好，已暂停取号",
        "cutter_error" => "打印机切纸故障",
        "offline" => "设备无响应",
        _ => "设备故障",
    };
    let parts: Vec<String> = alerts.iter().map(|d| format!("{} {}（{}）", d.device_id, words(&d.status), d.status)).collect();
    format!("设备提醒：{}", parts.join(" · "))
}

fn row(state: &State, t: &pb::Ticket, now_ms: i64) -> TicketRow {
    let name = state.categories.get(&t.category).map(|c| c.name.clone()).unwrap_or_else(|| t.category.clone());
    TicketRow {
        number: t.number.clone().into(),
        category: name.into(),
        priority: priority_label(t.priority).into(),
        waited: minutes_since(t.issued_at_ms, now_ms).into(),
        note: t.masked_name.clone().into(),
    }
}

pub fn show(ui: &CounterWindow, state: &State, now_ms: i64) {
    let a = ui.global::<CounterAdapter>();
    a.set_logged_in(state.session.is_some());
    a.set_connected(state.connected);
    a.set_login_error(state.login_error.clone().into());
    a.set_message(state.message.clone().into());
    a.set_message_is_error(state.message_is_error);
    a.set_show_rating(state.rating_for.is_some());
    a.set_rating_ticket(state.rating_for.clone().unwrap_or_default().into());
    if state.rating_for.is_none() {
        a.set_rating_chosen(0);
        a.set_rating_reason(SharedString::new());
    }
    let targets: Vec<SharedString> = transfer_targets(state).into_iter().map(|(l, _)| l.into()).collect();
    a.set_transfer_targets(ModelRc::from(Rc::new(VecModel::from(targets))));
    let Some(q) = &state.queue else { return };
    a.set_device_alert(device_alert_text(&q.device_alerts).into());
    if let Some(w) = &q.window {
        a.set_window_name(w.name.clone().into());
        a.set_clerk_name(format!("{} {}", w.clerk_id, w.clerk_name).into());
        // The F8 button compares with "暂停服务" exactly.
        a.set_window_state(
            match w.state {
                3 => "暂停服务",
                4 => "服务中",
                2 => "空闲",
                _ => "未登录",
            }
            .into(),
        );
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

pub use crate::headless::{install_headless, snapshot_png};
