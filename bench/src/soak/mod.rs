//! `hall-bench soak --days N`: a year in the hall through the real
//! `hall-server` process.
//!
//! Each simulated day, the simulator (`hall_sim`) runs the built-in
//! scenario's visitors and clerks (about 1,450 visitors on a weekday, the
//! hall's own calendar: weekend hours, holidays, 调休) through its engine
//! and records every command the engine accepted with its instant. Those
//! commands are then played, in order, to the server over gRPC (visitors
//! with well-formed fictitious ID cards, clerks logging in with their
//! PINs), with the instant in the `x-hall-test-clock` header: the server
//! runs on a test clock (`--test-clock`), so a day passes in seconds with
//! real day rollovers and retention runs. To the same stream the soak adds
//! what the simulator has no model of: ratings on the windows' pads (差评
//! with a reason open a follow-up) and staff closing the previous day's
//! follow-ups.
//!
//! A mirror engine in this process applies exactly what the server is
//! sent (with the same tick before each command as the server's writer), so
//! the day's figures the server reports must equal the mirror's own,
//! field by field. Every `--restart-every` days the server is stopped
//! (SIGTERM; every third time SIGKILL) and started again: the time until it
//! serves is the restart time, and the report over every day so far must
//! still equal the mirror's (`lost` counts the tickets missing).
//!
//! Per day: RSS, data-dir size (allocated blocks), events, restart time,
//! a day report's and a 30-day report's latency → `soak.csv` and
//! `soak.png` in `--out`; the last line is key=value figures.

mod mirror;
mod output;
mod wire;

