//! Model → the Slint `BoardAdapter` global, in Chinese or English, and
//! headless rendering of the window to PNG (software renderer, no display).

use crate::model::{Board, Call};
use crate::voice::Lang;
use crate::{BoardAdapter, BoardWindow, CallRow, QueueRow};
use hall_client::follow::Connection;
use hall_client::texts;
use hall_client::time::HallZone;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::rc::Rc;

/// How this screen is configured.
#[derive(Debug, Clone, Default)]
pub struct ViewOptions {
    pub lang: Lang,
    /// Window-screen mode (窗口屏) for this window number.
    pub window: Option<u32>,
}

fn window_label(lang: Lang, c: &Call) -> String {
    match lang {
        Lang::Zh if !c.window_name.is_empty() => c.window_name.clone(),
        Lang::Zh => format!("{}号窗口", c.window),
        Lang::En => format!("Window {}", c.window),
    }
}

fn call_row(lang: Lang, board: &Board, c: &Call) -> CallRow {
    let category = board
        .queues
        .iter()
        .find(|q| q.code == c.category)
        .map(|q| if lang == Lang::En { q.name_en.clone() } else { q.name_zh.clone() })
        .unwrap_or_else(|| c.category.clone());
    let at = board.zone.format(c.at_ms, "%H:%M");
    CallRow {
        number: c.number.clone().into(),
        window: window_label(lang, c).into(),
        category: category.into(),
        name: c.masked_name.clone().into(),
        recall: c.recall,
        at: at.into(),
    }
}

/// The clock line, local to the hall.
pub fn clock_text(lang: Lang, zone: HallZone, now_ms: i64) -> String {
    zone.clock_text(now_ms, lang == Lang::En, true)
}

/// Sets the fixed words of the screen.
pub fn set_labels(ui: &BoardWindow, lang: Lang) {
    let a = ui.global::<BoardAdapter>();
    let (calling, recent, waiting, go, empty, recall, unit) = match lang {
        Lang::Zh => ("正在呼叫", "最近呼叫", "各业务排队情况", "请到", "暂无呼叫", "重呼", "人"),
        Lang::En => ("Now calling", "Recent calls", "Waiting now", "please go to", "No calls yet", "Recall", ""),
    };
    a.set_title_calling(calling.into());
    a.set_title_recent(recent.into());
    a.set_title_waiting(waiting.into());
    a.set_go_to(go.into());
    a.set_empty_text(empty.into());
    a.set_recall_text(recall.into());
    a.set_people_unit(unit.into());
    a.set_status_text(texts::reconnecting("", text_lang(lang)).into());
}

fn text_lang(lang: Lang) -> texts::Lang {
    texts::Lang::from_en(lang == Lang::En)
}

/// Pushes the model into the adapter.
pub fn show(ui: &BoardWindow, board: &Board, opts: &ViewOptions) {
    let a = ui.global::<BoardAdapter>();
    let lang = opts.lang;
    let hall = if lang == Lang::En && !board.hall_name_en.is_empty() { &board.hall_name_en } else { &board.hall_name_zh };
    a.set_hall_name(SharedString::from(hall.as_str()));
    let current: Vec<CallRow> = board.current().into_iter().map(|c| call_row(lang, board, c)).collect();
    let recent: Vec<CallRow> = board.recent.iter().map(|c| call_row(lang, board, c)).collect();
    let queues: Vec<QueueRow> = board
        .queues
        .iter()
        .map(|q| QueueRow {
            name: if lang == Lang::En { q.name_en.clone() } else { q.name_zh.clone() }.into(),
            waiting: q.waiting as i32,
            wait_text: format!("{}", q.wait_min).into(),
        })
        .collect();
    a.set_current(ModelRc::from(Rc::new(VecModel::from(current))));
    a.set_recent(ModelRc::from(Rc::new(VecModel::from(recent))));
    a.set_queues(ModelRc::from(Rc::new(VecModel::from(queues))));
    a.set_notice(board.notice.clone().into());
    // Before the first report the screen shows no banner; then it follows
    // the stream, saying since when it is cut.
    match board.connection {
        Some(Connection::Reconnecting { since_ms }) => {
            a.set_connected(false);
            a.set_status_text(texts::reconnecting(&board.zone.format(since_ms, "%H:%M:%S"), text_lang(lang)).into());
        }
        Some(Connection::Connected) => a.set_connected(true),
        None => {}
    }
    match opts.window {
        None => a.set_window_mode(false),
        Some(w) => {
            a.set_window_mode(true);
            let view = board.windows.get(&w);
            let name = view.map(|v| v.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| match lang {
                Lang::Zh => format!("{w}号窗口"),
                Lang::En => format!("Window {w}"),
            });
            a.set_window_name(name.into());
            a.set_window_ticket(view.map(|v| v.current.clone()).unwrap_or_default().into());
            let clerk = view.map(|v| v.clerk_name.clone()).unwrap_or_default();
            a.set_window_clerk(
                match (lang, clerk.is_empty()) {
                    (_, true) => String::new(),
                    (Lang::Zh, false) => format!("工作人员：{clerk}"),
                    (Lang::En, false) => format!("Clerk: {clerk}"),
                }
                .into(),
            );
            // WindowState: 1 closed, 2 open, 3 paused, 4 serving.
            let status = match (lang, view.map(|v| v.state).unwrap_or(1)) {
                (Lang::Zh, 3) => "暂停服务",
                (Lang::Zh, 2) => "等待叫号",
                (Lang::Zh, _) => "暂未开放",
                (Lang::En, 3) => "Paused",
                (Lang::En, 2) => "Ready",
                (Lang::En, _) => "Closed",
            };
            a.set_window_status(status.into());
        }
    }
}

pub use hall_client::headless::{install_headless, snapshot_png};

#[cfg(test)]
mod tests {
    use super::*;

    /// A remote window's call (远程虚拟窗口) is shown with the name the
    /// server gives it: the window and the remote clerk's own desk.
    #[test]
    fn a_remote_windows_call_names_the_remote_desk() {
        let c = Call {
            number: "A001".into(),
            window: 2,
            window_name: "2号远程窗口 · 区政务服务中心 12号窗口".into(),
            category: "pension".into(),
            masked_name: String::new(),
            at_ms: 0,
            recall: false,
        };
        assert_eq!(window_label(Lang::Zh, &c), "2号远程窗口 · 区政务服务中心 12号窗口");
        assert_eq!(window_label(Lang::En, &c), "Window 2");
    }
}
