//! `hall-bench city --sites N [--pg URL]`: the city database at the scale of
//! a province's sites.
//!
//! One simulated day for N sites (the built-in scenario's day, about 1,450
//! visitors; a few variants by seed, each site taking one) is shipped into
//! PostgreSQL exactly as a site ships it (`hall_pg::ship`: events in
//! batches by (site, seq), then the day's figures), from `--connections`
//! shippers at once: `ingest_events_per_s`. The database's growth over that
//! day per site is `pg_mib_per_site_day`. Then 29 more days of figures per
//! site (the day's aggregate on other dates: the city's reports read only
//! the day figures), and the city's report of one day and of the month,
//! each the median of three runs: `city_day_report_ms`,
//! `city_month_report_ms` (by category; the by-site report of the day too).
//!
//! Without `--pg` a throwaway cluster is started (`hall_pg::cluster`,
//! default settings, fsync on). With
//! `--pg`, the database must hold no sites but earlier benchmark ones
//! (`bench-…`), which are removed first.

use anyhow::{Context, bail};
use hall_engine::report::{DayAggregate, DayBuilder, Dimension};
use hall_pg::SiteInfo;
use hall_pg::city::{self, By};
use hall_pg::ship::{ShipEvent, Shipper};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct CityArgs {
    /// Sites shipping one day each.
    #[arg(long, default_value_t = 1500)]
    sites: usize,
    /// The city database; without it a throwaway cluster is started.
    #[arg(long)]
    pg: Option<String>,
    /// Shippers at once (each its own connection).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Distinct simulated days (by seed) the sites take in turn.
    #[arg(long, default_value_t = 6)]
    variants: u64,
    /// Days of figures per site for the month report.
    #[arg(long, default_value_t = 30)]
    month_days: i64,
}

/// One simulated day: its events as shipped and its aggregate.
struct Day {
    events: Vec<ShipEvent>,
    aggregate: DayAggregate,
    tickets: usize,
}

fn simulate(variants: u64) -> Vec<Day> {
    let catalog = hall_server::config::around_the_clock(hall_server::config::builtin());
    let scn = hall_sim::Scenario::builtin();
    (0..variants)
        .map(|v| {
            let hall = hall_engine::Hall::new(catalog.clone());
            let visitors = hall_sim::draw_visitors(&scn, &hall, 1 + v);
            let (_, log) =
                hall_sim::run_with_log(&scn, &catalog, hall_sim::PolicyKind::Engine, &visitors);
            let mut builder = DayBuilder::new(&catalog);
            let mut events = Vec::with_capacity(log.len());
            let mut last_at = 0;
            for (i, (e, at)) in log.iter().enumerate() {
                let seq = i as u64 + 1;
                builder.apply(seq, *at, e);
                events.push(ShipEvent::of(seq, *at, e));
                last_at = *at;
            }
            // The day closes with the next day's rollover, as at a site.
            let aggregate = builder
                .apply(
                    events.len() as u64 + 1,
                    last_at,
                    &hall_engine::Event::DayRolled {
                        to: scn.date + chrono::Duration::days(1),
                        expired: vec![],
                    },
                )
                .unwrap_or_else(|| builder.snapshot());
            Day {
                events,
                aggregate,
                tickets: visitors.len(),
            }
        })
        .collect()
}

