//! Scenario tests: a tiny script drives the engine on a virtual clock and the
//! transcript is compared with an `expect!` snapshot. One `check` per behaviour.
//!
//! Script: `at [DATE] HH:MM`, `+N` (minutes), `tick`, `issue CODE [class]
//! [person=K] [born=DATE] [req=ID]`, `book CODE person=K DATE HH:MM-HH:MM`,
//! `checkin person=K`, `cancel NO`, `login W CLERK [PIN]`, `logout W`,
//! `pause W`, `resume W`, `call W`, `pick W NO`, `recall W`, `start W`,
//! `finish W [unresolved REASON]`, `noshow W`, `requeue W NO`, `suspend W`,
//! `callback W NO`, `transfer W cat=CODE|win=N [return]`, `rate W NO N [COMMENT]`,
//! `queue W`, `status NO`, `replace-catalog`.
//!
//! Why one long file: the scripts read as one table of the hall's rules (a
//! new rule is a new `check` next to its neighbours), and they share the
//! script runner at the top; split it when a family grows its own runner.

use super::catalog::{Catalog, hash_pin, verify_pin};
use super::*;
use chrono::{NaiveDate, NaiveDateTime};
use expect_test::{Expect, expect};
use std::fmt::Write;

fn test_catalog() -> Catalog {
    let pin = hash_pin("c1", "1111", [1; 16]);
    let pin2 = hash_pin("c2", "2222", [2; 16]);
    let pin3 = hash_pin("c3", "3333", [3; 16]);
    let text = format!(
        r#"
[hall]
name_zh = "测试大厅"
name_en = "Test hall"
[policy]
priority_ratio = 2
max_recalls = 2
secondary_escalation_minutes = 30
late_requeue_behind = 1
[calendar]
weekday_open = "09:00"
weekday_close = "17:00"
weekend_open = "09:00"
weekend_close = "12:00"
holidays = ["2026-10-01"]
makeup_workdays = ["2026-10-10"]
[[departments]]
code = "d"
name_zh = "部门"
name_en = "Dept"
[[zones]]
code = "z"
name_zh = "综合受理区"
name_en = "General"
[[categories]]
code = "a"
prefix = "A"
name_zh = "甲"
name_en = "Alpha"
department = "d"
zone = "z"
expected_minutes = 10
issue_until = "16:30"
[[categories]]
code = "b"
prefix = "B"
name_zh = "乙"
name_en = "Beta"
department = "d"
zone = "z"
expected_minutes = 6
weekend_service = false
[[categories]]
code = "c"
prefix = "C"
name_zh = "丙"
name_en = "Gamma"
department = "d"
zone = "z"
daily_quota = 2
id_card_required = true
per_person_daily_limit = 1
[[bundles]]
code = "ys"
prefix = "YS"
name_zh = "分段一件事"
name_en = "Staged bundle"
stages = ["a", "b"]
mode = "staged"
[[bundles]]
code = "yw"
prefix = "YW"
name_zh = "综窗一件事"
name_en = "Whole bundle"
stages = ["a", "b"]
mode = "whole"
[[windows]]
number = 1
name = "1号窗口"
zone = "z"
tiers = [["a"], ["b"]]
[[windows]]
number = 2
name = "2号窗口"
zone = "z"
tiers = [["b"], ["a"]]
[[windows]]
number = 3
name = "3号综合窗口"
zone = "z"
tiers = [["yw"], ["c"]]
[[clerks]]
id = "c1"
name = "王晓明"
pin_argon2 = "{pin}"
[[clerks]]
id = "c2"
name = "李丽华"
pin_argon2 = "{pin2}"
[[clerks]]
id = "c3"
name = "张建国"
pin_argon2 = "{pin3}"
"#
    );
    crate::config::parse(&text, "test").unwrap()
}

struct Run {
    hall: Hall,
    now: Millis,
    out: String,
    log: Vec<(Event, Millis)>,
}

fn pins(clerk: &str) -> &'static str {
    match clerk {
        "c1" => "1111",
        "c2" => "2222",
        _ => "3333",
    }
}

impl Run {
    fn session(&self, w: &str) -> Session {
        let window: WindowNo = w.parse().unwrap();
        let token = self
            .hall
            .windows
            .get(&window)
            .and_then(|r| r.token.clone())
            .unwrap_or_default();
        Session { window, token }
    }

    fn line(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let opt = |k: &str| {
            words
                .iter()
                .find_map(|w| w.strip_prefix(k).map(str::to_string))
        };
        let has = |k: &str| words.contains(&k);
        let s = |i: usize| words.get(i).copied().unwrap_or("").to_string();
        let cmd = match words[0] {
            "at" => {
                let text = if words.len() == 3 {
                    format!("{} {}", words[1], words[2])
                } else {
                    format!("{} {}", self.hall.clock().local(self.now).date(), words[1])
                };
                let local = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M").unwrap();
                self.now = self.hall.clock().instant(local);
                return;
            }
            w if w.starts_with('+') => {
                self.now += w[1..].parse::<i64>().unwrap() * 60_000;
                return;
            }
            "queue" => {
                let w: WindowNo = s(1).parse().unwrap();
                let ids = self.hall.window_queue(w, self.now, 20);
                let nums: Vec<String> = ids
                    .iter()
                    .map(|id| self.hall.tickets[id].number.clone())
                    .collect();
                writeln!(self.out, "{line} -> [{}]", nums.join(" ")).unwrap();
                return;
            }
            "status" => {
                let t = self.hall.ticket_by_number(&s(1)).unwrap().clone();
                let (ahead, wait) = self.hall.estimate(&t, self.now);
                writeln!(
                    self.out,
                    "{line} -> {} queue={} ahead={ahead} wait={wait}m{}",
                    t.state.name(),
                    t.queue,
                    t.target_window
                        .map_or(String::new(), |w| format!(" target=win{w}"))
                )
                .unwrap();
                return;
            }
            "tick" => Command::Tick,
            "issue" => {
                let priority = match words.get(2).copied() {
                    Some("elderly") => Priority::Elderly,
                    Some("veteran") => Priority::Veteran,
                    Some("key") => Priority::KeyProject,
                    Some("disabled") => Priority::Disabled,
                    _ => Priority::Normal,
                };
                let person = opt("person=").map(|k| Person {
                    key: k,
                    masked_name: "张*三".into(),
                    birth_date: opt("born=").map(|d| d.parse().unwrap()),
                });
                Command::IssueTicket {
                    request_id: opt("req="),
                    code: s(1),
                    priority,
                    channel: Channel::Kiosk,
                    person,
                }
            }
            "book" => {
                let (from, to) = s(4)
                    .split_once('-')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap();
                Command::BookAppointment {
                    request_id: None,
                    code: s(1),
                    person: Person {
                        key: opt("person=").unwrap(),
                        masked_name: "李*".into(),
                        birth_date: None,
                    },
                    date: s(3).parse::<NaiveDate>().unwrap(),
                    slot_start: from,
                    slot_end: to,
                    phone: opt("phone="),
                }
            }
            "notify" => Command::OptInNotify {
                service_date: self.hall.service_date,
                number: s(1),
                phone: s(2),
                ahead: words.get(3).map(|a| a.parse().unwrap()),
            },
            "delivered" => Command::NotificationOutcome {
                id: s(1).parse().unwrap(),
                sink: s(2),
                outcome: crate::notify::Outcome::Delivered { attempts: 1 },
            },
            "dead" => Command::NotificationOutcome {
                id: s(1).parse().unwrap(),
                sink: s(2),
                outcome: crate::notify::Outcome::Dead {
                    attempts: 8,
                    error: "HTTP 503".into(),
                },
            },
            "slots" => {
                let date: NaiveDate = s(2).parse().unwrap();
                let free: Vec<String> = self
                    .hall
                    .free_slots(&s(1), date, self.now)
                    .into_iter()
                    .map(|f| format!("{}-{}:{}", f.start, f.end, f.free))
                    .collect();
                writeln!(self.out, "{line} -> [{}]", free.join(" ")).unwrap();
                return;
            }
            "outbox" => {
                let n = &self.hall.notify;
                let pending: Vec<String> = n
                    .outbox
                    .values()
                    .map(|p| format!("#{}:{}", p.notification.id, p.sinks.join("+")))
                    .collect();
                let dead: Vec<String> = n
                    .dead
                    .iter()
                    .map(|d| format!("#{} {} {} {}", d.id, d.sink, d.phone_masked, d.error))
                    .collect();
                writeln!(
                    self.out,
                    "{line} -> pending [{}] dead [{}] delivered {}",
                    pending.join(" "),
                    dead.join("; "),
                    n.delivered
                )
                .unwrap();
                return;
            }
            "unbook" => Command::CancelAppointment {
                id: s(1).parse().unwrap(),
                person_key: opt("person="),
                reason: "plans changed".into(),
            },
            "remote" => Command::IssueTicket {
                request_id: None,
                code: s(1),
                priority: Priority::Normal,
                channel: Channel::Mobile,
                person: opt("person=").map(|k| Person {
                    key: k,
                    masked_name: String::new(),
                    birth_date: None,
                }),
            },
            "arrive" => Command::ArriveRemote {
                service_date: self.hall.service_date,
                number: s(1),
            },
            "bookings" => {
                let key = opt("person=").unwrap();
                let list: Vec<String> = self
                    .hall
                    .bookings_of(&key)
                    .iter()
                    .map(|a| format!("#{} {} {}", a.id, a.date, a.state.name()))
                    .collect();
                let block = self
                    .hall
                    .booking_block(&key)
                    .map_or(String::new(), |b| format!(" blocked until {}", b.until));
                writeln!(self.out, "{line} -> [{}]{block}", list.join(", ")).unwrap();
                return;
            }
            "checkin" => Command::CheckInAppointment {
                request_id: None,
                person_key: opt("person=").unwrap(),
                appointment: opt("booking=").map(|b| b.parse().unwrap()),
            },
            "work" => Command::WorkFollowUp {
                id: s(1).parse().unwrap(),
                by: "s01".into(),
                step: {
                    let rest = words.get(3..).map(|w| w.join(" ")).unwrap_or_default();
                    match s(2).as_str() {
                        "assign" => FollowUpStep::Assign { to: rest },
                        "contact" => FollowUpStep::Contact {
                            reached: words.get(3) == Some(&"yes"),
                            note: words.get(4..).map(|w| w.join(" ")).unwrap_or_default(),
                        },
                        "fix" => FollowUpStep::Fix { text: rest },
                        "ratefix" => FollowUpStep::RateFix {
                            rating: FixRating::parse(&rest).unwrap(),
                        },
                        "appeal" => FollowUpStep::Appeal { reason: rest },
                        "review" => FollowUpStep::Review {
                            upheld: words.get(3) == Some(&"yes"),
                            note: words.get(4..).map(|w| w.join(" ")).unwrap_or_default(),
                        },
                        other => panic!("work: unknown step {other}"),
                    }
                },
            },
            "spause" => Command::SupervisePause {
                window: s(1).parse().unwrap(),
                by: "s01".into(),
                reason: words.get(2..).map(|w| w.join(" ")).unwrap_or_default(),
                resume: false,
            },
            "sresume" => Command::SupervisePause {
                window: s(1).parse().unwrap(),
                by: "s01".into(),
                reason: String::new(),
                resume: true,
            },
            "close-follow-up" => Command::CloseFollowUp {
                id: s(1).parse().unwrap(),
                resolution: "回访已完成".into(),
            },
            "device" => Command::ReportDevice {
                device_id: s(1),
                kind: "printer".into(),
                status: s(2),
                detail: String::new(),
            },
            "cancel" => Command::CancelTicket {
                number: s(1),
                reason: "visitor left".into(),
            },
            "login" => {
                // The PIN is checked before the engine sees the command, as
                // the server's edge does.
                let pin = words.get(3).map_or(pins(&s(2)), |p| p).to_string();
                if let Some(c) = self.hall.catalog.clerk(&s(2))
                    && !verify_pin(c, &pin)
                {
                    writeln!(self.out, "{line} -> ERROR {}", EngineError::BadCredentials).unwrap();
                    return;
                }
                Command::Login {
                    window: s(1).parse().unwrap(),
                    clerk: s(2),
                    token: format!("t{}", s(1)),
                }
            }
            "logout" => Command::Logout {
                session: self.session(&s(1)),
            },
            "pause" => Command::Pause {
                session: self.session(&s(1)),
                reason: "break".into(),
            },
            "resume" => Command::Resume {
                session: self.session(&s(1)),
            },
            "call" => Command::CallNext {
                session: self.session(&s(1)),
            },
            "pick" => Command::CallTicket {
                session: self.session(&s(1)),
                number: s(2),
            },
            "recall" => Command::Recall {
                session: self.session(&s(1)),
            },
            "start" => Command::StartService {
                session: self.session(&s(1)),
            },
            "finish" => Command::Finish {
                session: self.session(&s(1)),
                resolved: !has("unresolved"),
                reason: words
                    .get(3..)
                    .map(|w| {
                        let w: Vec<&str> = w.iter().copied().filter(|w| !w.contains('=')).collect();
                        w.join(" ")
                    })
                    .unwrap_or_default(),
                case: opt("case=").map(|case_no| CaseRef {
                    case_no,
                    service_code: opt("svc=").unwrap_or_default(),
                }),
            },
            "noshow" => Command::NoShow {
                session: self.session(&s(1)),
            },
            "requeue" => Command::Requeue {
                session: self.session(&s(1)),
                number: s(2),
            },
            "forcelogout" => Command::ForceLogout {
                window: s(1).parse().unwrap(),
                by: "supervisor".into(),
                reason: "clerk left".into(),
                ticket: match s(2).as_str() {
                    "requeue" => ForcedTicket::Requeue,
                    _ => ForcedTicket::Suspend,
                },
            },
            "suspend" => Command::Suspend {
                session: self.session(&s(1)),
                reason: "补充材料".into(),
            },
            "callback" => Command::CallBack {
                session: self.session(&s(1)),
                number: s(2),
            },
            "transfer" => Command::Transfer {
                session: self.session(&s(1)),
                target: match (opt("cat="), opt("win=")) {
                    (Some(c), _) => TransferTarget::Queue(c),
                    (_, Some(w)) => TransferTarget::Window(w.parse().unwrap()),
                    _ => panic!("transfer needs cat= or win="),
                },
                with_return: has("return"),
                reason: "needs another department".into(),
            },
            "send" => Command::SendToSite {
                session: self.session(&s(1)),
                ticket: opt("ticket=").map_or_else(
                    || {
                        let w: WindowNo = s(1).parse().unwrap();
                        self.hall
                            .windows
                            .get(&w)
                            .and_then(|r| r.current)
                            .unwrap_or(0)
                    },
                    |n| self.hall.ticket_by_number(&n).map_or(0, |t| t.id),
                ),
                to: SiteTicket {
                    site: opt("site=").unwrap_or_default(),
                    number: opt("num=").unwrap_or_default(),
                    category: opt("cat=").unwrap_or_default(),
                },
            },
            "from-site" => Command::IssueFromSite {
                request_id: opt("req=").unwrap_or_default(),
                code: s(1),
                from: SiteTicket {
                    site: opt("site=").unwrap_or_default(),
                    number: opt("num=").unwrap_or_default(),
                    category: s(1),
                },
            },
            "rate" => Command::RateFromPad {
                window: s(1).parse().unwrap(),
                number: s(2),
                rating: s(3).parse().unwrap(),
                comment: words.get(4..).map(|w| w.join(" ")).unwrap_or_default(),
            },
            "replace-catalog" => {
                let mut c = self.hall.catalog.clone();
                c.categories.retain(|c| c.code != "b");
                for w in &mut c.windows {
                    for t in &mut w.tiers {
                        t.retain(|c| c != "b");
                    }
                }
                c.bundles.clear();
                for w in &mut c.windows {
                    for t in &mut w.tiers {
                        t.retain(|c| c != "yw");
                    }
                    w.tiers.retain(|t| !t.is_empty());
                }
                Command::ReplaceCatalog {
                    catalog: Box::new(c),
                }
            }
            other => panic!("unknown script command {other}"),
        };
        match apply(&mut self.hall, cmd, self.now) {
            Ok(events) if events.is_empty() => writeln!(self.out, "{line} -> (no change)").unwrap(),
            Ok(events) => {
                self.log
                    .extend(events.iter().map(|e| (e.clone(), self.now)));
                let text: Vec<String> = events.iter().map(|e| self.describe(e)).collect();
                writeln!(self.out, "{line} -> {}", text.join("; ")).unwrap();
            }
            Err(e) => writeln!(self.out, "{line} -> ERROR {e}").unwrap(),
        }
    }

