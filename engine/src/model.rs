//! The engine's vocabulary: tickets, priority classes, commands and the
//! recorded reason of every call (events are in `event.rs`). Plain data with serde, because events
//! are what the store persists (as JSON, so fields can be added later).

use super::catalog::Catalog;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub type TicketId = u64;
pub type WindowNo = u32;
/// Unix milliseconds. The engine never reads the clock: every command comes with `now`.
pub type Millis = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Normal,
    Elderly,
    Disabled,
    Veteran,
    Pregnant,
    /// Booked in advance; priority only near its slot.
    Appointment,
    /// Key project, assisted/agency handling (帮办代办).
    KeyProject,
}

impl Priority {
    pub fn name(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Elderly => "elderly",
            Priority::Disabled => "disabled",
            Priority::Veteran => "veteran",
            Priority::Pregnant => "pregnant",
            Priority::Appointment => "appointment",
            Priority::KeyProject => "key project",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Priority::Normal => "普通号",
            Priority::Elderly => "老年人",
            Priority::Disabled => "残疾人",
            Priority::Veteran => "军人",
            Priority::Pregnant => "孕妇",
            Priority::Appointment => "预约",
            Priority::KeyProject => "帮办代办",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Kiosk,
    /// A remote ticket (线上取号) taken on the phone: in the queue from its
    /// issue, callable only once the visitor has checked in at the hall.
    Mobile,
    Counter,
    Appointment,
    /// Issued for a ticket another site sent here (跨区域通办): the origin
    /// checked the visitor; `Ticket::from_site` names it.
    Site,
}

/// A ticket at another site of the network (跨区域通办): where it came from,
/// or where it was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteTicket {
    /// The other site's id (`[site] id`).
    pub site: String,
    /// The ticket's number there.
    pub number: String,
    /// The category there.
    pub category: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Waiting,
    Called,
    Serving,
    Done,
    NoShow,
    Suspended,
    Cancelled,
    Expired,
    /// Finished without resolution; a follow-up (回访) item is open.
    Unresolved,
}

impl TicketState {
    /// Waiting, called, serving or suspended: the person still has business today.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TicketState::Waiting
                | TicketState::Called
                | TicketState::Serving
                | TicketState::Suspended
        )
    }
    pub fn name(self) -> &'static str {
        match self {
            TicketState::Waiting => "waiting",
            TicketState::Called => "called",
            TicketState::Serving => "serving",
            TicketState::Done => "done",
            TicketState::NoShow => "no-show",
            TicketState::Suspended => "suspended",
            TicketState::Cancelled => "cancelled",
            TicketState::Expired => "expired",
            TicketState::Unresolved => "unresolved",
        }
    }
}

/// Who the ticket is for, without the ID number: `key` is the keyed hash
/// (HMAC-SHA256 with the site secret) made at the API edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub key: String,
    pub masked_name: String,
    pub birth_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleProgress {
    pub code: String,
    pub stage: u32,
    pub stages: Vec<String>,
}

/// A transfer with return: after the target is done, the ticket comes back here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnTo {
    pub window: WindowNo,
    pub queue: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub start: Millis,
    pub end: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub number: String,
    pub service_date: NaiveDate,
    /// The category or bundle code it was issued for (quota, one-per-person).
    pub origin: String,
    /// The category or whole-bundle code whose queue it is in now.
    pub queue: String,
    pub priority: Priority,
    pub channel: Channel,
    pub state: TicketState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    pub issued_at: Millis,
    /// Its place in the queue: issue time, kept across transfers with return
    /// and bundle stages; moved back on a late-arrival requeue.
    pub sort_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowNo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk: Option<String>,
    pub recall_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_reason: Option<CallReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<BundleProgress>,
    /// Only this window may call it (transfer to a window, or a return).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_window: Option<WindowNo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<ReturnTo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<Slot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A remote ticket's arrival: `None` for tickets taken in the hall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<Remote>,
    /// Issued for a ticket another site sent here: that ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_site: Option<SiteTicket>,
    /// Sent on to another site: the ticket it has there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_to: Option<SiteTicket>,
}

/// A remote ticket (线上取号) holds its place from issue but is not
/// callable until the visitor checks in at the hall; once nobody is ahead of
/// it, it waits `grace_minutes` for that, then expires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remote {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_at: Option<Millis>,
    /// When it first had nobody ahead of it while not yet arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_at: Option<Millis>,
}

impl Ticket {
    /// A remote ticket whose visitor has not checked in: kept out of the
    /// callable queues.
    pub fn awaiting_arrival(&self) -> bool {
        self.remote.as_ref().is_some_and(|r| r.arrived_at.is_none())
    }
}

