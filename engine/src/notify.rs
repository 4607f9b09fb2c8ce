//! Notifications (掌上办): who opted in, what is owed to whom, and the
//! durable outbox.
//!
//! A ticket's holder opts in with a phone number and "tell me when N or
//! fewer people are ahead" (`Command::OptInNotify`). From then on `apply`
//! looks at every batch of events for what the visitor asked to hear about:
//! N or fewer ahead (once per queue the ticket waits in), called, recalled.
//! Each becomes a `NotificationQueued` event in the same batch, so the
//! outbox is part of the log: a notification that was decided is never lost,
//! whatever crashes after the commit. A delivery task outside the engine
//! (the server's `notify.rs`) reads the pending ones, posts them to every
//! configured sink, and reports each sink's outcome back as a command
//! (`NotificationOutcome`), which takes it off the outbox or moves it to the
//! dead letters. Delivery is therefore at least once: a crash between a
//! successful POST and its outcome's commit sends it again, under the same
//! idempotency key (`Notification::key`).
//!
//! Nothing is queued for a ticket that did not opt in, and nothing at all
//! when no sink is configured (the opt-in is refused then). The phone number
//! is in the log only in these events; the retention run blanks it, and the
//! live state forgets subscriptions with their day.

use crate::{EngineError, Event, Hall, Millis, TicketId, TicketState, WindowNo};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Dead letters kept in the live state for the console (newest last).
pub const DEAD_KEPT: usize = 200;

/// `[notify]` in the hall configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The "people ahead" a visitor gets when the opt-in names none.
    #[serde(default = "default_ahead")]
    pub default_ahead: u32,
    /// Delivery attempts per sink before a notification becomes a dead letter.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles, up to five minutes.
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    /// `[[notify.webhooks]]`: each notification is POSTed to every one.
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            default_ahead: default_ahead(),
            max_attempts: default_max_attempts(),
            retry_base_ms: default_retry_base_ms(),
            webhooks: Vec::new(),
        }
    }
}

fn default_ahead() -> u32 {
    3
}
fn default_max_attempts() -> u32 {
    8
}
fn default_retry_base_ms() -> u64 {
    2_000
}

/// One sink: `POST url`, signed with `X-Hall-Signature: sha256=<hex
/// HMAC-SHA256(body, secret)>` and carrying `Idempotency-Key`, whatever its
/// kind; the kind decides the body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `webhook` (default): the notification as the hall's JSON;
    /// `sms`: an SMS gateway's own request, `template` with placeholders;
    /// `wechat`: a WeChat subscribe message (订阅消息) for the hall's relay,
    /// `template_id` and `fields`.
    #[serde(default, skip_serializing_if = "SinkKind::is_webhook")]
    pub kind: SinkKind,
    /// `sms`: the request body, e.g.
    /// `{"mobile": "{phone}", "content": "{text}"}`; each `{placeholder}`
    /// becomes the value (escaped for the `content_type`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template: String,
    /// `sms`: the body's type (default `application/json`; also
    /// `application/x-www-form-urlencoded`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_type: String,
    /// `wechat`: the subscribe message's template id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template_id: String,
    /// `wechat`: the mini-program page the message opens (placeholders too).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub page: String,
    /// `wechat`: the template's fields, each a text with placeholders, e.g.
    /// `thing1 = "{categoryNameZh}"`, `character_string2 = "{number}"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// How the console and the outcomes name it; default: the URL without
    /// credentials or query.
    #[serde(default)]
    pub name: String,
    pub url: String,
    pub secret: String,
    /// PEM file of the CA(s) to trust for an `https` URL; empty: the
    /// system's roots.
    #[serde(default)]
    pub ca_file: String,
}

/// What kind of request a sink gets (`Webhook::kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    #[default]
    Webhook,
    Sms,
    Wechat,
}

impl SinkKind {
    fn is_webhook(&self) -> bool {
        *self == SinkKind::Webhook
    }
}

/// The placeholders a template may use: the fields of the hall's JSON body.
pub const PLACEHOLDERS: [&str; 19] = [
    // A one-time code (only in the `code` messages of the phone pages).
    "code",
    "key",
    "id",
    "trigger",
    "number",
    "serviceDate",
    "category",
    "categoryNameZh",
    "categoryNameEn",
    "phone",
    "window",
    "windowName",
    "peopleAhead",
    "estimatedWaitMin",
    "slot",
    "until",
    "hallNameZh",
    "regionCode",
    "text",
];

