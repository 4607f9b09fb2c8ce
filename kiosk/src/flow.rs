//! The kiosk's screens as a pure state machine: `update(state, input, now)`
//! changes the state and returns the effects to run (issue over gRPC, print,
//! report the printer). No I/O here, so every path — card first or category
//! first, skipped ID, green channel, printer out mid-visit, idle timeout — is
//! tested without a server, and the controller only runs effects.
//!
//! Invariants:
//! - A ticket is requested only from the confirm screen, only while the
//!   printer is not known to be blocked, and with one fresh request id per
//!   confirmation (the controller retries with the same id).
//! - Once a ticket is issued the done screen shows its number, whatever the
//!   printer does afterwards.
//! - The plain ID number lives only inside [`Visitor::identity`], which goes
//!   to the server and nowhere else; the screen shows masked forms.

use hall_hardware::escpos::{SlipLabels, TicketSlip};
use hall_proto::v1 as pb;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    #[default]
    Home,
    /// Guidance of the chosen category (一次性告知).
    Detail,
    /// "Place your ID card on the reader".
    Identity,
    Confirm,
    /// Waiting for the server (retrying while it is unreachable).
    Issuing,
    Done,
    /// Appointment check-in (预约签到): waiting for the ID card.
    CheckIn,
    Failed,
}

impl Screen {
    pub fn name(self) -> &'static str {
        match self {
            Screen::Home => "home",
            Screen::Detail => "detail",
            Screen::Identity => "identity",
            Screen::Confirm => "confirm",
            Screen::Issuing => "issuing",
            Screen::Done => "done",
            Screen::CheckIn => "checkin",
            Screen::Failed => "failed",
        }
    }
}

mod catalog;
pub use catalog::{CatalogView, Figures, Item, QueueFigure, Zone};

/// The person whose card is on the reader. `Debug` shows masked data only.
#[derive(Clone, PartialEq)]
pub struct Visitor {
    pub masked_name: String,
    pub masked_number: String,
    pub age: u32,
    /// Plain identity for the server's API only.
    pub identity: pb::Identity,
}

impl fmt::Debug for Visitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Visitor").field("name", &self.masked_name).field("number", &self.masked_number).field("age", &self.age).finish()
    }
}

/// The printer as the kiosk knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PrinterHealth {
    #[default]
    Ok,
    NearEnd,
    /// Cannot print; the driver's reason code (`paper_out`, `cover_open`, …).
    Blocked(String),
}

