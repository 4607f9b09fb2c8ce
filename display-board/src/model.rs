//! The board's state, pure: built from the server's `Snapshot`, then moved
//! forward event by event: each event carries the queues it changed (waiting
//! count and estimate) and the window it changed, so the board never polls.
//! It knows the last sequence it saw, so a reconnecting board resumes
//! exactly there; every call event yields an announcement (a recall is
//! announced again).

use hall_client::follow::Connection;
use hall_client::time::HallZone;
use hall_proto::v1 as pb;
use std::collections::{BTreeMap, VecDeque};

/// How many recent calls the board keeps (and shows).
pub const RECENT: usize = 10;
/// How many calls the large "正在呼叫" panel shows.
pub const CURRENT: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub number: String,
    pub window: u32,
    pub window_name: String,
    pub category: String,
    /// Masked by the server (张*三); the board never sees more.
    pub masked_name: String,
    pub at_ms: i64,
    pub recall: bool,
}

impl Call {
    fn from_pb(c: &pb::CallInfo) -> Call {
        Call {
            number: c.number.clone(),
            window: c.window,
            window_name: c.window_name.clone(),
            category: c.category.clone(),
            masked_name: c.masked_name.clone(),
            at_ms: c.at_ms,
            recall: c.recall,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub zone: String,
    pub waiting: u32,
    pub wait_min: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowView {
    pub number: u32,
    pub name: String,
    pub zone: String,
    pub state: i32,
    pub clerk_name: String,
    pub current: String,
    pub pause_reason: String,
}

/// What a board shows: all zones, or one zone (a zone's own screen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub zone: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Board {
    pub seq: u64,
    pub hall_name_zh: String,
    pub hall_name_en: String,
    pub service_date: String,
    pub notice: String,
    /// Newest first.
    pub recent: VecDeque<Call>,
    pub queues: Vec<Queue>,
    pub windows: BTreeMap<u32, WindowView>,
    pub filter: Filter,
    /// The hall's time zone (from the catalogue).
    pub zone: HallZone,
    /// The event stream's connection (none before the first report).
    pub connection: Option<Connection>,
}

impl Board {
    pub fn new(filter: Filter) -> Board {
        Board { filter, ..Default::default() }
    }

    fn window_zone(&self, w: u32) -> Option<&str> {
        self.windows.get(&w).map(|x| x.zone.as_str())
    }

    fn shows_window(&self, w: u32) -> bool {
        match &self.filter.zone {
            None => true,
            Some(z) => self.window_zone(w).is_none_or(|wz| wz == z),
        }
    }

    fn shows_queue(&self, q: &pb::QueueCount) -> bool {
        self.filter.zone.as_ref().is_none_or(|z| *z == q.zone)
    }

    /// Replaces everything with the server's snapshot.
    pub fn apply_snapshot(&mut self, s: &pb::BoardState) {
        self.seq = s.seq;
        self.hall_name_zh = s.hall_name_zh.clone();
        self.hall_name_en = s.hall_name_en.clone();
        self.service_date = s.service_date.clone();
        self.notice = s.notice.clone();
        self.windows = s.windows.iter().map(|w| (w.number, window_view(w))).collect();
        self.recent = s.recent_calls.iter().map(Call::from_pb).filter(|c| self.shows_window(c.window)).take(RECENT).collect();
        self.queues = s.queues.iter().filter(|q| self.shows_queue(q)).map(queue).collect();
    }

    /// Takes what a (re-read) catalogue says that events do not: the time
    /// zone, the hall's names, the notice and the windows (names, zones).
    pub fn apply_catalog(&mut self, c: &pb::Catalog) {
        self.zone = HallZone::of(c);
        self.hall_name_zh = c.hall_name_zh.clone();
        self.hall_name_en = c.hall_name_en.clone();
        self.notice = c.notice.clone();
        if !c.windows.is_empty() {
            self.windows = c.windows.iter().map(|w| (w.number, window_view(w))).collect();
        }
    }

    /// Takes the queue counts an event carries. After a day rollover or a
    /// catalogue change they are every queue: the list is replaced (queues
    /// may have come or gone); otherwise the queues named are updated.
    fn apply_queues(&mut self, e: &pb::Event) {
        use pb::event::Body;
        if matches!(e.body, Some(Body::DayRolled(_) | Body::CatalogChanged(_))) {
            self.queues = e.queues.iter().filter(|q| self.shows_queue(q)).map(queue).collect();
            return;
        }
        for n in &e.queues {
            if let Some(q) = self.queues.iter_mut().find(|q| q.code == n.code) {
                q.waiting = n.waiting;
                q.wait_min = n.estimated_wait_min;
            } else if self.shows_queue(n) {
                self.queues.push(queue(n));
            }
        }
    }

    /// Moves forward by one event. Returns the call to announce, if any.
    /// Events at or below the board's sequence are ignored (a replay after
    /// reconnecting can overlap what the snapshot already holds).
    pub fn apply_event(&mut self, e: &pb::Event) -> Option<Call> {
        if e.seq <= self.seq {
            return None;
        }
        self.seq = e.seq;
        self.apply_queues(e);
        if let Some(w) = &e.window {
            self.windows.insert(w.number, window_view(w));
        }
        use pb::event::Body;
        match e.body.as_ref()? {
            Body::TicketCalled(c) => {
                let call = Call::from_pb(c.call.as_ref()?);
                if let Some(w) = self.windows.get_mut(&call.window) {
                    w.current = call.number.clone();
                }
                if !self.shows_window(call.window) {
                    return None;
                }
                self.recent.push_front(call.clone());
                self.recent.truncate(RECENT);
                Some(call)
            }
            Body::WindowChanged(w) => {
                if let Some(w) = &w.window {
                    self.windows.insert(w.number, window_view(w));
                }
                None
            }
            Body::DayRolled(d) => {
                self.service_date = d.service_date.clone();
                self.recent.clear();
                // The rollover ends every window's ticket (no window event says so).
                for w in self.windows.values_mut() {
                    w.current.clear();
                    if w.state == pb::WindowState::Serving as i32 {
                        w.state = pb::WindowState::Open as i32;
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// The calls of the large panel: newest first, one per window.
    pub fn current(&self) -> Vec<&Call> {
        let mut seen = std::collections::HashSet::new();
        self.recent.iter().filter(|c| seen.insert(c.window)).take(CURRENT).collect()
    }
}

fn queue(q: &pb::QueueCount) -> Queue {
    Queue {
        code: q.code.clone(),
        name_zh: q.name_zh.clone(),
        name_en: q.name_en.clone(),
        zone: q.zone.clone(),
        waiting: q.waiting,
        wait_min: q.estimated_wait_min,
    }
}

fn window_view(w: &pb::WindowInfo) -> WindowView {
    WindowView {
        number: w.number,
        name: w.name.clone(),
        zone: w.zone.clone(),
        state: w.state,
        clerk_name: w.clerk_name.clone(),
        current: w.current_ticket.clone(),
        pause_reason: w.pause_reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn called(seq: u64, number: &str, window: u32, recall: bool) -> pb::Event {
        pb::Event {
            seq,
            at_ms: 0,
            body: Some(pb::event::Body::TicketCalled(pb::TicketCalled {
                call: Some(pb::CallInfo {
                    number: number.into(),
                    window,
                    window_name: format!("{window}号窗口"),
                    category: "a".into(),
                    recall,
                    ..Default::default()
                }),
                reason: String::new(),
            })),
            ..Default::default()
        }
    }

    #[test]
    fn calls_are_kept_newest_first_and_old_events_are_ignored() {
        let mut b = Board::new(Filter::default());
        b.apply_snapshot(&pb::BoardState { seq: 5, ..Default::default() });
        assert!(b.apply_event(&called(5, "A000", 1, false)).is_none(), "already in the snapshot");
        for i in 0..12u64 {
            assert!(b.apply_event(&called(6 + i, &format!("A{:03}", i + 1), (i % 4 + 1) as u32, false)).is_some());
        }
        assert_eq!(b.seq, 17);
        assert_eq!(b.recent.len(), RECENT);
        assert_eq!(b.recent[0].number, "A012");
        let cur: Vec<_> = b.current().iter().map(|c| c.number.clone()).collect();
        assert_eq!(cur, vec!["A012", "A011", "A010"]);
        // A recall is announced again.
        let again = b.apply_event(&called(18, "A012", 4, true)).unwrap();
        assert!(again.recall);
    }

    #[test]
    fn a_zone_board_shows_its_zone_only() {
        let mut b = Board::new(Filter { zone: Some("enterprise".into()) });
        b.apply_snapshot(&pb::BoardState {
            seq: 1,
            windows: vec![
                pb::WindowInfo { number: 1, zone: "general".into(), ..Default::default() },
                pb::WindowInfo { number: 23, zone: "enterprise".into(), ..Default::default() },
            ],
            queues: vec![
                pb::QueueCount { code: "a".into(), zone: "general".into(), ..Default::default() },
                pb::QueueCount { code: "q".into(), zone: "enterprise".into(), ..Default::default() },
            ],
            ..Default::default()
        });
        assert_eq!(b.queues.len(), 1);
        assert!(b.apply_event(&called(2, "A001", 1, false)).is_none());
        assert!(b.apply_event(&called(3, "Q001", 23, false)).is_some());
        assert_eq!(b.recent.len(), 1);
        // The window screen of window 1 still knows its ticket.
        assert_eq!(b.windows[&1].current, "A001");
    }

    fn count(code: &str, zone: &str, waiting: u32, wait_min: u32) -> pb::QueueCount {
        pb::QueueCount { code: code.into(), zone: zone.into(), waiting, estimated_wait_min: wait_min, ..Default::default() }
    }

    #[test]
    fn counts_and_tiles_come_with_the_events() {
        let mut b = Board::new(Filter { zone: Some("general".into()) });
        b.apply_snapshot(&pb::BoardState {
            seq: 1,
            windows: vec![pb::WindowInfo { number: 1, zone: "general".into(), ..Default::default() }],
            queues: vec![count("a", "general", 0, 0), count("b", "general", 4, 6)],
            ..Default::default()
        });
        // A ticket issued: its queue's count and estimate, nothing else.
        let issued = pb::Event {
            seq: 2,
            body: Some(pb::event::Body::TicketIssued(pb::TicketIssued { category: "a".into(), ..Default::default() })),
            queues: vec![count("a", "general", 1, 3)],
            ..Default::default()
        };
        b.apply_event(&issued);
        let counts: Vec<_> = b.queues.iter().map(|q| (q.code.as_str(), q.waiting, q.wait_min)).collect();
        assert_eq!(counts, vec![("a", 1, 3), ("b", 4, 6)]);
        // A ticket whose service starts: the window's tile as the event says.
        let started = pb::Event {
            seq: 3,
            body: Some(pb::event::Body::TicketStateChanged(pb::TicketStateChanged { window: 1, ..Default::default() })),
            window: Some(pb::WindowInfo {
                number: 1,
                zone: "general".into(),
                state: pb::WindowState::Serving as i32,
                current_ticket: "A001".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        b.apply_event(&started);
        assert_eq!((b.windows[&1].state, b.windows[&1].current.as_str()), (pb::WindowState::Serving as i32, "A001"));
        // A new day: every queue, this zone's only; no window keeps a ticket.
        let rolled = pb::Event {
            seq: 4,
            body: Some(pb::event::Body::DayRolled(pb::DayRolled { service_date: "2026-11-28".into(), expired: 5 })),
            queues: vec![count("a", "general", 0, 0), count("c", "general", 0, 0), count("q", "enterprise", 0, 0)],
            ..Default::default()
        };
        b.apply_event(&rolled);
        let codes: Vec<_> = b.queues.iter().map(|q| q.code.as_str()).collect();
        assert_eq!(codes, vec!["a", "c"]);
        assert_eq!((b.windows[&1].state, b.windows[&1].current.as_str()), (pb::WindowState::Open as i32, ""));
    }
}
