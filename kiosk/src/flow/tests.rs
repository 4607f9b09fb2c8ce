//! The kiosk flow without a server: every path through the screens.

use super::*;

fn item(code: &str, id_required: bool) -> Item {
    Item {
        code: code.into(),
        name_zh: format!("事项{code}"),
        name_en: format!("Service {code}"),
        zone: "general".into(),
        open_now: true,
        id_required,
        materials: vec!["居民身份证原件".into()],
        legal_days: 20,
        promised_days: 5,
        ..Default::default()
    }
}

fn state() -> State {
    let mut st = State::new(false);
    let catalog = CatalogView {
        hall_zh: "示例区政务服务中心".into(),
        items: vec![item("A", true), item("B", false), Item { open_now: false, issue_from: "09:00".into(), issue_until: "16:30".into(), ..item("C", false) }],
        ..Default::default()
    };
    update(&mut st, Input::Catalog(catalog), 0, &Settings::default());
    update(&mut st, Input::Connected(true), 0, &Settings::default());
    st
}

fn visitor(age: u32) -> Visitor {
    Visitor {
        masked_name: "王*明".into(),
        masked_number: "110101********0022".into(),
        age,
        identity: pb::Identity { id_number: "110101195603010022".into(), name: "王小明".into(), birth_date: "1956-03-01".into() },
    }
}

fn tap(st: &mut State, t: Touch, now: i64) -> Vec<Effect> {
    update(st, Input::Touch(t), now, &Settings::default())
}

fn ticket(number: &str, category: &str) -> pb::Ticket {
    pb::Ticket { number: number.into(), category: category.into(), service_date: "2026-11-27".into(), people_ahead: 2, estimated_wait_min: 9, ..Default::default() }
}

#[test]
fn category_first_then_card_then_confirm_issues_once() {
    let mut st = state();
    tap(&mut st, Touch::Choose("A".into()), 1);
    assert_eq!(st.screen, Screen::Detail);
    tap(&mut st, Touch::TakeNumber, 2);
    assert_eq!(st.screen, Screen::Identity);
    // An ID-required category cannot skip the card.
    tap(&mut st, Touch::SkipId, 3);
    assert_eq!(st.screen, Screen::Identity);
    update(&mut st, Input::Card(visitor(40)), 4, &Settings::default());
    assert_eq!(st.screen, Screen::Confirm);
    let fx = tap(&mut st, Touch::Confirm, 5);
    let [Effect::Issue { request_id, code, priority, identity }] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!(code, "A");
    assert_eq!(*priority, pb::PriorityClass::Normal);
    assert_eq!(identity.as_ref().unwrap().id_number, "110101195603010022");
    assert_eq!(st.request_id.as_deref(), Some(request_id.as_str()));
    // A second confirm while the request is in flight does nothing.
    assert!(tap(&mut st, Touch::Confirm, 6).is_empty());
    let fx = update(&mut st, Input::Issued(Ok(ticket("A001", "A"))), 7, &Settings::default());
    assert_eq!(st.screen, Screen::Done);
    let [Effect::Print(slip)] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!(slip.ticket_no, "A001");
    assert_eq!(slip.status_url, "https://hall.example.gov.cn/t/2026-11-27/A001");
    assert_eq!(slip.time_limit, "法定办结时限 20 个工作日，承诺 5 个工作日");
    assert_eq!(st.done.as_ref().unwrap().printed, PrintState::Printing);
    update(&mut st, Input::Printed(Ok(PrinterHealth::Ok)), 8, &Settings::default());
    assert_eq!(st.done.as_ref().unwrap().printed, PrintState::Printed);
}

#[test]
fn card_first_skips_the_identity_screen_and_debug_is_masked() {
    let mut st = state();
    update(&mut st, Input::Card(visitor(40)), 1, &Settings::default());
    tap(&mut st, Touch::Choose("A".into()), 2);
    tap(&mut st, Touch::TakeNumber, 3);
    assert_eq!(st.screen, Screen::Confirm);
    let shown = format!("{st:?}");
    assert!(!shown.contains("110101195603010022") && !shown.contains("王小明"), "{shown}");
}

