//! The catalogue as the kiosk needs it: categories and 一件事 bundles as
//! choices with their guidance, zones, and the hall's time zone, converted
//! once from the wire's `Catalog`; then kept current by the [`Figures`] each
//! event carries (waiting counts, estimates, tickets issued), and re-read
//! only when it changes otherwise (see `controller::follow_catalog`).
//!
//! Not for queue decisions: the server makes them; this only shows them.

use hall_client::time::HallZone;
use hall_proto::v1 as pb;

/// One choice on the home screen: a category or a 一件事 bundle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub department: String,
    pub zone: String,
    pub waiting: u32,
    pub wait_min: u32,
    pub issued_today: u32,
    pub id_required: bool,
    pub open_now: bool,
    pub issue_from: String,
    pub issue_until: String,
    /// Tickets left today; `None` = no quota.
    pub quota_left: Option<u32>,
    pub bundle: bool,
    /// The queue whose count and estimate this choice shows: the category,
    /// a bundle served whole, or a staged bundle's first stage (the queue
    /// its visitor joins).
    pub queue: String,
    /// Names of a bundle's stages, in order.
    pub stages: Vec<String>,
    pub materials: Vec<String>,
    pub legal_days: u32,
    pub promised_days: u32,
    pub fees: String,
    pub notes: String,
}

impl Item {
    pub fn name(&self, en: bool) -> &str {
        if en && !self.name_en.is_empty() { &self.name_en } else { &self.name_zh }
    }