    fn number(&self, id: TicketId) -> String {
        self.hall
            .tickets
            .get(&id)
            .map_or(format!("#{id}"), |t| t.number.clone())
    }

    fn describe(&self, e: &Event) -> String {
        match e {
            Event::DayRolled { to, expired } => {
                format!("day rolled to {to}, {} expired", expired.len())
            }
            Event::CatalogReplaced { .. } => "catalog replaced".into(),
            Event::TicketIssued { ticket, .. } => {
                let t = &self.hall.tickets[&ticket.id];
                let (ahead, wait) = self.hall.estimate(t, self.now);
                format!(
                    "issued {} in {} ({}) ahead={ahead} wait={wait}m{}",
                    t.number,
                    t.queue,
                    t.priority.name(),
                    t.from_site
                        .as_ref()
                        .map_or(String::new(), |f| format!(" from {} {}", f.site, f.number))
                )
            }
            Event::AppointmentBooked { appointment, .. } => format!("booked #{}", appointment.id),
            Event::TicketCancelled { ticket, .. } => format!("{} cancelled", self.number(*ticket)),
            Event::AppointmentCancelled { id, by_visitor, .. } => format!(
                "booking #{id} cancelled by {}",
                if *by_visitor { "the visitor" } else { "staff" }
            ),
            Event::AppointmentsMissed { ids } => format!("missed {ids:?}"),
            Event::AppointmentReminder { id, soon } => format!(
                "remind #{id} {}",
                if *soon {
                    "30 min before"
                } else {
                    "the day before"
                }
            ),
            Event::BookingBlocked {
                person_key,
                until,
                missed,
            } => format!("{person_key} blocked until {until} ({missed} missed)"),
            Event::RemoteArrived { ticket } => format!("{} arrived", self.number(*ticket)),
            Event::RemoteAtFront { ticket } => format!("{} at the front", self.number(*ticket)),
            Event::TicketExpired { ticket, .. } => format!("{} expired", self.number(*ticket)),
            Event::WindowOpened { window, clerk, .. } => {
                format!("window {window} opened by {clerk}")
            }
            Event::WindowClosed { window } => format!("window {window} closed"),
            Event::WindowForcedOut {
                window,
                clerk,
                by,
                reason,
            } => format!("window {window} ({clerk}) logged out by {by}: {reason}"),
            Event::WindowPaused { window, .. } => format!("window {window} paused"),
            Event::WindowResumed { window } => format!("window {window} resumed"),
            Event::TicketCalled {
                ticket,
                window,
                reason,
                ..
            } => {
                format!("{} to window {window}: {reason}", self.number(*ticket))
            }
            Event::TicketRecalled { ticket, count, .. } => {
                format!("{} recalled ({count})", self.number(*ticket))
            }
            Event::ServiceStarted { ticket, .. } => format!("{} serving", self.number(*ticket)),
            Event::TicketFinished {
                ticket,
                resolved,
                after,
                ..
            } => format!(
                "{} finished{} then {}",
                self.number(*ticket),
                if *resolved { "" } else { " unresolved" },
                match after {
                    AfterFinish::Closed => "closed".to_string(),
                    AfterFinish::NextStage { stage, queue } =>
                        format!("stage {} in {queue}", stage + 1),
                    AfterFinish::Returned { window, .. } => format!("returns to window {window}"),
                    AfterFinish::SentAway { to } =>
                        format!("sent to {} as {} ({})", to.site, to.number, to.category),
                }
            ),
            Event::TicketNoShow { ticket, auto, .. } => {
                format!(
                    "{} no-show{}",
                    self.number(*ticket),
                    if *auto { " (auto)" } else { "" }
                )
            }
            Event::TicketRequeued { ticket, .. } => format!("{} requeued", self.number(*ticket)),
            Event::TicketSuspended { ticket, .. } => format!("{} suspended", self.number(*ticket)),
            Event::TicketTransferred {
                ticket,
                target,
                return_to,
                ..
            } => format!(
                "{} transferred to {target:?}{}",
                self.number(*ticket),
                return_to.as_ref().map_or(String::new(), |r| format!(
                    ", returns to window {}",
                    r.window
                ))
            ),
            Event::RatingSubmitted { ticket, rating, .. } => {
                format!("{} rated {rating}", self.number(*ticket))
            }
            Event::FollowUpOpened { follow_up } => {
                format!(
                    "follow-up #{} {} for {}: {}",
                    follow_up.id,
                    follow_up.kind.name(),
                    follow_up.ticket_number,
                    follow_up.reason
                )
            }
            Event::FollowUpClosed { id, .. } => format!("follow-up #{id} closed"),
            Event::DeviceReported {
                device_id, status, ..
            } => format!("{device_id} {status}"),
            Event::Audited { record } => format!("audit {} {}", record.action, record.outcome),
            Event::FollowUpWorked { id, by, step } => {
                let f = &self.hall.follow_ups[id];
                format!(
                    "follow-up {id} by {by}: {step:?}; due {} assignee {:?} contacts {} fix {:?} fix-rating {:?} appeal {:?}",
                    f.due.map(|d| d.to_string()).unwrap_or_default(),
                    f.assignee,
                    f.contacts.len(),
                    f.fix,
                    f.fix_rating,
                    f.appeal.as_ref().map(|a| a.upheld)
                )
            }
            Event::CaseRecorded {
                ticket,
                case_no,
                service_code,
            } => format!(
                "{} case {case_no} item {service_code}",
                self.number(*ticket)
            ),
            Event::RetentionApplied { report, .. } => format!(
                "retention: {} tickets, {} appointments, {} follow-ups",
                report.tickets, report.appointments, report.follow_ups
            ),
            Event::NotifyOptedIn {
                ticket,
                phone,
                ahead,
            } => format!(
                "{} notify {} when {ahead} ahead",
                self.number(*ticket),
                crate::notify::mask_phone(phone)
            ),
            Event::NotificationQueued { notification: n } => format!(
                "notify #{} {} {} to {}{}{}{}{} key {}",
                n.id,
                n.trigger.as_str(),
                n.number,
                crate::notify::mask_phone(&n.phone),
                n.window.map(|w| format!(" window {w}")).unwrap_or_default(),
                n.people_ahead
                    .map(|a| format!(" ahead {a}"))
                    .unwrap_or_default(),
                if n.slot.is_empty() {
                    String::new()
                } else {
                    format!(" {} {}", n.service_date, n.slot)
                },
                n.until.map(|u| format!(" until {u}")).unwrap_or_default(),
                n.key()
            ),
            Event::NotificationDone { id, sink, outcome } => {
                format!("notify #{id} {sink}: {outcome:?}")
            }
        }
    }
}

