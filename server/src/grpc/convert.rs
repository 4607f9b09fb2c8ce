//! The one place engine types become wire types (and back). Nothing else in
//! the server names a prost type except the service handlers.

use crate::engine::calendar::{self, Clock};
use crate::engine::catalog::{Catalog, Guidance};
use crate::engine::{
    AfterFinish, Channel, Event, Hall, Millis, Priority, Ticket, TicketState, TransferTarget,
    WindowNo, WindowStatus,
};
use crate::writer::LoggedEvent;
use hall_proto::v1 as pb;
use tonic::Status;

/// A wire priority class; an unknown value (e.g. 999) is refused, not read as
/// NORMAL. UNSPECIFIED (the field left out) means NORMAL, as documented.
pub fn priority_from(p: i32) -> Result<Priority, Status> {
    let class = pb::PriorityClass::try_from(p).map_err(|_| unknown_enum("priority", p))?;
    Ok(match class {
        pb::PriorityClass::Unspecified | pb::PriorityClass::Normal => Priority::Normal,
        pb::PriorityClass::Elderly => Priority::Elderly,
        pb::PriorityClass::Disabled => Priority::Disabled,
        pb::PriorityClass::Veteran => Priority::Veteran,
        pb::PriorityClass::Pregnant => Priority::Pregnant,
        pb::PriorityClass::Appointment => Priority::Appointment,
        pb::PriorityClass::KeyProject => Priority::KeyProject,
    })
}

fn unknown_enum(field: &str, value: i32) -> Status {
    hall_proto::errors::Refusal::invalid_field(field, format!("{value} is not a known value"))
        .into_status()
}

/// An engine priority on the wire (the soak benchmark sends the simulator's).
pub fn priority_to(p: Priority) -> pb::PriorityClass {
    match p {
        Priority::Normal => pb::PriorityClass::Normal,
        Priority::Elderly => pb::PriorityClass::Elderly,
        Priority::Disabled => pb::PriorityClass::Disabled,
        Priority::Veteran => pb::PriorityClass::Veteran,
        Priority::Pregnant => pb::PriorityClass::Pregnant,
        Priority::Appointment => pb::PriorityClass::Appointment,
        Priority::KeyProject => pb::PriorityClass::KeyProject,
    }
}

/// A wire channel; unknown values are refused, UNSPECIFIED means KIOSK.
pub fn channel_from(c: i32) -> Result<Channel, Status> {
    let channel = pb::Channel::try_from(c).map_err(|_| unknown_enum("channel", c))?;
    Ok(match channel {
        pb::Channel::Unspecified | pb::Channel::Kiosk => Channel::Kiosk,
        pb::Channel::Mobile => Channel::Mobile,
        pb::Channel::Counter => Channel::Counter,
        pb::Channel::Appointment => Channel::Appointment,
        pb::Channel::Site => Channel::Site,
    })
}

fn channel_to(c: Channel) -> pb::Channel {
    match c {
        Channel::Kiosk => pb::Channel::Kiosk,
        Channel::Mobile => pb::Channel::Mobile,
        Channel::Counter => pb::Channel::Counter,
        Channel::Appointment => pb::Channel::Appointment,
        Channel::Site => pb::Channel::Site,
    }
}

fn state_to(s: TicketState) -> pb::TicketState {
    match s {
        TicketState::Waiting => pb::TicketState::Waiting,
        TicketState::Called => pb::TicketState::Called,
        TicketState::Serving => pb::TicketState::Serving,
        TicketState::Done => pb::TicketState::Done,
        TicketState::NoShow => pb::TicketState::NoShow,
        TicketState::Suspended => pb::TicketState::Suspended,
        TicketState::Cancelled => pb::TicketState::Cancelled,
        TicketState::Expired => pb::TicketState::Expired,
        TicketState::Unresolved => pb::TicketState::Unresolved,
    }
}

