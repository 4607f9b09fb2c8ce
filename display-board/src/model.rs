//! The board's state, pure: built from the server's `Snapshot`, then moved
//! forward event by event. It knows the last sequence it saw, so a
//! reconnecting board resumes exactly there; every call event yields an
//! announcement (a recall is announced again).

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

    /// Replaces everything with the server's snapshot.
    pub fn apply_snapshot(&mut self, s: &pb::BoardState) {
        self.seq = s.seq;
        self.hall_name_zh = s.hall_name_zh.clone();
        self.hall_name_en = s.hall_name_en.clone();
        self.service_date = s.service_date.clone();
        self.notice = s.notice.clone();
        self.windows = s.windows.iter().map(|w| (w.number, window_view(w))).collect();
        self.recent = s.recent_calls.iter().map(Call::from_pb).filter(|c| self.shows_window(c.window)).take(RECENT).collect();
        self.queues = s
            .queues
            .iter()
            .filter(|q| self.filter.zone.as_ref().is_none_or(|z| *z == q.zone))
            .map(|q| Queue {
                code: q.code.clone(),
                name_zh: q.name_zh.clone(),
                name_en: q.name_en.clone(),
                zone: q.zone.clone(),
                waiting: q.waiting,
                wait_min: q.estimated_wait_min,
            })
            .collect();
    }

    /// Takes the waiting counts of a newer snapshot (calls stay as they are).
    pub fn refresh_queues(&mut self, s: &pb::BoardState) {
        for q in &mut self.queues {
            if let Some(n) = s.queues.iter().find(|x| x.code == q.code) {
                q.waiting = n.waiting;
                q.wait_min = n.estimated_wait_min;
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
        use pb::event::Body;
        match e.body.as_ref()? {
            Body::TicketIssued(t) => {
                if let Some(q) = self.queues.iter_mut().find(|q| q.code == t.category) {
                    q.waiting = t.waiting_in_category;
                }
                None
            }
            Body::TicketCalled(c) => {
                let call = Call::from_pb(c.call.as_ref()?);
                if let Some(w) = self.windows.get_mut(&call.window) {
                    w.current = call.number.clone();
                }
                if !self.shows_window(call.window) {
                    return None;
                }
                if !call.recall
                    && let Some(q) = self.queues.iter_mut().find(|q| q.code == call.category)
                {
                    q.waiting = q.waiting.saturating_sub(1);
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
                for q in &mut self.queues {
                    q.waiting = 0;
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
}