/// The `{name}` placeholders of a template, in order (a brace not followed
/// by a name and a closing brace is text, as in a JSON template's own).
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        rest = &rest[i + 1..];
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        if end > 0 && rest[end..].starts_with('}') {
            out.push(&rest[..end]);
        }
    }
    out
}

impl NotifyConfig {
    /// The sinks' names, in order.
    pub fn sink_names(&self) -> Vec<String> {
        (0..self.webhooks.len())
            .map(|i| self.sink_name(i))
            .collect()
    }

    /// A webhook's `name`, or else its URL without credentials or query:
    /// not its place in the list, so reordering the list never sends a
    /// pending notification to another receiver.
    pub fn sink_name(&self, i: usize) -> String {
        match self.webhooks.get(i) {
            Some(w) if !w.name.is_empty() => w.name.clone(),
            Some(w) => {
                let url = w.url.split(['?', '#']).next().unwrap_or("");
                match url.split_once("://") {
                    Some((scheme, rest)) => {
                        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                        let host = authority.rsplit('@').next().unwrap_or(authority);
                        format!("{scheme}://{host}{path}")
                    }
                    None => url.to_string(),
                }
            }
            None => String::new(),
        }
    }

    /// The webhook a sink name refers to in this configuration.
    pub fn webhook(&self, sink: &str) -> Option<&Webhook> {
        (0..self.webhooks.len())
            .find(|&i| self.sink_name(i) == sink)
            .map(|i| &self.webhooks[i])
    }

    /// Problems of `[notify]`, as `(key, problem)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(1..=100).contains(&self.default_ahead) {
            out.push((
                "notify.default_ahead".into(),
                format!("{} is not between 1 and 100", self.default_ahead),
            ));
        }
        if !(1..=100).contains(&self.max_attempts) {
            out.push((
                "notify.max_attempts".into(),
                format!("{} is not between 1 and 100", self.max_attempts),
            ));
        }
        if !(10..=3_600_000).contains(&self.retry_base_ms) {
            out.push((
                "notify.retry_base_ms".into(),
                format!("{} is not between 10 ms and one hour", self.retry_base_ms),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            let key = |k: &str| format!("notify.webhooks[{i}].{k}");
            if !(w.url.starts_with("https://") || w.url.starts_with("http://")) {
                out.push((key("url"), format!("'{}' is not an http(s) URL", w.url)));
            }
            // A guessable secret makes the signature worthless.
            if w.secret.len() < 16 {
                out.push((
                    key("secret"),
                    "must be at least 16 characters (the HMAC key the receiver checks)".into(),
                ));
            }
            let unknown = |t: &str| {
                placeholders(t)
                    .into_iter()
                    .find(|p| !PLACEHOLDERS.contains(p))
                    .map(|p| {
                        format!(
                            "{{{p}}} is not a placeholder (use one of {})",
                            PLACEHOLDERS.join(", ")
                        )
                    })
            };
            match w.kind {
                SinkKind::Webhook => {}
                SinkKind::Sms => {
                    if !placeholders(&w.template).contains(&"phone") {
                        out.push((
                            key("template"),
                            "an sms sink's template must use {phone}".into(),
                        ));
                    }
                    if let Some(p) = unknown(&w.template) {
                        out.push((key("template"), p));
                    }
                    if !matches!(
                        w.content_type.as_str(),
                        "" | "application/json" | "application/x-www-form-urlencoded"
                    ) {
                        out.push((
                            key("content_type"),
                            format!(
                                "'{}' is not application/json or application/x-www-form-urlencoded",
                                w.content_type
                            ),
                        ));
                    }
                }
                SinkKind::Wechat => {
                    if w.template_id.trim().is_empty() {
                        out.push((
                            key("template_id"),
                            "a wechat sink needs its template id".into(),
                        ));
                    }
                    if w.fields.is_empty() {
                        out.push((
                            key("fields"),
                            "a wechat sink needs the template's fields".into(),
                        ));
                    }
                    for (f, t) in &w.fields {
                        if let Some(p) = unknown(t) {
                            out.push((key(&format!("fields.{f}")), p));
                        }
                    }
                    if let Some(p) = unknown(&w.page) {
                        out.push((key("page"), p));
                    }
                }
            }
            if w.kind != SinkKind::Sms && (!w.template.is_empty() || !w.content_type.is_empty()) {
                out.push((key("template"), "only an sms sink has a template".into()));
            }
            if w.kind != SinkKind::Wechat
                && (!w.template_id.is_empty() || !w.fields.is_empty() || !w.page.is_empty())
            {
                out.push((
                    key("template_id"),
                    "only a wechat sink has template_id, page and fields".into(),
                ));
            }
            if !names.insert(self.sink_name(i)) {
                out.push((
                    key("name"),
                    format!("'{}' names two sinks", self.sink_name(i)),
                ));
            }
        }
        out
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// N or fewer people are ahead of the ticket.
    Ahead,
    /// The ticket was called to a window.
    Called,
    /// The ticket was called again.
    Recalled,
    /// A remote ticket not yet checked in has nobody ahead: come now,
    /// within the category's grace minutes.
    Front,
    /// A remote ticket expired before its visitor checked in.
    Expired,
    /// A booking was made (the confirmation).
    Booked,
    /// A booking was cancelled (by the visitor or by staff).
    BookingCancelled,
    /// A booking's reminder: the day before, or 30 minutes before.
    Reminder,
    /// Booking is blocked after missed appointments (`until` says to when).
    Blocked,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Ahead => "ahead",
            Trigger::Called => "called",
            Trigger::Recalled => "recalled",
            Trigger::Front => "front",
            Trigger::Expired => "expired",
            Trigger::Booked => "booked",
            Trigger::BookingCancelled => "booking_cancelled",
            Trigger::Reminder => "reminder",
            Trigger::Blocked => "blocked",
        }
    }
}

