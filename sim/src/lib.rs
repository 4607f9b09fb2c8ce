//! The hall simulator: a whole day through the real sans-IO engine on a
//! virtual clock, deterministic for a seed. Arrivals are drawn once and fed
//! to each policy, so policies are compared on exactly the same visitors.
//!
//! Policies are expressed as catalogues for the same engine:
//! - `policy`: the hall's catalogue as configured (tiers, priority classes,
//!   escalation of long-waiting secondary tickets);
//! - `fifo`: FIFO per category at primary windows only (secondary tiers
//!   removed, everybody normal priority);
//! - `global_fifo`: one line for the whole hall — every window serves every
//!   category in issue order (an idealised 无差别受理 hall), normal priority.
//!
//! [`erlang`] holds the closed-form M/M/c figures the simulator is checked
//! against; [`chart`] draws waiting over the day; [`drive`] runs the same
//! visitor and clerk model against a live server over gRPC.
//!
//! Why one long file: the discrete-event day (arrivals, clerks, breaks,
//! no-shows, transfers) is one event loop over one state; the scenario,
//! reports, Erlang C and charts are in their own modules.

pub mod chart;
pub mod drive;
pub mod erlang;
pub mod report;
pub mod scenario;

use chrono::NaiveDateTime;
use hall_engine::catalog::Catalog;
use hall_engine::{
    self, Command, Event, Hall, Millis, Person, Priority, Session, TicketId, TicketState,
    TransferTarget, WindowNo,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
pub use scenario::{Scenario, hhmm};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

const MIN: f64 = 60_000.0;

/// Which allocation rule a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Engine,
    FifoPerCategory,
    GlobalFifo,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 3] = [
        PolicyKind::Engine,
        PolicyKind::FifoPerCategory,
        PolicyKind::GlobalFifo,
    ];

    pub fn key(self) -> &'static str {
        match self {
            PolicyKind::Engine => "policy",
            PolicyKind::FifoPerCategory => "fifo",
            PolicyKind::GlobalFifo => "global_fifo",
        }
    }

    /// The catalogue that makes the engine follow this rule.
    pub fn catalog(self, base: &Catalog) -> Catalog {
        let mut c = base.clone();
        match self {
            PolicyKind::Engine => {}
            PolicyKind::FifoPerCategory => {
                for w in &mut c.windows {
                    w.tiers.truncate(1);
                }
            }
            PolicyKind::GlobalFifo => {
                let mut all: Vec<String> = c.categories.iter().map(|x| x.code.clone()).collect();
                all.extend(c.bundles.iter().map(|b| b.code.clone()));
                for w in &mut c.windows {
                    w.tiers = vec![all.clone()];
                }
            }
        }
        c
    }

    fn uses_priority(self) -> bool {
        self == PolicyKind::Engine
    }
}

/// One simulated visitor, drawn once per seed.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub at: Millis,
    pub code: String,
    pub priority: Priority,
    /// Service time multipliers for up to four legs (stages, transfer),
    /// applied to each leg's mean: fixed per visitor so all policies see them.
    pub service_factor: [f64; 4],
    pub no_show: bool,
    pub late_return_after: Option<Millis>,
    pub transfer_to: Option<String>,
    /// A remote ticket (线上取号) taken this long before arriving
    /// (`with_remote_share`); `None`: a number taken at the kiosk.
    pub remote_lead: Option<Millis>,
    /// A remote visitor's way to the hall: told "your turn" (`front`)
    /// before they planned to come, they arrive this long after.
    pub remote_travel: Millis,
}

