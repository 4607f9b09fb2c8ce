//! The audit trail: who did what, as `Event::Audited` records in the event
//! log, written in the same batch as the action (so exactly as durable and
//! as ordered as what they describe; a refused action is recorded too).
//!
//! The role gate puts each call's caller and method in a task-local
//! ([`CALL`]) around the handler; `Hub::ask` turns every write made by a
//! staff role (counter, supervisor, admin) into a record from it and the
//! command. Reads of personal data (a ticket looked up by staff, the
//! follow-up list), failed logins and enrollments are recorded explicitly
//! (`Hub::audit`). Supervisors and admins read the
//! trail with `AdminService.ListAudit` (also as CSV).

use super::roles::Caller;
use crate::engine::{AuditRecord, Command, WindowNo};
use crate::pki::Role;

/// The call being handled: set by the role gate around every handler.
#[derive(Debug, Clone)]
pub struct Call {
    pub caller: Caller,
    /// The staff account of the call's session (`staff`), if it has one.
    pub staff: Option<String>,
    /// `CounterService/CallNext`.
    pub method: String,
}

tokio::task_local! {
    pub static CALL: Call;
}

/// The caller and method of the call this task is handling, if any.
pub fn current() -> Option<Call> {
    CALL.try_with(Clone::clone).ok()
}

/// The window a command acts at.
pub fn window_of(cmd: &Command) -> Option<WindowNo> {
    match cmd {
        Command::Login { window, .. }
        | Command::ForceLogout { window, .. }
        | Command::RateFromPad { window, .. }
        | Command::SupervisePause { window, .. } => Some(*window),
        _ => session_of(cmd).map(|(window, _)| window),
    }
}

/// The window and session token of a command made with a clerk's session.
pub fn session_of(cmd: &Command) -> Option<(WindowNo, &str)> {
    use Command::*;
    match cmd {
        Logout { session }
        | Pause { session, .. }
        | Resume { session }
        | CallNext { session }
        | CallTicket { session, .. }
        | Recall { session }
        | StartService { session }
        | Finish { session, .. }
        | NoShow { session }
        | Requeue { session, .. }
        | Suspend { session, .. }
        | CallBack { session, .. }
        | Transfer { session, .. }
        | SendToSite { session, .. } => Some((session.window, session.token.as_str())),
        _ => None,
    }
}

