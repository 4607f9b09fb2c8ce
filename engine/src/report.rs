//! Reports across any dates: per-day aggregates folded from the event log,
//! and the report over a range of them (by category, zone, window, clerk or
//! hour of day).
//!
//! A [`DayBuilder`] folds one service day's events (each with the instant it
//! was committed) into *legs*: a leg is one ticket's stay in one queue, from
//! the moment it entered (issue, transfer, next bundle stage, return) until
//! it left (served, unresolved, no-show, cancelled, transferred on, or still
//! there when the day rolled). At the day's end the legs become a
//! [`DayAggregate`]: per dimension and key, the counts, every wait in
//! seconds (so medians and percentiles over any range are exact), the
//! handling-time histogram and the ratings, plus the day's 好差评 records.
//! Aggregates are small (a busy day is a few tens of KiB) and carry no
//! personal data, so the server keeps them forever and a year's report
//! merges 365 of them.
//!
//! Definitions (the README repeats them):
//! - *wait*: seconds from entering the queue to the first call in it, for
//!   every leg that was called (served, unresolved, no-show, transferred on);
//! - *served*: legs finished resolved (a bundle stage or a transfer with
//!   return finished counts as served in its category); *unresolved*: legs
//!   finished without resolution; both are "handled";
//! - *SLA*: the share of handled legs whose wait was at most the category's
//!   limit (`max_wait_minutes`, else `policy.secondary_escalation_minutes`);
//! - *handling*: from the start of service (or the call, if the clerk never
//!   pressed start) to the finish, for handled legs, against the category's
//!   `expected_minutes`;
//! - *满意率*: ratings of 5 (非常满意) and 4 (满意) over all ratings; *差评*:
//!   ratings of 2 and 1.
//!
//! No I/O: the server reads the log and stores the aggregates.

use crate::calendar::Clock;
use crate::catalog::Catalog;
use crate::event::*;
use crate::model::*;
use chrono::{NaiveDate, Timelike};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Width of a histogram bucket: 3 minutes.
pub const BUCKET_S: u32 = 180;
/// Buckets of a histogram: 0–3 min, …, 57–60 min, then one for 60 min and more.
pub const BUCKETS: usize = 21;

/// What a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Category,
    Zone,
    Window,
    Clerk,
    Hour,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Category,
        Dimension::Zone,
        Dimension::Window,
        Dimension::Clerk,
        Dimension::Hour,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Category => "category",
            Dimension::Zone => "zone",
            Dimension::Window => "window",
            Dimension::Clerk => "clerk",
            Dimension::Hour => "hour",
        }
    }
    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// How a leg ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still in the queue, called, being served or suspended.
    Open,
    Served,
    Unresolved,
    NoShow,
    Cancelled,
    Transferred,
    /// Still open when the day rolled.
    Expired,
}

/// Where a rating came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingChannel {
    /// The clerk's own terminal (before the rating pad; kept for old logs).
    #[default]
    Counter,
    /// The citizen-facing rating pad (评价器) of the window.
    Pad,
    /// The ticket's own page on the visitor's phone.
    Phone,
    Kiosk,
}

impl RatingChannel {
    pub fn name(self) -> &'static str {
        match self {
            RatingChannel::Counter => "counter",
            RatingChannel::Pad => "pad",
            RatingChannel::Phone => "phone",
            RatingChannel::Kiosk => "kiosk",
        }
    }
}

/// One ticket's stay in one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leg {
    pub ticket: TicketId,
    pub category: String,
    /// Local hour of day it entered the queue.
    pub hour: u8,
    pub entered_at: Millis,
    /// True for the leg a ticket began with (an arrival); false for one it
    /// was moved into (transfer, next stage, return).
    pub arrival: bool,
    pub first_call: Option<Millis>,
    pub window: Option<WindowNo>,
    pub clerk: Option<String>,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub outcome: Outcome,
    pub rating: Option<u8>,
}