/// The same visitors with `pct` percent of them (drawn with `seed`, the
/// ordinary-class ones only) taking a remote ticket 20 to 60 minutes before
/// they plan to arrive, 5 to 20 minutes away from the hall (told that it
/// is their turn earlier, they set off at once: beyond the 15 minutes of
/// grace, their ticket expires).
pub fn with_remote_share(visitors: &[Visitor], pct: u32, seed: u64) -> Vec<Visitor> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005E_ED0F_AE70);
    visitors
        .iter()
        .map(|v| {
            let roll: f64 = rng.random();
            let lead = 20.0 + rng.random::<f64>() * 40.0;
            let travel = 5.0 + rng.random::<f64>() * 15.0;
            let mut v = v.clone();
            if v.priority == Priority::Normal && roll < f64::from(pct) / 100.0 {
                v.remote_lead = Some((lead * MIN) as Millis);
                v.remote_travel = (travel * MIN) as Millis;
            }
            v
        })
        .collect()
}

/// `base` with remote tickets offered for every category (grace 15 min):
/// how many are taken is the visitors' choice (`with_remote_share`), so
/// the share is not capped here (a category without a quota gets one no
/// day reaches).
pub fn remote_catalog(base: &Catalog) -> Catalog {
    let mut c = base.clone();
    for cat in &mut c.categories {
        if cat.daily_quota == 0 {
            cat.daily_quota = 100_000;
        }
        cat.remote = Some(hall_engine::catalog::RemoteTickets {
            share_pct: 100,
            grace_minutes: 15,
        });
    }
    c
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller; rand_distr is not worth a dependency for this.
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A service-time multiplier with mean 1: log-normal with shape `sigma`, or
/// exponential when `sigma` is 0.
fn service_factor(rng: &mut StdRng, sigma: f64) -> f64 {
    if sigma <= 0.0 {
        -rng.random::<f64>().max(1e-12).ln()
    } else {
        (sigma * normal(rng) - sigma * sigma / 2.0).exp()
    }
}

/// Local wall-clock instant of the scenario's day.
pub fn instant(hall: &Hall, scn: &Scenario, hm: &str) -> Millis {
    let t = hhmm(hm).unwrap_or_default();
    hall.clock().instant(NaiveDateTime::new(scn.date, t))
}

/// Draws the day's visitors (time-varying Poisson per category).
pub fn draw_visitors(scn: &Scenario, clock_hall: &Hall, seed: u64) -> Vec<Visitor> {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = instant(clock_hall, scn, &scn.arrivals_from);
    let minutes = scn.open_minutes_per_hour();
    let mut out = Vec::new();
    for load in &scn.categories {
        for (h, span) in minutes.iter().enumerate() {
            let rate = scn.rate_per_minute(load, h);
            if rate <= 0.0 || *span <= 0.0 {
                continue;
            }
            // Memoryless: restarting at each hour boundary is exact.
            let mut t = 0.0;
            loop {
                t += -rng.random::<f64>().max(1e-12).ln() / rate;
                if t >= *span {
                    break;
                }
                let at = start + ((h as f64 * 60.0 + t) * MIN) as Millis;
                out.push(draw_one(scn, &mut rng, at, &load.code));
            }
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then(a.code.cmp(&b.code)));
    out
}

fn draw_one(scn: &Scenario, rng: &mut StdRng, at: Millis, code: &str) -> Visitor {
    let p = &scn.priority;
    let r: f64 = rng.random();
    let priority = if r < p.elderly {
        Priority::Elderly
    } else if r < p.elderly + p.veteran {
        Priority::Veteran
    } else if r < p.elderly + p.veteran + p.disabled {
        Priority::Disabled
    } else if r < p.elderly + p.veteran + p.disabled + p.pregnant {
        Priority::Pregnant
    } else {
        Priority::Normal
    };
    let service_factor = [(); 4].map(|_| service_factor(rng, scn.service_sigma));
    let no_show = rng.random::<f64>() < scn.no_show_share;
    let late = rng.random::<f64>() < scn.late_return_share;
    let [lo, hi] = scn.late_return_minutes;
    let late_after = lo + rng.random::<f64>() * (hi - lo).max(0.0);
    let late_return_after = (no_show && late).then_some((late_after * MIN) as Millis);
    let mut transfer_to = None;
    let roll: f64 = rng.random();
    let mut acc = 0.0;
    for t in scn.transfers.iter().filter(|t| t.from == code) {
        acc += t.share;
        if roll < acc {
            transfer_to = Some(t.to.clone());
            break;
        }
    }
    Visitor {
        at,
        code: code.to_string(),
        priority,
        service_factor,
        no_show,
        late_return_after,
        transfer_to,
        remote_lead: None,
        remote_travel: 0,
    }
}

/// What happened to one visitor in one run.
#[derive(Debug, Clone, Default)]
pub struct VisitorOutcome {
    pub code: String,
    pub priority: bool,
    /// Total minutes spent waiting in queues (all legs).
    pub wait_min: f64,
    /// The longest single wait.
    pub longest_leg_min: f64,
    pub served: bool,
    pub issued: bool,
    /// Took a remote ticket (its wait counts from arrival at the hall).
    pub remote: bool,
    /// Its remote ticket expired before it arrived (it then took a number
    /// at the kiosk).
    pub expired: bool,
}

/// Figures of one run.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub visitors: Vec<VisitorOutcome>,
    /// (minute of day, tickets waiting), every 5 minutes.
    pub waiting_curve: Vec<(f64, u32)>,
    pub utilisation: f64,
    /// Minutes after the official close until the last ticket finished.
    pub overtime_min: f64,
    pub rejected: usize,
}

/// Summary statistics of waits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WaitStats {
    pub n: usize,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
    pub within_target: f64,
}