async fn db_size(client: &hall_pg::tokio_postgres::Client) -> anyhow::Result<i64> {
    Ok(client
        .query_one("select pg_database_size(current_database())", &[])
        .await?
        .get(0))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(args: CityArgs) -> anyhow::Result<()> {
    if args.sites == 0 || args.connections == 0 || args.variants == 0 || args.month_days < 1 {
        bail!("--sites, --connections, --variants and --month-days must be at least 1");
    }
    let _cluster;
    let url = match &args.pg {
        Some(u) => u.clone(),
        None => {
            let c = tokio::task::spawn_blocking(hall_pg::cluster::Postgres::start_durable).await?;
            let u = c.url();
            _cluster = c;
            u
        }
    };
    let mut client = hall_pg::connect(&url, None)
        .await
        .with_context(|| format!("connecting to {}", hall_pg::redact_url(&url)))?;
    hall_pg::migrate::migrate(&mut client).await?;
    let others: i64 = client
        .query_one(
            "select count(*) from sites where site not like 'bench-%'",
            &[],
        )
        .await?
        .get(0);
    if others > 0 {
        bail!("the database holds {others} real sites: give the benchmark a database of its own");
    }
    client
        .batch_execute("truncate events, day_cells, site_days, ratings; delete from sites")
        .await?;

    let t = Instant::now();
    let days = Arc::new(simulate(args.variants));
    let per_day: Vec<usize> = days.iter().map(|d| d.events.len()).collect();
    println!(
        "simulated {} day variants in {:.1} s: {:?} events, {:?} tickets",
        days.len(),
        t.elapsed().as_secs_f64(),
        per_day,
        days.iter().map(|d| d.tickets).collect::<Vec<_>>()
    );

    // One day for every site, shipped as sites ship it.
    let before = db_size(&client).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (days, next, url) = (days.clone(), next.clone(), url.clone());
        let sites = args.sites;
        tasks.push(tokio::spawn(async move {
            let mut shipped = (0usize, 0usize);
            let mut client = hall_pg::connect(&url, None).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= sites {
                    return anyhow::Ok(shipped);
                }
                let day = &days[i % days.len()];
                let mut s = Shipper::new(client, &site(i), &format!("bench-{i}")).await?;
                // The batch a site ships by default.
                for chunk in day.events.chunks(2000) {
                    s.ship_events(chunk).await?;
                }
                s.ship_day(&day.aggregate, true).await?;
                shipped.0 += day.events.len();
                shipped.1 += day.tickets;
                client = s.into_client();
            }
        }));
    }
    let (mut events, mut tickets) = (0usize, 0usize);
    for task in tasks {
        let (e, t) = task.await??;
        events += e;
        tickets += t;
    }
    let ingest_s = t.elapsed().as_secs_f64();
    client.batch_execute("checkpoint; analyze").await?;
    let after = db_size(&client).await?;
    let mib_per_site_day = (after - before) as f64 / 1048576.0 / args.sites as f64;
    println!(
        "ingest: {events} events ({tickets} tickets) of {} sites in {ingest_s:.1} s over {} connections; database +{:.1} MiB",
        args.sites,
        args.connections,
        (after - before) as f64 / 1048576.0
    );

    // The rest of the month: each site's figures on other dates.
    let first = days[0].aggregate.date;
    let t = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (days, next, url) = (days.clone(), next.clone(), url.clone());
        let (sites, month_days) = (args.sites, args.month_days);
        tasks.push(tokio::spawn(async move {
            let mut client = hall_pg::connect(&url, None).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= sites {
                    return anyhow::Ok(());
                }
                let mut s = Shipper::new(client, &site(i), &format!("bench-{i}")).await?;
                for d in 1..month_days {
                    let mut agg = days[i % days.len()].aggregate.clone();
                    agg.date = first + chrono::Duration::days(d);
                    s.ship_day(&agg, true).await?;
                }
                client = s.into_client();
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    client.batch_execute("analyze").await?;
    println!(
        "month figures: {} more days per site in {:.1} s",
        args.month_days - 1,
        t.elapsed().as_secs_f64()
    );
    let last = first + chrono::Duration::days(args.month_days - 1);
    let timed = |from, to, by| {
        let client = &client;
        async move {
            let mut ms = Vec::new();
            let mut out = None;
            for _ in 0..3 {
                let t = Instant::now();
                let r = city::report(client, from, to, by, &[]).await?;
                ms.push(t.elapsed().as_secs_f64() * 1e3);
                out = Some(r);
            }
            anyhow::Ok((median(ms), out.expect("three runs")))
        }
    };
    let (day_ms, day) = timed(first, first, By::Dim(Dimension::Category)).await?;
    let (site_ms, by_site) = timed(first, first, By::Site).await?;
    let (month_ms, month) = timed(first, last, By::Dim(Dimension::Category)).await?;
    if by_site.rows.len() != args.sites
        || day.total.arrived != month.total.arrived / args.month_days as u32
    {
        bail!(
            "the reports disagree with what was shipped: {} site rows, day {} vs month {}",
            by_site.rows.len(),
            day.total.arrived,
            month.total.arrived
        );
    }
    println!(
        "city report of a day by category: {day_ms:.1} ms ({} tickets arrived); by site: {site_ms:.1} ms ({} rows); of {} days: {month_ms:.1} ms",
        day.total.arrived,
        by_site.rows.len(),
        args.month_days
    );
    // The no-op baseline: one round trip to the database.
    let mut noop = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        client.query_one("select 1", &[]).await?;
        noop.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "sites={} events={events} tickets={tickets} ingest_s={ingest_s:.1} ingest_events_per_s={:.0} pg_mib_per_site_day={mib_per_site_day:.3} city_day_report_ms={day_ms:.1} city_site_report_ms={site_ms:.1} city_month_report_ms={month_ms:.1} month_days={} noop_query_ms={:.2}",
        args.sites,
        events as f64 / ingest_s,
        args.month_days,
        median(noop)
    );
    Ok(())
}

fn site(i: usize) -> SiteInfo {
    let level = match i % 10 {
        0 => "district",
        1..=3 => "street",
        _ => "community",
    };
    SiteInfo {
        id: format!("bench-{i:05}"),
        name: format!("站点 {i}"),
        region: format!("6101{:08}", i),
        level: level.into(),
        parent: if level == "district" {
            String::new()
        } else {
            format!("bench-{:05}", i - i % 10)
        },
    }
}