/// The figures of one key of one dimension on one day (or, merged, over a range).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub arrived: u32,
    pub moved_in: u32,
    pub served: u32,
    pub unresolved: u32,
    pub no_show: u32,
    pub cancelled: u32,
    pub transferred: u32,
    pub expired: u32,
    /// Every called leg's wait in seconds, ascending.
    pub waits_s: Vec<u32>,
    /// Handled legs whose wait was within the category's limit.
    pub within_limit: u32,
    pub handled: u32,
    pub handling_s: u64,
    pub expected_s: u64,
    pub handling_hist: Vec<u32>,
    /// Ratings by level: index 0 = level 1 (非常不满意) … 4 = level 5 (非常满意).
    pub ratings: [u32; 5],
}

impl Cell {
    fn add_leg(&mut self, leg: &Leg, limit_s: u32, expected_s: u32) {
        if leg.arrival {
            self.arrived += 1;
        } else {
            self.moved_in += 1;
        }
        match leg.outcome {
            Outcome::Open => {}
            Outcome::Served => self.served += 1,
            Outcome::Unresolved => self.unresolved += 1,
            Outcome::NoShow => self.no_show += 1,
            Outcome::Cancelled => self.cancelled += 1,
            Outcome::Transferred => self.transferred += 1,
            Outcome::Expired => self.expired += 1,
        }
        let wait = leg
            .first_call
            .map(|c| ((c - leg.entered_at).max(0) / 1000) as u32);
        if let Some(w) = wait {
            self.waits_s.push(w);
        }
        if matches!(leg.outcome, Outcome::Served | Outcome::Unresolved) {
            self.handled += 1;
            if wait.is_some_and(|w| w <= limit_s) {
                self.within_limit += 1;
            }
            let from = leg.started_at.or(leg.first_call).unwrap_or(leg.entered_at);
            let h = ((leg.ended_at.unwrap_or(from) - from).max(0) / 1000) as u32;
            self.handling_s += u64::from(h);
            self.expected_s += u64::from(expected_s);
            if self.handling_hist.len() < BUCKETS {
                self.handling_hist.resize(BUCKETS, 0);
            }
            self.handling_hist[bucket(h)] += 1;
        }
        if let Some(r) = leg.rating.filter(|r| (1..=5).contains(r)) {
            self.ratings[usize::from(r - 1)] += 1;
        }
    }

    /// Adds another cell's figures (another day, same key).
    pub fn merge(&mut self, o: &Cell) {
        self.arrived += o.arrived;
        self.moved_in += o.moved_in;
        self.served += o.served;
        self.unresolved += o.unresolved;
        self.no_show += o.no_show;
        self.cancelled += o.cancelled;
        self.transferred += o.transferred;
        self.expired += o.expired;
        self.waits_s.extend_from_slice(&o.waits_s);
        self.within_limit += o.within_limit;
        self.handled += o.handled;
        self.handling_s += o.handling_s;
        self.expected_s += o.expected_s;
        if self.handling_hist.len() < BUCKETS {
            self.handling_hist.resize(BUCKETS, 0);
        }
        for (a, b) in self.handling_hist.iter_mut().zip(&o.handling_hist) {
            *a += b;
        }
        for (a, b) in self.ratings.iter_mut().zip(o.ratings) {
            *a += b;
        }
    }
}

fn bucket(s: u32) -> usize {
    ((s / BUCKET_S) as usize).min(BUCKETS - 1)
}

/// One 好差评 record for the provincial platform: what the rating is about,
/// without any personal data of the citizen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RatingRecord {
    pub service_date: NaiveDate,
    pub ticket_number: String,
    /// 办件编号, attached by the clerk at finish; empty if none.
    pub case_no: String,
    /// The service item's code (事项编码), attached at finish; else the category's.
    pub service_code: String,
    pub category: String,
    pub department: String,
    pub region_code: String,
    pub channel: String,
    pub level: u8,
    pub reason: String,
    pub window: WindowNo,
    /// The evaluated clerk's id (staff, not the citizen).
    pub clerk: String,
    pub issued_at: Millis,
    pub finished_at: Millis,
    pub rated_at: Millis,
}

/// One service day, aggregated. Kept by the server for every past day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DayAggregate {
    pub date: NaiveDate,
    /// The first log sequence number of the day (its `DayRolled`; 0 when
    /// the log began within the day).
    #[serde(default)]
    pub first_seq: u64,
    /// The last log sequence number of the day (0 when unknown).
    pub through_seq: u64,
    pub cells: BTreeMap<Dimension, BTreeMap<String, Cell>>,
    pub ratings: Vec<RatingRecord>,
}

