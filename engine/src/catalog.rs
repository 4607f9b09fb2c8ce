//! The hall's catalogue: departments, zones, service categories with their
//! guidance (办事指南), 一件事 bundles, windows with their tiers, clerks, the
//! opening calendar and the queueing policy.
//!
//! These types are both the TOML schema of the config file and the in-memory
//! catalogue the engine reads. Parsing and validation with file/key errors
//! live in `crate::config`; this module only defines the shapes and lookups.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub hall: HallInfo,
    #[serde(default)]
    pub policy: Policy,
    pub calendar: Calendar,
    #[serde(default)]
    pub departments: Vec<Department>,
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub bundles: Vec<Bundle>,
    #[serde(default)]
    pub windows: Vec<Window>,
    #[serde(default)]
    pub clerks: Vec<Clerk>,
    /// Supervisor and admin accounts (console, reports, follow-ups,
    /// configuration): passwords as Argon2id hashes only.
    #[serde(default)]
    pub staff: Vec<StaffAccount>,
    /// `[notify]`: where notifications go (掌上办).
    #[serde(default)]
    pub notify: crate::notify::NotifyConfig,
    /// `[site]`: which site of the city this hall is (三级协同).
    #[serde(default)]
    pub site: crate::site::SiteConfig,
    /// `[ship]`: copying the log and figures to PostgreSQL; none by default.
    #[serde(default)]
    pub ship: Option<crate::site::ShipConfig>,
    /// `[[peers]]`: the other sites a clerk may send a ticket to (跨区域通办).
    #[serde(default)]
    pub peers: Vec<crate::site::Peer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallInfo {
    pub name_zh: String,
    pub name_en: String,
    /// IANA time zone of the site; the service date and opening hours are local to it.
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Local time at which the service day rolls over ("HH:MM", default midnight).
    #[serde(default = "default_day_start")]
    pub day_starts_at: String,
    /// Scrolling notice line for the display boards.
    #[serde(default)]
    pub notice: String,
    /// Days personal data (person keys, masked names, birth dates) is kept
    /// (PIPL): older tickets, appointments and follow-ups keep their figures
    /// but lose who they were about, in the live state and in the stored log.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// The base URL visitors' phones reach the hall's web face at (the
    /// slip's QR: `{public_url}/t/{ticket secret}`), e.g.
    /// `https://hall.example.gov.cn`. Empty: the server's own `--http`
    /// address.
    #[serde(default)]
    pub public_url: String,
    /// The site's administrative division code (行政区划代码, 6 or 12
    /// digits), carried by every 好差评 record for the provincial platform.
    #[serde(default)]
    pub region_code: String,
    /// The hall's own networks (its visitor Wi-Fi), as CIDR blocks
    /// ("10.8.0.0/16"): a phone on one of them may check in its remote
    /// ticket from the ticket page. Empty: only the kiosk's QR scan checks in.
    #[serde(default)]
    pub checkin_networks: Vec<String>,
}

/// `ip` is inside the CIDR block `net` ("10.8.0.0/16", "fd00::/8", or a
/// single address). A malformed block contains nothing.
pub fn in_network(net: &str, ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    let (addr, bits) = match net.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (net, None),
    };
    let Ok(base) = addr.trim().parse::<IpAddr>() else {
        return false;
    };
    // An IPv4 peer may arrive as an IPv4-mapped IPv6 address.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (base, ip) {
        (IpAddr::V4(b), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return false;
            }
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(b) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(b), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return false;
            }
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(b) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn cidr_ok(net: &str) -> bool {
    let (addr, bits) = match net.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (net, None),
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(ip) => bits.is_none_or(|b| {
            b.parse::<u32>()
                .is_ok_and(|b| b <= if ip.is_ipv4() { 32 } else { 128 })
        }),
        Err(_) => false,
    }
}

fn default_retention_days() -> u32 {
    180
}

fn default_tz() -> String {
    "Asia/Shanghai".into()
}
fn default_day_start() -> String {
    "00:00".into()
}

