//! The JSON API: `POST /api/v1/{Service}/{Method}` for every unary hall.v1
//! method, the request and the answer in the canonical proto3 JSON mapping
//! (lowerCamelCase names, enums by name, 64-bit integers as strings), read
//! and written through the same descriptors the gRPC API is built from.
//! Answers include fields at their default values, so a client sees every
//! field of the schema.
//!
//! A refusal is the gRPC refusal, as JSON, with an HTTP status for its code:
//! `{"error": {"code": "NOT_FOUND", "reason": "UNKNOWN_TICKET", "message":
//! "...", "metadata": {...}, "fieldViolations": [{"field", "description"}]}}`.

use super::{ConnCaller, Web};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hall_proto::errors::{ErrorReason, Refusal};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, SerializeOptions};
use std::sync::LazyLock;
use tonic::Code;

pub(super) static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(hall_proto::FILE_DESCRIPTOR_SET).expect("the hall's descriptors decode")
});

/// A request body larger than this is refused (413) before it is read
/// whole (the largest request, a configuration document, is limited to
/// 1 MiB).
pub const MAX_BODY: usize = 2 << 20;

/// The unary method `Service/Method` of hall.v1.
pub fn method(service: &str, method: &str) -> Option<MethodDescriptor> {
    POOL.get_service_by_name(&format!("hall.v1.{service}"))?
        .methods()
        .find(|m| m.name() == method)
}

/// The JSON form of an answer: every field, canonical names.
pub fn to_json(msg: &DynamicMessage) -> serde_json::Value {
    let options = SerializeOptions::new().skip_default_fields(false);
    msg.serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(serde_json::Value::Null)
}

/// Refuses what a page of another site made the browser send: a browser
/// attaches its pairing cookie (and an installed client certificate) to any
/// request to this origin. A JSON content type cannot be sent cross-site
/// without the server's consent (CORS, which the hall never gives), and a
/// browser's `Sec-Fetch-Site` / `Origin` say where the request came from.
/// Non-browser clients send neither header and pass.
pub fn same_origin(headers: &HeaderMap, uri: &http::Uri) -> Result<(), Response> {
    let refuse = |why: &str| {
        Err(error(Refusal::new(
            Code::PermissionDenied,
            ErrorReason::CrossSiteRefused,
            format!("refused: {why}"),
        )))
    };
    let json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return refuse("a POST here is JSON (content-type: application/json)");
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return refuse("the request came from another site's page");
    }
    if let Some(origin) = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        // HTTP/1.1 names the host in `Host`, HTTP/2 in `:authority` (the
        // URI's authority here).
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin_host != host {
            return refuse("the request's Origin is another site");
        }
    }
    Ok(())
}

pub(super) async fn call(
    State(web): State<Web>,
    Path((service, name)): Path<(String, String)>,
    conn: axum::Extension<ConnCaller>,
    peer: axum::Extension<super::Peer>,
    uri: http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = same_origin(&headers, &uri) {
        return resp;
    }
    let Some(m) = method(&service, &name) else {
        return not_found_json(&format!("no method {service}/{name} in hall.v1"));
    };
    if m.is_server_streaming() || m.is_client_streaming() {
        return error(Refusal::new(
            Code::InvalidArgument,
            ErrorReason::InvalidField,
            format!("{service}/{name} streams: read it as Server-Sent Events at /api/v1/events"),
        ));
    }
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        DynamicMessage::new(m.input())
    } else {
        let mut de = serde_json::Deserializer::from_slice(&body);
        match DynamicMessage::deserialize(m.input(), &mut de).and_then(|msg| de.end().map(|()| msg))
        {
            Ok(msg) => msg,
            Err(e) => {
                return error(Refusal::invalid_field(
                    "body",
                    format!("not a {} in proto3 JSON: {e}", m.input().name()),
                ));
            }
        }
    };
    let caller = web.caller(&conn.0, &headers);
    let path = format!("/{}/{}", m.parent_service().full_name(), m.name());
    match web
        .unary(
            caller,
            &path,
            input.encode_to_vec().into(),
            &headers,
            peer.0.0,
        )
        .await
    {
        Ok(bytes) => match DynamicMessage::decode(m.output(), bytes) {
            Ok(out) => (
                [(http::header::CACHE_CONTROL, "no-store")],
                axum::Json(to_json(&out)),
            )
                .into_response(),
            Err(e) => error(Refusal::new(
                Code::Internal,
                ErrorReason::Unspecified,
                format!("answer not decodable: {e}"),
            )),
        },
        Err(status) => error(Refusal::from_status(&status)),
    }
}

/// The HTTP status for a gRPC code: Google's API design guide's mapping,
/// except FAILED_PRECONDITION, which is 409 here (the hall's state forbids
/// it now: a window taken, a ticket in the wrong state), not 400 (the
/// request itself is fine).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::FailedPrecondition => StatusCode::CONFLICT,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Internal | Code::Unknown | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The gRPC code's canonical name (`NOT_FOUND`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The JSON error body of a refusal.
pub fn error_body(r: &Refusal) -> serde_json::Value {
    // serde_json's map is ordered by key: the same body for the same refusal.
    let metadata: serde_json::Map<String, serde_json::Value> = r
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::json!({
        "error": {
            "code": code_name(r.code),
            "reason": r.reason.as_str_name(),
            "message": r.message,
            "metadata": metadata,
            "fieldViolations": r.field_violations.iter().map(|(f, d)| serde_json::json!({
                "field": f, "description": d,
            })).collect::<Vec<_>>(),
        }
    })
}

pub fn error(r: Refusal) -> Response {
    let status = http_status(r.code);
    let mut resp = (status, axum::Json(error_body(&r))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"hall\""),
        );
    }
    resp
}

fn not_found_json(message: &str) -> Response {
    error(Refusal::new(
        Code::NotFound,
        ErrorReason::Unspecified,
        message,
    ))
}

/// Anything else: a JSON 404 under /api, a plain page elsewhere.
pub(super) async fn not_found(uri: http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        not_found_json(&format!("no route {}", uri.path()))
    } else {
        (
            StatusCode::NOT_FOUND,
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "未找到 / Not found\n",
        )
            .into_response()
    }
}