pub fn ticket(h: &Hall, t: &Ticket, now: Millis) -> pb::Ticket {
    let (zh, en) = h.catalog.queue_names(&t.queue);
    let (ahead, wait) = h.estimate(t, now);
    pb::Ticket {
        id: t.id,
        number: t.number.clone(),
        service_date: t.service_date.to_string(),
        category: t.queue.clone(),
        category_name_zh: zh,
        category_name_en: en,
        priority: priority_to(t.priority) as i32,
        channel: channel_to(t.channel) as i32,
        state: state_to(t.state) as i32,
        masked_name: t
            .person
            .as_ref()
            .map(|p| p.masked_name.clone())
            .unwrap_or_default(),
        issued_at_ms: t.issued_at,
        called_at_ms: t.called_at.unwrap_or(0),
        started_at_ms: t.started_at.unwrap_or(0),
        finished_at_ms: t.finished_at.unwrap_or(0),
        window: t.window.unwrap_or(0),
        clerk: t.clerk.clone().unwrap_or_default(),
        recall_count: t.recall_count,
        call_reason: t.call_reason.as_ref().map(|r| r.zh()).unwrap_or_default(),
        bundle: t
            .bundle
            .as_ref()
            .map(|b| b.code.clone())
            .unwrap_or_default(),
        bundle_stage: t.bundle.as_ref().map_or(0, |b| b.stage),
        bundle_stages: t.bundle.as_ref().map_or(0, |b| b.stages.len() as u32),
        people_ahead: ahead,
        estimated_wait_min: wait,
        rating: t.rating.map_or(0, u32::from),
        target_window: t.target_window.unwrap_or(0),
        return_window: t.return_to.as_ref().map_or(0, |r| r.window),
        // Only the answer to the issuing request carries it (`Hub::with_secret`).
        holder_secret: String::new(),
        status_url: String::new(),
        awaiting_arrival: t.awaiting_arrival(),
        check_in_by_ms: h.check_in_by(t).unwrap_or(0),
        from_site: t.from_site.as_ref().map(site_ticket),
        sent_to: t.sent_to.as_ref().map(site_ticket),
    }
}

pub fn site_ticket(s: &crate::engine::SiteTicket) -> pb::SiteTicket {
    pb::SiteTicket {
        site: s.site.clone(),
        number: s.number.clone(),
        category: s.category.clone(),
    }
}

pub fn window_info(h: &Hall, number: WindowNo) -> pb::WindowInfo {
    let w = h.catalog.window(number);
    let rt = h.windows.get(&number);
    let current = h.window_current(number);
    let state = match rt.map(|r| r.status) {
        None | Some(WindowStatus::Closed) => pb::WindowState::Closed,
        Some(WindowStatus::Paused) => pb::WindowState::Paused,
        Some(WindowStatus::Open) if current.is_some() => pb::WindowState::Serving,
        Some(WindowStatus::Open) => pb::WindowState::Open,
    };
    let clerk_id = rt.and_then(|r| r.clerk.clone()).unwrap_or_default();
    let remote = w.and_then(|w| w.remote.as_ref());
    pb::WindowInfo {
        remote: remote.is_some(),
        staffed_from: remote.map(|r| r.staffed_from.clone()).unwrap_or_default(),
        video_url: remote.map(|r| r.video_url.clone()).unwrap_or_default(),
        remote_desk: remote
            .and(h.catalog.clerk(&clerk_id))
            .map(|c| c.desk.clone())
            .unwrap_or_default(),
        number,
        name: w.map(|w| w.name.clone()).unwrap_or_default(),
        zone: w.map(|w| w.zone.clone()).unwrap_or_default(),
        tiers: w.map_or(vec![], |w| {
            w.tiers
                .iter()
                .map(|t| pb::Tier { codes: t.clone() })
                .collect()
        }),
        state: state as i32,
        clerk_name: h
            .catalog
            .clerk(&clerk_id)
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        clerk_id,
        current_ticket: current.map(|t| t.number.clone()).unwrap_or_default(),
        pause_reason: rt.and_then(|r| r.pause_reason.clone()).unwrap_or_default(),
    }
}

fn guidance(g: &Guidance) -> pb::Guidance {
    pb::Guidance {
        materials: g.materials.clone(),
        legal_time_limit_days: g.legal_time_limit_days,
        promised_time_limit_days: g.promised_time_limit_days,
        fees: g.fees.clone(),
        notes: g.notes.clone(),
    }
}