impl WaitStats {
    pub fn of(waits: &[f64], target: f64) -> WaitStats {
        if waits.is_empty() {
            return WaitStats::default();
        }
        let mut w = waits.to_vec();
        w.sort_by(f64::total_cmp);
        let q = |p: f64| w[((w.len() - 1) as f64 * p).round() as usize];
        WaitStats {
            n: w.len(),
            mean: w.iter().sum::<f64>() / w.len() as f64,
            p50: q(0.5),
            p95: q(0.95),
            max: *w.last().unwrap_or(&0.0),
            within_target: w.iter().filter(|x| **x <= target).count() as f64 / w.len() as f64,
        }
    }
}

impl RunResult {
    pub fn served_waits(&self, filter: impl Fn(&VisitorOutcome) -> bool) -> Vec<f64> {
        self.visitors
            .iter()
            .filter(|v| v.served && filter(v))
            .map(|v| v.wait_min)
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrive(usize),
    Open(WindowNo),
    Free(WindowNo),
    Recall(WindowNo),
    End(WindowNo),
    /// A break from now until the given instant (taken when the current ticket ends).
    BreakStart(WindowNo, Millis),
    BreakEnd(WindowNo),
    Close(WindowNo),
    LateReturn(usize),
    Sample,
    /// A remote visitor takes a number from the phone.
    RemoteIssue(usize),
    /// The engine's clock tick (remote tickets reach the front, expire).
    Tick,
}

#[derive(Debug, Default, Clone)]
struct Win {
    session: Option<Session>,
    current: Option<TicketId>,
    recalls: u32,
    paused: bool,
    break_due: Option<Millis>,
    closing: bool,
    close_pending: bool,
    busy_since: Option<Millis>,
    busy_ms: Millis,
    open_ms: Millis,
    opened_at: Option<Millis>,
}

struct Run<'a> {
    scn: &'a Scenario,
    kind: PolicyKind,
    hall: Hall,
    visitors: &'a [Visitor],
    queue: BinaryHeap<Reverse<(Millis, u64, Ev)>>,
    seq: u64,
    wins: BTreeMap<WindowNo, Win>,
    by_ticket: HashMap<TicketId, usize>,
    ticket_of: Vec<Option<TicketId>>,
    /// When the visitor's current wait began.
    wait_since: Vec<Option<Millis>>,
    legs: Vec<usize>,
    out: Vec<VisitorOutcome>,
    curve: Vec<(f64, u32)>,
    means: HashMap<String, f64>,
    rejected: usize,
    close_at: Millis,
    last_finish: Millis,
    /// Every event with its instant, when the caller asked for the log.
    log: Option<Vec<(Event, Millis)>>,
    /// Every command the engine accepted, with its instant, when the caller
    /// asked for them (to play the same day to a real server).
    commands: Option<Vec<(Command, Millis)>>,
    /// Visitors already in the hall (a remote one may come early).
    arrived: Vec<bool>,
}