#[test]
fn skipping_the_card_is_allowed_where_not_required() {
    let mut st = state();
    tap(&mut st, Touch::Choose("B".into()), 1);
    tap(&mut st, Touch::TakeNumber, 2);
    tap(&mut st, Touch::SkipId, 3);
    assert_eq!(st.screen, Screen::Confirm);
    let fx = tap(&mut st, Touch::Confirm, 4);
    assert!(matches!(fx.as_slice(), [Effect::Issue { identity: None, .. }]), "{fx:?}");
}

#[test]
fn green_channel_only_from_the_configured_age() {
    let mut st = state();
    tap(&mut st, Touch::Choose("A".into()), 1);
    tap(&mut st, Touch::TakeNumber, 2);
    update(&mut st, Input::Card(visitor(69)), 3, &Settings::default());
    tap(&mut st, Touch::Green(true), 4);
    assert!(!st.green, "69 is below 70");
    update(&mut st, Input::Card(visitor(70)), 5, &Settings::default());
    tap(&mut st, Touch::Green(true), 6);
    assert!(st.green);
    let fx = tap(&mut st, Touch::Confirm, 7);
    assert!(matches!(fx.as_slice(), [Effect::Issue { priority: pb::PriorityClass::Elderly, .. }]), "{fx:?}");
    let fx = update(&mut st, Input::Issued(Ok(pb::Ticket { priority: pb::PriorityClass::Elderly as i32, ..ticket("A002", "A") })), 8, &Settings::default());
    let [Effect::Print(slip)] = fx.as_slice() else { panic!() };
    assert_eq!(slip.priority, "绿色通道");
}

#[test]
fn printer_out_blocks_confirming_and_reports_once() {
    let mut st = state();
    tap(&mut st, Touch::Choose("B".into()), 1);
    tap(&mut st, Touch::TakeNumber, 2);
    tap(&mut st, Touch::SkipId, 3);
    let fx = update(&mut st, Input::Printer(PrinterHealth::Blocked("paper_out".into())), 4, &Settings::default());
    assert_eq!(fx, vec![Effect::Report(PrinterHealth::Blocked("paper_out".into()))]);
    assert!(update(&mut st, Input::Printer(PrinterHealth::Blocked("paper_out".into())), 5, &Settings::default()).is_empty());
    assert_eq!(st.blocked(), Some("paper_out"));
    assert!(tap(&mut st, Touch::Confirm, 6).is_empty());
    // Paper back in: the visitor continues where they were.
    update(&mut st, Input::Printer(PrinterHealth::Ok), 7, &Settings::default());
    assert!(matches!(tap(&mut st, Touch::Confirm, 8).as_slice(), [Effect::Issue { .. }]));
    // The fresh status check before issuing said no: back to confirm, nothing issued.
    update(&mut st, Input::Refused(PrinterHealth::Blocked("cover_open".into())), 9, &Settings::default());
    assert_eq!(st.screen, Screen::Confirm);
    assert_eq!(st.request_id, None);
}

#[test]
fn a_print_failure_after_issuing_keeps_the_number_on_screen() {
    let mut st = state();
    tap(&mut st, Touch::Choose("B".into()), 1);
    tap(&mut st, Touch::TakeNumber, 2);
    tap(&mut st, Touch::SkipId, 3);
    tap(&mut st, Touch::Confirm, 4);
    update(&mut st, Input::Issued(Ok(ticket("B001", "B"))), 5, &Settings::default());
    let fx = update(&mut st, Input::Printed(Err("paper_out".into())), 6, &Settings::default());
    assert_eq!(fx, vec![Effect::Report(PrinterHealth::Blocked("paper_out".into()))]);
    assert_eq!(st.screen, Screen::Done);
    let d = st.done.as_ref().unwrap();
    assert_eq!((d.number.as_str(), &d.printed), ("B001", &PrintState::Failed("paper_out".into())));
}

#[test]
fn server_errors_show_and_closed_categories_do_not_offer_a_number() {
    let mut st = state();
    tap(&mut st, Touch::Choose("C".into()), 1);
    assert_eq!(st.screen, Screen::Detail);
    assert!(st.message.contains("09:00–16:30"), "{}", st.message);
    tap(&mut st, Touch::TakeNumber, 2);
    assert_eq!(st.screen, Screen::Detail);
    tap(&mut st, Touch::Choose("B".into()), 3);
    tap(&mut st, Touch::TakeNumber, 4);
    tap(&mut st, Touch::SkipId, 5);
    tap(&mut st, Touch::Confirm, 6);
    update(&mut st, Input::Issued(Err("您今天已取过该事项的号 B001".into())), 7, &Settings::default());
    assert_eq!(st.screen, Screen::Failed);
    assert!(st.message.contains("B001"));
}