/// Knobs of the ordering policy; every default is what a hall would start with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// At most this many priority tickets are called in a row at one window
    /// while a normal ticket waits in the same tier: the anti-starvation ratio.
    pub priority_ratio: u32,
    /// A called ticket is marked no-show automatically on the recall after this many.
    pub max_recalls: u32,
    /// A ticket waiting in a window's secondary tier longer than this (minutes)
    /// is served before that window's primary tier. Categories may override.
    pub secondary_escalation_minutes: u32,
    /// Appointments count as priority from this many minutes before their slot...
    pub appointment_early_minutes: u32,
    /// ...until this many minutes after the slot's end; later they queue normally.
    pub appointment_grace_minutes: u32,
    /// Age (years) from which the green channel is offered.
    pub green_channel_age: u32,
    /// Tickets one person may take per category per day (default for categories).
    pub per_person_daily_limit: u32,
    /// How many recent handling times per category feed the wait estimate.
    pub recent_handling_samples: usize,
    /// Where a late arrival goes back into the queue: behind this many waiting
    /// tickets of its queue (0 = at the front, large = at the back).
    pub late_requeue_behind: u32,
    /// A follow-up (回访) is due this many working days after it opened.
    #[serde(default = "default_follow_up_days")]
    pub follow_up_due_working_days: u32,
    /// Bookings one person may hold per week (Monday to Sunday of the
    /// slot's day) and per calendar month; cancelled ones do not count.
    /// 0 = no limit.
    pub booking_per_person_week: u32,
    pub booking_per_person_month: u32,
    /// A visitor may cancel a booking until this many minutes before its slot.
    pub booking_cancel_minutes: u32,
    /// This many missed appointments (爽约) within `booking_missed_days`
    /// days block booking for `booking_block_days` days. 0 = never block.
    pub booking_missed_limit: u32,
    pub booking_missed_days: u32,
    pub booking_block_days: u32,
}

fn default_follow_up_days() -> u32 {
    5
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            priority_ratio: 2,
            max_recalls: 3,
            secondary_escalation_minutes: 30,
            appointment_early_minutes: 15,
            appointment_grace_minutes: 15,
            green_channel_age: 70,
            per_person_daily_limit: 3,
            recent_handling_samples: 20,
            late_requeue_behind: 3,
            follow_up_due_working_days: 5,
            booking_per_person_week: 2,
            booking_per_person_month: 4,
            booking_cancel_minutes: 120,
            booking_missed_limit: 2,
            booking_missed_days: 30,
            booking_block_days: 90,
        }
    }
}

/// Opening calendar: weekday hours, weekend opening (周末不打烊), public
/// holidays and make-up working days (调休).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    pub weekday_open: String,
    pub weekday_close: String,
    /// Weekend opening: `None` closes the hall on Saturdays and Sundays.
    #[serde(default)]
    pub weekend_open: Option<String>,
    #[serde(default)]
    pub weekend_close: Option<String>,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    /// Saturdays/Sundays worked with weekday hours (调休上班).
    #[serde(default)]
    pub makeup_workdays: Vec<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guidance {
    pub materials: Vec<String>,
    pub legal_time_limit_days: u32,
    pub promised_time_limit_days: u32,
    pub fees: String,
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub code: String,
    /// Ticket number prefix (A–Z or two letters); unique across categories and bundles.
    pub prefix: String,
    pub name_zh: String,
    pub name_en: String,
    pub department: String,
    pub zone: String,
    /// Tickets per day; 0 = unlimited.
    #[serde(default)]
    pub daily_quota: u32,
    /// Issuing hours ("HH:MM"); default: the hall's hours of that day.
    #[serde(default)]
    pub issue_from: Option<String>,
    /// Cutoff for new tickets ("HH:MM"), e.g. 30 minutes before closing.
    #[serde(default)]
    pub issue_until: Option<String>,
    #[serde(default)]
    pub per_person_daily_limit: Option<u32>,
    #[serde(default)]
    pub id_card_required: bool,
    /// Expected handling minutes, used for estimates until real times exist.
    #[serde(default = "default_expected")]
    pub expected_minutes: u32,
    /// Override of `policy.secondary_escalation_minutes`.
    #[serde(default)]
    pub max_wait_minutes: Option<u32>,
    /// Served on weekend opening days (周末不打烊); false = weekdays only.
    #[serde(default = "yes")]
    pub weekend_service: bool,
    #[serde(default)]
    pub guidance: Guidance,
    /// `[categories.booking]`: appointment slots (预约时段). Without it, a
    /// booking may name any slot within the day's hours.
    #[serde(default)]
    pub booking: Option<Booking>,
    /// `[categories.remote]`: remote tickets (线上取号) from the phone.
    /// Without it, the category is taken in the hall only.
    #[serde(default)]
    pub remote: Option<RemoteTickets>,
}

