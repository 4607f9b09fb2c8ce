//! The simulator's visitors and clerks against a live server over gRPC, in
//! accelerated real time: a simulated day starts at the scenario's first
//! arrival hour and runs at `speed` simulated minutes per real minute
//! (starting again at the morning when the day's arrivals end). Visitors
//! take tickets at the scenario's hourly rates (the morning peak, the lunch
//! dip), and one task per window logs in and calls, starts and finishes
//! tickets with the scenario's service times, no-shows and its shifts'
//! lunch breaks. The whole-hall demo uses it to keep the hall moving.

use super::scenario::Scenario;
use hall_proto::v1 as pb;
use hall_proto::v1::counter_service_client::CounterServiceClient;
use hall_proto::v1::kiosk_service_client::KioskServiceClient;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tonic::transport::Channel;

#[derive(Debug, Clone)]
pub struct DriveOptions {
    pub server: String,
    /// Simulated minutes per real minute.
    pub speed: f64,
    pub duration: Option<Duration>,
    /// Windows the simulated clerks staff (a window already taken is left alone).
    pub windows: Vec<u32>,
    pub seed: u64,
    pub scenario: Scenario,
    /// The certificates the simulated visitors (a kiosk) and clerks (a
    /// counter terminal) connect with to an `https://` server; `None` =
    /// the process's default (`HALL_TLS_DIR`).
    pub kiosk_tls: Option<hall_proto::client::Tls>,
    pub counter_tls: Option<hall_proto::client::Tls>,
    /// The rating pads' certificates (`pad-N`) by window: the simulated
    /// citizens rate there. A window without one rates on the clerks'
    /// channel, which only a demo hall (no TLS) accepts.
    pub pad_tls: std::collections::BTreeMap<u32, hall_proto::client::Tls>,
}

#[derive(Debug, Default)]
pub struct DriveStats {
    pub issued: AtomicU64,
    pub served: AtomicU64,
    pub no_shows: AtomicU64,
    /// Set at the end of the drive's duration: clerks and visitors stop at
    /// their next step, so every request the server committed is counted
    /// (the figures then equal the server's own reports).
    pub stopping: std::sync::atomic::AtomicBool,
    pub errors: AtomicU64,
}

const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰",
];

/// A fictitious but well-formed identity (valid GB 11643 check digit).
pub fn fake_identity(rng: &mut StdRng, elderly: bool) -> pb::Identity {
    let year = if elderly {
        rng.random_range(1935..1955)
    } else {
        rng.random_range(1960..2005)
    };
    let (month, day) = (rng.random_range(1..=12u32), rng.random_range(1..=28u32));
    let seq: u32 = rng.random_range(0..1000);
    let first17 = format!("110101{year:04}{month:02}{day:02}{seq:03}");
    let check = hall_privacy::check_char(first17.as_bytes()).unwrap_or('0');
    let name = format!(
        "{}{}{}",
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        GIVEN[rng.random_range(0..GIVEN.len())],
        GIVEN[rng.random_range(0..GIVEN.len())]
    );
    pb::Identity {
        id_number: format!("{first17}{check}"),
        name,
        birth_date: format!("{year:04}-{month:02}-{day:02}"),
    }
}

/// Runs visitors and clerks until the duration passes (or forever).
pub async fn drive(opts: DriveOptions) -> anyhow::Result<Arc<DriveStats>> {
    let connect = |tls: &Option<hall_proto::client::Tls>| {
        let tls = tls
            .clone()
            .or_else(|| hall_proto::client::default_tls().cloned());
        let url = opts.server.clone();
        async move {
            hall_proto::client::connect_tls(&url, tls.as_ref(), 50, Duration::from_secs(2)).await
        }
    };
    let channel = connect(&opts.counter_tls).await?;
    let kiosk_channel = connect(&opts.kiosk_tls).await?;
    let stats = Arc::new(DriveStats::default());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, &w) in opts.windows.iter().enumerate() {
        tasks.spawn(clerk(
            channel.clone(),
            w,
            opts.clone(),
            opts.seed.wrapping_add(i as u64 + 1),
            stats.clone(),
        ));
    }
    tasks.spawn(visitors(kiosk_channel, opts.clone(), stats.clone()));
    match opts.duration {
        Some(d) => {
            let _ =
                tokio::time::timeout(d, async { while tasks.join_next().await.is_some() {} }).await;
            stats.stopping.store(true, Ordering::Relaxed);
            // Each finishes its step (a service takes a few seconds at most
            // at demo speeds); one that does not is cut.
            let _ = tokio::time::timeout(Duration::from_secs(30), async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
        }
        None => while tasks.join_next().await.is_some() {},
    }
    tasks.abort_all();
    Ok(stats)
}