/// Why "call next" picked a ticket. Recorded on the ticket and in the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallReason {
    pub rule: CallRule,
    /// Tier of the window it was taken from (0 = primary).
    pub tier: u32,
    /// Seconds it had waited (by its place in the queue).
    pub waited_s: i64,
    /// Tickets still waiting for this window after it.
    pub others_waiting: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum CallRule {
    /// The clerk chose this ticket.
    Chosen,
    /// Transferred to this window, or returning to it.
    Targeted,
    /// Waited past its escalation limit in a secondary tier.
    Escalated { limit_min: u32 },
    /// Oldest priority ticket; `streak` priority calls in a row including this one.
    Priority { class: Priority, streak: u32 },
    /// Oldest normal ticket; no priority ticket waited in this tier.
    Fifo,
    /// Oldest normal ticket, taken because `streak` priority calls came before.
    AfterPriorityStreak { streak: u32 },
    /// A suspended ticket called back (回呼).
    CalledBack,
}

impl std::fmt::Display for CallReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tier = if self.tier == 0 {
            "primary tier".to_string()
        } else {
            format!("tier {}", self.tier + 1)
        };
        let waited = self.waited_s / 60;
        match &self.rule {
            CallRule::Chosen => write!(f, "chosen by the clerk (waited {waited} min)"),
            CallRule::Targeted => write!(f, "transferred to this window (waited {waited} min)"),
            CallRule::Escalated { limit_min } => {
                write!(
                    f,
                    "{tier}: waited {waited} min, past the {limit_min} min limit"
                )
            }
            CallRule::Priority { class, streak } => write!(
                f,
                "{tier}: oldest {} ticket, priority call {streak} in a row (waited {waited} min)",
                class.name()
            ),
            CallRule::Fifo => write!(f, "{tier}: oldest ticket (waited {waited} min)"),
            CallRule::AfterPriorityStreak { streak } => write!(
                f,
                "{tier}: oldest normal ticket after {streak} priority calls (waited {waited} min)"
            ),
            CallRule::CalledBack => write!(f, "suspended ticket called back"),
        }?;
        write!(f, "; {} others waiting", self.others_waiting)
    }
}

impl CallReason {
    /// The reason in Chinese, for the counter terminal (the `Display` form,
    /// in English, is for logs and the scenario tests).
    pub fn zh(&self) -> String {
        let tier = if self.tier == 0 {
            "本窗口主办业务".to_string()
        } else {
            format!("第 {} 级协办业务", self.tier + 1)
        };
        let waited = self.waited_s / 60;
        let what = match &self.rule {
            CallRule::Chosen => format!("窗口人员选叫（已等 {waited} 分钟）"),
            CallRule::Targeted => format!("转入本窗口办理（已等 {waited} 分钟）"),
            CallRule::Escalated { limit_min } => {
                format!("{tier}，已等 {waited} 分钟，超过 {limit_min} 分钟时限，调剂优先")
            }
            CallRule::Priority { class, streak } => format!(
                "{tier}，{}优先，连续第 {streak} 个优先号（已等 {waited} 分钟）",
                class.zh()
            ),
            CallRule::Fifo => format!("{tier}，按取号先后（已等 {waited} 分钟）"),
            CallRule::AfterPriorityStreak { streak } => {
                format!("{tier}，已连续叫 {streak} 个优先号，按先后叫普通号（已等 {waited} 分钟）")
            }
            CallRule::CalledBack => "挂起号回呼".to_string(),
        };
        format!("{what}；其后还有 {} 人等候", self.others_waiting)
    }

    pub fn is_priority(&self) -> bool {
        matches!(self.rule, CallRule::Priority { .. })
    }
}

/// What the clerk attaches to a finished ticket for the 好差评 record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaseRef {
    /// 办件编号 (the case in the approval system).
    pub case_no: String,
    /// 事项编码 (the service item's code in the catalogue of the province).
    pub service_code: String,
}

/// A counter session: window number plus the token Login returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub window: WindowNo,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferTarget {
    Queue(String),
    Window(WindowNo),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpKind {
    BadRating,
    Unresolved,
}

impl FollowUpKind {
    pub fn name(&self) -> &'static str {
        match self {
            FollowUpKind::BadRating => "bad_rating",
            FollowUpKind::Unresolved => "unresolved",
        }
    }
}

/// A 回访 item: a bad rating or an unresolved matter that staff must follow up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    pub id: u64,
    pub ticket_number: String,
    pub service_date: NaiveDate,
    pub kind: FollowUpKind,
    pub reason: String,
    pub window: Option<WindowNo>,
    pub clerk: Option<String>,
    pub masked_name: Option<String>,
    pub opened_at: Millis,
    pub closed: Option<String>,
    /// The staff member (account or clerk id) working it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Due: `policy.follow_up_due_working_days` working days after opening,
    /// counted on the hall's calendar (holidays and 调休 included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    /// Every attempt to reach the citizen (回访), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<ContactAttempt>,
    /// The fix (整改) the department made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The citizen's rating of the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_rating: Option<FixRating>,
    /// The clerk's appeal against a bad rating (申诉) and its review (复核).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appeal: Option<Appeal>,
}