/// Remote tickets of one category: at most `share_pct` percent of the
/// day's quota (so walk-ins keep the rest), each expiring `grace_minutes`
/// after it reached the front without its visitor having checked in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteTickets {
    pub share_pct: u32,
    #[serde(default = "default_grace_minutes")]
    pub grace_minutes: u32,
}

fn default_grace_minutes() -> u32 {
    15
}

/// Appointment slots of one category: every `slot_minutes` from the
/// hall's opening on each open day (weekends included when the category
/// serves them), `capacity` bookings each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Booking {
    #[serde(default = "default_slot_minutes")]
    pub slot_minutes: u32,
    /// Bookings per slot.
    pub capacity: u32,
    /// How many days ahead a slot can be booked (0 = today only).
    #[serde(default = "default_horizon_days")]
    pub horizon_days: u32,
    /// Booking a slot closes this many minutes before it starts.
    #[serde(default = "default_cutoff_minutes")]
    pub cutoff_minutes: u32,
}

fn default_slot_minutes() -> u32 {
    30
}
fn default_horizon_days() -> u32 {
    7
}
fn default_cutoff_minutes() -> u32 {
    30
}

fn default_expected() -> u32 {
    10
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BundleMode {
    /// Stages are visited in order; the ticket joins the next stage's queue
    /// keeping its place by original issue time.
    Staged,
    /// Served whole at a comprehensive window (综合窗口, 无差别受理) that lists the bundle.
    Whole,
}

/// A 一件事 bundle: one matter spanning several categories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub code: String,
    pub prefix: String,
    pub name_zh: String,
    pub name_en: String,
    pub stages: Vec<String>,
    pub mode: BundleMode,
    #[serde(default)]
    pub daily_quota: u32,
    #[serde(default)]
    pub id_card_required: bool,
    #[serde(default)]
    pub guidance: Guidance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// The number shown and spoken ("3号窗口").
    pub number: u32,
    pub name: String,
    pub zone: String,
    /// Category or bundle codes served, tier by tier: `tiers[0]` is primary.
    pub tiers: Vec<Vec<String>>,
    /// A remote virtual window (远程虚拟窗口): staffed by clerks of another
    /// site over video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::site::RemoteWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clerk {
    pub id: String,
    pub name: String,
    /// The PIN as an Argon2id hash (a PHC string, `$argon2id$v=19$...`),
    /// so the configuration never holds a plain PIN, and a stolen copy of
    /// it costs an attacker real work per guess. `hall-server passwd`
    /// writes it.
    #[serde(default)]
    pub pin_argon2: String,
    /// A clerk of another site who staffs this hall's remote windows (远程
    /// 虚拟窗口): that site's id. Such a clerk opens only remote windows
    /// staffed from there; everyone else only the hall's own windows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home_site: String,
    /// Where that clerk sits, as the board shows it with the call
    /// ("区政务服务中心 12号窗口").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub desk: String,
    /// The old unsalted SHA-256 form: read only to refuse it with a way out
    /// (a 4-digit PIN behind a plain SHA-256 falls in milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_sha256: Option<String>,
}

/// A supervisor's or admin's account. The role is the account's, not the
/// device's: a supervisor logs in from any enrolled counter terminal or
/// staff device and acts as a supervisor, in their own name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffAccount {
    pub id: String,
    pub name: String,
    pub role: StaffRole,
    /// Argon2id PHC string of `id:password` (`hall-server passwd --staff ID`).
    pub password_argon2: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    Supervisor,
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Supervisor => "supervisor",
            StaffRole::Admin => "admin",
        }
    }
}

/// Whether `password` is the account's. One Argon2id evaluation, as
/// [`verify_pin`].
pub fn verify_password(account: &StaffAccount, password: &str) -> bool {
    verify_hash(&account.password_argon2, &account.id, password)
}