/// One notification, as decided and logged. Its JSON body (what sinks
/// receive) is made from it by the delivery task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique in this hall's log, never reused: part of the idempotency key.
    pub id: u64,
    pub trigger: Trigger,
    pub service_date: NaiveDate,
    pub number: String,
    /// The category (or bundle) code of the queue it is in.
    pub queue: String,
    /// The visitor's phone number (whom to tell). Blanked by retention.
    pub phone: String,
    /// The window it was called to (`called`, `recalled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowNo>,
    /// People ahead when decided (`ahead`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people_ahead: Option<u32>,
    /// Estimated wait in minutes when decided (`ahead`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_min: Option<u32>,
    pub at: Millis,
    /// The sinks it is owed to.
    pub sinks: Vec<String>,
    /// A booking's slot ("09:00-09:30"), for the booking triggers (whose
    /// `number` is `B{booking id}` and `service_date` the booking's day).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub slot: String,
    /// The first day booking opens again (`blocked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

impl Notification {
    /// The idempotency key within this hall's log: the same for every
    /// attempt, every sink and every restart. The server prefixes it with
    /// the site's own id (from its data directory), so two halls posting to
    /// one gateway never share a key.
    pub fn key(&self) -> String {
        format!(
            "{}-n{}-{}-{}",
            self.service_date.format("%Y%m%d"),
            self.id,
            self.trigger.as_str(),
            self.number
        )
    }
}

/// How a delivery to one sink ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Delivered {
        attempts: u32,
    },
    /// Given up after `attempts`; kept as a dead letter for the console.
    Dead {
        attempts: u32,
        error: String,
    },
}

/// A ticket's opt-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub phone: String,
    pub ahead: u32,
    /// The queue an `ahead` was already sent for (once per queue the ticket
    /// waits in: a transfer or the next 一件事 stage earns a new one).
    #[serde(default)]
    pub ahead_sent_in: Option<String>,
}

/// A notification waiting for some sinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub notification: Notification,
    /// Sinks still owed.
    pub sinks: Vec<String>,
}

/// A notification one sink never took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: u64,
    pub key: String,
    pub trigger: Trigger,
    pub number: String,
    /// Masked (138****5678): the console shows it.
    pub phone_masked: String,
    pub sink: String,
    pub attempts: u32,
    pub error: String,
    pub at: Millis,
}

/// The notification part of the hall's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NotifyState {
    /// Today's opt-ins.
    pub(crate) subs: HashMap<TicketId, Subscription>,
    /// Decided, not yet taken by every sink: the outbox.
    pub outbox: BTreeMap<u64, Pending>,
    pub(crate) next_id: u64,
    pub dead: VecDeque<DeadLetter>,
    /// Deliveries done since the start of the log (per sink).
    pub delivered: u64,
    /// Deliveries given up since the start of the log (per sink).
    #[serde(default)]
    pub dead_total: u64,
}

impl NotifyState {
    /// A ticket's opt-in, if its holder asked.
    pub fn subscription(&self, t: TicketId) -> Option<&Subscription> {
        self.subs.get(&t)
    }
}