/// What a command acted on and the reason it gave.
fn subject_of(cmd: &Command) -> (String, String) {
    use Command::*;
    let window = window_of(cmd).map(|w| format!("window {w}"));
    let (number, why) = match cmd {
        CancelTicket { number, reason } => (Some(number.clone()), reason.clone()),
        CancelAppointment { id, reason, .. } => return (format!("booking {id}"), reason.clone()),
        CallTicket { number, .. } | Requeue { number, .. } | CallBack { number, .. } => {
            (Some(number.clone()), String::new())
        }
        RateFromPad { number, .. } => (Some(number.clone()), String::new()),
        Pause { reason, .. } | Suspend { reason, .. } | ForceLogout { reason, .. } => {
            (None, reason.clone())
        }
        Finish { reason, .. } | Transfer { reason, .. } => (None, reason.clone()),
        CloseFollowUp { id, resolution } => {
            return (format!("follow-up {id}"), resolution.clone());
        }
        WorkFollowUp { id, step, .. } => {
            use crate::engine::FollowUpStep as S;
            let why = match step {
                S::Assign { to } => format!("assign to {to}"),
                S::Contact { reached, note } => {
                    format!(
                        "contact ({}): {note}",
                        if *reached { "reached" } else { "not reached" }
                    )
                }
                S::Fix { text } => format!("fix: {text}"),
                S::RateFix { rating } => format!("fix rated {}", rating.name()),
                S::Appeal { reason } => format!("appeal: {reason}"),
                S::Review { upheld, note } => {
                    format!(
                        "review ({}): {note}",
                        if *upheld { "upheld" } else { "rejected" }
                    )
                }
            };
            return (format!("follow-up {id}"), why);
        }
        SupervisePause { reason, resume, .. } => (
            None,
            if *resume {
                "resume".into()
            } else {
                reason.clone()
            },
        ),
        ReplaceCatalog { .. } => return ("configuration".into(), String::new()),
        _ => (None, String::new()),
    };
    let subject = [window, number.map(|n| format!("ticket {n}"))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    (subject, why)
}

fn is_staff(caller: &Caller) -> bool {
    match caller {
        Caller::Device(s) => matches!(s.role, Role::Counter | Role::Supervisor | Role::Admin),
        // A demo hall has no identities to record.
        Caller::Demo | Caller::Nobody => false,
    }
}

fn base(call: &Call) -> AuditRecord {
    let (role, device) = match &call.caller {
        Caller::Device(s) => (s.role.to_string(), s.id.clone()),
        Caller::Demo => ("demo".into(), String::new()),
        Caller::Nobody => ("none".into(), String::new()),
    };
    AuditRecord {
        // The clerk at the window, filled in by the writer; otherwise the
        // certificate's holder.
        who: String::new(),
        role,
        device,
        action: call.method.clone(),
        ..AuditRecord::default()
    }
}

/// The record for a command sent during the current call: every write by a
/// staff role. `None` for kiosks' and the server's own commands.
pub fn for_command(cmd: &Command) -> Option<AuditRecord> {
    let call = current()?;
    if !is_staff(&call.caller) {
        return None;
    }
    let mut r = base(&call);
    let (subject, why) = subject_of(cmd);
    r.subject = subject;
    r.why = why;
    match cmd {
        Command::Login { clerk, .. } => r.who = clerk.clone(),
        Command::ForceLogout { by, .. } => r.who = by.clone(),
        // A clerk's action: the writer puts the clerk's id here when the
        // session is the window's own; otherwise the staff account, or the
        // device if that is all we know.
        _ => r.who = call.staff.clone().unwrap_or_else(|| r.device.clone()),
    }
    Some(r)
}

/// The record for a read of personal data by staff, or for an action
/// outside the writer (an enrollment).
pub fn for_read(subject: String, why: &str) -> Option<AuditRecord> {
    let call = current()?;
    if !is_staff(&call.caller) && !call.method.ends_with("/Redeem") {
        return None;
    }
    let mut r = base(&call);
    r.who = call.staff.clone().unwrap_or_else(|| r.device.clone());
    r.subject = subject;
    r.why = why.to_string();
    Some(r)
}

/// The trail from the log, newest first: a scan of every stored event (the
/// records are found by their type tag before any JSON is parsed).
pub fn list(
    store: &crate::store::Store,
    upto: u64,
    r: &hall_proto::v1::ListAuditRequest,
    limit: usize,
) -> Result<hall_proto::v1::AuditList, crate::store::StoreError> {
    use crate::engine::Event;
    use hall_proto::v1 as pb;
    let to = if r.to_ms == 0 { i64::MAX } else { r.to_ms };
    let mut out: Vec<pb::AuditEntry> = Vec::new();
    let mut next = 1;
    while next <= upto {
        let batch = store.read_from(next, 4096)?;
        let Some(last) = batch.last() else { break };
        next = last.seq + 1;
        for rec in batch {
            if rec.seq > upto || !contains(&rec.json, br#""type":"audited""#) {
                continue;
            }
            let Ok(l) = serde_json::from_slice::<crate::writer::LoggedEvent>(&rec.json) else {
                continue;
            };
            let Event::Audited { record: a } = l.event else {
                continue;
            };
            if l.at < r.from_ms || l.at > to {
                continue;
            }
            if !r.who.is_empty()
                && ![&a.who, &a.device, &a.action]
                    .iter()
                    .any(|f| f.contains(&r.who))
            {
                continue;
            }
            out.push(pb::AuditEntry {
                seq: l.seq,
                at_ms: l.at,
                who: a.who,
                role: a.role,
                device: a.device,
                action: a.action,
                subject: a.subject,
                why: a.why,
                outcome: a.outcome,
            });
        }
    }
    out.reverse();
    let truncated = out.len() > limit;
    out.truncate(limit);
    let csv = if r.as_csv {
        to_csv(&out)
    } else {
        String::new()
    };
    Ok(pb::AuditList {
        entries: out,
        csv,
        truncated,
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// RFC 4180 CSV with a header row; times in RFC 3339 (UTC).
pub fn to_csv(entries: &[hall_proto::v1::AuditEntry]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let mut out = String::from("seq,time,who,role,device,action,subject,why,outcome\r\n");
    for e in entries {
        let time = chrono::DateTime::from_timestamp_millis(e.at_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let row = [
            e.seq.to_string(),
            time,
            field(&e.who),
            field(&e.role),
            field(&e.device),
            field(&e.action),
            field(&e.subject),
            field(&e.why),
            field(&e.outcome),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}