#[test]
fn idle_and_done_timeouts_forget_the_visitor() {
    let s = Settings::default();
    let mut st = state();
    tap(&mut st, Touch::Choose("A".into()), 1_000);
    tap(&mut st, Touch::TakeNumber, 2_000);
    update(&mut st, Input::Card(visitor(40)), 3_000, &s);
    update(&mut st, Input::Tick, 3_000 + s.idle_timeout_ms - 1, &s);
    assert_eq!(st.screen, Screen::Confirm);
    update(&mut st, Input::Tick, 3_000 + s.idle_timeout_ms, &s);
    assert_eq!(st.screen, Screen::Home);
    assert!(st.visitor.is_none() && st.selected.is_none());
    // The done screen goes after its own, shorter timeout.
    tap(&mut st, Touch::Choose("B".into()), 100_000);
    tap(&mut st, Touch::TakeNumber, 100_000);
    tap(&mut st, Touch::SkipId, 100_000);
    tap(&mut st, Touch::Confirm, 100_000);
    update(&mut st, Input::Issued(Ok(ticket("B002", "B"))), 101_000, &s);
    update(&mut st, Input::Tick, 101_000 + s.done_timeout_ms - 1, &s);
    assert_eq!(st.screen, Screen::Done);
    update(&mut st, Input::Tick, 101_000 + s.done_timeout_ms, &s);
    assert_eq!(st.screen, Screen::Home);
    assert!(st.done.is_none());
}

#[test]
fn check_in_reads_the_card_then_asks_the_server() {
    let mut st = state();
    tap(&mut st, Touch::CheckIn, 1);
    assert_eq!(st.screen, Screen::CheckIn);
    let fx = update(&mut st, Input::Card(visitor(40)), 2, &Settings::default());
    assert!(matches!(fx.as_slice(), [Effect::CheckIn { .. }]), "{fx:?}");
    assert_eq!(st.screen, Screen::Issuing);
}

#[test]
fn a_scanned_qr_checks_in_from_any_screen_but_never_twice_at_once() {
    let s = Settings::default();
    let mut st = state();
    // From the home screen: a booking's QR asks the server at once.
    let qr = "https://hall.example.gov.cn/b/0123456789abcdef0123456789abcdef";
    let fx = update(&mut st, Input::Scan(format!(" {qr}\r")), 1, &s);
    assert_eq!(fx, [Effect::CheckInQr { request_id: st.request_id.clone().unwrap(), qr: qr.into() }]);
    assert_eq!(st.screen, Screen::Issuing);
    // A second scan while it is in flight starts nothing.
    assert!(update(&mut st, Input::Scan(qr.into()), 2, &s).is_empty());
    // The server's answer is shown and printed like any ticket.
    let fx = update(&mut st, Input::Issued(Ok(ticket("A007", "A"))), 3, &s);
    assert!(matches!(fx.as_slice(), [Effect::Print(_)]), "{fx:?}");
    assert_eq!(st.screen, Screen::Done);
    // Something else: said so on the check-in screen, nothing asked.
    let fx = update(&mut st, Input::Scan("WIFI:S:hall;;".into()), 4, &s);
    assert!(fx.is_empty());
    assert_eq!(st.screen, Screen::CheckIn);
    assert!(st.message.contains("二维码"), "{}", st.message);
    // A remote ticket's page QR, from the check-in screen.
    let fx = update(&mut st, Input::Scan("https://x/t/00112233445566778899aabbccddeeff".into()), 5, &s);
    assert!(matches!(fx.as_slice(), [Effect::CheckInQr { .. }]), "{fx:?}");
}

#[test]
fn search_zone_and_elder_mode_filter_the_choices() {
    let s = Settings::default();
    let mut st = state();
    assert_eq!(st.visible_items(&s).len(), 3);
    tap(&mut st, Touch::Search("service b".into()), 1);
    assert_eq!(st.visible_items(&s).iter().map(|i| i.code.as_str()).collect::<Vec<_>>(), ["B"]);
    tap(&mut st, Touch::Zone(Some("enterprise".into())), 2);
    assert!(st.visible_items(&s).is_empty());
    tap(&mut st, Touch::Zone(None), 3);
    tap(&mut st, Touch::Elder(true), 4);
    let only_a = Settings { elder_categories: vec!["A".into()], ..Settings::default() };
    assert_eq!(st.visible_items(&only_a).len(), 1);
}

