//! One simulated day as discrete events: visitors arrive, windows open,
//! call, serve, break and close, every step through `hall_engine::apply`
//! ([`run`]); optionally with the engine's event log ([`run_with_log`]) or
//! the commands it accepted ([`run_recording`]). Apart from the visitors
//! and the figures (`lib.rs`) because it is the simulator's one big
//! state machine.

use super::*;

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