/// A phone number as the visitor typed it, normalised to the 11 digits of a
/// mainland mobile number (`+86`, spaces and dashes allowed).
pub fn normalise_phone(raw: &str) -> Result<String, EngineError> {
    let digits: String = raw
        .trim()
        .trim_start_matches("+86")
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let ok = digits.len() == 11
        && digits.starts_with('1')
        && digits.as_bytes()[1].is_ascii_digit()
        && digits.as_bytes()[1] >= b'3'
        && digits.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(digits)
    } else {
        Err(EngineError::invalid(
            "phone",
            "not a mobile number: 11 digits starting with 13–19 (手机号为11位数字)",
        ))
    }
}

/// 138****5678, for screens and the console.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else if phone.is_empty() {
        String::new()
    } else {
        "****".into()
    }
}

impl Hall {
    /// `Command::OptInNotify`.
    pub(crate) fn opt_in_notify(
        &self,
        service_date: NaiveDate,
        number: String,
        phone: String,
        ahead: Option<u32>,
    ) -> Result<Vec<Event>, EngineError> {
        let cfg = &self.catalog.notify;
        if cfg.webhooks.is_empty() {
            return Err(EngineError::invalid(
                "phone",
                "this hall sends no notifications (本厅未开通消息提醒)",
            ));
        }
        let phone = normalise_phone(&phone)?;
        let ahead = ahead.unwrap_or(cfg.default_ahead);
        if !(1..=100).contains(&ahead) {
            return Err(EngineError::invalid(
                "ahead",
                format!("{ahead} is not between 1 and 100"),
            ));
        }
        let t = self.ticket_of_day(service_date, &number)?;
        if !t.state.is_active() {
            return Err(EngineError::WrongState {
                number,
                state: t.state.name(),
                action: "be notified",
            });
        }
        Ok(vec![Event::NotifyOptedIn {
            ticket: t.id,
            phone,
            ahead,
        }])
    }

    /// `Command::NotificationOutcome`. An outcome for a notification or
    /// sink no longer owed (a second report after a restart) changes
    /// nothing: delivery is at least once, and the first word counts.
    pub(crate) fn notification_outcome(
        &self,
        id: u64,
        sink: String,
        outcome: Outcome,
    ) -> Result<Vec<Event>, EngineError> {
        let owed = self
            .notify
            .outbox
            .get(&id)
            .is_some_and(|p| p.sinks.contains(&sink));
        if !owed {
            return Ok(Vec::new());
        }
        Ok(vec![Event::NotificationDone { id, sink, outcome }])
    }

