//! EventService: `Subscribe(from_seq)` (gap-free, see `crate::stream`) and
//! `Snapshot` for boards.

use super::*;

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl pb::event_service_server::EventService for Hub {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        req: Req<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = roles::caller(&req);
        let from = limits::checked(req)?.from_seq.max(1);
        let (tx, rx) = mpsc::channel(256);
        crate::stream::spawn_subscriber(self.store.clone(), self.shared.clone(), from, tx);
        let events = tokio_stream::wrappers::ReceiverStream::new(rx);
        // The role table is checked when a call starts; a stream lives for
        // days. Before each event the certificate is checked again, so a
        // revoked board or kiosk stops receiving at once.
        let (Some(revocations), roles::Caller::Device(subject)) =
            (self.revocations.clone(), caller)
        else {
            return Ok(Response::new(Box::pin(events)));
        };
        let mut ended = false;
        let guarded = tokio_stream::StreamExt::map_while(events, move |item| {
            if ended {
                return None;
            }
            if revocations.is_revoked(&subject.serial) {
                ended = true;
                tracing::warn!(device = %subject.id, "event stream of a revoked certificate ended");
                return Some(Err(Refusal::new(
                    Code::Unauthenticated,
                    Reason::CertificateRequired,
                    "this device's certificate was revoked",
                )
                .with("method", "hall.v1.EventService/Subscribe")
                .into_status()));
            }
            Some(item)
        });
        Ok(Response::new(Box::pin(guarded)))
    }

    async fn snapshot(
        &self,
        _: Req<pb::SnapshotRequest>,
    ) -> Result<Response<pb::BoardState>, Status> {
        // The replica's own sequence number: a board subscribes from the
        // next one and misses nothing in between.
        self.read(|h, seq, _| Ok(convert::board(h, seq))).await
    }

    async fn get_screen(
        &self,
        _: Req<pb::ScreenRequest>,
    ) -> Result<Response<pb::ScreenState>, Status> {
        self.screen().await
    }
}

/// Days after which an open follow-up counts as overdue on the screen (the
/// console's working-day deadlines are issue 17's).
const FOLLOW_UP_DAYS: i64 = 5;

/// The forecast per local hour of a working day: expected arrivals (the
/// simulator's built-in day: its hourly profile over its categories' daily
/// visitors) and the windows Erlang C says must be open for 80 % of them
/// to wait at most the scenario's target (the hall pooled as one M/M/c
/// queue with the visitors' mean service time).
static FORECAST: std::sync::LazyLock<Vec<(u32, f64, u32)>> = std::sync::LazyLock::new(|| {
    use chrono::Timelike;
    let s = hall_sim::Scenario::builtin();
    let first = hall_sim::hhmm(&s.arrivals_from).map_or(9, |t| t.hour());
    let minutes = s.open_minutes_per_hour();
    let visitors: f64 = s.categories.iter().map(|c| c.visitors).sum();
    let service = s
        .categories
        .iter()
        .map(|c| c.visitors * c.service_minutes)
        .sum::<f64>()
        / visitors.max(1.0);
    (0..s.hourly_profile.len())
        .map(|h| {
            let per_min: f64 = s.categories.iter().map(|c| s.rate_per_minute(c, h)).sum();
            let needed =
                hall_sim::erlang::servers_needed(per_min, service, s.target_wait_minutes, 0.8);
            (first + h as u32, per_min * minutes[h], needed)
        })
        .collect()
});

impl Hub {
    pub(super) async fn screen(&self) -> Result<Response<pb::ScreenState>, Status> {
        self.read(|h, seq, now| Ok(screen(h, seq, now))).await
    }

