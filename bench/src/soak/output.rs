//! The soak's output: one row per simulated day, the CSV, the chart and
//! the RSS trend.

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use std::fmt::Write as _;
use std::path::Path;

pub struct Row {
    pub day: u32,
    pub date: NaiveDate,
    pub visitors: usize,
    pub issued: u32,
    pub served: u32,
    pub events: u64,
    pub rss_mib: f64,
    pub data_mib: f64,
    pub restart_ms: f64,
    pub day_report_ms: f64,
    pub month_report_ms: f64,
    pub equal: bool,
}

/// Bytes the data dir takes on disk (allocated blocks, as `du`).
pub fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.blocks() * 512;
            }
        }
    }
    total
}

/// RSS growth per 30 days after the first month (least squares): "flat"
/// is about 0.
pub fn rss_slope(rows: &[Row]) -> f64 {
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .skip(30)
        .map(|r| (r.day as f64, r.rss_mib))
        .collect();
    if pts.len() < 2 {
        return 0.0;
    }
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (num, den) = pts.iter().fold((0.0, 0.0), |(a, b), p| {
        (a + (p.0 - mx) * (p.1 - my), b + (p.0 - mx).powi(2))
    });
    if den == 0.0 { 0.0 } else { num / den * 30.0 }
}

pub fn write_csv(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut s = String::from(
        "day,date,weekday,visitors,issued,served,events,rss_mib,data_mib,restart_ms,day_report_ms,month_report_ms,equal\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{:?},{},{},{},{},{:.1},{:.1},{:.0},{:.2},{:.2},{}",
            r.day,
            r.date,
            r.date.weekday(),
            r.visitors,
            r.issued,
            r.served,
            r.events,
            r.rss_mib,
            r.data_mib,
            r.restart_ms,
            r.day_report_ms,
            r.month_report_ms,
            r.equal as u8
        );
    }
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

pub fn chart(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let rss: Vec<(f64, u32)> = rows
        .iter()
        .map(|r| (r.day as f64, r.rss_mib.round() as u32))
        .collect();
    let data: Vec<(f64, u32)> = rows
        .iter()
        .map(|r| (r.day as f64, r.data_mib.round() as u32))
        .collect();
    let month: Vec<(f64, u32)> = rows
        .iter()
        .map(|r| (r.day as f64, r.month_report_ms.round() as u32))
        .collect();
    let axes = hall_sim::chart::Axes {
        x_title: "simulated day",
        y_title: "MiB / ms",
        x_step: 30.0,
        x_label: |x| format!("{x:.0}"),
    };
    let series = [
        hall_sim::chart::Series {
            name: "server RSS (MiB)",
            points: &rss,
        },
        hall_sim::chart::Series {
            name: "data dir (MiB)",
            points: &data,
        },
        hall_sim::chart::Series {
            name: "30-day report (ms)",
            points: &month,
        },
    ];
    hall_sim::chart::line_chart(
        path,
        "A year in the hall: hall-server on a test clock",
        &axes,
        &series,
    )?;
    Ok(())
}