/// One attempt to reach the citizen about a follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactAttempt {
    pub at: Millis,
    pub by: String,
    /// Whether the citizen was reached (else: no answer, wrong number...).
    pub reached: bool,
    pub note: String,
}

/// The citizen's rating of a fix (整改满意度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixRating {
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
}

impl FixRating {
    pub fn name(self) -> &'static str {
        match self {
            FixRating::Satisfied => "satisfied",
            FixRating::BasicallySatisfied => "basically_satisfied",
            FixRating::Dissatisfied => "dissatisfied",
        }
    }
    pub fn parse(s: &str) -> Option<FixRating> {
        [
            FixRating::Satisfied,
            FixRating::BasicallySatisfied,
            FixRating::Dissatisfied,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
}

/// An appeal against a bad rating and, once reviewed, the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appeal {
    pub at: Millis,
    pub by: String,
    pub reason: String,
    /// `Some(true)`: upheld; `Some(false)`: rejected; `None`: awaiting
    /// review. The decision is the follow-up's record (the console and its
    /// list show it); the reports and the 好差评 export keep the rating as
    /// the citizen gave it.
    pub upheld: Option<bool>,
    #[serde(default)]
    pub review_note: String,
}

/// One step of working a follow-up (`Command::WorkFollowUp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum FollowUpStep {
    Assign { to: String },
    Contact { reached: bool, note: String },
    Fix { text: String },
    RateFix { rating: FixRating },
    Appeal { reason: String },
    Review { upheld: bool, note: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: u64,
    pub queue: String,
    pub person: Person,
    pub date: NaiveDate,
    pub slot: Slot,
    pub slot_label: (String, String),
    pub ticket: Option<TicketId>,
    /// Old logs: booked (their check-ins set `ticket`).
    #[serde(default)]
    pub state: AppointmentState,
    /// Where the booking's notifications go (confirmed, cancelled,
    /// reminders, a block): the number the visitor confirmed with a code.
    /// Blanked by retention.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone: String,
    /// Reminders sent: `REMIND_DAY` (the day before), `REMIND_SOON` (30
    /// minutes before).
    #[serde(default)]
    pub reminded: u8,
    /// Booked under the missed-appointment rule (a booking from an older
    /// log, made before the rule existed, never counts towards a block).
    #[serde(default)]
    pub counted: bool,
}

/// `Appointment::reminded` bits.
pub const REMIND_DAY: u8 = 1;
pub const REMIND_SOON: u8 = 2;

/// A person barred from booking (too many missed appointments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingBlock {
    /// The day it was imposed (the retention run forgets older ones).
    pub since: NaiveDate,
    /// The first day booking is open again.
    pub until: NaiveDate,
    pub missed: u32,
}

/// Where a booking stands. Kept `Hall::booking_memory_days` after its day, so the
/// per-person week/month limits and the missed-appointment block can count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentState {
    #[default]
    Booked,
    CheckedIn,
    Cancelled,
    /// Its day ended without a check-in (爽约).
    Missed,
}

impl AppointmentState {
    pub fn name(self) -> &'static str {
        match self {
            AppointmentState::Booked => "booked",
            AppointmentState::CheckedIn => "checked_in",
            AppointmentState::Cancelled => "cancelled",
            AppointmentState::Missed => "missed",
        }
    }
}

/// What happens to a ticket when its service at a window finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "then")]
pub enum AfterFinish {
    Closed,
    /// Bundle: join the next stage's queue, keeping the original place.
    NextStage {
        stage: u32,
        queue: String,
    },
    /// Transfer with return: back to the window it came from, keeping its place.
    Returned {
        window: WindowNo,
        queue: String,
    },
    /// Sent to another site (跨区域通办), which issued it a ticket there: it
    /// leaves this hall's queues.
    SentAway {
        to: SiteTicket,
    },
}