/// What the aggregates need of the catalogue: kept in the builder (and its
/// saved state), since a day's figures use the catalogue of that day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportCatalog {
    pub timezone: String,
    pub day_starts_at: String,
    pub region_code: String,
    /// code -> (zone, department, limit minutes, expected minutes)
    pub categories: BTreeMap<String, (String, String, u32, u32)>,
    /// window -> zone
    pub windows: BTreeMap<WindowNo, String>,
    /// `hall.retention_days`: the citizens' free-text reasons in the kept
    /// 好差评 records are dropped after it, like the rest of personal data.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
}

fn default_retention() -> u32 {
    180
}

impl ReportCatalog {
    pub fn of(c: &Catalog) -> ReportCatalog {
        let mut categories = BTreeMap::new();
        for cat in &c.categories {
            categories.insert(
                cat.code.clone(),
                (
                    cat.zone.clone(),
                    cat.department.clone(),
                    c.escalation_minutes(&cat.code),
                    cat.expected_minutes,
                ),
            );
        }
        for b in &c.bundles {
            // A whole-bundle queue: the zone and limit of its first stage.
            let first = b.stages.first().and_then(|s| categories.get(s)).cloned();
            let (zone, dept, limit, expected) =
                first.unwrap_or((String::new(), String::new(), 30, 10));
            categories.insert(b.code.clone(), (zone, dept, limit, expected));
        }
        ReportCatalog {
            timezone: c.hall.timezone.clone(),
            day_starts_at: c.hall.day_starts_at.clone(),
            region_code: c.hall.region_code.clone(),
            categories,
            windows: c
                .windows
                .iter()
                .map(|w| (w.number, w.zone.clone()))
                .collect(),
            retention_days: c.hall.retention_days,
        }
    }
}

/// Per-ticket facts the builder needs beyond the current leg.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketFacts {
    pub number: String,
    pub issued_at: Millis,
    /// The leg it is in now (an index into `legs`).
    pub leg: usize,
    pub case_no: String,
    pub service_code: String,
}

/// Folds one day's events into legs; `finish` makes the day's aggregate.
/// Serializable, so the server can save it and resume after a restart.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DayBuilder {
    pub date: Option<NaiveDate>,
    pub catalog: ReportCatalog,
    pub legs: Vec<Leg>,
    pub tickets: HashMap<TicketId, TicketFacts>,
    pub ratings: Vec<RatingRecord>,
    /// The day's first sequence number (its `DayRolled`).
    #[serde(default)]
    pub first_seq: u64,
    pub through_seq: u64,
    #[serde(skip)]
    clock: Option<Clock>,
}

impl DayBuilder {
    pub fn new(catalog: &Catalog) -> DayBuilder {
        DayBuilder {
            catalog: ReportCatalog::of(catalog),
            clock: Some(Clock::new(catalog)),
            ..DayBuilder::default()
        }
    }

    fn hour(&mut self, at: Millis) -> u8 {
        let clock = self.clock.get_or_insert_with(|| {
            Clock::from_parts(&self.catalog.timezone, &self.catalog.day_starts_at)
        });
        clock.local(at).hour() as u8
    }

    fn open_leg(&mut self, ticket: TicketId, category: String, at: Millis, arrival: bool) -> usize {
        let hour = self.hour(at);
        self.legs.push(Leg {
            ticket,
            category,
            hour,
            entered_at: at,
            arrival,
            first_call: None,
            window: None,
            clerk: None,
            started_at: None,
            ended_at: None,
            outcome: Outcome::Open,
            rating: None,
        });
        self.legs.len() - 1
    }

    fn leg_of(&mut self, ticket: TicketId) -> Option<&mut Leg> {
        let i = self.tickets.get(&ticket)?.leg;
        self.legs.get_mut(i)
    }

    fn end(&mut self, ticket: TicketId, outcome: Outcome, at: Millis) {
        if let Some(l) = self.leg_of(ticket) {
            l.outcome = outcome;
            l.ended_at = Some(at);
        }
    }

    fn move_to(&mut self, ticket: TicketId, category: String, at: Millis) {
        let i = self.open_leg(ticket, category, at, false);
        if let Some(t) = self.tickets.get_mut(&ticket) {
            t.leg = i;
        }
    }