/// Runs a script starting on Friday 2026-11-27 08:55 (Asia/Shanghai),
/// checks the transcript, and checks that replaying the events rebuilds the
/// same hall (the fold invariant).
/// Runs a script on the test catalogue from 2026-11-27 08:55.
fn run_script(script: &str) -> Run {
    let mut run = Run {
        hall: Hall::new(test_catalog()),
        now: 0,
        out: String::new(),
        log: vec![],
    };
    run.line("at 2026-11-27 08:55");
    run.line("tick");
    run.out.clear();
    for line in script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        run.line(line);
    }
    run
}

fn check(script: &str, expect: Expect) {
    check_on(test_catalog(), script, expect);
}

fn check_on(catalog: Catalog, script: &str, expect: Expect) {
    let mut run = Run {
        hall: Hall::new(catalog.clone()),
        now: 0,
        out: String::new(),
        log: vec![],
    };
    run.line("at 2026-11-27 08:55");
    run.line("tick");
    run.out.clear();
    for line in script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        run.line(line);
    }
    expect.assert_eq(&run.out);

    // The fold invariant: replaying the events rebuilds the same hall...
    let mut replayed = Hall::new(catalog);
    for (e, at) in &run.log {
        replayed.fold(e, *at);
    }
    let canon = |h: &Hall| serde_json::to_value(h).unwrap();
    assert_eq!(canon(&replayed), canon(&run.hall), "replay differs");
    // ...and a snapshot round trip rebuilds the same indexes.
    let mut restored: Hall =
        serde_json::from_str(&serde_json::to_string(&run.hall).unwrap()).unwrap();
    restored.after_load();
    // The remote tickets awaiting arrival agree too.
    assert_eq!(replayed.remote_pending, run.hall.remote_pending);
    assert_eq!(restored.remote_pending, run.hall.remote_pending);
    // ...and the bookings' reminders still due.
    assert_eq!(replayed.reminders, run.hall.reminders);
    assert_eq!(restored.reminders, run.hall.reminders);
    for w in run.hall.windows.keys() {
        assert_eq!(
            restored.window_queue(*w, run.now, 50),
            run.hall.window_queue(*w, run.now, 50)
        );
        // The suspended index agrees with a scan of every ticket, live,
        // replayed and restored.
        let scan: Vec<TicketId> = run
            .hall
            .tickets()
            .filter(|t| t.state == TicketState::Suspended && t.window == Some(*w))
            .map(|t| t.id)
            .collect();
        for h in [&run.hall, &replayed, &restored] {
            let ids: Vec<TicketId> = h.suspended_at(*w).iter().map(|t| t.id).collect();
            assert_eq!(ids.len(), scan.len(), "window {w}");
            assert!(ids.iter().all(|id| scan.contains(id)), "window {w}");
        }
    }
}

