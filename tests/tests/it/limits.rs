//! Input limits, generated from the descriptors: for every RPC of the four
//! hall.v1 services and every string or repeated field of its request
//! (nested ones too), a request with only that field oversized must be
//! refused with INVALID_ARGUMENT naming the field path, with a short
//! message; afterwards the server is healthy and the data dir has not grown.
//! A field added to a request without a limit fails here.

use bytes::Buf as _;
use hall_tests::*;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, Value};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Sends and receives raw protobuf bytes: requests built from descriptors.
#[derive(Clone, Copy, Default)]
pub(crate) struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// Every string or repeated field reachable from `desc` (3 levels deep), as
/// dotted paths.
fn limited_fields(desc: &MessageDescriptor, prefix: &str, depth: usize, out: &mut Vec<String>) {
    for f in desc.fields() {
        let path = if prefix.is_empty() {
            f.name().to_string()
        } else {
            format!("{prefix}.{}", f.name())
        };
        if f.is_list() || matches!(f.kind(), Kind::String) {
            out.push(path.clone());
        }
        if let Kind::Message(sub) = f.kind()
            && !f.is_list()
            && !f.is_map()
            && depth > 0
        {
            limited_fields(&sub, &path, depth - 1, out);
        }
    }
}

/// A message with only the field at `path` set, oversized.
fn oversized(desc: &MessageDescriptor, path: &str) -> DynamicMessage {
    let mut m = DynamicMessage::new(desc.clone());
    let (head, rest) = path
        .split_once('.')
        .map_or((path, None), |(h, r)| (h, Some(r)));
    let field = desc.get_field_by_name(head).unwrap();
    let value = match (rest, field.kind()) {
        (Some(rest), Kind::Message(sub)) => Value::Message(oversized(&sub, rest)),
        (None, kind) if field.is_list() => Value::List(
            (0..10_000)
                .map(|_| match &kind {
                    Kind::String => Value::String("x".into()),
                    Kind::Message(sub) => Value::Message(DynamicMessage::new(sub.clone())),
                    _ => Value::default_value(&kind),
                })
                .collect(),
        ),
        // More than any limit (the largest, a whole configuration, is 1 MiB).
        (None, Kind::String) => Value::String("界".repeat(700_000)),
        other => panic!("{path}: {other:?}"),
    };
    m.set_field(&field, value);
    m
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn every_request_field_has_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    // Each method called as a role the role table lets through, so the
    // limits (checked after the table) are what answers.
    let mut channels = Vec::new();
    for role in Role::ALL {
        channels.push((role, srv.channel_as(role).await));
    }
    // Start-up writes (the catalogue, the first tick) are done before the
    // server serves, so this is the baseline.
    let size_before = dir_size(dir.path());
    let pool = DescriptorPool::decode(hall_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut checked = Vec::new();
    for service in pool.services().filter(|s| s.package_name() == "hall.v1") {
        for method in service.methods() {
            let input = method.input();
            let mut fields = Vec::new();
            limited_fields(&input, "", 3, &mut fields);
            for path in fields {
                let body = oversized(&input, &path).encode_to_vec();
                let rpc: tonic::codegen::http::uri::PathAndQuery =
                    format!("/{}/{}", service.full_name(), method.name())
                        .parse()
                        .unwrap();
                let role = match hall_server::grpc::roles::rule(rpc.path()) {
                    Some(hall_server::grpc::roles::Rule::Roles(roles)) => roles[0],
                    _ => Role::Admin,
                };
                let channel = &channels.iter().find(|(r, _)| *r == role).unwrap().1;
                let mut grpc =
                    tonic::client::Grpc::new(channel.clone()).max_encoding_message_size(16 << 20);
                grpc.ready().await.unwrap();
                let err = if method.is_server_streaming() {
                    match grpc
                        .server_streaming(tonic::Request::new(body), rpc, Raw)
                        .await
                    {
                        Ok(r) => r.into_inner().message().await.expect_err("refused"),
                        Err(e) => e,
                    }
                } else {
                    grpc.unary(tonic::Request::new(body), rpc, Raw)
                        .await
                        .expect_err("refused")
                };
                let what = format!("{}.{} {path}", service.name(), method.name());
                assert_eq!(err.code(), tonic::Code::InvalidArgument, "{what}: {err:?}");
                let r = hall_proto::errors::Refusal::from_status(&err);
                assert_eq!(
                    r.field_violations.first().map(|v| v.0.as_str()),
                    Some(path.as_str()),
                    "{what}"
                );
                assert!(
                    err.message().len() < 200,
                    "{what}: a long message ({} bytes)",
                    err.message().len()
                );
                checked.push(what);
            }
        }
    }
    assert!(checked.len() >= 40, "{checked:?}");
    let channel = &channels[0].1;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        serving,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let grown = dir_size(dir.path()).saturating_sub(size_before);
    assert!(grown < 256 * 1024, "the data dir grew by {grown} bytes");
    srv.stop().await;
}