fn sleep_sim(minutes: f64, speed: f64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_secs_f64(
        (minutes * 60.0 / speed.max(0.01)).max(0.0),
    ))
}

/// The simulated day's clock: minutes since the scenario's first arrival
/// hour, wrapping to the next morning after the last arrival.
#[derive(Debug, Clone, Copy)]
struct SimDay {
    started: tokio::time::Instant,
    speed: f64,
    /// Minutes of arrivals in a day (`arrivals_from` to `arrivals_until`).
    span: f64,
}

impl SimDay {
    fn new(scn: &Scenario, speed: f64) -> Self {
        let span = scn.open_minutes_per_hour().iter().sum::<f64>().max(1.0);
        SimDay {
            started: tokio::time::Instant::now(),
            speed: speed.max(0.01),
            span,
        }
    }

    /// Minutes into today's arrivals.
    fn minute(&self) -> f64 {
        (self.started.elapsed().as_secs_f64() / 60.0 * self.speed) % self.span
    }
}

/// Visitors per simulated minute in each hour of the profile, all
/// categories together.
fn hourly_rates(scn: &Scenario) -> Vec<f64> {
    (0..scn.hourly_profile.len())
        .map(|h| {
            scn.categories
                .iter()
                .map(|c| scn.rate_per_minute(c, h))
                .sum()
        })
        .collect()
}

/// Local "HH:MM" of a minute into the day's arrivals.
fn clock_minutes(scn: &Scenario, hhmm: &str) -> Option<f64> {
    let from = super::hhmm(&scn.arrivals_from)?;
    let at = super::hhmm(hhmm)?;
    Some((at - from).num_minutes() as f64)
}