#[test]
fn a_catalog_change_that_removes_the_chosen_category_goes_home() {
    let mut st = state();
    tap(&mut st, Touch::Choose("A".into()), 1);
    let mut c = st.catalog.clone();
    c.items.retain(|i| i.code != "A");
    update(&mut st, Input::Catalog(c), 2, &Settings::default());
    assert_eq!(st.screen, Screen::Home);
}

#[test]
fn the_next_visitor_starts_in_the_configured_language_and_mode() {
    let s = Settings::default();
    let mut st = state();
    tap(&mut st, Touch::Lang { en: true }, 1_000);
    tap(&mut st, Touch::Elder(true), 1_000);
    // Navigating home mid-visit keeps the visitor's choices.
    tap(&mut st, Touch::Choose("B".into()), 2_000);
    tap(&mut st, Touch::Home, 3_000);
    assert!(st.en && st.elder);
    // The visit ends with the ticket: the next one starts in Chinese, standard mode.
    tap(&mut st, Touch::Choose("B".into()), 4_000);
    tap(&mut st, Touch::TakeNumber, 4_000);
    tap(&mut st, Touch::SkipId, 4_000);
    tap(&mut st, Touch::Confirm, 4_000);
    update(&mut st, Input::Issued(Ok(ticket("B003", "B"))), 5_000, &s);
    tap(&mut st, Touch::Home, 6_000);
    assert!(!st.en && !st.elder);
    // Nobody touched the screen for a while: the same.
    tap(&mut st, Touch::Lang { en: true }, 7_000);
    update(&mut st, Input::Tick, 7_000 + s.idle_timeout_ms, &s);
    assert!(!st.en);
}

#[test]
fn event_figures_update_the_choices_in_place() {
    let mut st = state();
    for i in &mut st.catalog.items {
        i.queue = i.code.clone();
    }
    st.catalog.items[1].quota_left = Some(1);
    let figures = Figures {
        queues: vec![QueueFigure { code: "B".into(), waiting: 4, wait_min: 12 }],
        issued_in: Some("B".into()),
    };
    update(&mut st, Input::Figures(figures), 0, &Settings::default());
    let b = st.catalog.item("B").unwrap();
    assert_eq!((b.waiting, b.wait_min, b.issued_today, b.quota_left), (4, 12, 1, Some(0)));
    assert_eq!(st.catalog.item("A").unwrap().waiting, 0, "other choices stay");
    assert_eq!(st.catalog_loads, 1, "figures are not a catalogue load");
}

#[test]
fn the_next_change_by_the_clock_is_the_next_opening_or_cutoff() {
    let st = state();
    let zone = st.catalog.zone;
    let at = |hhmm: &str| {
        let t = chrono::NaiveTime::parse_from_str(hhmm, "%H:%M").unwrap();
        zone.ms_at(chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap().and_time(t)).unwrap()
    };
    // C issues 09:00–16:30; A and B have no hours of their own.
    assert_eq!(st.catalog.next_change(at("08:00")), Some(at("09:00")));
    assert_eq!(st.catalog.next_change(at("09:00")), Some(at("16:30")));
    assert_eq!(st.catalog.next_change(at("17:00")), Some(at("00:00") + 24 * 3_600_000), "midnight brings a new day");
}

#[test]
fn the_slip_link_carries_the_tickets_secret() {
    let mut t = ticket("A001", "A");
    t.service_date = "2026-11-27".into();
    t.holder_secret = "00112233445566778899aabbccddeeff".into();
    assert_eq!(
        status_url(&Settings::default(), &t),
        "https://hall.example.gov.cn/t/2026-11-27/A001?s=00112233445566778899aabbccddeeff"
    );
    // The server's own link, when it gives one, is the QR.
    t.status_url = "https://hall.example.gov.cn/t/00112233445566778899aabbccddeeff".into();
    assert_eq!(status_url(&Settings::default(), &t), t.status_url);
}