pub fn catalog(h: &Hall, now: Millis) -> pb::Catalog {
    let c: &Catalog = &h.catalog;
    let clock: &Clock = h.clock();
    let local = clock.local(now);
    let cal = &c.calendar;
    pb::Catalog {
        hall_name_zh: c.hall.name_zh.clone(),
        hall_name_en: c.hall.name_en.clone(),
        departments: c
            .departments
            .iter()
            .map(|d| pb::Department {
                code: d.code.clone(),
                name_zh: d.name_zh.clone(),
                name_en: d.name_en.clone(),
            })
            .collect(),
        zones: c
            .zones
            .iter()
            .map(|z| pb::Zone {
                code: z.code.clone(),
                name_zh: z.name_zh.clone(),
                name_en: z.name_en.clone(),
            })
            .collect(),
        categories: c
            .categories
            .iter()
            .map(|cat| {
                let waiting = h.waiting_in(&cat.code);
                let hours = calendar::issuing_hours(cal, Some(cat), local.date());
                pb::Category {
                    code: cat.code.clone(),
                    prefix: cat.prefix.clone(),
                    name_zh: cat.name_zh.clone(),
                    name_en: cat.name_en.clone(),
                    department: cat.department.clone(),
                    zone: cat.zone.clone(),
                    daily_quota: cat.daily_quota,
                    issued_today: h.issued_today(&cat.code),
                    waiting,
                    estimated_wait_min: h.wait_minutes(&cat.code, waiting),
                    id_card_required: cat.id_card_required,
                    expected_minutes: cat.expected_minutes,
                    guidance: Some(guidance(&cat.guidance)),
                    issue_from: hours
                        .map(|h| h.0.format("%H:%M").to_string())
                        .unwrap_or_default(),
                    issue_until: hours
                        .map(|h| h.1.format("%H:%M").to_string())
                        .unwrap_or_default(),
                    open_now: calendar::check_issuing(cal, Some(cat), local).is_ok(),
                }
            })
            .collect(),
        bundles: c
            .bundles
            .iter()
            .map(|b| pb::Bundle {
                code: b.code.clone(),
                prefix: b.prefix.clone(),
                name_zh: b.name_zh.clone(),
                name_en: b.name_en.clone(),
                stages: b.stages.clone(),
                whole_at_comprehensive_window: b.mode == crate::engine::catalog::BundleMode::Whole,
                waiting: h
                    .tickets()
                    .filter(|t| t.state == TicketState::Waiting && t.origin == b.code)
                    .count() as u32,
            })
            .collect(),
        windows: c.windows.iter().map(|w| window_info(h, w.number)).collect(),
        service_date: h.service_date.to_string(),
        open_today: calendar::hall_hours(cal, local.date()).is_some(),
        notice: c.hall.notice.clone(),
        next_opening: calendar::next_opening(cal, None, local)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        timezone: clock.tz().name().to_string(),
    }
}

/// The window a call names: its name, and at a remote window (远程虚拟窗口)
/// the desk of the remote clerk serving it ("2号远程窗口 · 区政务服务中心
/// 12号窗口"), so the station's board says who calls.
fn call_window_name(h: &Hall, window: WindowNo) -> String {
    let Some(w) = h.catalog.window(window) else {
        return String::new();
    };
    let desk = w
        .remote
        .as_ref()
        .and_then(|_| h.windows.get(&window))
        .and_then(|rt| rt.clerk.as_deref())
        .and_then(|id| h.catalog.clerk(id))
        .map(|c| c.desk.as_str())
        .filter(|d| !d.is_empty());
    match desk {
        Some(d) => format!("{} · {d}", w.name),
        None => w.name.clone(),
    }
}

fn call_info(h: &Hall, c: &crate::engine::RecentCall, recall: bool) -> pb::CallInfo {
    pb::CallInfo {
        number: c.number.clone(),
        window: c.window,
        window_name: call_window_name(h, c.window),
        category: c.queue.clone(),
        masked_name: c.masked_name.clone().unwrap_or_default(),
        at_ms: c.at,
        recall,
        recall_count: c.recall_count,
    }
}