use crate::proc::{Server, connect, rss_mib, start_server, wait_serving};
use anyhow::{Context, bail};
use chrono::{Datelike, NaiveDate};
use hall_engine::{Command, Event, Hall, Millis, Person};
use hall_proto::v1 as pb;
use mirror::{Mirror, differences};
use output::{Row, chart, disk_bytes, rss_slope, write_csv};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use wire::{Wire, at};

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Simulated days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Stop and start the server after every this many days (SIGTERM;
    /// every third time SIGKILL).
    #[arg(long, default_value_t = 30)]
    restart_every: u32,
    /// Where `soak.csv` and `soak.png` go.
    #[arg(long, default_value = "soak-out")]
    out: PathBuf,
    /// fsync each commit. Off by default: the soak measures memory, disk,
    /// restarts and figures; a killed process loses nothing without fsync
    /// (the kernel has the writes), only a power cut would.
    #[arg(long)]
    fsync: bool,
    /// The visitors' random seed (day d uses seed + d).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The server binary (default: hall-server beside this binary).
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

/// The citizen's rating on the pad after a resolved matter: most rate,
/// mostly 非常满意; a 差评 carries a reason (and opens a follow-up).
fn rating(rng: &mut StdRng) -> Option<(u8, String)> {
    if !rng.random_bool(0.7) {
        return None;
    }
    let level = match rng.random_range(0..100) {
        0..80 => 5,
        80..92 => 4,
        92..97 => 3,
        97..99 => 2,
        _ => 1,
    };
    Some((
        level,
        if level <= 2 {
            "等候时间太长".into()
        } else {
            String::new()
        },
    ))
}

async fn report(
    ch: &Channel,
    from: NaiveDate,
    to: NaiveDate,
    now: Millis,
) -> anyhow::Result<(pb::Report, f64)> {
    let mut r = pb::report_service_client::ReportServiceClient::new(ch.clone());
    let t = Instant::now();
    let rep = r
        .get_report(at(
            pb::ReportRequest {
                from: from.to_string(),
                to: to.to_string(),
                by: "category".into(),
            },
            now,
        ))
        .await
        .context("GetReport")?
        .into_inner();
    Ok((rep, t.elapsed().as_secs_f64() * 1e3))
}

pub async fn run(a: SoakArgs) -> anyhow::Result<()> {
    let bin = crate::proc::server_bin(a.server_bin.as_deref())?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    // The built-in hall as it ships: its calendar, hours and retention.
    let catalog = hall_server::config::builtin();
    let mut scn = hall_sim::Scenario::builtin();
    let first = scn.date;
    let mut mirror = Mirror::new(&catalog);
    let start_ms = hall_sim::instant(&mirror.hall, &scn, "00:00");
    let clock = |ms: Millis| vec!["--test-clock".to_string(), ms.to_string()];
    let t = Instant::now();
    let mut server = start_server(&bin, &data, None, a.fsync, &clock(start_ms))?;
    wait_serving(&server.url).await?;
    println!(
        "soak: {} days from {first}, server up in {:.0} ms, data in {}",
        a.days,
        t.elapsed().as_secs_f64() * 1e3,
        data.display()
    );
    let mut wire = Wire {
        ch: connect(&server.url).await?,
        sessions: HashMap::new(),
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut rng = StdRng::seed_from_u64(a.seed ^ 0x50a4);
    let mut open_follow_ups: Vec<(u64, NaiveDate)> = Vec::new();
    let (mut restarts, mut lost, mut diverged) = (0u32, 0i64, 0u64);
    let mut last_committed = 0u64;
    let mut now: Millis = start_ms;
    let mut restart_ms_max: f64 = 0.0;
    let began = Instant::now();
    for d in 0..a.days {
        scn.date = first + chrono::Duration::days(d as i64);
        let fresh = Hall::new(catalog.clone());
        let visitors = hall_sim::draw_visitors(&scn, &fresh, a.seed + d as u64);
        let (_, commands) =
            hall_sim::run_recording(&scn, &catalog, hall_sim::PolicyKind::Engine, &visitors);
        // Follow-ups opened before today are worked and closed at 09:00.
        let nine = hall_sim::instant(&fresh, &scn, "09:00");
        let mut closing: Vec<(Command, Millis)> = open_follow_ups
            .drain(..)
            .filter(|(_, day)| *day < scn.date)
            .map(|(id, _)| {
                (
                    Command::CloseFollowUp {
                        id,
                        resolution: "已电话回访，办事人表示理解".into(),
                    },
                    nine,
                )
            })
            .collect();
        let mut plan: Vec<(Command, Millis)> = Vec::with_capacity(commands.len() + closing.len());
        // In time order, the closings before the simulator's 09:00 commands.
        let mut sim = commands.into_iter().peekable();
        while let Some((_, t)) = sim.peek() {
            if *t >= nine && !closing.is_empty() {
                plan.append(&mut closing);
            }
            plan.push(sim.next().expect("peeked"));
        }
        plan.append(&mut closing);
        let mut vrng = StdRng::seed_from_u64(a.seed.wrapping_mul(7919) + d as u64);
        let (mut issued, mut served) = (0u32, 0u32);
        let mut i = 0usize;
        let mut queue: std::collections::VecDeque<(Command, Millis)> = plan.into();
        while let Some((cmd, t)) = queue.pop_front() {
            if matches!(cmd, Command::Tick | Command::ArriveRemote { .. }) {
                continue; // the server ticks on its own; no remote visitors in this scenario
            }
            now = now.max(t);
            i += 1;
            let rid = format!("soak-{d}-{i}");
            // The visitor's ID card: the server sees the card, the mirror
            // the person the server makes of it (key, birth date).
            let (cmd, identity) = match cmd {
                Command::IssueTicket {
                    code,
                    priority,
                    channel,
                    person,
                    ..
                } => {
                    let elderly = person
                        .as_ref()
                        .and_then(|p| p.birth_date)
                        .is_some_and(|b| b.year() < 1960);
                    let id = hall_sim::drive::fake_identity(&mut vrng, elderly);
                    let person = Person {
                        key: id.id_number.clone(),
                        masked_name: hall_privacy::mask_name(&id.name),
                        birth_date: id.birth_date.parse().ok(),
                    };
                    (
                        Command::IssueTicket {
                            request_id: None,
                            code,
                            priority,
                            channel,
                            person: Some(person),
                        },
                        Some(id),
                    )
                }
                other => (other, None),
            };
            let mirrored = mirror.apply(Some(cmd.clone()), now);
            let accepted = wire.send(&cmd, identity, &rid, now).await?;
            if accepted != mirrored.is_ok() {
                diverged += 1;
                if diverged <= 5 {
                    eprintln!(
                        "soak: day {d} diverged at {cmd:?}: server {accepted}, mirror {:?}",
                        mirrored.as_ref().map(|_| ())
                    );
                }
            }
            let Ok(events) = mirrored else { continue };
            for e in &events {
                match e {
                    Event::TicketIssued { .. } => issued += 1,
                    Event::TicketFinished {
                        ticket,
                        window,
                        resolved: true,
                        ..
                    } => {
                        served += 1;
                        if let (Some(t), Some((level, comment))) =
                            (mirror.hall.ticket(*ticket), rating(&mut rng))
                        {
                            queue.push_front((
                                Command::RateFromPad {
                                    window: *window,
                                    number: t.number.clone(),
                                    rating: level,
                                    comment,
                                },
                                now,
                            ));
                        }
                    }
                    Event::FollowUpOpened { follow_up } => {
                        open_follow_ups.push((follow_up.id, scn.date))
                    }
                    _ => {}
                }
            }
        }
        // The next day's start rolls this one on both.
        let next = {
            let mut n = scn.clone();
            n.date = scn.date + chrono::Duration::days(1);
            hall_sim::instant(&fresh, &n, "00:01")
        };
        now = now.max(next);
        mirror.apply(None, now)?;
        let want = mirror.report(scn.date, scn.date);
        // The server rolls with its own tick (each second) once its clock
        // passes midnight; its report task folds the day right after.
        let mut equal = false;
        let mut got = pb::ReportRow::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let (r, _) = report(&wire.ch, scn.date, scn.date, now).await?;
            got = r.total.unwrap_or_default();
            if differences(&got, &want).is_empty() {
                equal = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !equal {
            eprintln!(
                "soak: day {d} ({}) differs: {}",
                scn.date,
                differences(&got, &want).join(", ")
            );
        }
        let (_, day_report_ms) = report(&wire.ch, scn.date, scn.date, now).await?;
        let month_from = scn.date - chrono::Duration::days(29);
        let (_, month_report_ms) = report(&wire.ch, month_from.max(first), scn.date, now).await?;
        let status = pb::admin_service_client::AdminServiceClient::new(wire.ch.clone())
            .get_server_status(at(pb::ServerStatusRequest {}, now))
            .await?
            .into_inner();
        let events = status.committed_seq - last_committed;
        last_committed = status.committed_seq;
        let mut restart_ms = 0.0;
        if (d + 1) % a.restart_every.max(1) == 0 && d + 1 < a.days {
            restarts += 1;
            let kill = restarts % 3 == 0;
            stop(&mut server, kill)?;
            let t = Instant::now();
            server = start_server(&bin, &data, None, a.fsync, &clock(now))?;
            wait_serving(&server.url).await?;
            restart_ms = t.elapsed().as_secs_f64() * 1e3;
            restart_ms_max = restart_ms_max.max(restart_ms);
            wire = Wire {
                ch: connect(&server.url).await?,
                sessions: wire.sessions,
            };
            // Nothing lost: every day so far, as the mirror has it.
            let (r, _) = report(&wire.ch, first, scn.date, now).await?;
            let total = r.total.unwrap_or_default();
            let missing = mirror.report(first, scn.date).arrived as i64 - total.arrived as i64;
            lost += missing.max(0);
            println!(
                "soak: day {} restart {} ({}) in {restart_ms:.0} ms; {} tickets so far, {} missing",
                d + 1,
                restarts,
                if kill { "SIGKILL" } else { "SIGTERM" },
                total.arrived,
                missing
            );
        }
        let row = Row {
            day: d + 1,
            date: scn.date,
            visitors: visitors.len(),
            issued,
            served,
            events,
            rss_mib: rss_mib(server.child.id()),
            data_mib: disk_bytes(&data) as f64 / (1 << 20) as f64,
            restart_ms,
            day_report_ms,
            month_report_ms,
            equal,
        };
        if (d + 1) % 30 == 0 || d == 0 || d + 1 == a.days {
            println!(
                "soak: day {:3} {} {:9}: {:4} issued, {:4} served, {:6} events, RSS {:5.1} MiB, data {:6.1} MiB, day report {:.1} ms, 30 days {:.1} ms ({:.0} s so far)",
                row.day,
                row.date,
                format!("{:?}", row.date.weekday()),
                row.issued,
                row.served,
                row.events,
                row.rss_mib,
                row.data_mib,
                row.day_report_ms,
                row.month_report_ms,
                began.elapsed().as_secs_f64()
            );
        }
        rows.push(row);
    }
    let last = first + chrono::Duration::days(a.days as i64 - 1);
    let (year, year_report_ms) = report(&wire.ch, first, last, now).await?;
    let year_total = year.total.unwrap_or_default();
    let want = mirror.report(first, last);
    lost += (want.arrived as i64 - year_total.arrived as i64).max(0);
    let year_equal = differences(&year_total, &want).is_empty();
    stop(&mut server, false)?;
    write_csv(&a.out.join("soak.csv"), &rows)?;
    chart(&a.out.join("soak.png"), &rows)?;
    let rss_end = rows.last().map_or(0.0, |r| r.rss_mib);
    let after30 = rows.iter().skip(30).map(|r| r.rss_mib).fold(0.0, f64::max);
    let slope = rss_slope(&rows);
    let unequal = rows.iter().filter(|r| !r.equal).count();
    println!(
        "soak: {} days in {:.0} s; csv {}, chart {}",
        a.days,
        began.elapsed().as_secs_f64(),
        a.out.join("soak.csv").display(),
        a.out.join("soak.png").display()
    );
    println!(
        "days={} tickets={} events={} rss_mib_end={rss_end:.1} rss_mib_max_after_day30={after30:.1} rss_mib_per_30_days_after_day30={slope:.2} data_mib={:.1} restart_ms_max={restart_ms_max:.0} restarts={restarts} year_report_ms={year_report_ms:.1} day_report_ms_max={:.1} month_report_ms_max={:.1} days_unequal={unequal} year_equal={year_equal} diverged={diverged} lost={lost}",
        a.days,
        year_total.arrived,
        last_committed,
        rows.last().map_or(0.0, |r| r.data_mib),
        rows.iter().map(|r| r.day_report_ms).fold(0.0, f64::max),
        rows.iter().map(|r| r.month_report_ms).fold(0.0, f64::max),
    );
    // The figures are only worth having if the server kept everything.
    if lost > 0 || unequal > 0 || !year_equal || diverged > 0 {
        bail!(
            "the server's figures differ from the mirror's: {lost} tickets lost, {unequal} days unequal, year equal {year_equal}, {diverged} commands diverged"
        );
    }
    Ok(())
}

/// SIGTERM (the server drains and flushes) and wait, or SIGKILL.
fn stop(server: &mut Server, kill: bool) -> anyhow::Result<()> {
    if kill {
        server.child.kill()?;
    } else {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status();
    }
    server.child.wait()?;
    Ok(())
}