    /// The notifications a batch of (already folded) events owes: called
    /// and recalled for the tickets they name, and `ahead` for every
    /// subscribed waiting ticket that has now few enough people ahead.
    pub(crate) fn notification_triggers(&self, events: &[Event], now: Millis) -> Vec<Event> {
        if self.catalog.notify.webhooks.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut next_id = self.notify.next_id;
        let sinks = self.catalog.notify.sink_names();
        let mut make =
            |trigger, t: &crate::Ticket, sub: &Subscription, window, ahead: Option<(u32, u32)>| {
                next_id += 1;
                Event::NotificationQueued {
                    notification: Box::new(Notification {
                        id: next_id,
                        trigger,
                        service_date: t.service_date,
                        number: t.number.clone(),
                        queue: t.queue.clone(),
                        phone: sub.phone.clone(),
                        window,
                        people_ahead: ahead.map(|a| a.0),
                        wait_min: ahead.map(|a| a.1),
                        at: now,
                        sinks: sinks.clone(),
                        slot: String::new(),
                        until: None,
                    }),
                }
            };
        let mut booking = Vec::new();
        let mut queue_moved = false;
        for e in events {
            match e {
                Event::TicketCalled { ticket, window, .. } => {
                    queue_moved = true;
                    if let (Some(sub), Some(t)) =
                        (self.notify.subs.get(ticket), self.ticket(*ticket))
                    {
                        out.push(make(Trigger::Called, t, sub, Some(*window), None));
                    }
                }
                Event::TicketRecalled { ticket, window, .. } => {
                    queue_moved = true;
                    if let (Some(sub), Some(t)) =
                        (self.notify.subs.get(ticket), self.ticket(*ticket))
                    {
                        out.push(make(Trigger::Recalled, t, sub, Some(*window), None));
                    }
                }
                Event::RemoteAtFront { ticket } | Event::TicketExpired { ticket, .. } => {
                    queue_moved |= matches!(e, Event::TicketExpired { .. });
                    let trigger = if matches!(e, Event::RemoteAtFront { .. }) {
                        Trigger::Front
                    } else {
                        Trigger::Expired
                    };
                    if let (Some(sub), Some(t)) =
                        (self.notify.subs.get(ticket), self.ticket(*ticket))
                    {
                        out.push(make(trigger, t, sub, None, None));
                    }
                }
                Event::AppointmentBooked { appointment, .. } => {
                    booking.push((Trigger::Booked, appointment.id, None));
                }
                // Opted in when it is already its turn: told so now.
                Event::NotifyOptedIn { ticket, .. } => {
                    queue_moved = true;
                    if let (Some(sub), Some(t)) =
                        (self.notify.subs.get(ticket), self.ticket(*ticket))
                        && t.awaiting_arrival()
                        && t.remote.as_ref().is_some_and(|r| r.front_at.is_some())
                    {
                        out.push(make(Trigger::Front, t, sub, None, None));
                    }
                }
                Event::AppointmentCancelled { id, .. } => {
                    booking.push((Trigger::BookingCancelled, *id, None));
                }
                Event::AppointmentReminder { id, .. } => {
                    booking.push((Trigger::Reminder, *id, None));
                }
                Event::BookingBlocked {
                    person_key, until, ..
                } => {
                    // Told at the number of the person's latest booking.
                    if let Some(a) = self
                        .appointments
                        .values()
                        .filter(|a| a.person.key == *person_key && !a.phone.is_empty())
                        .max_by_key(|a| (a.slot.start, a.id))
                    {
                        booking.push((Trigger::Blocked, a.id, Some(*until)));
                    }
                }
                Event::Audited { .. }
                | Event::DeviceReported { .. }
                | Event::NotificationQueued { .. }
                | Event::NotificationDone { .. } => {}
                _ => queue_moved = true,
            }
        }
        if queue_moved {
            // Few subscriptions a day (the visitors who asked), each an
            // O(log n) rank in its queue.
            let mut due: Vec<(&TicketId, &Subscription)> = self.notify.subs.iter().collect();
            due.sort_unstable_by_key(|(id, _)| **id);
            for (id, sub) in due {
                let Some(t) = self.ticket(*id) else { continue };
                if t.state != TicketState::Waiting || sub.ahead_sent_in.as_deref() == Some(&t.queue)
                {
                    continue;
                }
                let (ahead, wait) = self.estimate(t, now);
                if ahead <= sub.ahead {
                    out.push(make(Trigger::Ahead, t, sub, None, Some((ahead, wait))));
                }
            }
        }
        for (trigger, id, until) in booking {
            let Some(a) = self.appointments.get(&id) else {
                continue;
            };
            // No phone, or a reminder too late to help (the slot is over).
            if a.phone.is_empty() || (trigger == Trigger::Reminder && now >= a.slot.end) {
                continue;
            }
            next_id += 1;
            out.push(Event::NotificationQueued {
                notification: Box::new(Notification {
                    id: next_id,
                    trigger,
                    service_date: a.date,
                    number: format!("B{}", a.id),
                    queue: a.queue.clone(),
                    phone: a.phone.clone(),
                    window: None,
                    people_ahead: None,
                    wait_min: None,
                    at: now,
                    sinks: sinks.clone(),
                    slot: format!("{}-{}", a.slot_label.0, a.slot_label.1),
                    until,
                }),
            });
        }
        out
    }

