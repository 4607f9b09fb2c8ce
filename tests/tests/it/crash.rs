//! Crash test: the real `hall-server` binary under concurrent IssueTicket
//! load is killed with SIGKILL and restarted, several times. Every
//! acknowledged ticket must still be there, no number may be issued twice,
//! and numbering continues.

use hall_proto::v1 as pb;
use hall_tests::*;
use std::collections::{HashMap, HashSet};

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CATEGORIES: [&str; 4] = ["social_insurance", "tax_declaration", "invoice", "id_card"];

fn spawn_server(data: &std::path::Path, config: &std::path::Path) -> (Child, String) {
    // Rotate and archive log segments often, so kills land mid-rotation too.
    spawn_server_process(
        data,
        config,
        "127.0.0.1:0",
        &["--snapshot-every", "200", "--segment-events", "500"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = always_open();
    for c in &mut catalog.categories {
        c.daily_quota = 0;
    }
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, hall_server::config::to_toml(&catalog)).unwrap();
    let data = dir.path().join("data");

    // request id -> number, for every acknowledged IssueTicket.
    let acked: Arc<Mutex<HashMap<String, (String, String)>>> = Arc::default();
    let mut attempted: Vec<(String, String)> = Vec::new(); // (request id, category)
    for round in 0..3 {
        let (mut child, url) = spawn_server(&data, &config);
        let ch = channel_as(&url, Role::Kiosk).await;
        let mut tasks = vec![];
        for c in 0..8 {
            let ch = ch.clone();
            let acked = acked.clone();
            let ids: Vec<(String, String)> = (0..10_000)
                .map(|i| {
                    (
                        format!("r{round}-c{c}-{i}"),
                        CATEGORIES[(c + i) % 4].to_string(),
                    )
                })
                .collect();
            attempted.extend(ids.iter().take(400).cloned());
            tasks.push(tokio::spawn(async move {
                let mut k = pb::kiosk_service_client::KioskServiceClient::new(ch);
                for (rid, cat) in ids.into_iter().take(400) {
                    match k.issue_ticket(issue(&cat, &rid)).await {
                        Ok(t) => {
                            acked
                                .lock()
                                .unwrap()
                                .insert(rid, (cat, t.into_inner().number));
                        }
                        Err(_) => break, // the server died under us
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + 150 * round as u64)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "the load ran: {} acknowledged",
        acked.len()
    );

    // Restart and check.
    let (mut child, url) = spawn_server(&data, &config);
    let ch = channel_as(&url, Role::Kiosk).await;
    let mut k = pb::kiosk_service_client::KioskServiceClient::new(ch);
    for (rid, (cat, number)) in &acked {
        let st = k
            .get_ticket_status(pb::GetTicketStatusRequest {
                number: number.clone(),
                service_date: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged {number} lost: {e}"))
            .into_inner();
        assert_eq!(&st.category, cat);
        // Retrying the acknowledged request returns the same ticket.
        let again = k.issue_ticket(issue(cat, rid)).await.unwrap().into_inner();
        assert_eq!(&again.number, number, "retry of {rid} issued a new ticket");
    }
    // Retrying every attempted request: stored ones come back, lost ones get
    // new numbers; either way no number is held by two requests.
    let mut numbers: HashSet<String> = HashSet::new();
    for (rid, cat) in &attempted {
        let t = k.issue_ticket(issue(cat, rid)).await.unwrap().into_inner();
        assert!(
            numbers.insert(t.number.clone()),
            "number {} issued twice",
            t.number
        );
    }
    // Numbering continues after the highest number ever acknowledged.
    for cat in CATEGORIES {
        let t = k.issue_ticket(issue(cat, "")).await.unwrap().into_inner();
        let n: u32 = t.number[1..].parse().unwrap();
        let prefix = &t.number[..1];
        let max_acked = acked
            .values()
            .filter(|(c, _)| c == cat)
            .map(|(_, num)| num[1..].parse::<u32>().unwrap())
            .max()
            .unwrap_or(0);
        assert!(n > max_acked, "{prefix}{n} after {max_acked}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