/// Passwords of staff accounts: at least this many characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// What a queue code names: a category, or a bundle served whole.
#[derive(Debug, Clone, Copy)]
pub enum QueueRef<'a> {
    Category(&'a Category),
    Bundle(&'a Bundle),
}

impl Catalog {
    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }
    pub fn bundle(&self, code: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|b| b.code == code)
    }
    pub fn window(&self, number: u32) -> Option<&Window> {
        self.windows.iter().find(|w| w.number == number)
    }
    pub fn clerk(&self, id: &str) -> Option<&Clerk> {
        self.clerks.iter().find(|c| c.id == id)
    }
    pub fn staff_account(&self, id: &str) -> Option<&StaffAccount> {
        self.staff.iter().find(|s| s.id == id)
    }
    pub fn queue(&self, code: &str) -> Option<QueueRef<'_>> {
        self.category(code)
            .map(QueueRef::Category)
            .or_else(|| self.bundle(code).map(QueueRef::Bundle))
    }
    /// Display names (zh, en) of a queue code, or the code itself when unknown.
    pub fn queue_names(&self, code: &str) -> (String, String) {
        match self.queue(code) {
            Some(QueueRef::Category(c)) => (c.name_zh.clone(), c.name_en.clone()),
            Some(QueueRef::Bundle(b)) => (b.name_zh.clone(), b.name_en.clone()),
            None => (code.to_string(), code.to_string()),
        }
    }
    pub fn queue_zone(&self, code: &str) -> Option<&str> {
        match self.queue(code)? {
            QueueRef::Category(c) => Some(&c.zone),
            // A whole bundle lives in the zone of the windows that serve it.
            QueueRef::Bundle(b) => self
                .windows
                .iter()
                .find(|w| w.tiers.iter().flatten().any(|c| *c == b.code))
                .map(|w| w.zone.as_str()),
        }
    }
    pub fn expected_minutes(&self, code: &str) -> u32 {
        match self.queue(code) {
            Some(QueueRef::Category(c)) => c.expected_minutes,
            Some(QueueRef::Bundle(b)) => b
                .stages
                .iter()
                .filter_map(|s| self.category(s))
                .map(|c| c.expected_minutes)
                .sum::<u32>()
                .max(1),
            None => 10,
        }
    }
    /// Minutes after which a ticket of `code` waiting in a secondary tier escalates.
    pub fn escalation_minutes(&self, code: &str) -> u32 {
        self.category(code)
            .and_then(|c| c.max_wait_minutes)
            .unwrap_or(self.policy.secondary_escalation_minutes)
    }
}

/// Longest category or bundle code (bytes): the same limit the server puts
/// on the `category` and `code` fields of requests, so every configured
/// queue can be asked for.
pub const MAX_CODE_BYTES: usize = 64;
/// Longest clerk id (bytes), the same as the request limit on `clerk_id`.
pub const MAX_CLERK_ID_BYTES: usize = 32;

/// Argon2id parameters for new PIN hashes: OWASP's minimum (19 MiB, two
/// passes, one lane), ≈ 20–40 ms per check on the hall's server. The
/// parameters travel inside each hash, so raising them later only affects
/// hashes written after.
fn argon2() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// Hashes a PIN (or password) with Argon2id, as the PHC string
/// `pin_argon2` holds. `salt` must be random (the caller draws it: the
/// engine stays free of I/O and randomness). The clerk id is mixed in too.
pub fn hash_pin(clerk_id: &str, pin: &str, salt: [u8; 16]) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2()
        .hash_password(format!("{clerk_id}:{pin}").as_bytes(), &salt)
        .expect("Argon2 hashes any input")
        .to_string()
}

/// Whether `pin` is the clerk's PIN. Costs one Argon2id evaluation (tens of
/// milliseconds): callers run it off any thread that others wait on.
pub fn verify_pin(clerk: &Clerk, pin: &str) -> bool {
    verify_hash(&clerk.pin_argon2, &clerk.id, pin)
}

fn verify_hash(phc: &str, id: &str, secret: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(format!("{id}:{secret}").as_bytes(), &hash)
        .is_ok()
}

/// Whether a PHC string is an Argon2id hash no weaker than [`hash_pin`]
/// writes: a hash is only as costly to attack as its own parameters say.
fn strong_argon2(phc: &str) -> bool {
    argon2::password_hash::PasswordHash::new(phc).is_ok_and(|h| {
        let p = argon2::Params::try_from(&h);
        h.algorithm.as_str() == "argon2id"
            && p.is_ok_and(|p| p.m_cost() >= 19 * 1024 && p.t_cost() >= 2)
    })
}

/// One problem found in a catalogue: the key it is at and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProblem {
    /// Dotted path of the offending key, e.g. `categories[3].prefix`.
    pub key: String,
    pub problem: String,
}