    /// The site's live figures as the city screen shows them (shipped with
    /// the heartbeat): today's counts, windows, overdue tickets and device
    /// alerts, from the data screen's state. No personal data.
    pub(crate) async fn live_figures(&self) -> Option<serde_json::Value> {
        let s = self
            .read(|h, seq, now| Ok(screen(h, seq, now)))
            .await
            .ok()?
            .into_inner();
        let t = s.today.unwrap_or_default();
        let open = s.windows.iter().filter(|w| w.state != "offline").count();
        let serving = s
            .windows
            .iter()
            .filter(|w| w.state == "serving" || w.state == "calling")
            .count();
        Some(serde_json::json!({
            "seq": s.seq,
            "service_date": s.service_date,
            "at_ms": s.now_ms,
            "issued": t.issued,
            "served": t.served,
            "waiting": t.waiting,
            "mean_wait_s": t.mean_wait_s,
            "longest_wait_s": t.longest_wait_s,
            "ratings": t.ratings,
            "satisfaction_pct": t.satisfaction_pct,
            "bad_ratings": t.bad_ratings,
            "follow_ups_open": t.follow_ups_open,
            "follow_ups_overdue": t.follow_ups_overdue,
            "windows": s.windows.len(),
            "windows_open": open,
            "windows_busy": serving,
            "overdue": s.overdue.len(),
            "alerts": s.alerts.iter().map(|a| serde_json::json!({
                "device": a.device_id, "kind": a.kind, "status": a.status,
            })).collect::<Vec<_>>(),
        }))
    }
}