impl PrinterHealth {
    /// The status word for `ReportDevice`.
    pub fn code(&self) -> &str {
        match self {
            PrinterHealth::Ok => "ok",
            PrinterHealth::NearEnd => "paper_near_end",
            PrinterHealth::Blocked(c) => c,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintState {
    Printing,
    Printed,
    Failed(String),
}

/// The ticket on the done screen.
#[derive(Debug, Clone, PartialEq)]
pub struct DoneTicket {
    pub number: String,
    pub category: String,
    pub zone: String,
    pub people_ahead: u32,
    pub wait_min: u32,
    pub priority: String,
    pub masked_name: String,
    pub status_url: String,
    pub printed: PrintState,
}

/// Fixed settings of the flow (from the kiosk configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    pub green_channel_age: u32,
    pub idle_timeout_ms: i64,
    pub done_timeout_ms: i64,
    /// QR link base: `{status_url}/{date}/{number}?s={holder secret}`.
    pub status_url: String,
    /// Categories of the 适老化 mode; empty = the six busiest.
    pub elder_categories: Vec<String>,
    /// The configured language: the next visitor starts with it.
    pub default_en: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            green_channel_age: 70,
            idle_timeout_ms: 60_000,
            done_timeout_ms: 20_000,
            status_url: "https://hall.example.gov.cn/t".into(),
            elder_categories: vec![],
            default_en: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub catalog: CatalogView,
    pub screen: Screen,
    pub selected: Option<String>,
    pub zone: Option<String>,
    pub search: String,
    pub en: bool,
    pub elder: bool,
    pub visitor: Option<Visitor>,
    /// The visitor chose the elderly green channel (only offered when eligible).
    pub green: bool,
    pub printer: PrinterHealth,
    pub connected: bool,
    /// An issue request is being retried because the server is unreachable.
    pub retrying: bool,
    pub message: String,
    pub done: Option<DoneTicket>,
    pub last_touch_ms: i64,
    pub screen_since_ms: i64,
    /// Request id of the confirmation in flight.
    pub request_id: Option<String>,
    /// Number of catalogue loads (0 = still waiting for the server).
    pub catalog_loads: u32,
    /// A problem staff must fix (e.g. the server refused this kiosk's token).
    pub fault: String,
}

/// What a visitor can touch.
#[derive(Debug, Clone, PartialEq)]
pub enum Touch {
    Home,
    Back,
    Zone(Option<String>),
    Search(String),
    Choose(String),
    TakeNumber,
    SkipId,
    Green(bool),
    Confirm,
    CheckIn,
    Lang { en: bool },
    Elder(bool),
}

#[derive(Debug, Clone)]
pub enum Input {
    Touch(Touch),
    Card(Visitor),
    CardError(String),
    Catalog(CatalogView),
    /// What an event changed in the catalogue (counts, estimates, issued).
    Figures(Figures),
    Connected(bool),
    /// A problem staff must fix, or empty when it is gone.
    Fault(String),
    Retrying(bool),
    Printer(PrinterHealth),
    /// The printer's fresh status said no just before issuing.
    Refused(PrinterHealth),
    Issued(Result<pb::Ticket, String>),
    /// What the QR scanner read from a visitor's phone: a booking's code
    /// (`…/b/{secret}`) or a remote ticket's (`…/t/{secret}`).
    Scan(String),
    /// The print finished: the printer's state after it, or the failure code.
    Printed(Result<PrinterHealth, String>),
    Tick,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Issue { request_id: String, code: String, priority: pb::PriorityClass, identity: Option<pb::Identity> },
    CheckIn { request_id: String, identity: pb::Identity },
    /// Check-in by a scanned QR (a booking, or a remote ticket's arrival).
    CheckInQr { request_id: String, qr: String },
    Print(Box<TicketSlip>),
    /// Tell the server (and so the staff) the printer's state.
    Report(PrinterHealth),
}

impl State {
    pub fn new(en: bool) -> State {
        State { en, connected: false, ..Default::default() }
    }

    /// The reason tickets cannot be issued now, if any.
    pub fn blocked(&self) -> Option<&str> {
        match &self.printer {
            PrinterHealth::Blocked(c) => Some(c),
            _ => None,
        }
    }

    pub fn selected_item(&self) -> Option<&Item> {
        self.selected.as_deref().and_then(|c| self.catalog.item(c))
    }

    /// The visitor may choose the elderly green channel.
    pub fn green_eligible(&self, s: &Settings) -> bool {
        self.visitor.as_ref().is_some_and(|v| v.age >= s.green_channel_age)
    }

    /// Choices on the home screen: the zone filter and search applied; in
    /// 适老化 mode only a few, the configured or the busiest.
    pub fn visible_items(&self, s: &Settings) -> Vec<&Item> {
        let items = &self.catalog.items;
        if self.elder {
            let mut v: Vec<&Item> = if s.elder_categories.is_empty() {
                let mut v: Vec<&Item> = items.iter().filter(|i| !i.bundle).collect();
                v.sort_by_key(|i| std::cmp::Reverse(i.issued_today + i.waiting));
                v.truncate(6);
                v
            } else {
                s.elder_categories.iter().filter_map(|c| self.catalog.item(c)).collect()
            };
            v.sort_by(|a, b| a.code.cmp(&b.code));
            return v;
        }
        let q = self.search.trim().to_lowercase();
        items
            .iter()
            .filter(|i| self.zone.as_ref().is_none_or(|z| &i.zone == z))
            .filter(|i| {
                q.is_empty()
                    || i.name_zh.contains(&q)
                    || i.name_en.to_lowercase().contains(&q)
                    || i.code.to_lowercase() == q
                    || i.department.contains(&q)
                    || i.materials.iter().any(|m| m.contains(&q))
            })
            .collect()
    }

    fn go(&mut self, screen: Screen, now: i64) {
        self.screen = screen;
        self.screen_since_ms = now;
    }

    /// Back to the home screen for the next visitor: forgets the card.
    /// The visit is over (done, or nobody touched the screen): the next
    /// visitor gets the standard screen in the configured language.
    fn next_visitor(&mut self, now: i64, s: &Settings) {
        self.reset(now);
        self.en = s.default_en;
        self.elder = false;
        self.zone = None;
    }

    fn reset(&mut self, now: i64) {
        self.go(Screen::Home, now);
        self.selected = None;
        self.visitor = None;
        self.green = false;
        self.message.clear();
        self.search.clear();
        self.done = None;
        self.request_id = None;
        self.retrying = false;
    }

    fn slip(&self, t: &pb::Ticket, item: Option<&Item>, s: &Settings) -> TicketSlip {
        let local = self.catalog.zone.format(t.issued_at_ms, "%Y-%m-%d %H:%M");
        let en = self.en;
        TicketSlip {
            hall_name: if en && !self.catalog.hall_en.is_empty() { self.catalog.hall_en.clone() } else { self.catalog.hall_zh.clone() },
            ticket_no: t.number.clone(),
            category: item.map(|i| i.name(en).to_string()).unwrap_or_else(|| t.category.clone()),
            zone: item.map(|i| self.catalog.zone_name(&i.zone, en)).unwrap_or_default(),
            priority: priority_label(t.priority, en).to_string(),
            people_ahead: t.people_ahead,
            wait_minutes: t.estimated_wait_min,
            issued_at: local,
            masked_name: t.masked_name.clone(),
            materials: item.map(|i| i.materials.clone()).unwrap_or_default(),
            time_limit: item.map(|i| i.time_limit(en)).unwrap_or_default(),
            status_url: status_url(s, t),
            privacy_line: if en {
                "This slip holds no full identity data".into()
            } else {
                "本票据不含完整身份信息，请妥善保管".into()
            },
            labels: if en { SlipLabels::english() } else { SlipLabels::default() },
        }
    }
}

pub fn status_url(s: &Settings, t: &pb::Ticket) -> String {
    // The server names the ticket's page (`{public_url}/t/{secret}`): the
    // QR leads there. The form below is for a server that does not.
    if !t.status_url.is_empty() {
        return t.status_url.clone();
    }
    let base = format!("{}/{}/{}", s.status_url.trim_end_matches('/'), t.service_date, t.number);
    // The holder's secret makes the link the ticket's own: following or
    // cancelling it from a phone needs it (the number alone is on the board).
    if t.holder_secret.is_empty() { base } else { format!("{base}?s={}", t.holder_secret) }
}

/// A priority class in words (the shared table).
pub fn priority_label(p: i32, en: bool) -> &'static str {
    hall_client::texts::priority_of(p, hall_client::texts::Lang::from_en(en))
}

/// Applies one input at `now` (Unix ms) and returns the effects to run.
pub fn update(st: &mut State, input: Input, now: i64, s: &Settings) -> Vec<Effect> {
    let mut fx = Vec::new();
    match input {
        Input::Touch(t) => {
            st.last_touch_ms = now;
            touch(st, t, now, s, &mut fx);
        }
        Input::Card(v) => match st.screen {
            Screen::Identity | Screen::Confirm => {
                st.visitor = Some(v);
                st.green = false;
                st.message.clear();
                st.last_touch_ms = now;
                st.go(Screen::Confirm, now);
            }
            Screen::CheckIn => {
                st.last_touch_ms = now;
                let identity = v.identity.clone();
                st.visitor = Some(v);
                check_in(st, identity, now, &mut fx);
            }
            Screen::Home | Screen::Detail => {
                // Card first, category second: keep it for the confirm step.
                st.visitor = Some(v);
                st.last_touch_ms = now;
            }
            Screen::Issuing | Screen::Done | Screen::Failed => {}
        },
        Input::Scan(text) => {
            let qr = text.trim().to_string();
            match st.screen {
                // Someone's ticket is on its way or on screen: a scan is
                // the next visitor's, once this one is done.
                Screen::Issuing => {}
                _ if !(qr.contains("/b/") || qr.contains("/t/")) => {
                    st.last_touch_ms = now;
                    st.message = if st.en {
                        "This QR code is not a booking or a remote ticket of this hall.".into()
                    } else {
                        "该二维码不是本厅的预约码或线上取号码".into()
                    };
                    st.go(Screen::CheckIn, now);
                }
                _ => {
                    st.last_touch_ms = now;
                    st.selected = None;
                    st.visitor = None;
                    st.message.clear();
                    if st.blocked().is_none() {
                        let request_id = hall_proto::client::new_request_id();
                        st.request_id = Some(request_id.clone());
                        st.go(Screen::Issuing, now);
                        fx.push(Effect::CheckInQr { request_id, qr });
                    }
                }
            }
        }
        Input::CardError(m) => {
            if matches!(st.screen, Screen::Identity | Screen::CheckIn) {
                st.message = m;
            }
        }
        Input::Catalog(c) => {
            st.catalog = c;
            st.catalog_loads += 1;
            if matches!(st.screen, Screen::Detail | Screen::Identity | Screen::Confirm) && st.selected_item().is_none() {
                st.reset(now);
            }
        }
        Input::Figures(f) => st.catalog.apply(&f),
        Input::Connected(c) => st.connected = c,
        Input::Fault(f) => st.fault = f,
        Input::Retrying(r) => st.retrying = r,
        Input::Printer(h) => set_printer(st, h, &mut fx),
        Input::Refused(h) => {
            set_printer(st, h, &mut fx);
            if st.screen == Screen::Issuing {
                st.request_id = None;
                st.go(Screen::Confirm, now);
            }
        }
        Input::Issued(r) => {
            if st.screen != Screen::Issuing {
                return fx;
            }
            st.retrying = false;
            st.request_id = None;
            match r {
                Ok(t) => {
                    let item = st.catalog.item(&t.category).or_else(|| st.selected_item()).cloned();
                    let slip = st.slip(&t, item.as_ref(), s);
                    st.done = Some(DoneTicket {
                        number: t.number.clone(),
                        category: slip.category.clone(),
                        zone: slip.zone.clone(),
                        people_ahead: t.people_ahead,
                        wait_min: t.estimated_wait_min,
                        priority: slip.priority.clone(),
                        masked_name: t.masked_name.clone(),
                        status_url: slip.status_url.clone(),
                        printed: PrintState::Printing,
                    });
                    st.go(Screen::Done, now);
                    fx.push(Effect::Print(Box::new(slip)));
                }
                Err(m) => {
                    st.message = m;
                    st.go(Screen::Failed, now);
                }
            }
        }
        Input::Printed(r) => {
            let printed = match r {
                Ok(after) => {
                    set_printer(st, after, &mut fx);
                    PrintState::Printed
                }
                Err(code) => {
                    set_printer(st, PrinterHealth::Blocked(code.clone()), &mut fx);
                    PrintState::Failed(code)
                }
            };
            if let Some(d) = &mut st.done {
                d.printed = printed;
            }
        }
        Input::Tick => {
            let idle = now - st.last_touch_ms;
            match st.screen {
                Screen::Done if now - st.screen_since_ms >= s.done_timeout_ms && idle >= s.done_timeout_ms => st.next_visitor(now, s),
                Screen::Issuing => {}
                Screen::Home
                    if idle >= s.idle_timeout_ms
                        && (st.visitor.is_some() || st.elder || st.zone.is_some() || !st.search.is_empty() || st.en != s.default_en) =>
                {
                    st.next_visitor(now, s)
                }
                Screen::Home => {}
                _ if idle >= s.idle_timeout_ms => st.next_visitor(now, s),
                _ => {}
            }
        }
    }
    fx
}

fn set_printer(st: &mut State, h: PrinterHealth, fx: &mut Vec<Effect>) {
    if st.printer != h {
        st.printer = h.clone();
        fx.push(Effect::Report(h));
    }
}

fn check_in(st: &mut State, identity: pb::Identity, now: i64, fx: &mut Vec<Effect>) {
    if st.blocked().is_some() {
        return;
    }
    let request_id = hall_proto::client::new_request_id();
    st.request_id = Some(request_id.clone());
    st.go(Screen::Issuing, now);
    fx.push(Effect::CheckIn { request_id, identity });
}

fn touch(st: &mut State, t: Touch, now: i64, s: &Settings, fx: &mut Vec<Effect>) {
    if st.screen == Screen::Issuing {
        // The request is in flight; nothing may start a second one.
        return;
    }
    match t {
        // "完成" on the ticket screen ends the visit.
        Touch::Home if st.screen == Screen::Done => st.next_visitor(now, s),
        Touch::Home => st.reset(now),
        Touch::Back => match st.screen {
            Screen::Identity => st.go(Screen::Detail, now),
            Screen::Confirm => st.go(Screen::Detail, now),
            Screen::Done => st.next_visitor(now, s),
            Screen::Failed => st.reset(now),
            _ => {
                st.selected = None;
                st.message.clear();
                st.go(Screen::Home, now);
            }
        },
        Touch::Zone(z) => {
            st.zone = z;
            st.search.clear();
        }
        Touch::Search(q) => st.search = q,
        Touch::Lang { en } => st.en = en,
        Touch::Elder(e) => st.elder = e,
        Touch::Choose(code) => {
            if matches!(st.screen, Screen::Done | Screen::Failed) {
                st.reset(now);
            }
            let Some(item) = st.catalog.item(&code) else {
                st.message = if st.en { format!("Unknown service '{code}'") } else { format!("没有事项“{code}”") };
                st.go(Screen::Failed, now);
                return;
            };
            st.message = if !item.open_now {
                if st.en {
                    format!("Numbers for this service are issued {}–{}.", item.issue_from, item.issue_until)
                } else {
                    format!("该事项当前不在取号时间（取号时间 {}–{}）。", item.issue_from, item.issue_until)
                }
            } else if item.quota_left == Some(0) {
                if st.en { "Today's numbers for this service are all taken.".into() } else { "该事项今日号源已取完，可预约其他日期办理。".into() }
            } else {
                String::new()
            };
            st.selected = Some(code);
            st.go(Screen::Detail, now);
        }
        Touch::TakeNumber => {
            let Some(item) = st.selected_item() else { return };
            if st.screen != Screen::Detail || !item.open_now || item.quota_left == Some(0) {
                return;
            }
            st.message.clear();
            let next = if st.visitor.is_some() { Screen::Confirm } else { Screen::Identity };
            st.go(next, now);
        }
        Touch::SkipId => {
            if st.screen == Screen::Identity && st.selected_item().is_some_and(|i| !i.id_required) {
                st.visitor = None;
                st.green = false;
                st.go(Screen::Confirm, now);
            }
        }
        Touch::Green(g) => st.green = g && st.green_eligible(s),
        Touch::Confirm => {
            if st.screen != Screen::Confirm || st.blocked().is_some() {
                return;
            }
            let Some(item) = st.selected_item() else { return };
            if item.id_required && st.visitor.is_none() {
                st.go(Screen::Identity, now);
                return;
            }
            let code = item.code.clone();
            let priority = if st.green && st.green_eligible(s) { pb::PriorityClass::Elderly } else { pb::PriorityClass::Normal };
            let request_id = hall_proto::client::new_request_id();
            st.request_id = Some(request_id.clone());
            st.go(Screen::Issuing, now);
            fx.push(Effect::Issue { request_id, code, priority, identity: st.visitor.as_ref().map(|v| v.identity.clone()) });
        }
        Touch::CheckIn => {
            st.selected = None;
            st.message.clear();
            match st.visitor.as_ref().map(|v| v.identity.clone()) {
                Some(identity) => check_in(st, identity, now, fx),
                None => st.go(Screen::CheckIn, now),
            }
        }
    }
}

#[cfg(test)]
mod tests;
