//! Errors of `engine::apply`: each says what was wrong in words a clerk or a
//! visitor's kiosk can act on. The gRPC layer maps each to one status code.

use super::model::WindowNo;
use chrono::NaiveDate;

/// Why a command was refused.
///
/// Deliberately exhaustive (no `#[non_exhaustive]`): the server maps every
/// variant to a gRPC code and a stable reason in one `match`, and a new
/// variant must fail to compile there until it has its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No category or bundle has this code.
    #[error("unknown category or bundle '{0}'")]
    UnknownCategory(String),
    /// No window has this number.
    #[error("unknown window {0}")]
    UnknownWindow(WindowNo),
    /// No ticket of today has this number.
    #[error("no ticket {0} today")]
    UnknownTicket(String),
    /// A field of the request is malformed or out of range.
    #[error("{problem}")]
    InvalidField {
        /// The request field at fault, as named on the wire (e.g. "rating").
        field: &'static str,
        problem: String,
    },
    /// Not issuing now; says when it next is.
    #[error("{code}: {reason}; next issuing time {next}")]
    NotIssuing {
        code: String,
        reason: String,
        next: String,
    },
    /// The daily quota of the category is used up.
    #[error("today's quota of {quota} tickets for '{code}' is used up")]
    QuotaExhausted { code: String, quota: u32 },
    /// Every place of an appointment slot is booked.
    #[error(
        "the slot {slot} on {date} for '{code}' is fully booked ({capacity} places): please choose another"
    )]
    SlotFull {
        code: String,
        date: NaiveDate,
        slot: String,
        capacity: u32,
    },
    /// The person already holds an active ticket of this category.
    #[error("this person already holds ticket {number} for '{code}' today")]
    AlreadyHoldsTicket { code: String, number: String },
    /// Per-person daily limit reached.
    #[error("this person has reached today's limit of {limit} tickets for '{code}'")]
    PersonLimit { code: String, limit: u32 },
    /// The category requires an ID card to be read.
    #[error("'{0}' requires an ID card: please place the ID card on the reader")]
    IdCardRequired(String),
    /// The window has no clerk logged in, or the session token is stale.
    #[error("window {0} is not logged in (or the session has ended): log in first")]
    NotLoggedIn(WindowNo),
    /// Clerk id unknown or PIN wrong (deliberately not told apart).
    #[error("clerk id or PIN is wrong")]
    BadCredentials,
    /// Another clerk holds the window.
    #[error("window {window} is already taken by {clerk_name} ({clerk})")]
    WindowTaken {
        window: WindowNo,
        clerk: String,
        clerk_name: String,
    },
    /// The clerk is logged in at another window.
    #[error("clerk {clerk} is already logged in at window {window}")]
    ClerkElsewhere { clerk: String, window: WindowNo },
    /// The window is paused.
    #[error("window {0} is paused: resume first")]
    WindowPaused(WindowNo),
    /// The window has no current ticket for this action.
    #[error("window {0} has no current ticket")]
    NoCurrentTicket(WindowNo),
    /// The window still has a ticket that must be dealt with first.
    #[error("window {window} still has ticket {number} ({state}): {hint}")]
    Busy {
        window: WindowNo,
        number: String,
        state: &'static str,
        hint: &'static str,
    },
    /// Nothing waits for this window.
    #[error("no ticket is waiting for window {0}")]
    NothingWaiting(WindowNo),
    /// The ticket is in the wrong state for the action.
    #[error("ticket {number} is {state}; cannot {action}")]
    WrongState {
        number: String,
        state: &'static str,
        action: &'static str,
    },
    /// The ticket exists but the action does not apply to it here (rating
    /// a ticket this window did not just finish, calling a ticket
    /// transferred to another window): a state conflict, not a bad field.
    #[error("{problem}")]
    Conflict { number: String, problem: String },
    /// The ticket was already rated.
    #[error("ticket {0} has already been rated")]
    AlreadyRated(String),
    /// No appointment for this person today.
    #[error("no appointment for this person today")]
    NoAppointment,
    /// No booking has this id (for this person).
    #[error("no booking {0} for this person")]
    UnknownAppointment(u64),
    /// Too many missed appointments: booking is closed to this person.
    #[error("booking is blocked until {until}: {missed} missed appointments")]
    BookingBlocked { until: NaiveDate, missed: u32 },
    /// The person already holds the bookings the hall allows per period.
    #[error("at most {limit} bookings per person per {period}")]
    BookingLimit { period: &'static str, limit: u32 },
    /// The remote tickets' share of a category's quota is used up today.
    #[error(
        "the {cap} remote tickets of '{code}' for today are taken: please take a number in the hall"
    )]
    RemoteShareExhausted { code: String, cap: u32 },
    /// No follow-up item has this id (or it is closed).
    #[error("no open follow-up {0}")]
    UnknownFollowUp(u64),
    /// A catalogue replacement would break live tickets.
    #[error("catalogue rejected: {0}")]
    CatalogConflict(String),
}

impl EngineError {
    /// A bad field of the request, named as on the wire.
    pub fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        EngineError::InvalidField {
            field,
            problem: problem.into(),
        }
    }
}