/// The data screen's state, from the hall as it stands.
pub(super) fn screen(h: &Hall, seq: u64, now: Millis) -> pb::ScreenState {
    use crate::engine::TicketState as S;
    let clock = h.clock();
    let waited_s = |t: &crate::engine::Ticket| ((now - t.issued_at).max(0) / 1000) as u32;
    let limit_min = |code: &str| {
        h.catalog
            .category(code)
            .and_then(|c| c.max_wait_minutes)
            .unwrap_or(h.catalog.policy.secondary_escalation_minutes)
    };
    let expected_min = |code: &str| h.catalog.category(code).map_or(0, |c| c.expected_minutes);
    // Figures of the day.
    let (mut issued, mut served, mut no_shows, mut called, mut wait_s) = (0, 0, 0, 0u64, 0u64);
    for f in h.figures.values() {
        issued += f.issued;
        served += f.served + f.unresolved;
        no_shows += f.no_shows;
        called += u64::from(f.called);
        wait_s += f.wait_s;
    }
    let waiting: Vec<&crate::engine::Ticket> =
        h.tickets().filter(|t| t.state == S::Waiting).collect();
    let (mut ratings, mut good, mut bad) = (0, 0, 0);
    for t in h.tickets() {
        if let Some(r) = t.rating {
            ratings += 1;
            good += u32::from(r >= 4);
            bad += u32::from(r <= 2);
        }
    }
    let open: Vec<_> = h
        .follow_ups
        .values()
        .filter(|f| f.closed.is_none())
        .collect();
    let today = pb::ScreenFigures {
        issued,
        served,
        waiting: waiting.len() as u32,
        mean_wait_s: (wait_s / called.max(1)) as u32,
        longest_wait_s: waiting.iter().map(|t| waited_s(t)).max().unwrap_or(0),
        ratings,
        satisfaction_pct: if ratings == 0 {
            0.0
        } else {
            100.0 * f64::from(good) / f64::from(ratings)
        },
        bad_ratings: bad,
        follow_ups_open: open.len() as u32,
        follow_ups_overdue: open
            .iter()
            .filter(|f| now - f.opened_at > FOLLOW_UP_DAYS * 86_400_000)
            .count() as u32,
        no_shows,
    };
    // Waiting per zone and category.
    let zones = h
        .catalog
        .zones
        .iter()
        .map(|z| {
            let categories: Vec<pb::ScreenCategory> = h
                .catalog
                .categories
                .iter()
                .filter(|c| c.zone == z.code)
                .map(|c| {
                    let mine: Vec<_> = waiting.iter().filter(|t| t.queue == c.code).collect();
                    pb::ScreenCategory {
                        code: c.code.clone(),
                        name_zh: c.name_zh.clone(),
                        name_en: c.name_en.clone(),
                        waiting: mine.len() as u32,
                        longest_wait_s: mine.iter().map(|t| waited_s(t)).max().unwrap_or(0),
                        limit_min: limit_min(&c.code),
                    }
                })
                .collect();
            pb::ScreenZone {
                code: z.code.clone(),
                name_zh: z.name_zh.clone(),
                name_en: z.name_en.clone(),
                waiting: categories.iter().map(|c| c.waiting).sum(),
                categories,
            }
        })
        .collect();
    // Every window as a tile.
    let windows = h
        .catalog
        .windows
        .iter()
        .map(|w| {
            let rt = h.windows.get(&w.number);
            let current = rt.and_then(|r| r.current).and_then(|id| h.ticket(id));
            let state = match (rt.map(|r| r.status), current.map(|t| t.state)) {
                (None | Some(crate::engine::WindowStatus::Closed), _) => "offline",
                (Some(crate::engine::WindowStatus::Paused), _) => "paused",
                (_, Some(S::Called)) => "calling",
                (_, Some(S::Serving)) => "serving",
                _ => "idle",
            };
            let clerk_name = rt
                .and_then(|r| r.clerk.as_deref())
                .and_then(|c| h.catalog.clerk(c))
                .map(|c| c.name.clone())
                .unwrap_or_default();
            pb::ScreenWindow {
                number: w.number,
                name: w.name.clone(),
                zone: w.zone.clone(),
                state: state.into(),
                clerk_name,
                ticket: current.map(|t| t.number.clone()).unwrap_or_default(),
                since_ms: current.and_then(|t| t.called_at).unwrap_or(0),
                expected_min: current.map_or(0, |t| expected_min(&t.queue)),
                category: current.map(|t| t.queue.clone()).unwrap_or_default(),
            }
        })
        .collect();
    // Arrivals and served per hour, against the forecast.
    let hour_of = |ms: Millis| {
        use chrono::Timelike;
        clock.local(ms).hour()
    };
    let mut by_hour: std::collections::BTreeMap<u32, (u32, u32, f64, u32)> = FORECAST
        .iter()
        .map(|(hour, f, n)| (*hour, (0, 0, *f, *n)))
        .collect();
    for t in h.tickets() {
        by_hour.entry(hour_of(t.issued_at)).or_default().0 += 1;
        if matches!(t.state, S::Done | S::Unresolved)
            && let Some(done) = t.finished_at
        {
            by_hour.entry(hour_of(done)).or_default().1 += 1;
        }
    }
    let hours = by_hour
        .into_iter()
        .map(
            |(hour, (arrived, served, forecast, windows_needed))| pb::ScreenHour {
                hour,
                arrived,
                served,
                forecast,
                windows_needed,
            },
        )
        .collect();
    // Tickets waiting beyond their category's limit, longest first.
    let mut overdue: Vec<pb::ScreenOverdue> = waiting
        .iter()
        .filter_map(|t| {
            let limit = limit_min(&t.queue);
            let waited = waited_s(t) / 60;
            (waited >= limit).then(|| pb::ScreenOverdue {
                number: t.number.clone(),
                category: t.queue.clone(),
                waited_min: waited,
                limit_min: limit,
            })
        })
        .collect();
    overdue.sort_by(|a, b| b.waited_min.cmp(&a.waited_min));
    overdue.truncate(50);
    // 一件事 bundles in progress.
    let bundles = h
        .tickets()
        .filter(|t| !matches!(t.state, S::Done | S::Cancelled | S::Expired | S::NoShow))
        .filter_map(|t| {
            let b = t.bundle.as_ref()?;
            Some(pb::ScreenBundle {
                number: t.number.clone(),
                bundle: h
                    .catalog
                    .bundle(&b.code)
                    .map(|x| x.name_zh.clone())
                    .unwrap_or_else(|| b.code.clone()),
                stage: b.stage,
                stages: b.stages.len() as u32,
                state: format!("{:?}", t.state).to_lowercase(),
            })
        })
        .collect();
    pb::ScreenState {
        seq,
        service_date: h.service_date.to_string(),
        now_ms: now,
        hall_name_zh: h.catalog.hall.name_zh.clone(),
        hall_name_en: h.catalog.hall.name_en.clone(),
        today: Some(today),
        zones,
        windows,
        hours,
        overdue,
        alerts: super::admin::device_alerts(h),
        bundles,
    }
}