pub fn board(h: &Hall, seq: u64) -> pb::BoardState {
    let c = &h.catalog;
    let queues = c
        .categories
        .iter()
        .map(|cat| {
            (
                cat.code.as_str(),
                cat.name_zh.as_str(),
                cat.name_en.as_str(),
                cat.zone.as_str(),
            )
        })
        .chain(
            c.bundles
                .iter()
                .filter(|b| b.mode == crate::engine::catalog::BundleMode::Whole)
                .map(|b| {
                    (
                        b.code.as_str(),
                        b.name_zh.as_str(),
                        b.name_en.as_str(),
                        c.queue_zone(&b.code).unwrap_or(""),
                    )
                }),
        )
        .map(|(code, zh, en, zone)| queue_count(h, code, zh, en, zone))
        .collect();
    pb::BoardState {
        seq,
        hall_name_zh: c.hall.name_zh.clone(),
        hall_name_en: c.hall.name_en.clone(),
        service_date: h.service_date.to_string(),
        windows: c.windows.iter().map(|w| window_info(h, w.number)).collect(),
        recent_calls: h
            .recent_calls
            .iter()
            .map(|rc| call_info(h, rc, rc.recall_count > 0))
            .collect(),
        queues,
        notice: c.hall.notice.clone(),
    }
}

/// A queue's waiting count and estimate now, under its names.
fn queue_count(h: &Hall, code: &str, zh: &str, en: &str, zone: &str) -> pb::QueueCount {
    let waiting = h.waiting_in(code);
    pb::QueueCount {
        code: code.to_string(),
        name_zh: zh.to_string(),
        name_en: en.to_string(),
        zone: zone.to_string(),
        waiting,
        estimated_wait_min: h.wait_minutes(code, waiting),
    }
}

/// The waiting count and estimate of the queue `code` (a category or a
/// whole-mode bundle) now.
fn queue_now(h: &Hall, code: &str) -> Option<pb::QueueCount> {
    let c = &h.catalog;
    if let Some(cat) = c.categories.iter().find(|x| x.code == code) {
        return Some(queue_count(h, code, &cat.name_zh, &cat.name_en, &cat.zone));
    }
    let b = c.bundles.iter().find(|b| b.code == code)?;
    Some(queue_count(
        h,
        code,
        &b.name_zh,
        &b.name_en,
        c.queue_zone(code).unwrap_or(""),
    ))
}

/// The ticket and window an event touched.
fn touched(e: &Event) -> (Option<crate::engine::TicketId>, Option<WindowNo>) {
    match e {
        Event::TicketIssued { ticket, .. } => (Some(ticket.id), None),
        Event::TicketCancelled { ticket, .. }
        | Event::TicketRequeued { ticket, .. }
        | Event::RatingSubmitted { ticket, .. }
        | Event::CaseRecorded { ticket, .. } => (Some(*ticket), None),
        Event::TicketCalled { ticket, window, .. }
        | Event::TicketRecalled { ticket, window, .. }
        | Event::ServiceStarted { ticket, window }
        | Event::TicketFinished { ticket, window, .. }
        | Event::TicketNoShow { ticket, window, .. }
        | Event::TicketSuspended { ticket, window, .. } => (Some(*ticket), Some(*window)),
        Event::TicketTransferred {
            ticket,
            from_window,
            ..
        } => (Some(*ticket), Some(*from_window)),
        Event::WindowOpened { window, .. }
        | Event::WindowClosed { window }
        | Event::WindowForcedOut { window, .. }
        | Event::WindowPaused { window, .. }
        | Event::WindowResumed { window } => (None, Some(*window)),
        _ => (None, None),
    }
}

/// A stored wire event without the masked names it carried (the retention
/// run's rewrite of old records); `None` when it carried none or cannot be
/// decoded (then it is kept as it is).
pub fn strip_wire_persons(wire: &[u8]) -> Option<Vec<u8>> {
    use pb::event::Body;
    use prost::Message;
    let mut e = pb::Event::decode(wire).ok()?;
    let changed = match e.body.as_mut()? {
        Body::TicketIssued(t) => !std::mem::take(&mut t.masked_name).is_empty(),
        Body::TicketCalled(c) => c
            .call
            .as_mut()
            .is_some_and(|c| !std::mem::take(&mut c.masked_name).is_empty()),
        _ => false,
    };
    changed.then(|| e.encode_to_vec())
}