    pub(crate) fn fold_notify(&mut self, event: &Event) {
        match event {
            Event::NotifyOptedIn {
                ticket,
                phone,
                ahead,
            } => {
                // A changed "people ahead" on the same queue is not a
                // second `ahead`; a new phone number is told afresh.
                let sent = self
                    .notify
                    .subs
                    .get(ticket)
                    .filter(|s| s.phone == *phone)
                    .and_then(|s| s.ahead_sent_in.clone());
                self.notify.subs.insert(
                    *ticket,
                    Subscription {
                        phone: phone.clone(),
                        ahead: *ahead,
                        ahead_sent_in: sent,
                    },
                );
            }
            Event::NotificationQueued { notification: n } => {
                self.notify.next_id = self.notify.next_id.max(n.id);
                if n.trigger == Trigger::Ahead {
                    let t = self.by_number.get(&n.number).copied();
                    if let Some(sub) = t.and_then(|t| self.notify.subs.get_mut(&t)) {
                        sub.ahead_sent_in = Some(n.queue.clone());
                    }
                }
                if !n.sinks.is_empty() {
                    self.notify.outbox.insert(
                        n.id,
                        Pending {
                            sinks: n.sinks.clone(),
                            notification: (**n).clone(),
                        },
                    );
                }
            }
            Event::NotificationDone { id, sink, outcome } => {
                let Some(p) = self.notify.outbox.get_mut(id) else {
                    return;
                };
                p.sinks.retain(|s| s != sink);
                match outcome {
                    Outcome::Delivered { .. } => self.notify.delivered += 1,
                    Outcome::Dead { attempts, error } => {
                        self.notify.dead_total += 1;
                        let n = &p.notification;
                        self.notify.dead.push_back(DeadLetter {
                            id: n.id,
                            key: n.key(),
                            trigger: n.trigger,
                            number: n.number.clone(),
                            phone_masked: mask_phone(&n.phone),
                            sink: sink.clone(),
                            attempts: *attempts,
                            error: error.clone(),
                            at: n.at,
                        });
                        while self.notify.dead.len() > DEAD_KEPT {
                            self.notify.dead.pop_front();
                        }
                    }
                }
                if p.sinks.is_empty() {
                    self.notify.outbox.remove(id);
                }
            }
            Event::DayRolled { .. } => self.notify.subs.clear(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised_and_masked() {
        assert_eq!(normalise_phone("+86 138-0013-8000").unwrap(), "13800138000");
        assert_eq!(mask_phone("13800138000"), "138****8000");
        for bad in [
            "",
            "12800138000",
            "1380013800",
            "1380013800x",
            "23800138000",
        ] {
            assert!(normalise_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_problems_are_found() {
        let cfg = NotifyConfig {
            webhooks: vec![
                Webhook {
                    name: String::new(),
                    url: "ftp://x".into(),
                    secret: "short".into(),
                    ..Webhook::default()
                },
                Webhook {
                    name: "ftp://x".into(),
                    url: "https://x".into(),
                    secret: "0123456789abcdef".into(),
                    ..Webhook::default()
                },
                // An SMS gateway's template without the phone, with an
                // unknown placeholder, and a body type it cannot fill.
                Webhook {
                    name: "sms".into(),
                    url: "https://sms".into(),
                    secret: "0123456789abcdef".into(),
                    kind: SinkKind::Sms,
                    template: r#"{"to": "{mobile}", "text": "{text}"}"#.into(),
                    content_type: "text/xml".into(),
                    ..Webhook::default()
                },
                // WeChat without its template id, a field with an unknown
                // placeholder; and a webhook with a template it never uses.
                Webhook {
                    name: "wx".into(),
                    url: "https://wx".into(),
                    secret: "0123456789abcdef".into(),
                    kind: SinkKind::Wechat,
                    fields: [("thing1".to_string(), "{categry}".to_string())].into(),
                    ..Webhook::default()
                },
                Webhook {
                    name: "hook".into(),
                    url: "https://hook".into(),
                    secret: "0123456789abcdef".into(),
                    template: "{text}".into(),
                    ..Webhook::default()
                },
                // Both well formed.
                Webhook {
                    name: "sms2".into(),
                    url: "https://sms2".into(),
                    secret: "0123456789abcdef".into(),
                    kind: SinkKind::Sms,
                    template: "mobile={phone}&msg={text}".into(),
                    content_type: "application/x-www-form-urlencoded".into(),
                    ..Webhook::default()
                },
                Webhook {
                    name: "wx2".into(),
                    url: "https://wx2".into(),
                    secret: "0123456789abcdef".into(),
                    kind: SinkKind::Wechat,
                    template_id: "TPL".into(),
                    page: "pages/ticket?n={number}".into(),
                    fields: [("thing1".to_string(), "{categoryNameZh}".to_string())].into(),
                    ..Webhook::default()
                },
            ],
            ..NotifyConfig::default()
        };
        let keys: Vec<String> = cfg.problems().into_iter().map(|p| p.0).collect();
        assert_eq!(
            keys,
            [
                "notify.webhooks[0].url",
                "notify.webhooks[0].secret",
                "notify.webhooks[1].name",
                "notify.webhooks[2].template",
                "notify.webhooks[2].template",
                "notify.webhooks[2].content_type",
                "notify.webhooks[3].template_id",
                "notify.webhooks[3].fields.thing1",
                "notify.webhooks[4].template",
            ]
        );
        assert!(NotifyConfig::default().problems().is_empty());
        assert_eq!(
            placeholders(r#"{"a": "{phone}", "b": {"c": "{text}x{ }"}}"#),
            ["phone", "text"]
        );
    }
}