    /// 法定办结时限 20 个工作日，承诺 5 个工作日 (0 days = 即办).
    pub fn time_limit(&self, en: bool) -> String {
        let days = |d: u32| match (d, en) {
            (0, false) => "即办".to_string(),
            (0, true) => "on the spot".to_string(),
            (d, false) => format!("{d} 个工作日"),
            (d, true) => format!("{d} working days"),
        };
        if en {
            format!("Legal time limit {}, promised {}", days(self.legal_days), days(self.promised_days))
        } else {
            format!("法定办结时限 {}，承诺 {}", days(self.legal_days), days(self.promised_days))
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Zone {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// What the kiosk needs of the server's catalogue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogView {
    pub hall_zh: String,
    pub hall_en: String,
    pub service_date: String,
    pub open_today: bool,
    pub next_opening: String,
    pub notice: String,
    /// The hall's time zone (the catalogue's `timezone`).
    pub zone: HallZone,
    pub zones: Vec<Zone>,
    pub items: Vec<Item>,
}

impl CatalogView {
    pub fn from_pb(c: &pb::Catalog) -> CatalogView {
        let dept = |code: &str| {
            c.departments.iter().find(|d| d.code == code).map(|d| d.name_zh.clone()).unwrap_or_else(|| code.to_string())
        };
        let cat_name =
            |code: &str| c.categories.iter().find(|x| x.code == code).map(|x| x.name_zh.clone()).unwrap_or_else(|| code.to_string());
        let mut items: Vec<Item> = c
            .categories
            .iter()
            .map(|x| {
                let g = x.guidance.clone().unwrap_or_default();
                Item {
                    code: x.code.clone(),
                    name_zh: x.name_zh.clone(),
                    name_en: x.name_en.clone(),
                    department: dept(&x.department),
                    zone: x.zone.clone(),
                    waiting: x.waiting,
                    wait_min: x.estimated_wait_min,
                    issued_today: x.issued_today,
                    id_required: x.id_card_required,
                    open_now: x.open_now,
                    issue_from: x.issue_from.clone(),
                    issue_until: x.issue_until.clone(),
                    quota_left: (x.daily_quota > 0).then(|| x.daily_quota.saturating_sub(x.issued_today)),
                    bundle: false,
                    queue: x.code.clone(),
                    stages: vec![],
                    materials: g.materials,
                    legal_days: g.legal_time_limit_days,
                    promised_days: g.promised_time_limit_days,
                    fees: g.fees,
                    notes: g.notes,
                }
            })
            .collect();
        for b in &c.bundles {
            let stages: Vec<&pb::Category> = b.stages.iter().filter_map(|s| c.categories.iter().find(|x| &x.code == s)).collect();
            let mut materials: Vec<String> = Vec::new();
            for s in &stages {
                for m in s.guidance.as_ref().map(|g| g.materials.as_slice()).unwrap_or_default() {
                    if !materials.contains(m) {
                        materials.push(m.clone());
                    }
                }
            }
            let first = stages.first();
            let whole = b.whole_at_comprehensive_window;
            items.push(Item {
                code: b.code.clone(),
                name_zh: b.name_zh.clone(),
                name_en: b.name_en.clone(),
                department: format!("{} 个环节", b.stages.len()),
                zone: first.map(|s| s.zone.clone()).unwrap_or_default(),
                waiting: if whole { b.waiting } else { first.map(|s| s.waiting).unwrap_or(0) },
                wait_min: first.map(|s| s.estimated_wait_min).unwrap_or(0),
                issued_today: 0,
                id_required: stages.iter().any(|s| s.id_card_required),
                open_now: !stages.is_empty() && stages.iter().all(|s| s.open_now),
                issue_from: first.map(|s| s.issue_from.clone()).unwrap_or_default(),
                issue_until: first.map(|s| s.issue_until.clone()).unwrap_or_default(),
                quota_left: None,
                bundle: true,
                queue: if whole { b.code.clone() } else { first.map(|s| s.code.clone()).unwrap_or_default() },
                stages: b.stages.iter().map(|s| cat_name(s)).collect(),
                materials,
                legal_days: stages.iter().map(|s| s.guidance.as_ref().map_or(0, |g| g.legal_time_limit_days)).max().unwrap_or(0),
                promised_days: stages
                    .iter()
                    .map(|s| s.guidance.as_ref().map_or(0, |g| g.promised_time_limit_days))
                    .max()
                    .unwrap_or(0),
                fees: String::new(),
                notes: if b.whole_at_comprehensive_window {
                    "一窗受理：在综合受理窗口一次办完".into()
                } else {
                    "按顺序到各窗口办理，取一次号即可".into()
                },
            });
        }
        CatalogView {
            hall_zh: c.hall_name_zh.clone(),
            hall_en: c.hall_name_en.clone(),
            service_date: c.service_date.clone(),
            open_today: c.open_today,
            next_opening: c.next_opening.clone(),
            notice: c.notice.clone(),
            zone: HallZone::of(c),
            zones: c.zones.iter().map(|z| Zone { code: z.code.clone(), name_zh: z.name_zh.clone(), name_en: z.name_en.clone() }).collect(),
            items,
        }
    }

    /// Takes what one event changed: the counts and estimates of its
    /// queues, and one more ticket issued today (and one fewer left).
    pub fn apply(&mut self, f: &Figures) {
        for q in &f.queues {
            for i in self.items.iter_mut().filter(|i| i.queue == q.code) {
                i.waiting = q.waiting;
                i.wait_min = q.wait_min;
            }
        }
        if let Some(i) = f.issued_in.as_ref().and_then(|c| self.items.iter_mut().find(|i| !i.bundle && i.code == *c)) {
            i.issued_today += 1;
            i.quota_left = i.quota_left.map(|n| n.saturating_sub(1));
        }
    }

    /// The next moment after `now_ms` at which a choice opens or closes by
    /// the clock (a category's `issue_from` or `issue_until` today, or the
    /// local midnight that brings a new day's hours); the catalogue says
    /// `open_now` only as of when it was read.
    pub fn next_change(&self, now_ms: i64) -> Option<i64> {
        let today = self.zone.today(now_ms);
        let at = |hhmm: &str| {
            let t = chrono::NaiveTime::parse_from_str(hhmm, "%H:%M").ok()?;
            self.zone.ms_at(today.and_time(t))
        };
        let midnight = today.succ_opt().and_then(|d| self.zone.ms_at(d.and_time(chrono::NaiveTime::MIN)));
        self.items
            .iter()
            .filter(|i| !i.bundle)
            .flat_map(|i| [at(&i.issue_from), at(&i.issue_until)])
            .chain([midnight])
            .flatten()
            .filter(|&t| t > now_ms)
            .min()
    }

    pub fn item(&self, code: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.code == code)
    }

    pub fn zone_name(&self, code: &str, en: bool) -> String {
        self.zones
            .iter()
            .find(|z| z.code == code)
            .map(|z| if en && !z.name_en.is_empty() { z.name_en.clone() } else { z.name_zh.clone() })
            .unwrap_or_else(|| code.to_string())
    }
}


/// What one event changes in the catalogue as the kiosk shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub queues: Vec<QueueFigure>,
    /// A ticket was issued in this category.
    pub issued_in: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueFigure {
    pub code: String,
    pub waiting: u32,
    pub wait_min: u32,
}

impl Figures {
    /// The figures an event carries; `None` when it changes none.
    pub fn of(e: &pb::Event) -> Option<Figures> {
        let issued_in = match &e.body {
            Some(pb::event::Body::TicketIssued(t)) => Some(t.category.clone()),
            _ => None,
        };
        let queues: Vec<QueueFigure> =
            e.queues.iter().map(|q| QueueFigure { code: q.code.clone(), waiting: q.waiting, wait_min: q.estimated_wait_min }).collect();
        (!queues.is_empty() || issued_in.is_some()).then_some(Figures { queues, issued_in })
    }
}