#[test]
fn issue_numbers_and_estimates() {
    check(
        r"
        issue a
        at 09:00
        issue a
        issue a
        issue b
        issue zz
        issue ys
        issue yw
        ",
        expect![[r#"
            issue a -> ERROR a: not yet issuing today; next issuing time 2026-11-27 09:00
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            issue b -> issued B001 in b (normal) ahead=0 wait=0m
            issue zz -> ERROR unknown category or bundle 'zz'
            issue ys -> issued YS001 in a (normal) ahead=2 wait=20m
            issue yw -> issued YW001 in yw (normal) ahead=0 wait=0m
        "#]],
    );
}

#[test]
fn call_next_primary_then_secondary_tier() {
    check(
        r"
        at 09:00
        issue b
        issue a
        call 1
        login 1 c1
        call 1
        call 1
        finish 1
        call 1
        finish 1
        call 1
        ",
        expect![[r#"
            issue b -> issued B001 in b (normal) ahead=0 wait=0m
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            call 1 -> ERROR window 1 is not logged in (or the session has ended): log in first
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 1 others waiting
            call 1 -> ERROR window 1 still has ticket A001 (called): start it, recall it or mark it no-show first
            finish 1 -> A001 finished then closed
            call 1 -> B001 to window 1: tier 2: oldest ticket (waited 0 min); 0 others waiting
            finish 1 -> B001 finished then closed
            call 1 -> ERROR no ticket is waiting for window 1
        "#]],
    );
}

#[test]
fn priority_interleaves_by_ratio_so_normal_never_starves() {
    check(
        r"
        at 09:00
        issue a
        issue a
        issue a elderly person=p1 born=1950-03-01
        issue a veteran
        issue a disabled
        issue a key
        status A001
        status A002
        queue 1
        login 1 c1
        call 1
        finish 1
        call 1
        finish 1
        call 1
        finish 1
        call 1
        finish 1
        call 1
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            issue a elderly person=p1 born=1950-03-01 -> issued A003 in a (elderly) ahead=0 wait=0m
            issue a veteran -> issued A004 in a (veteran) ahead=1 wait=10m
            issue a disabled -> issued A005 in a (disabled) ahead=3 wait=30m
            issue a key -> issued A006 in a (key project) ahead=4 wait=40m
            status A001 -> waiting queue=a ahead=2 wait=20m
            status A002 -> waiting queue=a ahead=5 wait=50m
            queue 1 -> [A003 A004 A001 A005 A006 A002]
            login 1 c1 -> window 1 opened by c1
            call 1 -> A003 to window 1: primary tier: oldest elderly ticket, priority call 1 in a row (waited 0 min); 5 others waiting
            finish 1 -> A003 finished then closed
            call 1 -> A004 to window 1: primary tier: oldest veteran ticket, priority call 2 in a row (waited 0 min); 4 others waiting
            finish 1 -> A004 finished then closed
            call 1 -> A001 to window 1: primary tier: oldest normal ticket after 2 priority calls (waited 0 min); 3 others waiting
            finish 1 -> A001 finished then closed
            call 1 -> A005 to window 1: primary tier: oldest disabled ticket, priority call 1 in a row (waited 0 min); 2 others waiting
            finish 1 -> A005 finished then closed
            call 1 -> A006 to window 1: primary tier: oldest key project ticket, priority call 2 in a row (waited 0 min); 1 others waiting
        "#]],
    );
}

#[test]
fn green_channel_needs_age_from_the_id_card() {
    check(
        r"
        at 09:00
        issue a elderly
        issue a elderly person=p1 born=1960-01-01
        issue a elderly person=p2 born=1956-11-27
        ",
        expect![[r#"
            issue a elderly -> ERROR the elderly green channel needs an ID card showing age 70 or over
            issue a elderly person=p1 born=1960-01-01 -> ERROR the elderly green channel needs an ID card showing age 70 or over
            issue a elderly person=p2 born=1956-11-27 -> issued A001 in a (elderly) ahead=0 wait=0m
        "#]],
    );
}

#[test]
fn secondary_ticket_escalates_after_its_limit() {
    check(
        r"
        at 09:00
        issue b
        +10
        issue a
        login 1 c1
        call 1
        finish 1
        issue a
        +25
        issue a
        call 1
        finish 1
        call 1
        ",
        expect![[r#"
            issue b -> issued B001 in b (normal) ahead=0 wait=0m
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 1 others waiting
            finish 1 -> A001 finished then closed
            issue a -> issued A002 in a (normal) ahead=0 wait=0m
            issue a -> issued A003 in a (normal) ahead=1 wait=0m
            call 1 -> B001 to window 1: tier 2: waited 35 min, past the 30 min limit; 2 others waiting
            finish 1 -> B001 finished then closed
            call 1 -> A002 to window 1: primary tier: oldest ticket (waited 25 min); 1 others waiting
        "#]],
    );
}

#[test]
fn recall_then_auto_no_show_and_late_requeue() {
    check(
        r"
        at 09:00
        issue a
        issue a
        issue a
        issue a
        login 1 c1
        call 1
        recall 1
        recall 1
        recall 1
        requeue 1 A002
        requeue 1 A001
        queue 1
        call 1
        noshow 1
        start 1
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            issue a -> issued A003 in a (normal) ahead=2 wait=20m
            issue a -> issued A004 in a (normal) ahead=3 wait=30m
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 3 others waiting
            recall 1 -> A001 recalled (1)
            recall 1 -> A001 recalled (2)
            recall 1 -> A001 no-show (auto)
            requeue 1 A002 -> ERROR ticket A002 is waiting; cannot requeue it as a late arrival
            requeue 1 A001 -> A001 requeued
            queue 1 -> [A001 A002 A003 A004]
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 3 others waiting
            noshow 1 -> A001 no-show
            start 1 -> ERROR window 1 has no current ticket
        "#]],
    );
}

#[test]
fn suspend_and_call_back() {
    check(
        r"
        at 09:00
        issue a person=p1
        issue a
        login 1 c1
        call 1
        start 1
        suspend 1
        status A001
        issue a person=p1
        call 1
        callback 1 A001
        finish 1
        callback 1 A001
        start 1
        finish 1
        status A001
        ",
        expect![[r#"
            issue a person=p1 -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 1 others waiting
            start 1 -> A001 serving
            suspend 1 -> A001 suspended
            status A001 -> suspended queue=a ahead=0 wait=0m
            issue a person=p1 -> ERROR this person already holds ticket A001 for 'a' today
            call 1 -> A002 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            callback 1 A001 -> ERROR window 1 still has ticket A002 (called): start it, recall it or mark it no-show first
            finish 1 -> A002 finished then closed
            callback 1 A001 -> A001 to window 1: suspended ticket called back; 0 others waiting
            start 1 -> A001 serving
            finish 1 -> A001 finished then closed
            status A001 -> done queue=a ahead=0 wait=0m
        "#]],
    );
}

#[test]
fn transfer_with_return_keeps_place() {
    check(
        r"
        at 09:00
        issue a
        +1
        issue a
        issue a
        login 1 c1
        login 2 c2
        call 1
        start 1
        transfer 1 cat=b return
        status A001
        call 1
        call 2
        start 2
        finish 2
        status A001
        queue 1
        finish 1
        call 1
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            issue a -> issued A003 in a (normal) ahead=2 wait=20m
            login 1 c1 -> window 1 opened by c1
            login 2 c2 -> window 2 opened by c2
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 1 min); 2 others waiting
            start 1 -> A001 serving
            transfer 1 cat=b return -> A001 transferred to Queue("b"), returns to window 1
            status A001 -> waiting queue=b ahead=0 wait=0m
            call 1 -> A002 to window 1: primary tier: oldest ticket (waited 0 min); 2 others waiting
            call 2 -> A001 to window 2: primary tier: oldest ticket (waited 1 min); 1 others waiting
            start 2 -> A001 serving
            finish 2 -> A001 finished then returns to window 1
            status A001 -> waiting queue=a ahead=0 wait=0m target=win1
            queue 1 -> [A001 A003]
            finish 1 -> A002 finished then closed
            call 1 -> A001 to window 1: transferred to this window (waited 1 min); 1 others waiting
        "#]],
    );
}

#[test]
fn transfer_to_a_window_without_return() {
    check(
        r"
        at 09:00
        issue a
        issue a
        login 1 c1
        login 3 c3
        call 1
        transfer 1 win=1
        transfer 1 win=9
        transfer 1 win=3
        queue 3
        call 3
        finish 3
        call 3
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            login 1 c1 -> window 1 opened by c1
            login 3 c3 -> window 3 opened by c3
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 1 others waiting
            transfer 1 win=1 -> ERROR cannot transfer to the same window
            transfer 1 win=9 -> ERROR unknown window 9
            transfer 1 win=3 -> A001 transferred to Window(3)
            queue 3 -> [A001]
            call 3 -> A001 to window 3: transferred to this window (waited 0 min); 0 others waiting
            finish 3 -> A001 finished then closed
            call 3 -> ERROR no ticket is waiting for window 3
        "#]],
    );
}

/// 跨区域通办 between two sites, each side of it: the sending window's
/// ticket leaves its hall (transferred in the report, not served), and the
/// receiving hall issues one ticket with its origin, once per request id,
/// without an ID card (the origin checked it).
#[test]
fn a_ticket_sent_to_another_site_leaves_and_arrives_once() {
    let mut c = test_catalog();
    c.site.id = "district".into();
    c.peers.push(crate::site::Peer {
        site: "street".into(),
        name: "街道".into(),
        url: "http://127.0.0.1:1".into(),
        tls_dir: String::new(),
    });
    check_on(
        c,
        r"
        at 09:00
        issue a
        login 1 c1
        send 1 site=street num=B007 cat=a
        call 1
        send 1 site=nowhere num=B007 cat=a
        send 1 site=street num= cat=a
        issue a
        send 1 site=street num=B007 cat=a ticket=A002
        send 1 site=street num=B007 cat=a
        call 1
        from-site a site=street num=C001 req=x-1
        from-site a site=street num=C001 req=x-1
        from-site a site= num=C001 req=x-2
        issue c
        from-site c site=street num=C002 req=x-3
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            login 1 c1 -> window 1 opened by c1
            send 1 site=street num=B007 cat=a -> ERROR window 1 has no current ticket
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            send 1 site=nowhere num=B007 cat=a -> ERROR 'nowhere' is not a site of this hall's network ([[peers]])
            send 1 site=street num= cat=a -> ERROR the other site's ticket is needed
            issue a -> issued A002 in a (normal) ahead=0 wait=0m
            send 1 site=street num=B007 cat=a ticket=A002 -> ERROR window 1 has moved on to A001: A002 is no longer its ticket
            send 1 site=street num=B007 cat=a -> A001 finished then sent to street as B007 (a)
            call 1 -> A002 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            from-site a site=street num=C001 req=x-1 -> issued A003 in a (normal) ahead=0 wait=0m from street C001
            from-site a site=street num=C001 req=x-1 -> (no change)
            from-site a site= num=C001 req=x-2 -> ERROR a transferred ticket names its site and number
            issue c -> ERROR 'c' requires an ID card: please place the ID card on the reader
            from-site c site=street num=C002 req=x-3 -> issued C001 in c (normal) ahead=0 wait=0m from street C002
        "#]],
    );
}

#[test]
fn staged_bundle_moves_through_its_stages_keeping_its_place() {
    check(
        r"
        at 09:00
        issue ys
        +1
        issue b
        issue a
        login 1 c1
        login 2 c2
        call 1
        start 1
        finish 1
        status YS001
        call 2
        start 2
        finish 2
        status YS001
        ",
        expect![[r#"
            issue ys -> issued YS001 in a (normal) ahead=0 wait=0m
            issue b -> issued B001 in b (normal) ahead=0 wait=0m
            issue a -> issued A001 in a (normal) ahead=1 wait=10m
            login 1 c1 -> window 1 opened by c1
            login 2 c2 -> window 2 opened by c2
            call 1 -> YS001 to window 1: primary tier: oldest ticket (waited 1 min); 2 others waiting
            start 1 -> YS001 serving
            finish 1 -> YS001 finished then stage 2 in b
            status YS001 -> waiting queue=b ahead=0 wait=0m
            call 2 -> YS001 to window 2: primary tier: oldest ticket (waited 1 min); 2 others waiting
            start 2 -> YS001 serving
            finish 2 -> YS001 finished then closed
            status YS001 -> done queue=b ahead=0 wait=0m
        "#]],
    );
}

#[test]
fn whole_bundle_served_at_the_comprehensive_window() {
    check(
        r"
        at 09:00
        issue yw
        issue a
        login 3 c3
        login 1 c1
        queue 1
        queue 3
        call 3
        start 3
        finish 3
        status YW001
        ",
        expect![[r#"
            issue yw -> issued YW001 in yw (normal) ahead=0 wait=0m
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            login 3 c3 -> window 3 opened by c3
            login 1 c1 -> window 1 opened by c1
            queue 1 -> [A001]
            queue 3 -> [YW001]
            call 3 -> YW001 to window 3: primary tier: oldest ticket (waited 0 min); 0 others waiting
            start 3 -> YW001 serving
            finish 3 -> YW001 finished then closed
            status YW001 -> done queue=yw ahead=0 wait=0m
        "#]],
    );
}

#[test]
fn quota_id_card_and_one_active_ticket_per_person() {
    check(
        r"
        at 09:00
        issue c
        issue c person=p1
        issue c person=p1
        issue c person=p2
        issue c person=p3
        issue a person=p1
        login 3 c3
        call 3
        start 3
        finish 3
        issue c person=p1
        ",
        expect![[r#"
            issue c -> ERROR 'c' requires an ID card: please place the ID card on the reader
            issue c person=p1 -> issued C001 in c (normal) ahead=0 wait=0m
            issue c person=p1 -> ERROR this person already holds ticket C001 for 'c' today
            issue c person=p2 -> issued C002 in c (normal) ahead=1 wait=10m
            issue c person=p3 -> ERROR today's quota of 2 tickets for 'c' is used up
            issue a person=p1 -> issued A001 in a (normal) ahead=0 wait=0m
            login 3 c3 -> window 3 opened by c3
            call 3 -> C001 to window 3: tier 2: oldest ticket (waited 0 min); 1 others waiting
            start 3 -> C001 serving
            finish 3 -> C001 finished then closed
            issue c person=p1 -> ERROR this person has reached today's limit of 1 tickets for 'c'
        "#]],
    );
}

#[test]
fn request_id_makes_issuing_idempotent() {
    check(
        r"
        at 09:00
        issue a req=r1
        issue a req=r1
        issue a req=r2
        status A002
        ",
        expect![[r#"
            issue a req=r1 -> issued A001 in a (normal) ahead=0 wait=0m
            issue a req=r1 -> (no change)
            issue a req=r2 -> issued A002 in a (normal) ahead=1 wait=10m
            status A002 -> waiting queue=a ahead=1 wait=10m
        "#]],
    );
}

#[test]
fn calendar_cutoff_weekend_holiday_and_makeup_day() {
    check(
        r"
        at 16:29
        issue a
        at 16:30
        issue a
        issue b
        at 2026-11-28 10:00
        tick
        issue a
        issue b
        at 2026-11-28 12:00
        issue a
        at 2026-10-01 10:00
        tick
        issue a
        at 2026-10-10 15:00
        tick
        issue b
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> ERROR a: past today's issuing cutoff; next issuing time 2026-11-28 09:00
            issue b -> issued B001 in b (normal) ahead=0 wait=0m
            tick -> day rolled to 2026-11-28, 2 expired
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue b -> ERROR b: this service is not offered today; next issuing time 2026-11-30 09:00
            issue a -> ERROR a: past today's issuing cutoff; next issuing time 2026-11-29 09:00
            tick -> day rolled to 2026-10-01, 1 expired
            issue a -> ERROR a: the hall is closed today; next issuing time 2026-10-02 09:00
            tick -> day rolled to 2026-10-10, 0 expired
            issue b -> issued B001 in b (normal) ahead=0 wait=0m
        "#]],
    );
}

#[test]
fn day_rollover_expires_tickets_and_restarts_numbers() {
    check(
        r"
        at 09:00
        issue a
        issue a
        login 1 c1
        call 1
        at 23:59
        tick
        at 2026-11-28 00:00
        tick
        tick
        at 2026-11-28 09:00
        issue a
        status A001
        call 1
        login 1 c1
        call 1
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 1 others waiting
            tick -> (no change)
            tick -> day rolled to 2026-11-28, 2 expired; window 1 closed
            tick -> (no change)
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            status A001 -> waiting queue=a ahead=0 wait=0m
            call 1 -> ERROR window 1 is not logged in (or the session has ended): log in first
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
        "#]],
    );
}

#[test]
fn ratings_and_follow_ups() {
    check(
        r"
        at 09:00
        issue a
        issue a
        issue a
        login 1 c1
        call 1
        rate 1 A001 5
        start 1
        finish 1
        rate 1 A001 6
        rate 1 A001 5
        rate 1 A001 4
        call 1
        start 1
        finish 1
        rate 1 A002 1 等待时间太长
        call 1
        start 1
        finish 1 unresolved 缺少材料，需补正
        rate 2 A003 3
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            issue a -> issued A003 in a (normal) ahead=2 wait=20m
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 2 others waiting
            rate 1 A001 5 -> ERROR ticket A001 was not just finished at window 1
            start 1 -> A001 serving
            finish 1 -> A001 finished then closed
            rate 1 A001 6 -> ERROR rating 6 is out of range: 5 非常满意 … 1 非常不满意
            rate 1 A001 5 -> A001 rated 5
            rate 1 A001 4 -> ERROR ticket A001 has already been rated
            call 1 -> A002 to window 1: primary tier: oldest ticket (waited 0 min); 1 others waiting
            start 1 -> A002 serving
            finish 1 -> A002 finished then closed
            rate 1 A002 1 等待时间太长 -> A002 rated 1; follow-up #1 bad_rating for A002: 等待时间太长
            call 1 -> A003 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            start 1 -> A003 serving
            finish 1 unresolved 缺少材料，需补正 -> A003 finished unresolved then closed; follow-up #2 unresolved for A003: 缺少材料，需补正
            rate 2 A003 3 -> ERROR ticket A003 was not just finished at window 2
        "#]],
    );
}

#[test]
fn login_errors_pause_resume_logout() {
    check(
        r"
        at 09:00
        login 1 c1 9999
        login 1 nobody 1111
        login 9 c1
        login 1 c1
        login 1 c2
        login 2 c1
        login 1 c1
        issue a
        pause 1
        call 1
        resume 1
        call 1
        logout 1
        start 1
        finish 1
        logout 1
        call 1
        ",
        expect![[r#"
            login 1 c1 9999 -> ERROR clerk id or PIN is wrong
            login 1 nobody 1111 -> ERROR clerk id or PIN is wrong
            login 9 c1 -> ERROR unknown window 9
            login 1 c1 -> window 1 opened by c1
            login 1 c2 -> ERROR window 1 is already taken by 王晓明 (c1)
            login 2 c1 -> ERROR clerk c1 is already logged in at window 1
            login 1 c1 -> window 1 opened by c1
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            pause 1 -> window 1 paused
            call 1 -> ERROR window 1 is paused: resume first
            resume 1 -> window 1 resumed
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            logout 1 -> ERROR window 1 still has ticket A001 (called): finish, suspend or transfer it before logging out
            start 1 -> A001 serving
            finish 1 -> A001 finished then closed
            logout 1 -> window 1 closed
            call 1 -> ERROR window 1 is not logged in (or the session has ended): log in first
        "#]],
    );
}

#[test]
fn appointments_are_priority_near_their_slot() {
    check(
        r"
        book a person=p9 2026-11-27 10:00-10:30
        book a person=p8 2026-11-27 18:00-18:30
        book a person=p8 2026-11-26 10:00-10:30
        at 09:00
        issue a
        checkin person=p9
        checkin person=p9
        checkin person=p7
        queue 1
        at 09:50
        queue 1
        ",
        expect![[r#"
            book a person=p9 2026-11-27 10:00-10:30 -> booked #1
            book a person=p8 2026-11-27 18:00-18:30 -> ERROR slot 18:00-18:30 is outside opening hours 09:00-17:00 on 2026-11-27
            book a person=p8 2026-11-26 10:00-10:30 -> ERROR 2026-11-26 is in the past
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            checkin person=p9 -> issued A002 in a (appointment) ahead=1 wait=10m
            checkin person=p9 -> ERROR no appointment for this person today
            checkin person=p7 -> ERROR no appointment for this person today
            queue 1 -> [A001 A002]
            queue 1 -> [A002 A001]
        "#]],
    );
}

#[test]
fn cancel_and_catalog_replacement_conflicts() {
    check(
        r"
        at 09:00
        issue b
        replace-catalog
        cancel B001
        cancel B001
        replace-catalog
        issue b
        ",
        expect![[r#"
            issue b -> issued B001 in b (normal) ahead=0 wait=0m
            replace-catalog -> ERROR catalogue rejected: 'b' still has 1 waiting tickets today
            cancel B001 -> B001 cancelled
            cancel B001 -> ERROR ticket B001 is cancelled; cannot cancel
            replace-catalog -> catalog replaced
            issue b -> ERROR unknown category or bundle 'b'
        "#]],
    );
}

#[test]
fn finished_tickets_beyond_the_limit_leave_memory_but_figures_stay() {
    let mut run = Run {
        hall: Hall::new(test_catalog()),
        now: 0,
        out: String::new(),
        log: vec![],
    };
    run.line("at 2026-11-27 09:00");
    run.line("tick");
    run.line("login 1 c1");
    let n = KEEP_CLOSED + 50;
    for i in 0..n {
        run.line(&format!("issue a req=r{i}"));
        run.line("call 1");
        run.line("finish 1");
    }
    assert_eq!(run.hall.tickets.len(), KEEP_CLOSED);
    assert!(run.hall.ticket_by_number("A001").is_none());
    assert!(run.hall.was_issued_today("A001"));
    assert!(!run.hall.was_issued_today(&format!("A{}", n + 1)));
    assert!(
        run.hall.ticket_for_request("r0").is_none(),
        "request ids go with their tickets"
    );
    assert!(
        run.hall
            .ticket_for_request(&format!("r{}", n - 1))
            .is_some()
    );
    let f = &run.hall.figures["a"];
    assert_eq!(
        (f.issued, f.called, f.served),
        (n as u32, n as u32, n as u32)
    );
    // Numbering is unaffected by eviction.
    run.out.clear();
    run.line("issue a");
    assert!(
        run.out.contains(&format!("issued A{}", n + 1)),
        "{}",
        run.out
    );
}

#[test]
fn follow_ups_close_once_and_devices_report_changes_only() {
    check(
        r"
        at 09:00
        issue a
        login 1 c1
        call 1
        start 1
        finish 1 unresolved 材料不全
        close-follow-up 1
        close-follow-up 1
        close-follow-up 7
        device kiosk-1 paper_near_end
        device kiosk-1 paper_near_end
        device kiosk-1 ok
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            start 1 -> A001 serving
            finish 1 unresolved 材料不全 -> A001 finished unresolved then closed; follow-up #1 unresolved for A001: 材料不全
            close-follow-up 1 -> follow-up #1 closed
            close-follow-up 1 -> ERROR no open follow-up 1
            close-follow-up 7 -> ERROR no open follow-up 7
            device kiosk-1 paper_near_end -> kiosk-1 paper_near_end
            device kiosk-1 paper_near_end -> (no change)
            device kiosk-1 ok -> kiosk-1 ok
        "#]],
    );
}

#[test]
fn call_reasons_read_in_chinese_for_the_counter() {
    let r = |rule, tier, waited_s, others| CallReason {
        rule,
        tier,
        waited_s,
        others_waiting: others,
    };
    let cases = [
        (
            r(CallRule::Fifo, 0, 125, 3),
            "本窗口主办业务，按取号先后（已等 2 分钟）；其后还有 3 人等候",
        ),
        (
            r(
                CallRule::Priority {
                    class: Priority::Elderly,
                    streak: 2,
                },
                1,
                60,
                0,
            ),
            "第 2 级协办业务，老年人优先，连续第 2 个优先号（已等 1 分钟）；其后还有 0 人等候",
        ),
        (
            r(CallRule::Escalated { limit_min: 30 }, 1, 1900, 5),
            "第 2 级协办业务，已等 31 分钟，超过 30 分钟时限，调剂优先；其后还有 5 人等候",
        ),
        (
            r(CallRule::CalledBack, 0, 0, 1),
            "挂起号回呼；其后还有 1 人等候",
        ),
    ];
    for (reason, zh) in cases {
        assert_eq!(reason.zh(), zh);
    }
}

#[test]
fn force_logout_frees_a_stuck_window_keeping_the_ticket_its_place() {
    check(
        r"
        at 09:00
        login 1 c1
        login 2 c2
        issue a
        issue a
        issue a
        call 1
        forcelogout 1 requeue
        call 2
        login 1 c3
        call 1
        forcelogout 1 suspend
        forcelogout 1 suspend
        callback 2 A002
        ",
        expect![[r#"
            login 1 c1 -> window 1 opened by c1
            login 2 c2 -> window 2 opened by c2
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            issue a -> issued A003 in a (normal) ahead=2 wait=20m
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 2 others waiting
            forcelogout 1 requeue -> A001 requeued; window 1 (c1) logged out by supervisor: clerk left
            call 2 -> A001 to window 2: tier 2: oldest ticket (waited 0 min); 2 others waiting
            login 1 c3 -> window 1 opened by c3
            call 1 -> A002 to window 1: primary tier: oldest ticket (waited 0 min); 1 others waiting
            forcelogout 1 suspend -> A002 suspended; window 1 (c3) logged out by supervisor: clerk left
            forcelogout 1 suspend -> ERROR window 1 is not logged in (or the session has ended): log in first
            callback 2 A002 -> ERROR window 2 still has ticket A001 (called): start it, recall it or mark it no-show first
        "#]],
    );
}

/// The report of a day worked out by hand: every figure below was computed
/// on paper from the script's times (see the comments), not read off the code.
#[test]
fn a_hand_computed_day_gives_the_same_report() {
    use crate::report::*;
    let run = run_script(
        r"
        at 09:00
        issue a
        issue a
        issue b
        +5
        issue a
        login 1 c1
        login 2 c2
        +5
        # 09:10 A001 (waited 600 s) to 1, B001 (600 s) to 2
        call 1
        call 2
        start 1
        start 2
        +12
        # 09:22 A001 handled 720 s (expected 600); A002 waited 1320 s
        finish 1 case=CASE-1 svc=S-0001
        rate 1 A001 5
        call 1
        +2
        # 09:24 A002 no-show; A003 (entered 09:05) waited 1140 s
        noshow 1
        call 1
        start 1
        +4
        # 09:28 B001 handled 1080 s (expected 360), rated 1; A003 moves to b
        finish 2
        rate 2 B001 1 等太久
        transfer 1 cat=b
        call 2
        start 2
        +6
        # 09:34 A003 handled 360 s in b; A004 cancelled, A005 left waiting
        finish 2
        issue a
        cancel A004
        issue a
        at 2026-11-28 08:55
        tick
        ",
    );
    assert!(!run.out.contains("ERROR"), "{}", run.out);
    let mut b = DayBuilder::new(&test_catalog());
    let mut days = vec![];
    for (seq, (e, at)) in run.log.iter().enumerate() {
        days.extend(b.apply(seq as u64 + 1, *at, e));
    }
    // The first tick rolled into the 27th (nothing before it); the last one
    // closed the 27th.
    let day = days.pop().expect("the 27th closed");
    assert_eq!(day.date.to_string(), "2026-11-27");
    let from = day.date;
    let r = report(from, from, Dimension::Category, [&day]);
    let (a, bb) = (&r.rows[0], &r.rows[1]);
    assert_eq!(a.key, "a");
    assert_eq!(
        (
            a.arrived,
            a.moved_in,
            a.served,
            a.no_show,
            a.cancelled,
            a.transferred,
            a.expired
        ),
        (5, 0, 1, 1, 1, 1, 1)
    );
    // Waits 600, 1140, 1320.
    assert_eq!(a.called, 3);
    assert_eq!(a.mean_wait_s, 1020.0);
    assert_eq!(a.median_wait_s, 1140.0);
    assert!((a.p90_wait_s - 1284.0).abs() < 1e-9, "{}", a.p90_wait_s);
    assert_eq!(a.max_wait_s, 1320);
    assert_eq!(a.within_limit, 1.0);
    assert_eq!(a.mean_handling_s, 720.0);
    assert!((a.handling_vs_expected - 1.2).abs() < 1e-9);
    assert_eq!(
        (a.ratings, a.satisfaction, a.bad),
        ([0, 0, 0, 0, 1], 1.0, 0)
    );
    // Waits 3-minute buckets: 600 -> 3, 1140 -> 6, 1320 -> 7.
    assert_eq!((a.wait_hist[3], a.wait_hist[6], a.wait_hist[7]), (1, 1, 1));
    assert_eq!(a.handling_hist[4], 1);

    assert_eq!(bb.key, "b");
    assert_eq!((bb.arrived, bb.moved_in, bb.served), (1, 1, 2));
    // Waits 0 and 600; handling 1080 and 360 against 360 each.
    assert_eq!(
        (bb.mean_wait_s, bb.median_wait_s, bb.max_wait_s),
        (300.0, 300.0, 600)
    );
    assert!((bb.p90_wait_s - 540.0).abs() < 1e-9);
    assert_eq!((bb.mean_handling_s, bb.handling_vs_expected), (720.0, 2.0));
    assert_eq!(
        (bb.ratings, bb.satisfaction, bb.bad),
        ([1, 0, 0, 0, 0], 0.0, 1)
    );

    let t = &r.total;
    assert_eq!((t.arrived, t.moved_in, t.served, t.called), (6, 1, 3, 5));
    assert_eq!(
        (t.mean_wait_s, t.median_wait_s, t.max_wait_s),
        (732.0, 600.0, 1320)
    );
    assert!((t.p90_wait_s - 1248.0).abs() < 1e-9);
    assert_eq!((t.within_limit, t.satisfaction, t.bad), (1.0, 0.5, 1));

    let w = report(from, from, Dimension::Window, [&day]);
    let keys: Vec<(&str, u32, u32)> = w
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.called, r.served))
        .collect();
    assert_eq!(keys, [("1", 3, 1), ("2", 2, 2)]);
    let c = report(from, from, Dimension::Clerk, [&day]);
    assert_eq!(
        c.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["c1", "c2"]
    );
    let h = report(from, from, Dimension::Hour, [&day]);
    assert_eq!(
        (h.rows.len(), h.rows[0].key.as_str(), h.rows[0].arrived),
        (1, "09", 6)
    );

    // The 好差评 records: the case number the clerk attached, else the
    // category as the service code; nothing about the citizen.
    let recs: Vec<(&str, &str, &str, u8, &str, &str)> = day
        .ratings
        .iter()
        .map(|r| {
            (
                r.ticket_number.as_str(),
                r.case_no.as_str(),
                r.service_code.as_str(),
                r.level,
                r.channel.as_str(),
                r.clerk.as_str(),
            )
        })
        .collect();
    assert_eq!(
        recs,
        [
            ("A001", "CASE-1", "S-0001", 5, "pad", "c1"),
            ("B001", "", "b", 1, "pad", "c2")
        ]
    );
    assert_eq!(day.ratings[1].reason, "等太久");

    // Two days merge: the same day twice doubles counts, keeps the shares.
    let two = report(from, from, Dimension::Category, [&day, &day]);
    assert_eq!(
        (two.days, two.total.arrived, two.total.median_wait_s),
        (2, 12, 600.0)
    );
    assert_eq!(two.total.within_limit, 1.0);
}

/// 回访 → 整改 → re-rating: a bad rating's follow-up is due five working
/// days later on the hall's calendar (Friday 27 Nov 2026 -> Friday 4 Dec),
/// assigned, contacted (a miss, then reached), fixed, the fix rated; an
/// appeal is reviewed once; a closed one takes no more steps. A supervisor
/// pauses and resumes a window.
#[test]
fn working_a_follow_up_through_to_closed() {
    check(
        r"
        at 09:00
        issue a
        login 1 c1
        call 1
        start 1
        finish 1
        rate 1 A001 1 态度不好
        work 1 assign nobody
        work 1 assign c2
        work 1 ratefix satisfied
        work 1 contact no 无人接听
        work 1 contact yes 已联系，解释了办理流程
        work 1 fix 已对窗口人员进行服务规范培训
        work 1 ratefix basically_satisfied
        work 1 review yes 无
        work 1 appeal 市民对政策不满，非服务问题
        work 1 appeal 再次申诉
        work 1 review no 录音显示服务用语不规范
        close-follow-up 1
        work 1 contact yes 再次回访
        spause 1
        spause 1 临时调离
        call 1
        sresume 1
        spause 2 调离
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            start 1 -> A001 serving
            finish 1 -> A001 finished then closed
            rate 1 A001 1 态度不好 -> A001 rated 1; follow-up #1 bad_rating for A001: 态度不好
            work 1 assign nobody -> ERROR no staff member or clerk 'nobody'
            work 1 assign c2 -> follow-up 1 by s01: Assign { to: "c2" }; due 2026-12-04 assignee Some("c2") contacts 0 fix None fix-rating None appeal None
            work 1 ratefix satisfied -> ERROR follow-up 1: record the fix (整改) before the citizen rates it
            work 1 contact no 无人接听 -> follow-up 1 by s01: Contact { reached: false, note: "无人接听" }; due 2026-12-04 assignee Some("c2") contacts 1 fix None fix-rating None appeal None
            work 1 contact yes 已联系，解释了办理流程 -> follow-up 1 by s01: Contact { reached: true, note: "已联系，解释了办理流程" }; due 2026-12-04 assignee Some("c2") contacts 2 fix None fix-rating None appeal None
            work 1 fix 已对窗口人员进行服务规范培训 -> follow-up 1 by s01: Fix { text: "已对窗口人员进行服务规范培训" }; due 2026-12-04 assignee Some("c2") contacts 2 fix Some("已对窗口人员进行服务规范培训") fix-rating None appeal None
            work 1 ratefix basically_satisfied -> follow-up 1 by s01: RateFix { rating: BasicallySatisfied }; due 2026-12-04 assignee Some("c2") contacts 2 fix Some("已对窗口人员进行服务规范培训") fix-rating Some(BasicallySatisfied) appeal None
            work 1 review yes 无 -> ERROR follow-up 1: no appeal awaits review
            work 1 appeal 市民对政策不满，非服务问题 -> follow-up 1 by s01: Appeal { reason: "市民对政策不满，非服务问题" }; due 2026-12-04 assignee Some("c2") contacts 2 fix Some("已对窗口人员进行服务规范培训") fix-rating Some(BasicallySatisfied) appeal Some(None)
            work 1 appeal 再次申诉 -> ERROR follow-up 1: it was appealed already
            work 1 review no 录音显示服务用语不规范 -> follow-up 1 by s01: Review { upheld: false, note: "录音显示服务用语不规范" }; due 2026-12-04 assignee Some("c2") contacts 2 fix Some("已对窗口人员进行服务规范培训") fix-rating Some(BasicallySatisfied) appeal Some(Some(false))
            close-follow-up 1 -> follow-up #1 closed
            work 1 contact yes 再次回访 -> ERROR no open follow-up 1
            spause 1 -> ERROR say why the window is paused
            spause 1 临时调离 -> window 1 paused
            call 1 -> ERROR window 1 is paused: resume first
            sresume 1 -> window 1 resumed
            spause 2 调离 -> ERROR window 2 is not logged in (or the session has ended): log in first
        "#]],
    );
}

/// A ticket served at two windows (a transfer with return) is rated once,
/// at either window's pad; a supervisor cannot pause a window with a
/// citizen at it.
#[test]
fn a_ticket_served_at_two_windows_is_rated_once() {
    check(
        r"
        at 09:00
        issue a
        login 1 c1
        login 2 c2
        call 1
        spause 1 临时调离
        start 1
        transfer 1 cat=b return
        call 2
        start 2
        finish 2
        rate 2 A001 4
        call 1
        start 1
        finish 1
        rate 1 A001 5
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            login 1 c1 -> window 1 opened by c1
            login 2 c2 -> window 2 opened by c2
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            spause 1 临时调离 -> ERROR window 1 still has ticket A001 (called): wait until it is finished, or force-logout the window
            start 1 -> A001 serving
            transfer 1 cat=b return -> A001 transferred to Queue("b"), returns to window 1
            call 2 -> A001 to window 2: primary tier: oldest ticket (waited 0 min); 0 others waiting
            start 2 -> A001 serving
            finish 2 -> A001 finished then returns to window 1
            rate 2 A001 4 -> A001 rated 4
            call 1 -> A001 to window 1: transferred to this window (waited 0 min); 0 others waiting
            start 1 -> A001 serving
            finish 1 -> A001 finished then closed
            rate 1 A001 5 -> ERROR ticket A001 has already been rated
        "#]],
    );
}

/// The test catalogue with two webhooks.
fn notifying_catalog() -> Catalog {
    let mut c = test_catalog();
    for name in ["sms", "wx"] {
        c.notify.webhooks.push(crate::notify::Webhook {
            name: name.into(),
            url: format!("https://{name}.example/hook"),
            secret: "0123456789abcdef0123".into(),
            ..Default::default()
        });
    }
    c.validate().unwrap();
    c
}

#[test]
fn notifications_for_those_who_opted_in_only() {
    check_on(
        notifying_catalog(),
        r"
        at 09:00
        issue a
        issue a
        issue a
        issue a
        # A004 asks to hear at 2 ahead; A003 did not opt in.
        notify A004 +86-138-0013-8000 2
        notify A004 12345
        notify A009 13800138000
        login 1 c1
        call 1
        finish 1
        # Now 2 ahead of A004: one `ahead`, however many events follow.
        call 1
        finish 1
        issue a
        outbox
        delivered 1 sms
        delivered 1 sms
        dead 1 wx
        outbox
        call 1
        recall 1
        finish 1
        call 1
        recall 1
        outbox
        # Nothing for a ticket that is done; nothing at all without sinks.
        notify A003 13800138000
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=1 wait=10m
            issue a -> issued A003 in a (normal) ahead=2 wait=20m
            issue a -> issued A004 in a (normal) ahead=3 wait=30m
            notify A004 +86-138-0013-8000 2 -> A004 notify 138****8000 when 2 ahead
            notify A004 12345 -> ERROR not a mobile number: 11 digits starting with 13–19 (手机号为11位数字)
            notify A009 13800138000 -> ERROR no ticket A009 today
            login 1 c1 -> window 1 opened by c1
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 0 min); 3 others waiting; notify #1 ahead A004 to 138****8000 ahead 2 key 20261127-n1-ahead-A004
            finish 1 -> A001 finished then closed
            call 1 -> A002 to window 1: primary tier: oldest ticket (waited 0 min); 2 others waiting
            finish 1 -> A002 finished then closed
            issue a -> issued A005 in a (normal) ahead=2 wait=0m
            outbox -> pending [#1:sms+wx] dead [] delivered 0
            delivered 1 sms -> notify #1 sms: Delivered { attempts: 1 }
            delivered 1 sms -> (no change)
            dead 1 wx -> notify #1 wx: Dead { attempts: 8, error: "HTTP 503" }
            outbox -> pending [] dead [#1 wx 138****8000 HTTP 503] delivered 1
            call 1 -> A003 to window 1: primary tier: oldest ticket (waited 0 min); 2 others waiting
            recall 1 -> A003 recalled (1)
            finish 1 -> A003 finished then closed
            call 1 -> A004 to window 1: primary tier: oldest ticket (waited 0 min); 1 others waiting; notify #2 called A004 to 138****8000 window 1 key 20261127-n2-called-A004
            recall 1 -> A004 recalled (1); notify #3 recalled A004 to 138****8000 window 1 key 20261127-n3-recalled-A004
            outbox -> pending [#2:sms+wx #3:sms+wx] dead [#1 wx 138****8000 HTTP 503] delivered 1
            notify A003 13800138000 -> ERROR ticket A003 is done; cannot be notified
        "#]],
    );
}

#[test]
fn no_sinks_no_opt_in_and_retention_blanks_phones() {
    check(
        r"
        at 09:00
        issue a
        notify A001 13800138000
        ",
        expect![[r#"
            issue a -> issued A001 in a (normal) ahead=0 wait=0m
            notify A001 13800138000 -> ERROR this hall sends no notifications (本厅未开通消息提醒)
        "#]],
    );
    let mut run = Run {
        hall: Hall::new(notifying_catalog()),
        now: 0,
        out: String::new(),
        log: vec![],
    };
    for l in [
        "at 2026-11-27 09:00",
        "tick",
        "issue a",
        "notify A001 13800138000 1",
    ] {
        run.line(l);
    }
    let mut with_phone = 0;
    for (mut e, _) in run.log {
        if e.strip_persons() {
            with_phone += 1;
        }
        assert!(!serde_json::to_string(&e).unwrap().contains("13800138000"));
    }
    // The opt-in and the `ahead` it owed at once (nobody ahead).
    assert_eq!(with_phone, 2);
}

#[test]
fn appointment_slots_have_a_grid_a_capacity_a_horizon_and_a_cutoff() {
    let mut c = test_catalog();
    c.categories
        .iter_mut()
        .find(|k| k.code == "a")
        .unwrap()
        .booking = Some(crate::catalog::Booking {
        slot_minutes: 30,
        capacity: 2,
        horizon_days: 3,
        cutoff_minutes: 60,
    });
    c.validate().unwrap();
    check_on(
        c,
        r"
        at 09:00
        book a person=p1 2026-11-30 09:00-09:30
        book a person=p2 2026-11-30 09:00-09:30
        book a person=p3 2026-11-30 09:00-09:30
        book a person=p3 2026-11-30 09:10-09:40
        book a person=p3 2026-11-30 09:00-10:00
        book a person=p3 2026-12-01 09:30-10:00
        book a person=p3 2026-11-27 09:30-10:00
        book a person=p3 2026-11-27 10:00-10:30
        slots a 2026-11-30
        slots a 2026-11-27
        slots a 2026-12-01
        # Saturday: weekend hours 09:00-12:00.
        slots a 2026-11-28
        # Without [categories.booking], any slot within the hours.
        book b person=p3 2026-11-27 09:10-09:20
        ",
        expect![[r#"
            book a person=p1 2026-11-30 09:00-09:30 -> booked #1
            book a person=p2 2026-11-30 09:00-09:30 -> booked #2
            book a person=p3 2026-11-30 09:00-09:30 -> ERROR the slot 09:00-09:30 on 2026-11-30 for 'a' is fully booked (2 places): please choose another
            book a person=p3 2026-11-30 09:10-09:40 -> ERROR 09:10-09:40 is not one of the 30-minute slots from 09:00
            book a person=p3 2026-11-30 09:00-10:00 -> ERROR 09:00-10:00 is not one of the 30-minute slots from 09:00
            book a person=p3 2026-12-01 09:30-10:00 -> ERROR bookings open 3 days ahead: 2026-11-30 at the latest
            book a person=p3 2026-11-27 09:30-10:00 -> ERROR booking 09:30 on 2026-11-27 closed 60 minutes before it
            book a person=p3 2026-11-27 10:00-10:30 -> booked #3
            slots a 2026-11-30 -> [09:30-10:00:2 10:00-10:30:2 10:30-11:00:2 11:00-11:30:2 11:30-12:00:2 12:00-12:30:2 12:30-13:00:2 13:00-13:30:2 13:30-14:00:2 14:00-14:30:2 14:30-15:00:2 15:00-15:30:2 15:30-16:00:2 16:00-16:30:2 16:30-17:00:2]
            slots a 2026-11-27 -> [10:00-10:30:1 10:30-11:00:2 11:00-11:30:2 11:30-12:00:2 12:00-12:30:2 12:30-13:00:2 13:00-13:30:2 13:30-14:00:2 14:00-14:30:2 14:30-15:00:2 15:00-15:30:2 15:30-16:00:2 16:00-16:30:2 16:30-17:00:2]
            slots a 2026-12-01 -> []
            slots a 2026-11-28 -> [09:00-09:30:2 09:30-10:00:2 10:00-10:30:2 10:30-11:00:2 11:00-11:30:2 11:30-12:00:2]
            book b person=p3 2026-11-27 09:10-09:20 -> booked #4
        "#]],
    );
}

fn with_category(
    f: impl Fn(&mut crate::catalog::Category, &mut crate::catalog::Policy),
) -> Catalog {
    let mut c = notifying_catalog();
    let cat = c.categories.iter_mut().find(|k| k.code == "a").unwrap();
    f(cat, &mut c.policy);
    c.validate().unwrap();
    c
}

#[test]
fn bookings_have_limits_a_cancel_deadline_and_a_block_for_missing_them() {
    let c = with_category(|a, p| {
        a.booking = Some(crate::catalog::Booking {
            slot_minutes: 30,
            capacity: 1,
            horizon_days: 14,
            cutoff_minutes: 60,
        });
        p.booking_per_person_week = 3;
        p.booking_per_person_month = 3;
    });
    check_on(
        c,
        r"
        at 09:00
        # Friday 2026-11-27. Three in the week of Monday 11-30 at most.
        book a person=p1 2026-11-30 10:00-10:30
        book a person=p1 2026-12-01 10:00-10:30
        book a person=p1 2026-12-02 10:00-10:30
        book a person=p1 2026-12-03 10:00-10:30
        # A cancelled booking counts no more, and gives its slot back.
        unbook 2 person=p1
        unbook 2 person=p1
        book a person=p2 2026-12-01 10:00-10:30
        book a person=p1 2026-12-03 10:00-10:30
        # Three in December at most (12-02, 12-03, 12-07).
        book a person=p1 2026-12-07 10:00-10:30
        book a person=p1 2026-12-08 10:00-10:30
        # Someone else's booking is not yours to cancel.
        unbook 1 person=p2
        # The visitor cancels until 2 h before the slot; staff until it starts.
        book a person=p3 2026-11-27 10:30-11:00
        unbook 7 person=p3
        unbook 7
        unbook 7 person=p3
        # p4 comes, p5 does not (twice within 30 days).
        book a person=p4 2026-11-27 11:00-11:30
        book a person=p5 2026-11-27 11:30-12:00 phone=13800138005
        book a person=p5 2026-11-30 09:00-09:30 phone=13800138005
        at 10:50
        checkin person=p4
        at 2026-11-28 08:00
        tick
        bookings person=p5
        at 2026-12-01 08:00
        tick
        bookings person=p5
        bookings person=p1
        book a person=p5 2026-12-04 10:00-10:30
        # The block ends on its day.
        at 2027-02-28 08:00
        tick
        book a person=p5 2027-03-01 10:00-10:30
        at 2027-03-01 08:00
        tick
        bookings person=p5
        book a person=p5 2027-03-02 10:00-10:30
        ",
        expect![[r#"
            book a person=p1 2026-11-30 10:00-10:30 -> booked #1
            book a person=p1 2026-12-01 10:00-10:30 -> booked #2
            book a person=p1 2026-12-02 10:00-10:30 -> booked #3
            book a person=p1 2026-12-03 10:00-10:30 -> ERROR at most 3 bookings per person per week
            unbook 2 person=p1 -> booking #2 cancelled by the visitor
            unbook 2 person=p1 -> (no change)
            book a person=p2 2026-12-01 10:00-10:30 -> booked #4
            book a person=p1 2026-12-03 10:00-10:30 -> booked #5
            book a person=p1 2026-12-07 10:00-10:30 -> booked #6
            book a person=p1 2026-12-08 10:00-10:30 -> ERROR at most 3 bookings per person per month
            unbook 1 person=p2 -> ERROR no booking 1 for this person
            book a person=p3 2026-11-27 10:30-11:00 -> booked #7
            unbook 7 person=p3 -> ERROR booking 7 (2026-11-27 10:30-11:00) could be cancelled until 120 minutes before it
            unbook 7 -> booking #7 cancelled by staff
            unbook 7 person=p3 -> (no change)
            book a person=p4 2026-11-27 11:00-11:30 -> booked #8
            book a person=p5 2026-11-27 11:30-12:00 phone=13800138005 -> booked #9; notify #1 booked B9 to 138****8005 2026-11-27 11:30-12:00 key 20261127-n1-booked-B9
            book a person=p5 2026-11-30 09:00-09:30 phone=13800138005 -> booked #10; notify #2 booked B10 to 138****8005 2026-11-30 09:00-09:30 key 20261130-n2-booked-B10
            checkin person=p4 -> issued A001 in a (appointment) ahead=0 wait=0m
            tick -> day rolled to 2026-11-28, 1 expired; missed [9]
            bookings person=p5 -> [#9 2026-11-27 missed, #10 2026-11-30 booked]
            tick -> day rolled to 2026-12-01, 0 expired; missed [1, 10]; p5 blocked until 2027-03-01 (2 missed); notify #3 blocked B10 to 138****8005 2026-11-30 09:00-09:30 until 2027-03-01 key 20261130-n3-blocked-B10
            bookings person=p5 -> [#9 2026-11-27 missed, #10 2026-11-30 missed] blocked until 2027-03-01
            bookings person=p1 -> [#1 2026-11-30 missed, #2 2026-12-01 cancelled, #3 2026-12-02 booked, #5 2026-12-03 booked, #6 2026-12-07 booked]
            book a person=p5 2026-12-04 10:00-10:30 -> ERROR booking is blocked until 2027-03-01: 2 missed appointments
            tick -> day rolled to 2027-02-28, 0 expired; missed [3, 4, 5, 6]
            book a person=p5 2027-03-01 10:00-10:30 -> ERROR booking is blocked until 2027-03-01: 2 missed appointments
            tick -> day rolled to 2027-03-01, 0 expired
            bookings person=p5 -> []
            book a person=p5 2027-03-02 10:00-10:30 -> booked #11
        "#]],
    );
}

#[test]
fn remote_tickets_hold_their_place_until_arrival_then_expire_after_grace() {
    let c = with_category(|a, _| {
        a.daily_quota = 10;
        a.remote = Some(crate::catalog::RemoteTickets {
            share_pct: 20,
            grace_minutes: 10,
        });
    });
    check_on(
        c,
        r"
        at 09:00
        login 1 c1
        remote a person=r1
        issue a
        remote a person=r2
        notify A003 13800138000 1
        # 20 % of a quota of 10.
        remote a person=r3
        remote b person=r3
        status A001
        # Not callable before arrival: the walk-in goes first.
        call 1
        issue a
        tick
        +5
        arrive A001
        arrive A001
        queue 1
        start 1
        finish 1
        call 1
        start 1
        +6
        tick
        arrive A003
        arrive A004
        finish 1
        call 1
        ",
        expect![[r#"
            login 1 c1 -> window 1 opened by c1
            remote a person=r1 -> issued A001 in a (normal) ahead=0 wait=0m
            issue a -> issued A002 in a (normal) ahead=0 wait=0m
            remote a person=r2 -> issued A003 in a (normal) ahead=1 wait=10m
            notify A003 13800138000 1 -> A003 notify 138****8000 when 1 ahead; notify #1 ahead A003 to 138****8000 ahead 1 key 20261127-n1-ahead-A003
            remote a person=r3 -> ERROR the 2 remote tickets of 'a' for today are taken: please take a number in the hall
            remote b person=r3 -> ERROR 'b' cannot be taken remotely: please take a number in the hall
            status A001 -> waiting queue=a ahead=0 wait=0m
            call 1 -> A002 to window 1: primary tier: oldest ticket (waited 0 min); 0 others waiting
            issue a -> issued A004 in a (normal) ahead=0 wait=0m
            tick -> A001 at the front; A003 at the front; notify #2 front A003 to 138****8000 key 20261127-n2-front-A003
            arrive A001 -> A001 arrived
            arrive A001 -> (no change)
            queue 1 -> [A001 A004]
            start 1 -> A002 serving
            finish 1 -> A002 finished then closed
            call 1 -> A001 to window 1: primary tier: oldest ticket (waited 5 min); 1 others waiting
            start 1 -> A001 serving
            tick -> A003 expired; notify #3 expired A003 to 138****8000 key 20261127-n3-expired-A003
            arrive A003 -> ERROR ticket A003 is expired; cannot check in
            arrive A004 -> ERROR A004 was taken in the hall, not remotely
            finish 1 -> A001 finished then closed
            call 1 -> A004 to window 1: primary tier: oldest ticket (waited 11 min); 0 others waiting
        "#]],
    );
}

#[test]
fn bookings_are_confirmed_reminded_and_cancelled_by_text() {
    let c = with_category(|a, _| {
        a.booking = Some(crate::catalog::Booking {
            slot_minutes: 30,
            capacity: 2,
            horizon_days: 7,
            cutoff_minutes: 30,
        });
    });
    check_on(
        c,
        r"
        at 09:00
        # Friday. Monday's booking gets both reminders; today's only the
        # one 30 minutes before; one without a phone gets nothing.
        book a person=p1 2026-11-30 10:00-10:30 phone=13800138001
        book a person=p2 2026-11-27 10:00-10:30 phone=138-0013-8002
        book a person=p3 2026-11-27 10:00-10:30
        book a person=p4 2026-11-28 10:00-10:30 phone=12345
        at 09:29
        tick
        at 09:30
        tick
        tick
        unbook 1 person=p1
        book a person=p1 2026-11-28 11:00-11:30 phone=13800138001
        at 2026-11-27 11:00
        tick
        at 2026-11-28 10:29
        tick
        tick
        at 10:30
        tick
        at 10:40
        checkin person=p1
        tick
        ",
        expect![[r#"
            book a person=p1 2026-11-30 10:00-10:30 phone=13800138001 -> booked #1; notify #1 booked B1 to 138****8001 2026-11-30 10:00-10:30 key 20261130-n1-booked-B1
            book a person=p2 2026-11-27 10:00-10:30 phone=138-0013-8002 -> booked #2; notify #2 booked B2 to 138****8002 2026-11-27 10:00-10:30 key 20261127-n2-booked-B2
            book a person=p3 2026-11-27 10:00-10:30 -> booked #3
            book a person=p4 2026-11-28 10:00-10:30 phone=12345 -> ERROR not a mobile number: 11 digits starting with 13–19 (手机号为11位数字)
            tick -> (no change)
            tick -> remind #2 30 min before; notify #3 reminder B2 to 138****8002 2026-11-27 10:00-10:30 key 20261127-n3-reminder-B2
            tick -> (no change)
            unbook 1 person=p1 -> booking #1 cancelled by the visitor; notify #4 booking_cancelled B1 to 138****8001 2026-11-30 10:00-10:30 key 20261130-n4-booking_cancelled-B1
            book a person=p1 2026-11-28 11:00-11:30 phone=13800138001 -> booked #4; notify #5 booked B4 to 138****8001 2026-11-28 11:00-11:30 key 20261128-n5-booked-B4
            tick -> remind #4 the day before; notify #6 reminder B4 to 138****8001 2026-11-28 11:00-11:30 key 20261128-n6-reminder-B4
            tick -> day rolled to 2026-11-28, 0 expired; missed [2, 3]
            tick -> (no change)
            tick -> remind #4 30 min before; notify #7 reminder B4 to 138****8001 2026-11-28 11:00-11:30 key 20261128-n7-reminder-B4
            checkin person=p1 -> issued A001 in a (appointment) ahead=0 wait=0m
            tick -> (no change)
        "#]],
    );
}

#[test]
fn a_remote_ticket_s_turn_needs_an_open_window_and_its_grace_is_kept() {
    let c = with_category(|a, _| {
        a.daily_quota = 10;
        a.remote = Some(crate::catalog::RemoteTickets {
            share_pct: 50,
            grace_minutes: 10,
        });
    });
    check_on(
        c,
        r"
        at 09:00
        remote a person=r1
        # Nobody serves 'a' yet: not its turn, whatever the queue.
        at 09:05
        tick
        login 1 c1
        # A clerk may not pick it before its visitor is here.
        pick 1 A001
        tick
        # Opting in when it is already its turn: told at once.
        notify A001 13800138000 1
        +10
        arrive A001
        tick
        ",
        expect![[r#"
            remote a person=r1 -> issued A001 in a (normal) ahead=0 wait=0m
            tick -> (no change)
            login 1 c1 -> window 1 opened by c1
            pick 1 A001 -> ERROR A001 is a remote ticket whose visitor has not checked in at the hall
            tick -> A001 at the front
            notify A001 13800138000 1 -> A001 notify 138****8000 when 1 ahead; notify #1 front A001 to 138****8000 key 20261127-n1-front-A001; notify #2 ahead A001 to 138****8000 ahead 0 key 20261127-n2-ahead-A001
            arrive A001 -> ERROR remote ticket A001 was not checked in in time: please take a new number
            tick -> A001 expired; notify #3 expired A001 to 138****8000 key 20261127-n3-expired-A001
        "#]],
    );
}

#[test]
fn a_booking_is_one_per_day_one_phone_per_person_and_checked_in_by_its_own_qr() {
    let c = with_category(|a, _| {
        a.booking = Some(crate::catalog::Booking {
            slot_minutes: 30,
            capacity: 5,
            horizon_days: 7,
            cutoff_minutes: 0,
        });
    });
    check_on(
        c,
        r"
        at 09:00
        book a person=p1 2026-11-27 10:00-10:30 phone=13800138001
        book a person=p1 2026-11-27 11:00-11:30 phone=13800138001
        book b person=p1 2026-11-27 11:00-11:30 phone=13800138001
        book a person=p1 2026-11-30 11:00-11:30 phone=13900139009
        book a person=p1 2026-11-30 11:00-11:30 phone=13800138001
        book a person=p2 2026-11-27 14:00-14:30
        book b person=p2 2026-11-27 16:00-16:30
        # The later booking's QR checks in that one, not the earliest.
        at 13:50
        checkin person=p2 booking=5
        bookings person=p2
        ",
        expect![[r#"
            book a person=p1 2026-11-27 10:00-10:30 phone=13800138001 -> booked #1; notify #1 booked B1 to 138****8001 2026-11-27 10:00-10:30 key 20261127-n1-booked-B1
            book a person=p1 2026-11-27 11:00-11:30 phone=13800138001 -> ERROR you already have booking 1 for this on 2026-11-27 at 10:00-10:30
            book b person=p1 2026-11-27 11:00-11:30 phone=13800138001 -> booked #2; notify #2 booked B2 to 138****8001 2026-11-27 11:00-11:30 key 20261127-n2-booked-B2
            book a person=p1 2026-11-30 11:00-11:30 phone=13900139009 -> ERROR this ID number is booked with another phone (138****8001): book with that phone, or at the hall
            book a person=p1 2026-11-30 11:00-11:30 phone=13800138001 -> booked #3; notify #3 booked B3 to 138****8001 2026-11-30 11:00-11:30 key 20261130-n3-booked-B3
            book a person=p2 2026-11-27 14:00-14:30 -> booked #4
            book b person=p2 2026-11-27 16:00-16:30 -> booked #5
            checkin person=p2 booking=5 -> issued B001 in b (appointment) ahead=0 wait=0m
            bookings person=p2 -> [#4 2026-11-27 booked, #5 2026-11-27 checked_in]
        "#]],
    );
    let mut bad = test_catalog();
    bad.policy.booking_missed_days = 120;
    bad.policy.booking_block_days = 90;
    let problems = bad.validate().unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.key == "policy.booking_missed_days"),
        "{problems:?}"
    );
}

#[test]
fn a_remote_ticket_waits_from_its_check_in_in_the_figures_and_reports() {
    let c = with_category(|a, _| {
        a.daily_quota = 10;
        a.remote = Some(crate::catalog::RemoteTickets {
            share_pct: 50,
            grace_minutes: 30,
        });
    });
    let mut run = Run {
        hall: Hall::new(c.clone()),
        now: 0,
        out: String::new(),
        log: vec![],
    };
    for l in [
        "at 2026-11-27 09:00",
        "tick",
        "remote a person=r1",
        "+40",
        "login 1 c1",
        "arrive A001",
        "+5",
        "call 1",
    ] {
        run.line(l);
    }
    assert!(run.out.contains("A001 to window 1"), "{}", run.out);
    // 5 minutes in the hall, not 45 since it was taken at home.
    assert_eq!(run.hall.figures["a"].wait_s, 300);
    let mut day = crate::report::DayBuilder::new(&c);
    for (i, (e, at)) in run.log.iter().enumerate() {
        day.apply(i as u64 + 1, *at, e);
    }
    let agg = day.snapshot();
    let cell = &agg.cells[&crate::report::Dimension::Category]["a"];
    assert_eq!(cell.waits_s, [300], "{cell:?}");
}