/// The wire form of a committed event, from the hall as it is right after
/// the command that caused it.
pub fn wire_event(h: &Hall, l: &LoggedEvent) -> pb::Event {
    use pb::event::Body;
    let number = |id: u64| h.ticket(id).map(|t| t.number.clone()).unwrap_or_default();
    let changed = |id: u64, window: WindowNo, detail: String| {
        let t = h.ticket(id);
        Body::TicketStateChanged(pb::TicketStateChanged {
            number: number(id),
            state: t.map_or(pb::TicketState::Unspecified, |t| state_to(t.state)) as i32,
            category: t.map(|t| t.queue.clone()).unwrap_or_default(),
            window,
            detail,
        })
    };
    let call = |id: u64, recall: bool| {
        let rc = h.recent_calls.iter().find(|c| c.ticket == id);
        rc.map(|rc| call_info(h, rc, recall)).unwrap_or_default()
    };
    let body = match &l.event {
        Event::DayRolled { to, expired } => Body::DayRolled(pb::DayRolled {
            service_date: to.to_string(),
            expired: expired.len() as u32,
        }),
        Event::CatalogReplaced { .. } => Body::CatalogChanged(pb::CatalogChanged {}),
        Event::TicketIssued { ticket, .. } => Body::TicketIssued(pb::TicketIssued {
            number: ticket.number.clone(),
            category: ticket.queue.clone(),
            priority: priority_to(ticket.priority) as i32,
            masked_name: ticket
                .person
                .as_ref()
                .map(|p| p.masked_name.clone())
                .unwrap_or_default(),
            waiting_in_category: h.waiting_in(&ticket.queue),
        }),
        Event::AppointmentBooked { appointment, .. } => {
            Body::AppointmentBooked(pb::AppointmentBooked {
                id: appointment.id,
                category: appointment.queue.clone(),
                date: appointment.date.to_string(),
                slot_start: appointment.slot_label.0.clone(),
            })
        }
        Event::TicketCancelled { ticket, reason } => changed(*ticket, 0, reason.clone()),
        Event::RemoteArrived { ticket } => changed(*ticket, 0, "checked in".into()),
        Event::RemoteAtFront { ticket } => changed(*ticket, 0, "at the front".into()),
        Event::TicketExpired { ticket, reason } => changed(*ticket, 0, reason.clone()),
        Event::AppointmentCancelled { id, .. } => {
            Body::AppointmentChanged(pb::AppointmentChanged {
                ids: vec![*id],
                state: "cancelled".into(),
                until: String::new(),
            })
        }
        Event::AppointmentReminder { id, .. } => Body::AppointmentChanged(pb::AppointmentChanged {
            ids: vec![*id],
            state: "reminded".into(),
            until: String::new(),
        }),
        Event::AppointmentsMissed { ids } => Body::AppointmentChanged(pb::AppointmentChanged {
            ids: ids.clone(),
            state: "missed".into(),
            until: String::new(),
        }),
        Event::BookingBlocked { until, .. } => Body::AppointmentChanged(pb::AppointmentChanged {
            ids: vec![],
            state: "blocked".into(),
            until: until.to_string(),
        }),
        Event::WindowOpened { window, .. }
        | Event::WindowClosed { window }
        | Event::WindowForcedOut { window, .. }
        | Event::WindowPaused { window, .. }
        | Event::WindowResumed { window } => Body::WindowChanged(pb::WindowChanged {
            window: Some(window_info(h, *window)),
        }),
        Event::TicketCalled { ticket, reason, .. } => Body::TicketCalled(pb::TicketCalled {
            call: Some(call(*ticket, false)),
            reason: reason.zh(),
        }),
        Event::TicketRecalled { ticket, .. } => Body::TicketCalled(pb::TicketCalled {
            call: Some(call(*ticket, true)),
            reason: "重呼".into(),
        }),
        Event::ServiceStarted { ticket, window } => changed(*ticket, *window, String::new()),
        Event::TicketFinished {
            ticket,
            window,
            reason,
            after,
            ..
        } => {
            let detail = match after {
                AfterFinish::Closed => reason.clone(),
                AfterFinish::NextStage { queue, .. } => format!("next stage: {queue}"),
                AfterFinish::Returned { window, .. } => format!("returns to window {window}"),
                AfterFinish::SentAway { to } => format!("sent to {} as {}", to.site, to.number),
            };
            changed(*ticket, *window, detail)
        }
        Event::TicketNoShow {
            ticket,
            window,
            auto,
        } => changed(
            *ticket,
            *window,
            if *auto {
                "no-show after recalls".into()
            } else {
                String::new()
            },
        ),
        Event::TicketRequeued { ticket, .. } => changed(*ticket, 0, "late arrival requeued".into()),
        Event::TicketSuspended {
            ticket,
            window,
            reason,
        } => changed(*ticket, *window, reason.clone()),
        Event::TicketTransferred {
            ticket,
            from_window,
            target,
            ..
        } => changed(
            *ticket,
            *from_window,
            match target {
                TransferTarget::Queue(q) => format!("transferred to {q}"),
                TransferTarget::Window(w) => format!("transferred to window {w}"),
            },
        ),
        Event::RatingSubmitted {
            ticket,
            window,
            rating,
            channel,
            ..
        } => Body::RatingSubmitted(pb::RatingSubmitted {
            number: number(*ticket),
            window: *window,
            rating: u32::from(*rating),
            channel: channel.name().into(),
        }),
        Event::CaseRecorded { ticket, .. } => Body::CaseRecorded(pb::CaseRecorded {
            number: number(*ticket),
        }),
        Event::FollowUpOpened { follow_up } => Body::FollowUpOpened(pb::FollowUpOpened {
            id: follow_up.id,
            number: follow_up.ticket_number.clone(),
            kind: follow_up.kind.name().into(),
            reason: follow_up.reason.clone(),
        }),
        Event::FollowUpWorked { id, step, .. } => Body::FollowUpWorked(pb::FollowUpWorked {
            id: *id,
            step: match step {
                crate::engine::FollowUpStep::Assign { .. } => "assign",
                crate::engine::FollowUpStep::Contact { .. } => "contact",
                crate::engine::FollowUpStep::Fix { .. } => "fix",
                crate::engine::FollowUpStep::RateFix { .. } => "rate_fix",
                crate::engine::FollowUpStep::Appeal { .. } => "appeal",
                crate::engine::FollowUpStep::Review { .. } => "review",
            }
            .into(),
        }),
        Event::FollowUpClosed { id, resolution } => Body::FollowUpClosed(pb::FollowUpClosed {
            id: *id,
            number: h
                .follow_ups
                .get(id)
                .map(|f| f.ticket_number.clone())
                .unwrap_or_default(),
            resolution: resolution.clone(),
        }),
        Event::DeviceReported {
            device_id,
            kind,
            status,
            detail,
        } => Body::DeviceReported(pb::DeviceReported {
            device_id: device_id.clone(),
            kind: kind.clone(),
            status: status.clone(),
            detail: detail.clone(),
        }),
        // Who read or did what is for supervisors (ListAudit), not for
        // every board: the stream keeps the sequence number only.
        Event::Audited { .. } => Body::Audited(pb::Audited {}),
        Event::NotifyOptedIn { ticket, .. } => Body::NotificationChanged(pb::NotificationChanged {
            id: 0,
            trigger: "opt_in".into(),
            number: h
                .ticket(*ticket)
                .map(|t| t.number.clone())
                .unwrap_or_default(),
            state: "opted_in".into(),
            sink: String::new(),
        }),
        Event::NotificationQueued { notification: n } => {
            Body::NotificationChanged(pb::NotificationChanged {
                id: n.id,
                trigger: n.trigger.as_str().into(),
                number: n.number.clone(),
                state: "queued".into(),
                sink: String::new(),
            })
        }
        Event::NotificationDone { id, sink, outcome } => {
            Body::NotificationChanged(pb::NotificationChanged {
                id: *id,
                trigger: String::new(),
                number: String::new(),
                state: match outcome {
                    crate::engine::notify::Outcome::Delivered { .. } => "delivered",
                    crate::engine::notify::Outcome::Dead { .. } => "dead",
                }
                .into(),
                sink: sink.clone(),
            })
        }
        Event::RetentionApplied { cutoff, report } => {
            Body::RetentionApplied(pb::RetentionApplied {
                cutoff_ms: *cutoff,
                tickets: report.tickets,
                appointments: report.appointments,
                follow_ups: report.follow_ups,
                log_records: report.log_records,
            })
        }
    };
    let (ticket, window) = touched(&l.event);
    let queues = match &l.event {
        Event::DayRolled { .. } | Event::CatalogReplaced { .. } => board(h, 0).queues,
        // A window opening, closing or pausing changes the estimate of
        // every queue it serves (estimates divide by the serving windows).
        Event::WindowOpened { .. }
        | Event::WindowClosed { .. }
        | Event::WindowForcedOut { .. }
        | Event::WindowPaused { .. }
        | Event::WindowResumed { .. } => {
            let mut codes: Vec<&str> = window
                .and_then(|w| h.catalog.window(w))
                .map(|w| w.tiers.iter().flatten().map(String::as_str).collect())
                .unwrap_or_default();
            codes.sort_unstable();
            codes.dedup();
            codes.into_iter().filter_map(|c| queue_now(h, c)).collect()
        }
        _ => ticket
            .and_then(|id| h.ticket(id))
            .and_then(|t| queue_now(h, &t.queue))
            .into_iter()
            .collect(),
    };
    pb::Event {
        seq: l.seq,
        at_ms: l.at,
        body: Some(body),
        queues,
        window: window.map(|w| window_info(h, w)),
    }
}

