//! Shipping to PostgreSQL (三级协同, `[ship] url`): a task copies the
//! committed log, the day figures and the 好差评 records of this site into
//! the city database through `hall_pg::ship`, and sends the site's live
//! figures with a heartbeat.
//!
//! It never slows the site: it reads the store like a subscriber (only
//! what is committed, `seq <= committed`), on its own task, and the writer
//! never waits for it. With the database away (for days) the site serves
//! visitors as always and the backlog (committed − shipped) grows; on
//! reconnecting the task resumes from the database's own `shipped_seq`, so
//! nothing is skipped, and the (site, seq) key makes a repeated batch a
//! no-op, so nothing is doubled. The backlog is in `GetServerStatus` and
//! `/metrics`.
//!
//! What leaves the site carries no personal data: events go through the
//! engine's `strip_persons`, a configuration change is shipped without its
//! body, and the 好差评 reasons of days past `hall.retention_days` are blanked
//! in the database as they are at the site.

use crate::grpc::Hub;
use crate::writer::LoggedEvent;
use hall_engine::site::ShipConfig;
use hall_pg::ship::{ShipEvent, Shipper};
use hall_pg::{PgError, SiteInfo};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How often the live figures are sent when nothing else is.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the status RPC and `/metrics` show of shipping.
#[derive(Debug, Default)]
pub struct ShipState {
    /// Shipping is configured (`[ship]`).
    pub configured: AtomicBool,
    /// The database URL without its password.
    pub url: Mutex<String>,
    pub connected: AtomicBool,
    /// The last sequence number known to be in the database.
    pub shipped_seq: AtomicU64,
    /// The last error (empty after a success).
    pub last_error: Mutex<String>,
    /// When the database last answered (unix ms; 0 never).
    pub last_ok_ms: AtomicI64,
    /// Events shipped since the start (this process).
    pub shipped_events: AtomicU64,
}

impl ShipState {
    fn failed(&self, e: &dyn std::fmt::Display) {
        self.connected.store(false, Ordering::Release);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e.to_string();
    }