    /// Folds one committed event (sequence number `seq`, committed at `at`).
    /// Returns the finished aggregate of the day when the event rolls it.
    pub fn apply(&mut self, seq: u64, at: Millis, e: &Event) -> Option<DayAggregate> {
        let mut done = None;
        match e {
            Event::DayRolled { to, .. } => {
                if self.date.is_some() {
                    done = Some(self.finish());
                }
                self.reset(*to);
                self.first_seq = seq;
            }
            Event::CatalogReplaced { catalog } => {
                self.catalog = ReportCatalog::of(catalog);
                self.clock = Some(Clock::new(catalog));
            }
            Event::TicketIssued { ticket, .. } => {
                if self.date.is_none() {
                    self.date = Some(ticket.service_date);
                }
                let leg = self.open_leg(ticket.id, ticket.queue.clone(), at, true);
                self.tickets.insert(
                    ticket.id,
                    TicketFacts {
                        number: ticket.number.clone(),
                        issued_at: at,
                        leg,
                        ..TicketFacts::default()
                    },
                );
            }
            Event::TicketCancelled { ticket, .. } => self.end(*ticket, Outcome::Cancelled, at),
            Event::TicketExpired { ticket, .. } => self.end(*ticket, Outcome::Expired, at),
            // A remote ticket's wait is the visitor's in the hall: from the
            // check-in, not from taking it at home.
            Event::RemoteArrived { ticket } => {
                let hour = self.hour(at);
                if let Some(l) = self.leg_of(*ticket) {
                    l.entered_at = at;
                    l.hour = hour;
                }
            }
            Event::TicketCalled {
                ticket,
                window,
                clerk,
                ..
            } => {
                if let Some(l) = self.leg_of(*ticket) {
                    l.first_call.get_or_insert(at);
                    l.window = Some(*window);
                    l.clerk = Some(clerk.clone());
                    // Called back after a no-show or a suspension: open again.
                    l.outcome = Outcome::Open;
                    l.ended_at = None;
                }
            }
            Event::ServiceStarted { ticket, .. } => {
                if let Some(l) = self.leg_of(*ticket) {
                    l.started_at = Some(at);
                }
            }
            Event::TicketFinished {
                ticket,
                resolved,
                after,
                ..
            } => {
                let outcome = match after {
                    // It goes on at another site: transferred, not served here.
                    AfterFinish::SentAway { .. } => Outcome::Transferred,
                    _ if *resolved => Outcome::Served,
                    _ => Outcome::Unresolved,
                };
                self.end(*ticket, outcome, at);
                match after {
                    AfterFinish::Closed | AfterFinish::SentAway { .. } => {}
                    AfterFinish::NextStage { queue, .. } | AfterFinish::Returned { queue, .. } => {
                        self.move_to(*ticket, queue.clone(), at)
                    }
                }
            }
            Event::TicketNoShow { ticket, .. } => self.end(*ticket, Outcome::NoShow, at),
            Event::TicketRequeued { ticket, .. } => {
                // A late visitor back in the queue: the leg goes on.
                if let Some(l) = self.leg_of(*ticket) {
                    l.outcome = Outcome::Open;
                    l.ended_at = None;
                }
            }
            Event::TicketTransferred { ticket, target, .. } => {
                let queue = match target {
                    TransferTarget::Queue(q) => Some(q.clone()),
                    // To a window: the same category, only that window calls it.
                    TransferTarget::Window(_) => self.leg_of(*ticket).map(|l| l.category.clone()),
                };
                self.end(*ticket, Outcome::Transferred, at);
                if let Some(q) = queue {
                    self.move_to(*ticket, q, at);
                }
            }
            Event::RatingSubmitted {
                ticket,
                window,
                rating,
                comment,
                channel,
            } => self.rated(*ticket, *window, *rating, comment, *channel, at),
            Event::CaseRecorded {
                ticket,
                case_no,
                service_code,
            } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.case_no = case_no.clone();
                    t.service_code = service_code.clone();
                }
            }
            _ => {}
        }
        self.through_seq = seq;
        done
    }

    fn rated(
        &mut self,
        ticket: TicketId,
        window: WindowNo,
        rating: u8,
        comment: &str,
        channel: RatingChannel,
        at: Millis,
    ) {
        let Some(facts) = self.tickets.get(&ticket).cloned() else {
            return;
        };
        // The rating is about the service at the window it names: the last
        // leg of this ticket handled there (a bundle or a transfer with
        // return may have been handled at several windows).
        let upto = facts.leg.min(self.legs.len().saturating_sub(1));
        let handled = |l: &Leg| {
            l.ticket == ticket && matches!(l.outcome, Outcome::Served | Outcome::Unresolved)
        };
        let Some(i) = self.legs[..=upto]
            .iter()
            .rposition(|l| handled(l) && l.window == Some(window))
            .or_else(|| self.legs[..=upto].iter().rposition(handled))
        else {
            return;
        };
        if self.legs[i].rating.is_some() {
            // Rated once (the engine refuses a second); never counted twice.
            return;
        }
        let leg = &mut self.legs[i];
        leg.rating = Some(rating);
        let (_, dept, _, _) = self
            .catalog
            .categories
            .get(&leg.category)
            .cloned()
            .unwrap_or_default();
        self.ratings.push(RatingRecord {
            service_date: self.date.unwrap_or_default(),
            ticket_number: facts.number.clone(),
            case_no: facts.case_no.clone(),
            service_code: if facts.service_code.is_empty() {
                leg.category.clone()
            } else {
                facts.service_code.clone()
            },
            category: leg.category.clone(),
            department: dept,
            region_code: self.catalog.region_code.clone(),
            channel: channel.name().into(),
            level: rating,
            reason: comment.to_string(),
            window,
            clerk: leg.clerk.clone().unwrap_or_default(),
            issued_at: facts.issued_at,
            finished_at: leg.ended_at.unwrap_or(at),
            rated_at: at,
        });
    }

    fn reset(&mut self, to: NaiveDate) {
        self.date = Some(to);
        self.legs.clear();
        self.tickets.clear();
        self.ratings.clear();
    }

    /// The aggregate of the day so far (open legs count as open); at the
    /// day's end, as `apply` returns it, open legs count as expired.
    pub fn snapshot(&self) -> DayAggregate {
        self.aggregate(false)
    }

    fn finish(&self) -> DayAggregate {
        self.aggregate(true)
    }

    fn aggregate(&self, closing: bool) -> DayAggregate {
        let mut cells: BTreeMap<Dimension, BTreeMap<String, Cell>> = BTreeMap::new();
        for leg in &self.legs {
            let mut leg = leg.clone();
            if closing && leg.outcome == Outcome::Open {
                leg.outcome = Outcome::Expired;
            }
            let (cat_zone, _, limit_min, expected_min) = self
                .catalog
                .categories
                .get(&leg.category)
                .cloned()
                .unwrap_or((String::new(), String::new(), 30, 10));
            let zone = leg
                .window
                .and_then(|w| self.catalog.windows.get(&w).cloned())
                .unwrap_or(cat_zone);
            let mut keys = vec![
                (Dimension::Category, leg.category.clone()),
                (Dimension::Zone, zone),
                (Dimension::Hour, format!("{:02}", leg.hour)),
            ];
            if let Some(w) = leg.window {
                keys.push((Dimension::Window, w.to_string()));
            }
            if let Some(c) = &leg.clerk {
                keys.push((Dimension::Clerk, c.clone()));
            }
            for (dim, key) in keys {
                cells
                    .entry(dim)
                    .or_default()
                    .entry(key)
                    .or_default()
                    .add_leg(&leg, limit_min * 60, expected_min * 60);
            }
        }
        for by_key in cells.values_mut() {
            for c in by_key.values_mut() {
                c.waits_s.sort_unstable();
            }
        }
        DayAggregate {
            date: self.date.unwrap_or_default(),
            first_seq: self.first_seq,
            through_seq: self.through_seq,
            cells,
            ratings: self.ratings.clone(),
        }
    }
}

