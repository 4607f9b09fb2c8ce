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
//! [`run`] (module `run`) is the discrete-event day, one event loop over
//! one state; this file holds the visitors and the figures of a run.

pub mod chart;
pub mod drive;
pub mod erlang;
pub mod report;
mod run;
pub mod scenario;

pub use run::{run, run_recording, run_with_log};

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