/// Everything a client can ask the engine to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Advances time: rolls the service day at the site's day start.
    Tick,
    IssueTicket {
        request_id: Option<String>,
        code: String,
        priority: Priority,
        channel: Channel,
        person: Option<Person>,
    },
    /// A ticket for one another site sends here (跨区域通办). The edge has
    /// checked that the caller is that site; `request_id` is derived from
    /// the origin's ticket, so a retry never issues twice.
    IssueFromSite {
        request_id: String,
        code: String,
        from: SiteTicket,
    },
    /// The current ticket of a window goes to another site, which has
    /// issued it `to.number` (the server asked it first). `ticket` is the
    /// one the server asked for: if the window has moved on meanwhile,
    /// nothing is closed.
    SendToSite {
        session: Session,
        ticket: TicketId,
        to: SiteTicket,
    },
    BookAppointment {
        request_id: Option<String>,
        code: String,
        person: Person,
        date: NaiveDate,
        slot_start: String,
        slot_end: String,
        /// Where its notifications go (a number the visitor confirmed).
        phone: Option<String>,
    },
    CheckInAppointment {
        request_id: Option<String>,
        person_key: String,
        /// The booking (its QR was scanned); `None`: the person's earliest
        /// booking of today (their ID card was read).
        appointment: Option<u64>,
    },
    CancelTicket {
        number: String,
        reason: String,
    },
    /// Cancels booking `id`. With `person_key` it is the visitor (their
    /// identity checked at the edge), bound by the cancel deadline; without,
    /// staff, at any time before the slot.
    CancelAppointment {
        id: u64,
        person_key: Option<String>,
        reason: String,
    },
    /// The holder of remote ticket `number` has arrived (the kiosk scanned
    /// its QR, or the phone checked in on the hall's network).
    ArriveRemote {
        service_date: NaiveDate,
        number: String,
    },
    /// A clerk whose PIN the caller has verified (`catalog::verify_pin`).
    Login {
        window: WindowNo,
        clerk: String,
        token: String,
    },
    Logout {
        session: Session,
    },
    Pause {
        session: Session,
        reason: String,
    },
    Resume {
        session: Session,
    },
    CallNext {
        session: Session,
    },
    CallTicket {
        session: Session,
        number: String,
    },
    Recall {
        session: Session,
    },
    StartService {
        session: Session,
    },
    Finish {
        session: Session,
        resolved: bool,
        reason: String,
        /// 办件编号 and 事项编码, when the clerk gives them.
        case: Option<CaseRef>,
    },
    NoShow {
        session: Session,
    },
    Requeue {
        session: Session,
        number: String,
    },
    Suspend {
        session: Session,
        reason: String,
    },
    CallBack {
        session: Session,
        number: String,
    },
    Transfer {
        session: Session,
        target: TransferTarget,
        with_return: bool,
        reason: String,
    },
    /// The citizen rates on the rating pad (评价器) bound to `window`: a
    /// ticket that window just finished, once.
    RateFromPad {
        window: WindowNo,
        number: String,
        rating: u8,
        comment: String,
    },
    /// The visitor rates a finished ticket of today from the phone (the
    /// ticket page; its secret was checked at the edge): once, whichever
    /// channel comes first.
    RateFromPhone {
        /// The day the ticket page found the ticket on: a rating that
        /// arrives after the rollover is for no ticket.
        service_date: NaiveDate,
        number: String,
        rating: u8,
        comment: String,
    },
    CloseFollowUp {
        id: u64,
        resolution: String,
    },
    /// A supervisor works a follow-up: assigns it, records a contact
    /// attempt, the fix, the citizen's rating of the fix, an appeal or its
    /// review. `by` is who did it (the staff account).
    WorkFollowUp {
        id: u64,
        by: String,
        step: FollowUpStep,
    },
    /// A supervisor pauses (or resumes) a window, with a reason.
    SupervisePause {
        window: WindowNo,
        by: String,
        reason: String,
        resume: bool,
    },
    ReplaceCatalog {
        catalog: Box<Catalog>,
    },
    ReportDevice {
        device_id: String,
        kind: String,
        status: String,
        detail: String,
    },
    /// A supervisor frees a window a clerk left logged in (with a called or
    /// served ticket still on it): the ticket goes back to the queue at its
    /// place, or is suspended; who did it and why are recorded.
    /// The personal-data retention run (PIPL): drops what identifies a
    /// person from everything older than `cutoff` in the live state. The
    /// store rewrites the log's old records beside it; `log_records` is how
    /// many it rewrote, for the report.
    ApplyRetention {
        cutoff: Millis,
        log_records: u64,
    },
    ForceLogout {
        window: WindowNo,
        by: String,
        reason: String,
        ticket: ForcedTicket,
    },
    /// A ticket's holder asks to be told when `ahead` or fewer people are
    /// ahead, and when it is called (the ticket page; its secret was checked
    /// at the edge). `None`: the hall's `notify.default_ahead`.
    OptInNotify {
        service_date: NaiveDate,
        number: String,
        phone: String,
        ahead: Option<u32>,
    },
    /// The delivery task reports how one sink's delivery ended.
    NotificationOutcome {
        id: u64,
        sink: String,
        outcome: crate::notify::Outcome,
    },
}

/// What a force-logout does with the window's current ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForcedTicket {
    /// Back to waiting at its original place in the queue.
    Requeue,
    /// Suspended (挂起), to be called back by any window of its category.
    Suspend,
}