/// One row of a report: a key's figures over the range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub key: String,
    pub arrived: u32,
    pub moved_in: u32,
    pub served: u32,
    pub unresolved: u32,
    pub no_show: u32,
    pub cancelled: u32,
    pub transferred: u32,
    pub expired: u32,
    pub called: u32,
    pub mean_wait_s: f64,
    pub median_wait_s: f64,
    pub p90_wait_s: f64,
    pub max_wait_s: u32,
    /// Handled legs within the category's limit, as a share (0–1).
    pub within_limit: f64,
    pub mean_handling_s: f64,
    /// Mean handling time over mean expected time (1.0 = as expected).
    pub handling_vs_expected: f64,
    pub wait_hist: Vec<u32>,
    pub handling_hist: Vec<u32>,
    /// By level: index 0 = level 1 … 4 = level 5.
    pub ratings: [u32; 5],
    pub rated: u32,
    /// Levels 5 and 4 over all ratings (0–1).
    pub satisfaction: f64,
    /// Ratings of 2 and 1.
    pub bad: u32,
}

impl ReportRow {
    pub fn of(key: String, c: &Cell) -> ReportRow {
        let mut w = c.waits_s.clone();
        w.sort_unstable();
        let n = w.len();
        let mut wait_hist = vec![0; BUCKETS];
        for x in &w {
            wait_hist[bucket(*x)] += 1;
        }
        let mut handling_hist = c.handling_hist.clone();
        handling_hist.resize(BUCKETS, 0);
        let rated: u32 = c.ratings.iter().sum();
        let ratio = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
        ReportRow {
            key,
            arrived: c.arrived,
            moved_in: c.moved_in,
            served: c.served,
            unresolved: c.unresolved,
            no_show: c.no_show,
            cancelled: c.cancelled,
            transferred: c.transferred,
            expired: c.expired,
            called: n as u32,
            mean_wait_s: ratio(w.iter().map(|x| f64::from(*x)).sum(), n as f64),
            median_wait_s: percentile(&w, 0.5),
            p90_wait_s: percentile(&w, 0.9),
            max_wait_s: w.last().copied().unwrap_or(0),
            within_limit: ratio(f64::from(c.within_limit), f64::from(c.handled)),
            mean_handling_s: ratio(c.handling_s as f64, f64::from(c.handled)),
            handling_vs_expected: ratio(c.handling_s as f64, c.expected_s as f64),
            wait_hist,
            handling_hist,
            ratings: c.ratings,
            rated,
            satisfaction: ratio(f64::from(c.ratings[3] + c.ratings[4]), f64::from(rated)),
            bad: c.ratings[0] + c.ratings[1],
        }
    }
}