impl std::fmt::Display for CatalogProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl Catalog {
    /// Checks every cross-reference and format; returns all problems found.
    pub fn validate(&self) -> Result<(), Vec<CatalogProblem>> {
        use super::calendar::hhmm;
        use std::collections::HashSet;
        let mut out = Vec::new();
        let mut bad = |key: String, problem: String| out.push(CatalogProblem { key, problem });
        let time_ok = |s: &str| hhmm(s).is_some();

        if self.hall.timezone.parse::<chrono_tz::Tz>().is_err() {
            bad(
                "hall.timezone".into(),
                format!("'{}' is not an IANA time zone", self.hall.timezone),
            );
        }
        if !self.hall.public_url.is_empty()
            && !(self.hall.public_url.starts_with("https://")
                || self.hall.public_url.starts_with("http://"))
        {
            bad(
                "hall.public_url".into(),
                format!("'{}' is not an http(s) URL", self.hall.public_url),
            );
        }
        {
            let p = &self.policy;
            let mut range = |key: &str, v: u32, lo: u32, hi: u32| {
                if !(lo..=hi).contains(&v) {
                    bad(
                        format!("policy.{key}"),
                        format!("{v} is not between {lo} and {hi}"),
                    );
                }
            };
            range("booking_per_person_week", p.booking_per_person_week, 0, 100);
            range(
                "booking_per_person_month",
                p.booking_per_person_month,
                0,
                400,
            );
            range(
                "booking_cancel_minutes",
                p.booking_cancel_minutes,
                0,
                7 * 24 * 60,
            );
            range("booking_missed_limit", p.booking_missed_limit, 0, 100);
            range("booking_missed_days", p.booking_missed_days, 1, 365);
            range("booking_block_days", p.booking_block_days, 1, 3650);
            // Longer, and the misses that caused a block would block again
            // once it ended.
            if p.booking_missed_days > p.booking_block_days {
                bad(
                    "policy.booking_missed_days".into(),
                    format!(
                        "{} is longer than booking_block_days ({})",
                        p.booking_missed_days, p.booking_block_days
                    ),
                );
            }
        }
        for (i, net) in self.hall.checkin_networks.iter().enumerate() {
            if !cidr_ok(net) {
                bad(
                    format!("hall.checkin_networks[{i}]"),
                    format!("'{net}' is not a CIDR block such as 10.8.0.0/16"),
                );
            }
        }
        for (key, problem) in self.notify.problems() {
            bad(key, problem);
        }
        for (key, problem) in crate::site::remote_problems(self) {
            bad(key, problem);
        }
        for (key, problem) in crate::site::peer_problems(&self.site, &self.peers) {
            bad(key, problem);
        }
        for (key, problem) in crate::site::problems(&self.site, self.ship.as_ref()) {
            bad(key, problem);
        }
        for (i, c) in self.categories.iter().enumerate() {
            let Some(r) = &c.remote else { continue };
            let key = |k: &str| format!("categories[{i}].remote.{k}");
            if !(1..=100).contains(&r.share_pct) {
                bad(
                    key("share_pct"),
                    format!("{} is not between 1 and 100", r.share_pct),
                );
            }
            if c.daily_quota == 0 {
                bad(
                    key("share_pct"),
                    "remote tickets are a share of the day's quota: set daily_quota".into(),
                );
            }
            if !(1..=240).contains(&r.grace_minutes) {
                bad(
                    key("grace_minutes"),
                    format!("{} is not between 1 and 240", r.grace_minutes),
                );
            }
        }
        for (i, c) in self.categories.iter().enumerate() {
            let Some(b) = &c.booking else { continue };
            let key = |k: &str| format!("categories[{i}].booking.{k}");
            if !(5..=240).contains(&b.slot_minutes) {
                bad(
                    key("slot_minutes"),
                    format!("{} is not between 5 and 240", b.slot_minutes),
                );
            }
            if !(1..=1000).contains(&b.capacity) {
                bad(
                    key("capacity"),
                    format!("{} is not between 1 and 1000", b.capacity),
                );
            }
            if b.horizon_days > 90 {
                bad(
                    key("horizon_days"),
                    format!("{} is more than 90 days", b.horizon_days),
                );
            }
            if b.cutoff_minutes > 7 * 24 * 60 {
                bad(
                    key("cutoff_minutes"),
                    format!("{} is more than a week", b.cutoff_minutes),
                );
            }
        }
        if !(1..=3650).contains(&self.hall.retention_days) {
            bad(
                "hall.retention_days".into(),
                format!(
                    "{} is not between 1 and 3650 days",
                    self.hall.retention_days
                ),
            );
        }
        if !time_ok(&self.hall.day_starts_at) {
            bad(
                "hall.day_starts_at".into(),
                format!("'{}' is not HH:MM", self.hall.day_starts_at),
            );
        }
        let cal = &self.calendar;
        for (k, v) in [
            ("weekday_open", &cal.weekday_open),
            ("weekday_close", &cal.weekday_close),
        ] {
            if !time_ok(v) {
                bad(format!("calendar.{k}"), format!("'{v}' is not HH:MM"));
            }
        }
        if let (Some(o), Some(c)) = (hhmm(&cal.weekday_open), hhmm(&cal.weekday_close))
            && o >= c
        {
            bad(
                "calendar.weekday_close".into(),
                "must be after weekday_open".into(),
            );
        }
        match (&cal.weekend_open, &cal.weekend_close) {
            (Some(o), Some(c)) => {
                for (k, v) in [("weekend_open", o), ("weekend_close", c)] {
                    if !time_ok(v) {
                        bad(format!("calendar.{k}"), format!("'{v}' is not HH:MM"));
                    }
                }
                if let (Some(o), Some(c)) = (hhmm(o), hhmm(c))
                    && o >= c
                {
                    bad(
                        "calendar.weekend_close".into(),
                        "must be after weekend_open".into(),
                    );
                }
            }
            (None, None) => {}
            _ => bad(
                "calendar".into(),
                "weekend_open and weekend_close go together".into(),
            ),
        }
        for (i, d) in cal.makeup_workdays.iter().enumerate() {
            if cal.holidays.contains(d) {
                bad(
                    format!("calendar.makeup_workdays[{i}]"),
                    format!("{d} is also listed as a holiday"),
                );
            }
        }

        let mut seen = HashSet::new();
        for (i, d) in self.departments.iter().enumerate() {
            if d.code.is_empty() || !seen.insert(d.code.as_str()) {
                bad(
                    format!("departments[{i}].code"),
                    format!("'{}' is empty or used twice", d.code),
                );
            }
        }
        let mut zones = HashSet::new();
        for (i, z) in self.zones.iter().enumerate() {
            if z.code.is_empty() || !zones.insert(z.code.as_str()) {
                bad(
                    format!("zones[{i}].code"),
                    format!("'{}' is empty or used twice", z.code),
                );
            }
        }
        let prefix_ok =
            |p: &str| (1..=2).contains(&p.len()) && p.chars().all(|c| c.is_ascii_uppercase());
        let mut codes = HashSet::new();
        let mut prefixes = HashSet::new();
        for (i, c) in self.categories.iter().enumerate() {
            let k = |f: &str| format!("categories[{i}].{f}");
            if c.code.is_empty() || !codes.insert(c.code.as_str()) {
                bad(k("code"), format!("'{}' is empty or used twice", c.code));
            }
            if c.code.len() > MAX_CODE_BYTES {
                bad(k("code"), format!("longer than {MAX_CODE_BYTES} bytes"));
            }
            if !prefix_ok(&c.prefix) {
                bad(
                    k("prefix"),
                    format!("'{}' must be one or two letters A-Z", c.prefix),
                );
            } else if !prefixes.insert(c.prefix.as_str()) {
                bad(
                    k("prefix"),
                    format!("'{}' is used by another category or bundle", c.prefix),
                );
            }
            if !self.departments.iter().any(|d| d.code == c.department) {
                bad(k("department"), format!("no department '{}'", c.department));
            }
            if !zones.contains(c.zone.as_str()) {
                bad(k("zone"), format!("no zone '{}'", c.zone));
            }
            for (f, v) in [
                ("issue_from", &c.issue_from),
                ("issue_until", &c.issue_until),
            ] {
                if let Some(v) = v
                    && !time_ok(v)
                {
                    bad(k(f), format!("'{v}' is not HH:MM"));
                }
            }
            if c.expected_minutes == 0 {
                bad(k("expected_minutes"), "must be at least 1".into());
            }
        }
        for (i, b) in self.bundles.iter().enumerate() {
            let k = |f: &str| format!("bundles[{i}].{f}");
            if b.code.len() > MAX_CODE_BYTES {
                bad(k("code"), format!("longer than {MAX_CODE_BYTES} bytes"));
            }
            if b.code.is_empty() || !codes.insert(b.code.as_str()) {
                bad(
                    k("code"),
                    format!(
                        "'{}' is empty or used by another category or bundle",
                        b.code
                    ),
                );
            }
            if !prefix_ok(&b.prefix) {
                bad(
                    k("prefix"),
                    format!("'{}' must be one or two letters A-Z", b.prefix),
                );
            } else if !prefixes.insert(b.prefix.as_str()) {
                bad(
                    k("prefix"),
                    format!("'{}' is used by another category or bundle", b.prefix),
                );
            }
            if b.stages.is_empty() {
                bad(k("stages"), "needs at least one stage".into());
            }
            for (j, s) in b.stages.iter().enumerate() {
                if self.category(s).is_none() {
                    bad(
                        format!("bundles[{i}].stages[{j}]"),
                        format!("no category '{s}'"),
                    );
                }
            }
        }
        let mut numbers = HashSet::new();
        for (i, w) in self.windows.iter().enumerate() {
            let k = |f: &str| format!("windows[{i}].{f}");
            if w.number == 0 || !numbers.insert(w.number) {
                bad(k("number"), format!("{} is 0 or used twice", w.number));
            }
            if !zones.contains(w.zone.as_str()) {
                bad(k("zone"), format!("no zone '{}'", w.zone));
            }
            if w.tiers.iter().all(|t| t.is_empty()) {
                bad(
                    k("tiers"),
                    "serves nothing: list category codes, primary tier first".into(),
                );
            }
            for (t, tier) in w.tiers.iter().enumerate() {
                for (j, code) in tier.iter().enumerate() {
                    if self.queue(code).is_none() {
                        bad(
                            format!("windows[{i}].tiers[{t}][{j}]"),
                            format!("no category or bundle '{code}'"),
                        );
                    }
                }
            }
        }
        for b in self.bundles.iter().filter(|b| b.mode == BundleMode::Whole) {
            if !self
                .windows
                .iter()
                .any(|w| w.tiers.iter().flatten().any(|c| *c == b.code))
            {
                bad(
                    format!("bundles.{}", b.code),
                    "is served whole but no window lists it".into(),
                );
            }
        }
        let mut clerks = HashSet::new();
        for (i, c) in self.clerks.iter().enumerate() {
            if c.id.is_empty() || !clerks.insert(c.id.as_str()) {
                bad(
                    format!("clerks[{i}].id"),
                    format!("'{}' is empty or used twice", c.id),
                );
            }
            if c.id.len() > MAX_CLERK_ID_BYTES {
                bad(
                    format!("clerks[{i}].id"),
                    format!("longer than {MAX_CLERK_ID_BYTES} bytes"),
                );
            }
            if c.pin_sha256.is_some() {
                bad(
                    format!("clerks[{i}].pin_sha256"),
                    format!(
                        "no longer accepted (an unsalted SHA-256 of a short PIN is guessed in milliseconds): \
                         run `hall-server passwd --config FILE --clerk {}` to write pin_argon2 instead",
                        c.id
                    ),
                );
            }
            if !strong_argon2(&c.pin_argon2) {
                bad(
                    format!("clerks[{i}].pin_argon2"),
                    format!(
                        "must be an Argon2id hash ($argon2id$v=19$m=19456,t=2,... or stronger): run `hall-server passwd --config FILE --clerk {}`",
                        c.id
                    ),
                );
            }
        }
        let mut staff = HashSet::new();
        for (i, a) in self.staff.iter().enumerate() {
            if a.id.is_empty() || a.id.len() > MAX_CLERK_ID_BYTES || !staff.insert(a.id.as_str()) {
                bad(
                    format!("staff[{i}].id"),
                    format!(
                        "'{}' is empty, longer than {MAX_CLERK_ID_BYTES} bytes or used twice",
                        a.id
                    ),
                );
            }
            if !strong_argon2(&a.password_argon2) {
                bad(
                    format!("staff[{i}].password_argon2"),
                    format!(
                        "must be an Argon2id hash ($argon2id$v=19$m=19456,t=2,... or stronger): run `hall-server passwd --config FILE --staff {}`",
                        a.id
                    ),
                );
            }
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}
