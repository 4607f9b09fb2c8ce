//! `report-year`: a year of the hall through the engine, then the year's
//! report as the server answers it.
//!
//! 365 days of the built-in scenario (about 1,450 visitors a day), each run
//! by the simulator through `hall_engine::apply`; every event is folded into
//! the report builder exactly as the server's report task does, and each
//! day's aggregate is written where the server keeps it
//! (`DATA_DIR/reports/days/`). Then, timed: the server's start-up load of
//! those files (`Reports::open`), and the year's report by each dimension
//! (`Reports::report`, what `ReportService.GetReport` and `GET
//! /api/v1/reports` call), beside a one-day report as the baseline.
//!
//! `cargo run --release -p hall-bench --bin report-year [-- --days 365]`;
//! the last line is key=value figures.

use anyhow::Result;
use hall_engine::report::{DayBuilder, Dimension};
use std::time::Instant;

fn main() -> Result<()> {
    let days: i64 = std::env::args()
        .skip_while(|a| a != "--days")
        .nth(1)
        .and_then(|d| d.parse().ok())
        .unwrap_or(365);
    let catalog = hall_server::config::around_the_clock(hall_server::config::builtin());
    let mut scn = hall_sim::Scenario::builtin();
    let first = scn.date;
    let dir = tempfile::tempdir()?;
    let days_dir = dir.path().join("reports").join("days");
    std::fs::create_dir_all(&days_dir)?;
    let started = Instant::now();
    let (mut events, mut tickets, mut bytes) = (0usize, 0usize, 0u64);
    let mut builder = DayBuilder::new(&catalog);
    let mut seq = 0u64;
    for d in 0..days {
        scn.date = first + chrono::Duration::days(d);
        let hall = hall_engine::Hall::new(catalog.clone());
        let visitors = hall_sim::draw_visitors(&scn, &hall, 1 + d as u64);
        tickets += visitors.len();
        let (_, log) =
            hall_sim::run_with_log(&scn, &catalog, hall_sim::PolicyKind::Engine, &visitors);
        for (e, at) in &log {
            seq += 1;
            events += 1;
            if let Some(day) = builder.apply(seq, *at, e) {
                let json = serde_json::to_vec(&day)?;
                bytes += json.len() as u64;
                std::fs::write(days_dir.join(format!("{}.json", day.date)), json)?;
            }
        }
    }
    // The last day closes with the next day's rollover.
    let rolled = hall_engine::Event::DayRolled {
        to: scn.date + chrono::Duration::days(1),
        expired: vec![],
    };
    if let Some(day) = builder.apply(seq + 1, 0, &rolled) {
        let json = serde_json::to_vec(&day)?;
        bytes += json.len() as u64;
        std::fs::write(days_dir.join(format!("{}.json", day.date)), json)?;
    }
    let generated_s = started.elapsed().as_secs_f64();

    let t = Instant::now();
    let reports = hall_server::reports::Reports::open(dir.path(), &catalog, u64::MAX);
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let last = scn.date;
    let time = |from, by| {
        let t = Instant::now();
        let r = reports.report(from, last, by);
        (t.elapsed().as_secs_f64() * 1e3, r)
    };
    let (day_ms, day) = time(last, Dimension::Category);
    println!(
        "one day by category: {day_ms:.2} ms ({} rows)",
        day.rows.len()
    );
    let mut worst: f64 = 0.0;
    let mut year_total = 0;
    for by in Dimension::ALL {
        let (ms, r) = time(first, by);
        println!(
            "{} days by {:8}: {ms:7.1} ms, {} rows, {} tickets, median wait {:.1} min",
            r.days,
            by.name(),
            r.rows.len(),
            r.total.arrived,
            r.total.median_wait_s / 60.0
        );
        worst = worst.max(ms);
        year_total = r.total.arrived;
    }
    println!(
        "days={days} tickets={tickets} events={events} generated_s={generated_s:.1} aggregates_mib={:.1} load_ms={load_ms:.0} day_report_ms={day_ms:.2} year_report_max_ms={worst:.1} year_arrived={year_total}",
        bytes as f64 / (1 << 20) as f64
    );
    Ok(())
}
