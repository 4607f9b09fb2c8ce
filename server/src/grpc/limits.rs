//! Input limits: a documented maximum for every string and repeated field
//! of every request, checked at the edge before anything else (tokens aside).
//!
//! The check walks the request through its descriptor (prost-reflect over
//! the hall's own `FILE_DESCRIPTOR_SET`), so a field added to a request is
//! limited from the first build: by its name in [`STRING_LIMITS`], or by
//! [`DEFAULT_STRING_MAX`]. A refusal is INVALID_ARGUMENT with a `BadRequest`
//! naming the field path (e.g. `identity.name`) and the sizes, never the
//! content. The integration test `every_request_field_has_a_limit`
//! generates oversize requests for every field of every RPC from the same
//! descriptors.

use hall_proto::errors::Refusal;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use std::sync::LazyLock;
use tonic::Status;

/// The most elements a repeated field of a request may have.
pub const REPEATED_MAX: usize = 100;

/// Bytes (UTF-8) a string field may hold when its name is not listed below.
pub const DEFAULT_STRING_MAX: usize = 128;

/// Bytes per string field, by field name (the same name means the same
/// thing in every request). Chinese characters take 3 bytes each.
pub const STRING_LIMITS: &[(&str, usize)] = &[
    ("request_id", 128),
    ("category", hall_engine::catalog::MAX_CODE_BYTES),
    ("code", hall_engine::catalog::MAX_CODE_BYTES),
    ("number", 16),
    ("id_number", 32),
    // Names on ID cards: up to ~15 Chinese characters, or a long foreign name.
    ("name", 192),
    ("birth_date", 10),
    ("date", 10),
    ("service_date", 10),
    ("slot_start", 5),
    ("slot_end", 5),
    ("kiosk_id", 64),
    ("device_id", 64),
    ("kind", 32),
    ("status", 32),
    ("detail", 512),
    ("clerk_id", hall_engine::catalog::MAX_CLERK_ID_BYTES),
    ("pin", 64),
    ("account", hall_engine::catalog::MAX_CLERK_ID_BYTES),
    // 128 characters of any script (a CJK character takes 3 bytes).
    ("password", 512),
    ("token", 128),
    // Free text a clerk or visitor types: a few sentences.
    ("reason", 600),
    ("unresolved_reason", 600),
    ("comment", 600),
    ("resolution", 1200),
    // A whole hall configuration (the built-in one is ~40 KiB).
    ("toml", 1 << 20),
    ("pairing_code", 32),
    ("secret", 64),
    // Reports, the console, the 好差评 record.
    ("from", 10),
    ("to", 64),
    ("by", 16),
    ("month", 7),
    ("from_time", 5),
    ("to_time", 5),
    ("action", 16),
    ("note", 1200),
    ("rating", 32),
    ("case_no", 192),
    ("service_code", 192),
    // A PKCS#10 request for an EC or RSA-4096 key fits in 4 KiB.
    ("csr_pem", 4096),
];

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(hall_proto::FILE_DESCRIPTOR_SET).expect("the hall's descriptors decode")
});

/// The limit of a string field.
pub fn string_max(field: &str) -> usize {
    STRING_LIMITS
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(DEFAULT_STRING_MAX, |(_, max)| *max)
}

/// A request's message, checked against the limits: what every handler
/// starts with.
pub fn checked<M: prost::Message + prost::Name>(req: tonic::Request<M>) -> Result<M, Status> {
    let msg = req.into_inner();
    check(&msg)?;
    Ok(msg)
}

/// Checks a message against the limits.
pub fn check<M: prost::Message + prost::Name>(msg: &M) -> Result<(), Status> {
    let full_name = M::full_name();
    let desc = POOL
        .get_message_by_name(&full_name)
        .unwrap_or_else(|| panic!("{full_name} is a hall message"));
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice())
        .map_err(|e| Status::internal(format!("re-reading the request: {e}")))?;
    walk(&dynamic, "")
}

fn walk(m: &DynamicMessage, prefix: &str) -> Result<(), Status> {
    for (field, value) in m.fields() {
        let path = if prefix.is_empty() {
            field.name().to_string()
        } else {
            format!("{prefix}.{}", field.name())
        };
        match value {
            Value::String(s) => check_string(s, field.name(), &path)?,
            Value::List(items) => {
                if items.len() > REPEATED_MAX {
                    return Err(too_big(
                        &path,
                        format!("{} elements, at most {REPEATED_MAX}", items.len()),
                    ));
                }
                for item in items {
                    match item {
                        Value::String(s) => check_string(s, field.name(), &path)?,
                        Value::Message(sub) => walk(sub, &path)?,
                        _ => {}
                    }
                }
            }
            Value::Message(sub) => walk(sub, &path)?,
            _ => {}
        }
    }
    Ok(())
}

fn check_string(s: &str, name: &str, path: &str) -> Result<(), Status> {
    let max = string_max(name);
    if s.len() > max {
        return Err(too_big(path, format!("{} bytes, at most {max}", s.len())));
    }
    Ok(())
}

fn too_big(path: &str, what: String) -> Status {
    Refusal::invalid_field(path, format!("too long: {what}")).into_status()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hall_proto::v1 as pb;

    #[test]
    fn nested_and_repeated_fields_are_named_by_path() {
        let ok = pb::IssueTicketRequest {
            request_id: "r1".into(),
            category: "pension".into(),
            identity: Some(pb::Identity {
                name: "王小明".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        check(&ok).unwrap();
        let long = pb::IssueTicketRequest {
            identity: Some(pb::Identity {
                name: "王".repeat(100),
                ..Default::default()
            }),
            ..ok
        };
        let err = check(&long).unwrap_err();
        let r = Refusal::from_status(&err);
        assert_eq!(r.field_violations[0].0, "identity.name");
        assert!(!err.message().contains('王'), "never echoes: {err}");
    }
}