/// A follow-up as the console shows it; `today` decides whether it is overdue.
pub fn follow_up_on(f: &crate::engine::FollowUp, today: chrono::NaiveDate) -> pb::FollowUp {
    let mut out = follow_up(f);
    out.overdue = f.closed.is_none() && f.due.is_some_and(|d| d < today);
    out
}

pub fn follow_up(f: &crate::engine::FollowUp) -> pb::FollowUp {
    pb::FollowUp {
        assignee: f.assignee.clone().unwrap_or_default(),
        due_date: f.due.map(|d| d.to_string()).unwrap_or_default(),
        overdue: false,
        contacts: f
            .contacts
            .iter()
            .map(|c| pb::FollowUpContact {
                at_ms: c.at,
                by: c.by.clone(),
                reached: c.reached,
                note: c.note.clone(),
            })
            .collect(),
        fix: f.fix.clone().unwrap_or_default(),
        fix_rating: f
            .fix_rating
            .map(|r| r.name().to_string())
            .unwrap_or_default(),
        appeal_state: match &f.appeal {
            None => "",
            Some(a) => match a.upheld {
                None => "pending",
                Some(true) => "upheld",
                Some(false) => "rejected",
            },
        }
        .into(),
        appeal_reason: f
            .appeal
            .as_ref()
            .map(|a| a.reason.clone())
            .unwrap_or_default(),
        appeal_note: f
            .appeal
            .as_ref()
            .map(|a| a.review_note.clone())
            .unwrap_or_default(),
        id: f.id,
        ticket_number: f.ticket_number.clone(),
        service_date: f.service_date.to_string(),
        kind: f.kind.name().into(),
        reason: f.reason.clone(),
        window: f.window.unwrap_or(0),
        clerk_id: f.clerk.clone().unwrap_or_default(),
        opened_at_ms: f.opened_at,
        closed: f.closed.is_some(),
        resolution: f.closed.clone().unwrap_or_default(),
        masked_name: f.masked_name.clone().unwrap_or_default(),
    }
}

/// Shipping's progress for `GetServerStatus`.
pub fn ship_status(s: &crate::ship::ShipState, committed: u64) -> pb::ShipStatus {
    use std::sync::atomic::Ordering::Acquire;
    let configured = s.configured.load(Acquire);
    let shipped = s.shipped_seq.load(Acquire);
    pb::ShipStatus {
        configured,
        url: s.url.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        connected: s.connected.load(Acquire),
        shipped_seq: shipped,
        backlog: if configured {
            committed.saturating_sub(shipped)
        } else {
            0
        },
        last_error: s
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
        last_ok_ms: s.last_ok_ms.load(Acquire),
    }
}
