//! The hall's refusals as typed values, on both sides of the wire.
//!
//! The server builds every refusal with [`refusal`]: a gRPC code, a message
//! for people and logs, and in the status details a `google.rpc.ErrorInfo`
//! (domain [`DOMAIN`], a stable [`ErrorReason`] name, metadata) and, for bad
//! fields, a `google.rpc.BadRequest`. Clients read them back with
//! [`Refusal::from_status`] and switch on [`Refusal::reason`], never on the
//! message text (`hall/v1/errors.proto` lists the reasons and their metadata).
//!
//! Not for wording: the user-facing texts live in each client's language table.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use crate::v1::ErrorReason;

/// The `ErrorInfo.domain` of every hall refusal.
pub const DOMAIN: &str = "hall.v1";

/// The longest piece of client input a refusal message or metadata value
/// repeats. Echoing more would let a client's own garbage overflow its
/// header limits (C-core clients fail above ~16 KiB).
pub const ECHO_MAX: usize = 64;

/// `s` cut to at most [`ECHO_MAX`] bytes at a character boundary, with "…"
/// when something was cut: the one way bad input is quoted back.
pub fn echo(s: &str) -> String {
    if s.len() <= ECHO_MAX {
        return s.to_string();
    }
    let mut end = ECHO_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A refusal as the server sends it and a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    /// `ERROR_REASON_UNSPECIFIED` when the status carried no hall `ErrorInfo`
    /// (a transport error, a proxy, an older server).
    pub reason: ErrorReason,
    pub message: String,
    pub metadata: HashMap<String, String>,
    /// (field path, description) of each bad field.
    pub field_violations: Vec<(String, String)>,
}

impl Refusal {
    /// A refusal with no metadata yet.
    pub fn new(code: Code, reason: ErrorReason, message: impl Into<String>) -> Self {
        Refusal {
            code,
            reason,
            message: message.into(),
            metadata: HashMap::new(),
            field_violations: Vec::new(),
        }
    }

    /// An INVALID_ARGUMENT refusal for one bad field.
    pub fn invalid_field(field: &str, description: impl Into<String>) -> Self {
        let description = description.into();
        let mut r = Refusal::new(
            Code::InvalidArgument,
            ErrorReason::InvalidField,
            format!("{field}: {description}"),
        );
        r.field_violations.push((field.to_string(), description));
        r
    }

    /// Adds a metadata entry (values are cut with [`echo`]).
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.metadata.insert(key.to_string(), echo(&value.to_string()));
        self
    }

    /// The metadata value of `key`, or "".
    pub fn meta(&self, key: &str) -> &str {
        self.metadata.get(key).map(String::as_str).unwrap_or("")
    }

    /// Reads a status: the hall's `ErrorInfo` and `BadRequest` if present.
    pub fn from_status(status: &Status) -> Self {
        let mut r = Refusal::new(
            status.code(),
            ErrorReason::Unspecified,
            status.message().to_string(),
        );
        if let Ok(details) = status.check_error_details() {
            if let Some(info) = details.error_info()
                && info.domain == DOMAIN
            {
                r.reason =
                    ErrorReason::from_str_name(&info.reason).unwrap_or(ErrorReason::Unspecified);
                r.metadata = info.metadata.clone();
            }
            if let Some(bad) = details.bad_request() {
                r.field_violations = bad
                    .field_violations
                    .iter()
                    .map(|v| (v.field.clone(), v.description.clone()))
                    .collect();
            }
        }
        r
    }

    /// The status to send: code, message and the rich details.
    pub fn into_status(self) -> Status {
        let mut details = ErrorDetails::with_error_info(
            self.reason.as_str_name(),
            DOMAIN,
            self.metadata,
        );
        for (field, description) in self.field_violations {
            details.add_bad_request_violation(field, description);
        }
        Status::with_error_details(self.code, self.message, details)
    }
}

impl From<Refusal> for Status {
    fn from(r: Refusal) -> Status {
        r.into_status()
    }
}

/// Shorthand for the server: a status with the hall's `ErrorInfo`.
pub fn refusal(code: Code, reason: ErrorReason, message: impl Into<String>) -> Status {
    Refusal::new(code, reason, message).into_status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_survives_the_wire_form() {
        let sent = Refusal::new(Code::ResourceExhausted, ErrorReason::QuotaExhausted, "used up")
            .with("category", "A")
            .with("quota", 200);
        let status = sent.clone().into_status();
        // What a client decodes from the status details equals what was sent.
        let got = Refusal::from_status(&status);
        assert_eq!(got, sent);
        assert_eq!(got.reason.as_str_name(), "QUOTA_EXHAUSTED");
        assert_eq!(got.meta("quota"), "200");
    }

    #[test]
    fn field_violations_and_echo_limits() {
        let long = "界".repeat(1000);
        let r = Refusal::invalid_field("category", format!("unknown '{}'", echo(&long)))
            .with("category", &long);
        assert!(r.meta("category").len() <= ECHO_MAX + "…".len());
        let got = Refusal::from_status(&r.clone().into_status());
        assert_eq!(got.field_violations[0].0, "category");
        assert!(got.message.len() < 200, "{}", got.message.len());
    }

    #[test]
    fn a_plain_status_has_no_reason() {
        let got = Refusal::from_status(&Status::unavailable("connection refused"));
        assert_eq!(got.reason, ErrorReason::Unspecified);
        assert_eq!(got.code, Code::Unavailable);
    }
}
