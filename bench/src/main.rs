//! `hall-bench`: load benchmark of the real `hall-server` binary on this
//! machine. Prints figures; its LAST line is `key=value` pairs.
//!
//! Phases, all in one run against one server process:
//! 1. raw sled batch+flush(+fsync) rate in a scratch store (`sled_commit_per_s`);
//! 2. N clients calling health Check: the RPC ceiling (`noop_rpc_per_s`);
//! 3. N clients issuing tickets, durable (`issue_per_s`, p50, p99), with
//!    the CPU the load generator and the server used (the generator's
//!    ceiling: what it could drive with a core of its own); then the same
//!    issuing while as many clients again read ticket status and a window's
//!    queue (`read_per_s`, and `issue_with_reads_pct`: issuing with the
//!    readers as a share of issuing alone — reads are answered by the read
//!    model on its own thread, off the writer and the runtime's workers; on
//!    2 cores shared with the load generator they still take CPU);
//! 4. M subscribers while a clerk calls tickets: call-to-subscriber latency;
//!    then S Server-Sent Events clients of the web face (`/api/v1/events`,
//!    each its own HTTP connection) while the clerk calls again:
//!    call-to-browser latency and the server's RSS with them connected;
//! 5. optionally `--tickets T` more tickets issued and served by 20 clerks
//!    (memory stays bounded), then the server's RSS, then a SIGKILL and the
//!    time until a restarted server answers again (`restart_ms`).

mod city;
mod clients;
mod proc;
mod soak;

use proc::{connect, cpu_secs, percentile, rss_mib, start_server, wait_serving};

use anyhow::bail;
use clap::Parser;
use hall_proto::v1 as pb;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

#[derive(Parser)]
#[command(name = "hall-bench", about = "Load benchmark of hall-server")]
struct Args {
    /// Concurrent gRPC clients (one connection each).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds of the issuing phase (the no-op phase runs half as long).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Event stream subscribers for the latency phase.
    #[arg(long, default_value_t = 500)]
    subscribers: usize,
    /// Calls made during the latency phase.
    #[arg(long, default_value_t = 200)]
    calls: usize,
    /// Server-Sent Events clients of the web face for the fan-out phase.
    #[arg(long, default_value_t = 1000)]
    sse_clients: usize,
    /// Calls made during the SSE fan-out phase.
    #[arg(long, default_value_t = 50)]
    sse_calls: usize,
    /// Extra tickets to issue and serve before measuring RSS and restart.
    #[arg(long, default_value_t = 0)]
    tickets: u64,
    /// Run the server with --no-fsync.
    #[arg(long)]
    no_fsync: bool,
    /// Stop the server with SIGTERM at the end instead of the SIGKILL and
    /// restart measurement (for profiling it under a wrapper).
    #[arg(long)]
    no_restart: bool,
    /// The server binary (default: hall-server beside this binary).
    #[arg(long)]
    server_bin: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Bench>,
}

#[derive(clap::Subcommand)]
enum Bench {
    /// The city database (三级协同): one day of N sites shipped into
    /// PostgreSQL, then the city's day and month reports (`city`).
    City(city::CityArgs),
    /// A year in the hall (`soak --days 365`): the simulator's days played
    /// to the real server process on a test clock, restarted every month.
    Soak(soak::SoakArgs),
    /// The three Slint clients idle in their windows under Xvfb: CPU and
    /// RSS of each (`clients --seconds S`).
    Clients(clients::ClientsArgs),
}

/// Reads per second in the paced readers' phase.
const PACED_READS: f64 = 1000.0;