impl<'a> Run<'a> {
    fn at(&mut self, t: Millis, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, ev)));
    }

    fn apply(&mut self, cmd: Command, now: Millis) -> Result<Vec<Event>, hall_engine::EngineError> {
        let kept = self.commands.is_some().then(|| cmd.clone());
        let events = hall_engine::apply(&mut self.hall, cmd, now)?;
        if let (Some(list), Some(cmd)) = (&mut self.commands, kept) {
            list.push((cmd, now));
        }
        if let Some(log) = &mut self.log {
            log.extend(events.iter().map(|e| (e.clone(), now)));
        }
        Ok(events)
    }

    fn session(&self, w: WindowNo) -> Option<Session> {
        self.wins.get(&w).and_then(|x| x.session.clone())
    }

    fn mean_minutes(&self, queue: &str) -> f64 {
        self.means.get(queue).copied().unwrap_or(10.0)
    }

    /// Every open window without a ticket tries to call one (after a ticket
    /// joins a queue).
    fn wake_idle(&mut self, now: Millis) {
        let idle: Vec<WindowNo> = self
            .wins
            .iter()
            .filter(|(_, x)| x.current.is_none() && !x.paused && x.session.is_some())
            .map(|(w, _)| *w)
            .collect();
        for w in idle {
            self.try_call(w, now);
        }
    }

    /// A free, open window calls the next ticket (if any).
    fn try_call(&mut self, w: WindowNo, now: Millis) {
        let Some(win) = self.wins.get(&w) else { return };
        if win.current.is_some() || win.paused || win.session.is_none() {
            return;
        }
        if win.break_due.is_some() {
            self.start_break(w, now);
            return;
        }
        let Some(session) = self.session(w) else {
            return;
        };
        let Ok(events) = self.apply(Command::CallNext { session }, now) else {
            let win = self.wins.get_mut(&w).expect("window");
            if win.closing && !win.close_pending {
                // Nothing this window may call now: look again in a minute
                // (never at the same instant, which would never advance; and
                // one retry at a time, or retries would multiply).
                win.close_pending = true;
                self.at(now + 60_000, Ev::Close(w));
            }
            return;
        };
        let Some(id) = events.iter().find_map(|e| match e {
            Event::TicketCalled { ticket, .. } => Some(*ticket),
            _ => None,
        }) else {
            return;
        };
        let win = self.wins.get_mut(&w).expect("window");
        win.current = Some(id);
        win.recalls = 0;
        win.busy_since = Some(now);
        let Some(&v) = self.by_ticket.get(&id) else {
            return;
        };
        if let Some(since) = self.wait_since[v].take() {
            let leg = (now - since) as f64 / MIN;
            let o = &mut self.out[v];
            o.wait_min += leg;
            o.longest_leg_min = o.longest_leg_min.max(leg);
        }
        let visitor = &self.visitors[v];
        if visitor.no_show && self.legs[v] == 0 {
            self.at(
                now + (self.scn.recall_seconds * 1000.0) as Millis,
                Ev::Recall(w),
            );
        } else {
            let queue = self
                .hall
                .ticket(id)
                .map(|t| t.queue.clone())
                .unwrap_or_default();
            let leg = self.legs[v].min(3);
            let service = self.mean_minutes(&queue) * visitor.service_factor[leg];
            let walk = (self.scn.walk_seconds * 1000.0) as Millis;
            let _ = self.apply(
                Command::StartService {
                    session: self.session(w).expect("open"),
                },
                now + walk,
            );
            self.at(now + walk + (service * MIN) as Millis, Ev::End(w));
        }
    }

    fn recall(&mut self, w: WindowNo, now: Millis) {
        let Some(session) = self.session(w) else {
            return;
        };
        let Some(id) = self.wins[&w].current else {
            return;
        };
        if self.wins[&w].recalls < self.scn.recalls_before_no_show {
            self.wins.get_mut(&w).expect("window").recalls += 1;
            if self.apply(Command::Recall { session }, now).is_ok() {
                self.at(
                    now + (self.scn.recall_seconds * 1000.0) as Millis,
                    Ev::Recall(w),
                );
                return;
            }
        } else {
            let _ = self.apply(Command::NoShow { session }, now);
        }
        // Skipped: the window moves on; the visitor may come back later.
        if self
            .hall
            .ticket(id)
            .is_some_and(|t| t.state == TicketState::NoShow)
            && let Some(&v) = self.by_ticket.get(&id)
            && let Some(after) = self.visitors[v].late_return_after
        {
            self.at(now + after, Ev::LateReturn(v));
        }
        self.free(w, now);
    }

    fn free(&mut self, w: WindowNo, now: Millis) {
        let win = self.wins.get_mut(&w).expect("window");
        win.current = None;
        if let Some(s) = win.busy_since.take() {
            win.busy_ms += now - s;
        }
        self.at(now, Ev::Free(w));
    }

    fn end(&mut self, w: WindowNo, now: Millis) {
        let Some(session) = self.session(w) else {
            return;
        };
        let Some(id) = self.wins[&w].current else {
            return;
        };
        let Some(&v) = self.by_ticket.get(&id) else {
            return;
        };
        self.legs[v] += 1;
        let transfer = (self.legs[v] == 1)
            .then(|| self.visitors[v].transfer_to.clone())
            .flatten();
        if let Some(to) = transfer {
            let cmd = Command::Transfer {
                session,
                target: TransferTarget::Queue(to),
                with_return: false,
                reason: "simulated transfer".into(),
            };
            if self.apply(cmd, now).is_ok() {
                self.wait_since[v] = Some(now);
            }
        } else {
            let _ = self.apply(
                Command::Finish {
                    session,
                    resolved: true,
                    reason: String::new(),
                    case: None,
                },
                now,
            );
            // A staged bundle moves on to its next stage and waits again.
            if self
                .hall
                .ticket(id)
                .is_some_and(|t| t.state == TicketState::Waiting)
            {
                self.wait_since[v] = Some(now);
            } else {
                self.out[v].served = true;
                self.last_finish = self.last_finish.max(now);
            }
        }
        self.free(w, now);
    }

    fn start_break(&mut self, w: WindowNo, now: Millis) {
        let Some(session) = self.session(w) else {
            return;
        };
        let win = self.wins.get_mut(&w).expect("window");
        let Some(until) = win.break_due.take() else {
            return;
        };
        if self
            .apply(
                Command::Pause {
                    session,
                    reason: "lunch".into(),
                },
                now,
            )
            .is_ok()
        {
            let end = until.max(now + 60_000);
            let win = self.wins.get_mut(&w).expect("window");
            win.paused = true;
            // Breaks are not open time: utilisation counts staffed minutes.
            win.open_ms -= end - now;
            self.at(end, Ev::BreakEnd(w));
        }
    }

    fn close(&mut self, w: WindowNo, now: Millis) {
        let Some(session) = self.session(w) else {
            return;
        };
        if self.wins[&w].current.is_some() {
            self.wins.get_mut(&w).expect("window").closing = true;
            return;
        }
        // Tickets issued before the cutoff are served: stay while any waits
        // (up to three hours of overtime).
        if self.hall.waiting_for_window(w) > 0 && now < self.close_at + 3 * 3_600_000 {
            self.wins.get_mut(&w).expect("window").closing = true;
            self.try_call(w, now);
            return;
        }
        if self.apply(Command::Logout { session }, now).is_ok() {
            let win = self.wins.get_mut(&w).expect("window");
            win.session = None;
            if let Some(o) = win.opened_at.take() {
                win.open_ms += now - o;
            }
        }
    }

    fn step(&mut self, now: Millis, ev: Ev) {
        match ev {
            Ev::RemoteIssue(v) => {
                let vis = &self.visitors[v];
                let cmd = Command::IssueTicket {
                    request_id: None,
                    code: vis.code.clone(),
                    priority: Priority::Normal,
                    channel: hall_engine::Channel::Mobile,
                    person: Some(Person {
                        key: format!("v{v}"),
                        masked_name: String::new(),
                        birth_date: None,
                    }),
                };
                // Refused (outside the hours, say): a number at the kiosk
                // on arrival instead.
                if let Ok(events) = self.apply(cmd, now) {
                    for e in &events {
                        if let Event::TicketIssued { ticket, .. } = e {
                            self.by_ticket.insert(ticket.id, v);
                            self.ticket_of[v] = Some(ticket.id);
                            self.out[v].issued = true;
                            self.out[v].remote = true;
                        }
                    }
                }
            }
            Ev::Tick => {
                if let Ok(events) = self.apply(Command::Tick, now) {
                    for e in &events {
                        match e {
                            Event::TicketExpired { ticket, .. } => {
                                if let Some(&v) = self.by_ticket.get(ticket) {
                                    self.out[v].expired = true;
                                }
                            }
                            // Told it is their turn: on their way now, if
                            // that is sooner than they planned.
                            Event::RemoteAtFront { ticket } => {
                                if let Some(&v) = self.by_ticket.get(ticket) {
                                    let come = now + self.visitors[v].remote_travel;
                                    if come < self.visitors[v].at {
                                        self.at(come, Ev::Arrive(v));
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                if now < self.close_at {
                    self.at(now + 60_000, Ev::Tick);
                }
            }
            // Came already (a remote visitor told to come early), or a
            // no-show with a remote ticket, who never comes: it expires.
            Ev::Arrive(v) if self.arrived[v] => {}
            Ev::Arrive(v) if self.out[v].remote && self.visitors[v].no_show => {}
            Ev::Arrive(v)
                if self.out[v].remote
                    && !self.out[v].expired
                    && self.ticket_of[v]
                        .and_then(|id| self.hall.ticket(id))
                        .is_some_and(|t| t.awaiting_arrival()) =>
            {
                let number = self.ticket_of[v]
                    .and_then(|id| self.hall.ticket(id))
                    .map(|t| t.number.clone())
                    .unwrap_or_default();
                let cmd = Command::ArriveRemote {
                    service_date: self.hall.service_date,
                    number,
                };
                self.arrived[v] = true;
                if self.apply(cmd, now).is_ok() {
                    self.wait_since[v] = Some(now);
                    self.wake_idle(now);
                }
            }
            Ev::Arrive(v) => {
                self.arrived[v] = true;
                let vis = &self.visitors[v];
                let birth = if vis.priority == Priority::Elderly {
                    chrono::NaiveDate::from_ymd_opt(1950, 6, 1)
                } else {
                    chrono::NaiveDate::from_ymd_opt(1985, 6, 1)
                };
                let priority = if self.kind.uses_priority() {
                    vis.priority
                } else {
                    Priority::Normal
                };
                let cmd = Command::IssueTicket {
                    request_id: None,
                    code: vis.code.clone(),
                    priority,
                    channel: hall_engine::Channel::Kiosk,
                    person: Some(Person {
                        key: format!("v{v}"),
                        masked_name: "访*".into(),
                        birth_date: birth,
                    }),
                };
                match self.apply(cmd, now) {
                    Ok(events) => {
                        for e in &events {
                            if let Event::TicketIssued { ticket, .. } = e {
                                self.by_ticket.insert(ticket.id, v);
                                self.ticket_of[v] = Some(ticket.id);
                                self.wait_since[v] = Some(now);
                                self.out[v].issued = true;
                            }
                        }
                        self.wake_idle(now);
                    }
                    Err(_) => self.rejected += 1,
                }
            }
            Ev::Open(w) => {
                let cmd = Command::Login {
                    window: w,
                    clerk: format!("c{w:02}"),
                    token: format!("sim-{w}"),
                };
                if self.apply(cmd, now).is_ok() {
                    let win = self.wins.entry(w).or_default();
                    win.session = Some(Session {
                        window: w,
                        token: format!("sim-{w}"),
                    });
                    win.opened_at = Some(now);
                    self.try_call(w, now);
                }
            }
            Ev::Free(w) => self.try_call(w, now),
            Ev::Recall(w) => self.recall(w, now),
            Ev::End(w) => {
                self.end(w, now);
                if self.wins[&w].closing {
                    self.close(w, now);
                }
            }
            Ev::BreakStart(w, until) => {
                self.wins.get_mut(&w).expect("window").break_due = Some(until);
                if self.wins[&w].current.is_none() {
                    self.start_break(w, now);
                }
            }
            Ev::BreakEnd(w) => {
                if let Some(session) = self.session(w)
                    && self.apply(Command::Resume { session }, now).is_ok()
                {
                    self.wins.get_mut(&w).expect("window").paused = false;
                    self.try_call(w, now);
                }
            }
            Ev::Close(w) => {
                self.wins.get_mut(&w).expect("window").close_pending = false;
                self.close(w, now);
            }
            Ev::LateReturn(v) => {
                // The visitor shows their slip at any open window.
                let Some(id) = self.ticket_of[v] else { return };
                let number = self
                    .hall
                    .ticket(id)
                    .map(|t| t.number.clone())
                    .unwrap_or_default();
                let open: Vec<WindowNo> = self
                    .wins
                    .iter()
                    .filter(|(_, x)| x.session.is_some())
                    .map(|(w, _)| *w)
                    .collect();
                for w in open {
                    let session = self.session(w).expect("open");
                    if self
                        .apply(
                            Command::Requeue {
                                session,
                                number: number.clone(),
                            },
                            now,
                        )
                        .is_ok()
                    {
                        self.wait_since[v] = Some(now);
                        self.wake_idle(now);
                        break;
                    }
                }
            }
            Ev::Sample => {
                let waiting = self
                    .hall
                    .tickets()
                    .filter(|t| t.state == TicketState::Waiting)
                    .count() as u32;
                let local = self.hall.clock().local(now);
                let minute = local
                    .time()
                    .signed_duration_since(chrono::NaiveTime::MIN)
                    .num_seconds() as f64
                    / 60.0;
                self.curve.push((minute, waiting));
                let busy = self.wins.values().any(|w| w.session.is_some());
                // Sample until the last window closes (late returns after
                // that are not served), never past 4 h of overtime.
                if (now < self.close_at || busy) && now < self.close_at + 4 * 3_600_000 {
                    self.at(now + 5 * 60_000, Ev::Sample);
                }
            }
        }
    }
}

/// Runs the scenario's day under one policy.
pub fn run(scn: &Scenario, base: &Catalog, kind: PolicyKind, visitors: &[Visitor]) -> RunResult {
    run_logged(scn, base, kind, visitors, false, false).0
}

/// [`run`], also returning every command the engine accepted, with its
/// instant, in order: the same day played to a real server
/// (`hall-bench soak`) gives the same figures.
pub fn run_recording(
    scn: &Scenario,
    base: &Catalog,
    kind: PolicyKind,
    visitors: &[Visitor],
) -> (RunResult, Vec<(Command, Millis)>) {
    let (r, _, cmds) = run_logged(scn, base, kind, visitors, false, true);
    (r, cmds)
}

/// [`run`], also returning every event the engine made with its instant
/// (a day's event log, e.g. to build a year of report aggregates).
pub fn run_with_log(
    scn: &Scenario,
    base: &Catalog,
    kind: PolicyKind,
    visitors: &[Visitor],
) -> (RunResult, Vec<(Event, Millis)>) {
    let (r, log, _) = run_logged(scn, base, kind, visitors, true, false);
    (r, log)
}

fn run_logged(
    scn: &Scenario,
    base: &Catalog,
    kind: PolicyKind,
    visitors: &[Visitor],
    record: bool,
    record_commands: bool,
) -> (RunResult, Vec<(Event, Millis)>, Vec<(Command, Millis)>) {
    let catalog = kind.catalog(base);
    let hall = Hall::new(catalog);
    let means = scn
        .categories
        .iter()
        .map(|c| (c.code.clone(), c.service_minutes))
        .collect();
    let n = visitors.len();
    let mut r = Run {
        scn,
        kind,
        hall,
        visitors,
        queue: BinaryHeap::new(),
        seq: 0,
        wins: BTreeMap::new(),
        by_ticket: HashMap::new(),
        ticket_of: vec![None; n],
        wait_since: vec![None; n],
        legs: vec![0; n],
        out: visitors
            .iter()
            .map(|v| VisitorOutcome {
                code: v.code.clone(),
                priority: v.priority != Priority::Normal,
                ..Default::default()
            })
            .collect(),
        curve: Vec::new(),
        means,
        rejected: 0,
        close_at: 0,
        last_finish: 0,
        log: record.then(Vec::new),
        commands: record_commands.then(Vec::new),
        arrived: vec![false; n],
    };
    // Roll the engine into the scenario's day before anything happens.
    let day_start = instant(&r.hall, scn, "00:01");
    let _ = r.apply(Command::Tick, day_start);
    let mut close_at = 0;
    for shift in &scn.shifts {
        let open = instant(&r.hall, scn, &shift.open);
        let close = instant(&r.hall, scn, &shift.close);
        close_at = close_at.max(close);
        for &w in &shift.windows {
            r.wins.entry(w).or_default();
            r.at(open, Ev::Open(w));
            r.at(close, Ev::Close(w));
            for [from, to] in &shift.breaks {
                let (f, t) = (instant(&r.hall, scn, from), instant(&r.hall, scn, to));
                r.at(f, Ev::BreakStart(w, t));
            }
        }
    }
    r.close_at = close_at;
    for (i, v) in visitors.iter().enumerate() {
        r.at(v.at, Ev::Arrive(i));
        if let Some(lead) = v.remote_lead {
            r.at(v.at - lead, Ev::RemoteIssue(i));
        }
    }
    if visitors.iter().any(|v| v.remote_lead.is_some()) {
        r.at(day_start + 60_000, Ev::Tick);
    }
    let first = r.queue.peek().map(|Reverse((t, _, _))| *t).unwrap_or(0);
    r.at(first, Ev::Sample);
    let mut guard = 0u64;
    while let Some(Reverse((t, _, ev))) = r.queue.pop() {
        guard += 1;
        if guard > 50_000_000 {
            break;
        }
        r.step(t, ev);
    }
    let total_open: Millis = r.wins.values().map(|w| w.open_ms).sum();
    let total_busy: Millis = r.wins.values().map(|w| w.busy_ms).sum();
    let log = r.log.take().unwrap_or_default();
    let commands = r.commands.take().unwrap_or_default();
    let result = RunResult {
        visitors: r.out,
        waiting_curve: r.curve,
        utilisation: if total_open > 0 {
            total_busy as f64 / total_open as f64
        } else {
            0.0
        },
        overtime_min: ((r.last_finish - close_at).max(0)) as f64 / MIN,
        rejected: r.rejected,
    };
    (result, log, commands)
}