/// The percentile of sorted values by linear interpolation between closest
/// ranks (the usual definition: the median of 1, 2, 3, 4 is 2.5).
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => f64::from(sorted[0]),
        n => {
            let rank = p * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let f = rank - lo as f64;
            f64::from(sorted[lo]) + f * (f64::from(sorted[hi]) - f64::from(sorted[lo]))
        }
    }
}

/// A report over a range of days by one dimension.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: Option<Dimension>,
    /// Days in the range with an aggregate (days the hall was closed have none).
    pub days: u32,
    pub rows: Vec<ReportRow>,
    /// Over every leg in the range (the category rows added up).
    pub total: ReportRow,
}

/// Merges the days' cells of `by` into one row per key, in key order, and
/// the total over all legs (which is the sum of the category rows: every
/// leg has exactly one category).
pub fn report<'a>(
    from: NaiveDate,
    to: NaiveDate,
    by: Dimension,
    days: impl IntoIterator<Item = &'a DayAggregate>,
) -> Report {
    let mut merged: BTreeMap<String, Cell> = BTreeMap::new();
    let mut total = Cell::default();
    let mut n = 0;
    for d in days {
        n += 1;
        if let Some(cells) = d.cells.get(&by) {
            for (k, c) in cells {
                merged.entry(k.clone()).or_default().merge(c);
            }
        }
        if let Some(cells) = d.cells.get(&Dimension::Category) {
            for c in cells.values() {
                total.merge(c);
            }
        }
    }
    let mut rows: Vec<ReportRow> = merged
        .into_iter()
        .map(|(k, c)| ReportRow::of(k, &c))
        .collect();
    if by == Dimension::Window {
        rows.sort_by_key(|r| r.key.parse::<u32>().unwrap_or(u32::MAX));
    }
    Report {
        from,
        to,
        by: Some(by),
        days: n,
        rows,
        total: ReportRow::of("total".into(), &total),
    }
}