async fn visitors(channel: Channel, opts: DriveOptions, stats: Arc<DriveStats>) {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut kiosk = KioskServiceClient::new(channel);
    let scn = &opts.scenario;
    let total: f64 = scn.categories.iter().map(|c| c.visitors).sum();
    let rates = hourly_rates(scn);
    let peak = rates.iter().copied().fold(0.0, f64::max);
    if peak <= 0.0 || total <= 0.0 {
        return;
    }
    let day = SimDay::new(scn, opts.speed);
    while !stats.stopping.load(Ordering::Relaxed) {
        // A Poisson process whose rate follows the hourly profile, by
        // thinning: candidates at the peak rate, each kept with the share
        // of the peak that its hour has.
        sleep_sim(-rng.random::<f64>().max(1e-12).ln() / peak, opts.speed).await;
        let hour = (day.minute() / 60.0) as usize;
        if rng.random::<f64>() * peak > rates.get(hour).copied().unwrap_or(0.0) {
            continue;
        }
        // Pick a category in proportion to its visitors.
        let mut x = rng.random::<f64>() * total;
        let load = scn.categories.iter().find(|c| {
            x -= c.visitors;
            x <= 0.0
        });
        let Some(load) = load else { continue };
        let elderly = rng.random::<f64>() < scn.priority.elderly;
        let req = pb::IssueTicketRequest {
            request_id: hall_proto::client::new_request_id(),
            category: load.code.clone(),
            priority: if elderly {
                pb::PriorityClass::Elderly
            } else {
                pb::PriorityClass::Normal
            } as i32,
            channel: pb::Channel::Kiosk as i32,
            identity: Some(fake_identity(&mut rng, elderly)),
            kiosk_id: "sim-visitors".into(),
            origin: None,
        };
        match kiosk.issue_ticket(req).await {
            Ok(_) => stats.issued.fetch_add(1, Ordering::Relaxed),
            Err(_) => stats.errors.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// The lunch break (start, end in minutes into the day) a window's shift
/// has at `minute`, if any.
fn break_at(scn: &Scenario, window: u32, minute: f64) -> Option<(f64, f64)> {
    scn.shifts
        .iter()
        .filter(|s| s.windows.contains(&window))
        .flat_map(|s| &s.breaks)
        .filter_map(|[from, to]| Some((clock_minutes(scn, from)?, clock_minutes(scn, to)?)))
        .find(|(from, to)| (*from..*to).contains(&minute))
}

async fn clerk(
    channel: Channel,
    window: u32,
    opts: DriveOptions,
    seed: u64,
    stats: Arc<DriveStats>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counter = CounterServiceClient::new(channel.clone());
    let pad_channel = match opts.pad_tls.get(&window) {
        Some(tls) => {
            hall_proto::client::connect_tls(&opts.server, Some(tls), 20, Duration::from_secs(2))
                .await
                .unwrap_or_else(|_| channel.clone())
        }
        None => channel.clone(),
    };
    let login = pb::LoginRequest {
        window,
        clerk_id: format!("c{window:02}"),
        pin: "1234".into(),
    };
    let session = match counter.login(login).await {
        Ok(r) => r.into_inner().session,
        Err(_) => None, // taken by a person, or not in this hall
    };
    let Some(session) = session else { return };
    let scn = &opts.scenario;
    let req = || pb::WindowRequest {
        session: Some(session.clone()),
    };
    let day = SimDay::new(scn, opts.speed);
    while !stats.stopping.load(Ordering::Relaxed) {
        if let Some((_, until)) = break_at(scn, window, day.minute()) {
            // The shift's lunch break: the window pauses, the queue grows.
            let _ = counter
                .pause(pb::PauseRequest {
                    session: Some(session.clone()),
                    reason: "午休".into(),
                })
                .await;
            sleep_sim(until - day.minute(), opts.speed).await;
            let _ = counter.resume(req()).await;
        }
        let ticket = match counter.call_next(req()).await {
            Ok(t) => t.into_inner(),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if rng.random::<f64>() < scn.no_show_share {
            sleep_sim(scn.recall_seconds / 60.0, opts.speed).await;
            let _ = counter.recall(req()).await;
            sleep_sim(scn.recall_seconds / 60.0, opts.speed).await;
            if counter.no_show(req()).await.is_ok() {
                stats.no_shows.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        sleep_sim(scn.walk_seconds / 60.0, opts.speed).await;
        if counter.start_service(req()).await.is_err() {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let mean = scn
            .categories
            .iter()
            .find(|c| c.code == ticket.category)
            .map_or(8.0, |c| c.service_minutes);
        let sigma = scn.service_sigma;
        let factor = if sigma > 0.0 {
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (sigma * z - sigma * sigma / 2.0).exp()
        } else {
            1.0
        };
        sleep_sim(mean * factor, opts.speed).await;
        let finish = pb::FinishRequest {
            session: Some(session.clone()),
            outcome: pb::FinishOutcome::Resolved as i32,
            unresolved_reason: String::new(),
            ..Default::default()
        };
        match counter.finish(finish).await {
            Ok(_) => {
                stats.served.fetch_add(1, Ordering::Relaxed);
                // Most visitors rate; a few are unhappy.
                let rating = [5, 5, 5, 4, 4, 3, 2][rng.random_range(0..7)];
                // The citizen rates on the window's pad (评价器), with its
                // own certificate (`pad-N`) when the drive has one (a demo
                // hall without TLS takes it on the clerks' channel).
                let comment = if rating <= 2 {
                    "等候时间较长"
                } else {
                    ""
                };
                let _ = pb::pad_service_client::PadServiceClient::new(pad_channel.clone())
                    .rate(pb::PadRatingRequest {
                        window,
                        number: ticket.number.clone(),
                        rating,
                        comment: comment.into(),
                    })
                    .await;
            }
            Err(_) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