const CATEGORIES: [&str; 12] = [
    "social_insurance",
    "employment",
    "medical_insurance",
    "tax_declaration",
    "invoice",
    "household",
    "id_card",
    "entry_exit",
    "real_estate",
    "housing_fund",
    "business_registration",
    "cross_region",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    match args.command.take() {
        Some(Bench::City(c)) => return city::run(c).await,
        Some(Bench::Soak(s)) => return soak::run(s).await,
        Some(Bench::Clients(c)) => return clients::run(c).await,
        None => {}
    }
    let tmp = std::env::temp_dir().join(format!("hall-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let bin = proc::server_bin(args.server_bin.as_deref())?;

    // 1. Raw sled commit rate, same durability as the server.
    let probe = hall_server::store::Store::open(&tmp.join("probe"), !args.no_fsync)?;
    let sled_rate = probe.probe_commit_rate(Duration::from_secs(2), 1)?;
    drop(probe);
    println!(
        "sled batch+flush{}: {sled_rate:.0}/s",
        if args.no_fsync { "" } else { "+fsync" }
    );

    let mut catalog = hall_server::config::around_the_clock(hall_server::config::builtin());
    for c in &mut catalog.categories {
        c.daily_quota = 0;
    }
    let config = tmp.join("hall.toml");
    std::fs::write(&config, hall_server::config::to_toml(&catalog))?;
    let data = tmp.join("data");
    let mut server = start_server(&bin, &data, Some(&config), !args.no_fsync, &[])?;
    let url = server.url.clone();
    wait_serving(&url).await?;
    let mut channels = Vec::new();
    for _ in 0..args.clients {
        channels.push(connect(&url).await?);
    }

    // 2. The ceiling: a trivial RPC from the same clients.
    let noop_secs = (args.seconds / 2).max(1);
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(noop_secs);
    let mut tasks = vec![];
    for ch in &channels {
        let mut h = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        let count = count.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if h.check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok()
                {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let started = Instant::now();
    for t in tasks {
        t.await?;
    }
    let noop_rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "no-op RPC (health Check), {} clients: {noop_rate:.0}/s (server RSS {:.1} MiB)",
        args.clients,
        rss_mib(server.child.id())
    );

    // 3. Durable issuing. The CPU both processes use says whether the load
    // generator (this process, on the same 2 cores) limits the figure.
    let server_pid = server.child.id().to_string();
    let (gen_cpu0, srv_cpu0) = (cpu_secs("self"), cpu_secs(&server_pid));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = vec![];
    for (i, ch) in channels.iter().enumerate() {
        tasks.push(tokio::spawn(issue_until(ch.clone(), i, deadline)));
    }
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let issue_secs = started.elapsed().as_secs_f64();
    let gen_cpu = cpu_secs("self") - gen_cpu0;
    let srv_cpu = cpu_secs(&server_pid) - srv_cpu0;
    lat.sort_by(f64::total_cmp);
    let issue_rate = lat.len() as f64 / issue_secs;
    let gen_pct = 100.0 * gen_cpu / issue_secs;
    let srv_pct = 100.0 * srv_cpu / issue_secs;
    // What the generator could drive with a whole core to itself.
    let generator_ceiling = lat.len() as f64 / gen_cpu.max(1e-9);
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    println!(
        "IssueTicket, {} clients: {issue_rate:.0}/s (p50 {p50:.2} ms, p99 {p99:.2} ms, {errors} errors) = {:.0} % of no-op (server RSS {:.1} MiB)",
        args.clients,
        100.0 * issue_rate / noop_rate,
        rss_mib(server.child.id())
    );
    println!(
        "  load generator: {:.1} us CPU per ticket, {gen_pct:.0} % of a core (server {srv_pct:.0} %); \
         its ceiling with a core of its own: {generator_ceiling:.0}/s, {:.1}x the issuing rate",
        1e6 * gen_cpu / lat.len().max(1) as f64,
        generator_ceiling / issue_rate.max(1e-9)
    );

    // 3b. The same issuing with readers beside it: ticket status and a
    // window's queue, from as many clients again (own connections).
    let (issue_with_reads, read_rate) =
        issue_beside_readers(&channels, &url, args.seconds, None).await?;
    // And with readers at a steady rate, as a hall's phones and screens
    // read (a busy day's hall reads far less than 1,000/s).
    let (issue_with_paced, paced_rate) =
        issue_beside_readers(&channels, &url, args.seconds, Some(PACED_READS)).await?;
    println!(
        "IssueTicket with {} readers beside: {issue_with_reads:.0}/s = {:.0} % of issuing alone; reads (status, my queue): {read_rate:.0}/s",
        args.clients,
        100.0 * issue_with_reads / issue_rate
    );
    println!(
        "IssueTicket with readers at {PACED_READS:.0}/s beside: {issue_with_paced:.0}/s = {:.0} % of issuing alone (reads served {paced_rate:.0}/s)",
        100.0 * issue_with_paced / issue_rate
    );

    // 4. Call-to-subscriber latency with M subscribers.
    let mut events = pb::event_service_client::EventServiceClient::new(channels[0].clone());
    let from = events
        .snapshot(pb::SnapshotRequest {})
        .await?
        .into_inner()
        .seq
        + 1;
    let sent: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
    let window = 20; // serves social insurance, medical insurance, tax, housing fund
    let mut subs = vec![];
    for i in 0..args.subscribers {
        // Ten streams share a connection, as boards behind one gateway would.
        let ch = if i % 10 == 0 {
            connect(&url).await?
        } else {
            channels[i % channels.len()].clone()
        };
        let mut ev = pb::event_service_client::EventServiceClient::new(ch);
        let mut stream = ev
            .subscribe(pb::SubscribeRequest { from_seq: from })
            .await?
            .into_inner();
        let sent = sent.clone();
        let expected = args.calls;
        subs.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(expected);
            let mut seen = 0;
            while seen < expected {
                let Ok(Some(Ok(e))) =
                    tokio::time::timeout(Duration::from_secs(20), stream.next()).await
                else {
                    break;
                };
                if let Some(pb::event::Body::TicketCalled(c)) = e.body
                    && c.call.is_some_and(|c| c.window == window && !c.recall)
                {
                    let at = sent.lock().unwrap()[seen];
                    lat.push(at.elapsed().as_secs_f64() * 1000.0);
                    seen += 1;
                }
            }
            lat
        }));
    }
    let mut counter =
        pb::counter_service_client::CounterServiceClient::new(channels[1 % channels.len()].clone());
    let login = counter
        .login(pb::LoginRequest {
            window,
            clerk_id: "c20".into(),
            pin: "1234".into(),
        })
        .await?
        .into_inner();
    let session = login.session;
    call_and_finish(
        &mut counter,
        &session,
        args.calls,
        Duration::from_millis(10),
        &sent,
    )
    .await?;
    let mut ev_lat = Vec::new();
    let mut missing = 0;
    for s in subs {
        let l = s.await?;
        missing += args.calls - l.len();
        ev_lat.extend(l);
    }
    ev_lat.sort_by(f64::total_cmp);
    let (ev50, ev99) = (percentile(&ev_lat, 0.5), percentile(&ev_lat, 0.99));
    println!(
        "call -> {} subscribers: p50 {ev50:.2} ms, p99 {ev99:.2} ms, {missing} missed deliveries",
        args.subscribers
    );

    // 4b. The same calls fanned out to S browsers over Server-Sent Events.
    let (sse50, sse99, sse_missed, rss_sse) = sse_fanout(
        server.web,
        server.child.id(),
        args.sse_clients,
        args.sse_calls,
        &mut counter,
        &session,
        window,
    )
    .await?;
    println!(
        "call -> {} SSE clients: p50 {sse50:.2} ms, p99 {sse99:.2} ms, {sse_missed} missed deliveries; server RSS with them connected {rss_sse:.1} MiB",
        args.sse_clients
    );

    // 5. Many tickets through the hall: 20 clerks first serve the backlog
    //    of phase 3, then keep up with kiosks issuing `--tickets` more.
    let mut served_total = 0u64;
    if args.tickets > 0 {
        let issued = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let t0 = Instant::now();
        let mut clerks = vec![];
        for w in 1..=20u32 {
            let mut c = pb::counter_service_client::CounterServiceClient::new(connect(&url).await?);
            let s = if w == window {
                session.clone()
            } else {
                let clerk = format!("c{w:02}");
                c.login(pb::LoginRequest {
                    window: w,
                    clerk_id: clerk,
                    pin: "1234".into(),
                })
                .await?
                .into_inner()
                .session
            };
            let (done, served) = (done.clone(), served.clone());
            clerks.push(tokio::spawn(async move {
                loop {
                    match c.call_next(pb::WindowRequest { session: s.clone() }).await {
                        Ok(_) => {
                            let f = pb::FinishRequest {
                                session: s.clone(),
                                outcome: pb::FinishOutcome::Resolved as i32,
                                unresolved_reason: String::new(),
                                ..Default::default()
                            };
                            if c.finish(f).await.is_ok() {
                                served.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(e) if e.code() == tonic::Code::NotFound => {
                            if done.load(Ordering::Relaxed) {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                        Err(e) => {
                            eprintln!("clerk error: {e}");
                            break;
                        }
                    }
                }
            }));
        }
        // Fewer kiosks than clerks, so the queue stays short as in a real hall.
        let mut kiosks = vec![];
        for (i, ch) in channels.iter().take(8).enumerate() {
            let mut k = pb::kiosk_service_client::KioskServiceClient::new(ch.clone());
            let issued = issued.clone();
            let total = args.tickets;
            kiosks.push(tokio::spawn(async move {
                let mut j = i;
                while issued.fetch_add(1, Ordering::Relaxed) < total {
                    let req = pb::IssueTicketRequest {
                        request_id: hall_proto::client::new_request_id(),
                        category: CATEGORIES[j % 4].into(), // all four are primary at windows 1-20
                        ..Default::default()
                    };
                    j += 1;
                    if k.issue_ticket(req).await.is_err() {
                        break;
                    }
                }
            }));
        }
        let mut peak = 0f64;
        while kiosks.iter().any(|k| !k.is_finished()) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            peak = peak.max(rss_mib(server.child.id()));
        }
        for k in kiosks {
            k.await?;
        }
        done.store(true, Ordering::Relaxed);
        for c in clerks {
            c.await?;
        }
        served_total = served.load(Ordering::Relaxed);
        println!(
            "{} more tickets issued, {served_total} served in {:.1} s (peak RSS {peak:.1} MiB)",
            args.tickets,
            t0.elapsed().as_secs_f64(),
        );
    }
    let rss = rss_mib(server.child.id());
    let seq = events
        .snapshot(pb::SnapshotRequest {})
        .await?
        .into_inner()
        .seq;
    println!("server RSS {rss:.1} MiB with {seq} events in the log");
    drop(channels);
    drop(counter);
    drop(events);

    if args.no_restart {
        std::process::Command::new("kill")
            .arg(server.child.id().to_string())
            .status()?;
        server.child.wait()?;
        return Ok(());
    }
    server.child.kill()?;
    server.child.wait()?;
    let t0 = Instant::now();
    let mut restarted = start_server(&bin, &data, Some(&config), !args.no_fsync, &[])?;
    let restart_url = restarted.url.clone();
    wait_serving(&restart_url).await?;
    let restart_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let mut ev = pb::event_service_client::EventServiceClient::new(connect(&restart_url).await?);
    let seq_after = ev.snapshot(pb::SnapshotRequest {}).await?.into_inner().seq;
    let rss_restarted = rss_mib(restarted.child.id());
    println!(
        "restart after SIGKILL with {seq} events: serving in {restart_ms:.0} ms (seq {seq_after}, RSS {rss_restarted:.1} MiB)"
    );
    restarted.child.kill()?;
    restarted.child.wait()?;
    let _ = std::fs::remove_dir_all(&tmp);
    if seq_after < seq {
        bail!("events lost across the restart: {seq} before, {seq_after} after");
    }

    println!(
        "clients={} subscribers={} fsync={} issue_per_s={issue_rate:.0} issue_p50_ms={p50:.2} issue_p99_ms={p99:.2} \
         noop_rpc_per_s={noop_rate:.0} issue_vs_noop_pct={:.0} sled_commit_per_s={sled_rate:.0} event_p50_ms={ev50:.2} \
         event_p99_ms={ev99:.2} event_missed={missing} tickets_served={served_total} events={seq} rss_mib={rss:.1} restart_ms={restart_ms:.0} \
         read_per_s={read_rate:.0} issue_with_reads_pct={:.0} issue_with_paced_reads_pct={:.0} generator_ceiling_per_s={generator_ceiling:.0} \
         generator_cpu_pct={gen_pct:.0} server_cpu_pct={srv_pct:.0} sse_clients={} sse_p50_ms={sse50:.2} sse_p99_ms={sse99:.2} \
         sse_missed={sse_missed} sse_rss_mib={rss_sse:.1}",
        args.clients,
        args.subscribers,
        !args.no_fsync,
        100.0 * issue_rate / noop_rate,
        100.0 * issue_with_reads / issue_rate,
        100.0 * issue_with_paced / issue_rate,
        args.sse_clients
    );
    Ok(())
}

/// The clerk of `session` calls and finishes `calls` tickets, `gap` apart,
/// noting in `sent` when each call was made (the latency phases' clock).
async fn call_and_finish(
    counter: &mut pb::counter_service_client::CounterServiceClient<Channel>,
    session: &Option<pb::Session>,
    calls: usize,
    gap: Duration,
    sent: &std::sync::Mutex<Vec<Instant>>,
) -> anyhow::Result<()> {
    for _ in 0..calls {
        sent.lock().unwrap().push(Instant::now());
        counter
            .call_next(pb::WindowRequest {
                session: session.clone(),
            })
            .await?;
        counter
            .finish(pb::FinishRequest {
                session: session.clone(),
                outcome: pb::FinishOutcome::Resolved as i32,
                unresolved_reason: String::new(),
                ..Default::default()
            })
            .await?;
        tokio::time::sleep(gap).await;
    }
    Ok(())
}

/// S clients follow `/api/v1/events` (one HTTP/1.1 connection each, as S
/// browsers would); the clerk at `window` calls `calls` tickets; each
/// client times every call from the moment it was made. Returns p50 and
/// p99 in ms, the deliveries missed, and the server's RSS with the clients
/// connected.
async fn sse_fanout(
    web: std::net::SocketAddr,
    server_pid: u32,
    clients: usize,
    calls: usize,
    counter: &mut pb::counter_service_client::CounterServiceClient<Channel>,
    session: &Option<pb::Session>,
    window: u32,
) -> anyhow::Result<(f64, f64, usize, f64)> {
    use http_body_util::BodyExt;
    let sent: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
    let ready = Arc::new(AtomicU64::new(0));
    let needle = format!("\"window\":{window},");
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let sent = sent.clone();
        let ready = ready.clone();
        let needle = needle.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(calls);
            let Ok(tcp) = tokio::net::TcpStream::connect(web).await else {
                return lat;
            };
            let Ok((mut send, conn)) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await
            else {
                return lat;
            };
            tokio::spawn(conn);
            let req = hyper::Request::get("/api/v1/events")
                .header("host", web.to_string())
                .header("accept", "text/event-stream")
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .expect("a request");
            let Ok(resp) = send.send_request(req).await else {
                return lat;
            };
            let mut body = resp.into_body();
            ready.fetch_add(1, Ordering::Relaxed);
            let mut buf = String::new();
            while lat.len() < calls {
                let Ok(Some(Ok(frame))) =
                    tokio::time::timeout(Duration::from_secs(30), body.frame()).await
                else {
                    break;
                };
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                buf.push_str(&String::from_utf8_lossy(&data));
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    if event.contains("\"ticketCalled\"") && event.contains(&needle) {
                        let at = sent.lock().unwrap().get(lat.len()).copied();
                        if let Some(at) = at {
                            lat.push(at.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                }
            }
            lat
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while (ready.load(Ordering::Relaxed) as usize) < clients && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss = rss_mib(server_pid);
    call_and_finish(counter, session, calls, Duration::from_millis(20), &sent).await?;
    let mut lat = Vec::new();
    let mut missed = 0;
    for t in tasks {
        let l = t.await?;
        missed += calls - l.len();
        lat.extend(l);
    }
    lat.sort_by(f64::total_cmp);
    Ok((percentile(&lat, 0.5), percentile(&lat, 0.99), missed, rss))
}

/// Issues from `channels` for `seconds` while as many readers again read
/// ticket status and a window's queue; `pace` (reads per second, all
/// readers together) or flat out. Returns (issued per s, reads per s).
async fn issue_beside_readers(
    channels: &[Channel],
    url: &str,
    seconds: u64,
    pace: Option<f64>,
) -> anyhow::Result<(f64, f64)> {
    let clients = channels.len();
    let mut readers = Vec::new();
    for _ in 0..clients {
        readers.push(connect(url).await?);
    }
    let mut c = pb::counter_service_client::CounterServiceClient::new(readers[0].clone());
    let session = c
        .login(pb::LoginRequest {
            window: 19,
            clerk_id: "c19".into(),
            pin: "1234".into(),
        })
        .await?
        .into_inner()
        .session;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let reads = Arc::new(AtomicU64::new(0));
    let issuers: Vec<_> = channels
        .iter()
        .enumerate()
        .map(|(i, ch)| tokio::spawn(issue_until(ch.clone(), i, deadline)))
        .collect();
    let mut tasks = vec![];
    for (i, ch) in readers.iter().enumerate() {
        let mut k = pb::kiosk_service_client::KioskServiceClient::new(ch.clone());
        let mut c = pb::counter_service_client::CounterServiceClient::new(ch.clone());
        let (reads, session) = (reads.clone(), session.clone());
        tasks.push(tokio::spawn(async move {
            let mut j = i;
            let every = pace.map(|p| Duration::from_secs_f64(clients as f64 / p));
            let mut next = Instant::now();
            while Instant::now() < deadline {
                if let Some(every) = every {
                    next += every;
                    tokio::time::sleep_until(next.into()).await;
                }
                j += 1;
                let ok = if j % 2 == 0 {
                    k.get_ticket_status(pb::GetTicketStatusRequest {
                        number: format!("A{:03}", 1 + j % 500),
                        service_date: String::new(),
                    })
                    .await
                    .map(|_| ())
                } else {
                    c.get_my_queue(pb::WindowRequest {
                        session: session.clone(),
                    })
                    .await
                    .map(|_| ())
                };
                // "No such ticket" is an answer too: the read was served.
                if ok.is_ok() || ok.is_err_and(|e| e.code() == tonic::Code::NotFound) {
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let started = Instant::now();
    let mut issued = 0;
    for t in issuers {
        issued += t.await?.0.len();
    }
    for t in tasks {
        t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = c.logout(pb::WindowRequest { session }).await;
    Ok((
        issued as f64 / secs,
        reads.load(Ordering::Relaxed) as f64 / secs,
    ))
}

/// One client issuing tickets until `deadline`, round the categories from
/// `first`: the latency (ms) of each ticket issued, and the errors.
async fn issue_until(ch: Channel, first: usize, deadline: Instant) -> (Vec<f64>, u64) {
    let mut k = pb::kiosk_service_client::KioskServiceClient::new(ch);
    let mut lat = Vec::new();
    let mut errors = 0u64;
    let mut j = first;
    while Instant::now() < deadline {
        let req = pb::IssueTicketRequest {
            request_id: hall_proto::client::new_request_id(),
            category: CATEGORIES[j % CATEGORIES.len()].into(),
            ..Default::default()
        };
        j += 1;
        let t0 = Instant::now();
        match k.issue_ticket(req).await {
            Ok(_) => lat.push(t0.elapsed().as_secs_f64() * 1000.0),
            Err(_) => errors += 1,
        }
    }
    (lat, errors)
}