    fn ok(&self) {
        self.connected.store(true, Ordering::Release);
        self.last_ok_ms.store(crate::now_ms(), Ordering::Release);
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Starts the shipping task; it ships when the configuration (as the hall
/// holds it at start) has `[ship]`, and ends when the server stops.
pub fn spawn(hub: Hub) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some((catalog, _)) = hub
            .read_model
            .read(0, crate::now_ms(), |h, _, _| h.catalog.clone())
            .await
        else {
            return;
        };
        let Some(ship) = catalog.ship.clone() else {
            return;
        };
        let site = SiteInfo {
            id: catalog.site.id.clone(),
            name: catalog.hall.name_zh.clone(),
            region: catalog.hall.region_code.clone(),
            level: catalog.site.level.name().to_string(),
            parent: catalog.site.parent.clone(),
        };
        let retention_days = catalog.hall.retention_days;
        let state = hub.ship.clone();
        state.configured.store(true, Ordering::Release);
        *state.url.lock().unwrap_or_else(|p| p.into_inner()) = hall_pg::redact_url(&ship.url);
        let stopping = hub.shared.stopping.clone();
        let mut backoff = Duration::from_millis(500);
        loop {
            let began = Instant::now();
            let r = tokio::select! {
                _ = stopping.cancelled() => return,
                r = session(&hub, &ship, &site, retention_days) => r,
            };
            match r {
                Ok(()) => return,
                Err(e) => {
                    // A session that ran a while starts the backoff over.
                    if began.elapsed() > Duration::from_secs(10) {
                        backoff = Duration::from_millis(500);
                    }
                    tracing::warn!(error = %e, url = %hall_pg::redact_url(&ship.url), "shipping to PostgreSQL paused; retrying");
                    state.failed(&e);
                }
            }
            tokio::select! {
                _ = stopping.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

/// One connection's life: connect, migrate, then ship until an error (or
/// the server stops: `Ok`).
async fn session(
    hub: &Hub,
    ship: &ShipConfig,
    site: &SiteInfo,
    retention_days: u32,
) -> Result<(), PgError> {
    let state = hub.ship.clone();
    let mut client = hall_pg::connect(&ship.url, ship.password_file.as_deref()).await?;
    hall_pg::migrate::migrate(&mut client).await?;
    let owner = crate::grpc::site_tag(&hub.secret);
    let mut shipper = Shipper::new(client, site, &owner).await?;
    let mut shipped = shipper.shipped_seq().await?;
    same_log(hub, &shipper, shipped).await?;
    let mut days = shipper.shipped_days().await?;
    state.shipped_seq.store(shipped, Ordering::Release);
    state.ok();
    tracing::info!(site = %site.id, shipped, "shipping to PostgreSQL");
    let mut live = hub.shared.events.subscribe();
    let mut beat_at = Instant::now() - HEARTBEAT;
    let mut today_at = Instant::now() - Duration::from_secs(3600);
    let every = Duration::from_secs(u64::from(ship.aggregate_every_s));
    loop {
        if hub.shared.stopping.is_cancelled() {
            return Ok(());
        }
        let committed = hub.shared.committed.load(Ordering::Acquire);
        if shipped < committed {
            let events = read_events(hub, shipped + 1, committed, ship.batch as usize).await?;
            if let Some(last) = events.last() {
                let last = last.seq;
                shipper.ship_events(&events).await?;
                shipped = last;
                state.shipped_seq.store(shipped, Ordering::Release);
                state
                    .shipped_events
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
                state.ok();
                // Keep going while there is a backlog (the live figures
                // still go every few seconds); days follow once caught up.
                if shipped < committed {
                    if beat_at.elapsed() >= HEARTBEAT {
                        let figures = hub.live_figures().await.unwrap_or_default();
                        shipper.heartbeat(&figures).await?;
                        beat_at = Instant::now();
                    }
                    continue;
                }
            }
        }
        ship_days(hub, &mut shipper, &mut days, shipped, retention_days).await?;
        if today_at.elapsed() >= every {
            if let Some(today) = hub.reports.today()
                && today.through_seq <= shipped
                && days
                    .get(&today.date)
                    .is_none_or(|(f, t)| !*f && *t < today.through_seq)
            {
                shipper.ship_day(&today, false).await?;
                days.insert(today.date, (false, today.through_seq));
            }
            today_at = Instant::now();
        }
        if beat_at.elapsed() >= HEARTBEAT {
            let figures = hub.live_figures().await.unwrap_or_default();
            shipper.heartbeat(&figures).await?;
            state.ok();
            beat_at = Instant::now();
        }
        tokio::select! {
            _ = hub.shared.stopping.cancelled() => return Ok(()),
            _ = live.recv() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Refuses to ship onto a database that holds another log under this
/// site's id: events beyond this site's committed log (a data directory
/// restored from an older backup, a batch lost with `--no-fsync`), or a
/// different commit time for the last shipped sequence number. Shipping
/// would otherwise skip the site's new events, or add a second event under
/// a sequence number. The error stays in the status until someone looks.
async fn same_log(hub: &Hub, shipper: &Shipper, shipped: u64) -> Result<(), PgError> {
    let committed = hub.shared.committed.load(Ordering::Acquire);
    let differs = |why: String| {
        PgError::Invalid(format!(
            "the city database holds another log under this site's id ({why}): shipping stopped; \
             see README (City) for how to hand the site id over"
        ))
    };
    if shipped > committed {
        return Err(differs(format!(
            "shipped up to {shipped}, this site's log ends at {committed}"
        )));
    }
    if shipped == 0 {
        return Ok(());
    }
    let store = hub.store.clone();
    let local = tokio::task::spawn_blocking(move || {
        store
            .read_from(shipped, 1)
            .ok()
            .and_then(|r| r.into_iter().next())
            .filter(|r| r.seq == shipped)
            .and_then(|r| serde_json::from_slice::<LoggedEvent>(&r.json).ok())
            .map(|e| e.at)
    })
    .await
    .map_err(|e| PgError::Invalid(e.to_string()))?;
    match (local, shipper.at_of(shipped).await?) {
        (Some(here), Some(there)) if here != there => Err(differs(format!(
            "event {shipped} was committed at {there} there, at {here} here"
        ))),
        _ => Ok(()),
    }
}

/// The finished days not yet in the database (or changed since), each
/// once all of its events are shipped; and, with a new final day, the
/// 好差评 reasons of days past the retention period blanked there too.
async fn ship_days(
    hub: &Hub,
    shipper: &mut Shipper,
    days: &mut BTreeMap<chrono::NaiveDate, (bool, u64)>,
    shipped: u64,
    retention_days: u32,
) -> Result<(), PgError> {
    let mut newest_final = None;
    for (date, through) in hub.reports.finished_days() {
        if through > shipped || days.get(&date) == Some(&(true, through)) {
            continue;
        }
        // The day's 好差评 records come from its file: off the workers.
        let reports = hub.reports.clone();
        let Ok(Some(day)) = tokio::task::spawn_blocking(move || reports.day(date)).await else {
            continue;
        };
        shipper.ship_day(&day, true).await?;
        days.insert(date, (true, through));
        newest_final = Some(date);
    }
    if let Some(closed) = newest_final {
        let before = closed - chrono::Duration::days(i64::from(retention_days));
        shipper.scrub_reasons(before).await?;
    }
    Ok(())
}

/// Up to `limit` committed events from `from`, in their shipped form.
async fn read_events(
    hub: &Hub,
    from: u64,
    committed: u64,
    limit: usize,
) -> Result<Vec<ShipEvent>, PgError> {
    let store = hub.store.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<Vec<ShipEvent>, String> {
        let mut records = store.read_from(from, limit).map_err(|e| e.to_string())?;
        records.retain(|r| r.seq <= committed);
        let mut out = Vec::with_capacity(records.len());
        let mut want = from;
        for r in records {
            // A gap would move shipped_seq past events never sent.
            if r.seq != want {
                return Err(format!("the log skips from {want} to {}", r.seq));
            }
            let e: LoggedEvent =
                serde_json::from_slice(&r.json).map_err(|e| format!("event {}: {e}", r.seq))?;
            out.push(ShipEvent::of(r.seq, e.at, &e.event));
            want += 1;
        }
        Ok(out)
    })
    .await
    .map_err(|e| PgError::Invalid(e.to_string()))?;
    r.map_err(|e| PgError::Invalid(format!("reading the log to ship: {e}")))
}
