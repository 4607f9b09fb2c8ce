//! The hall's gRPC contract (`proto/hall/v1`, package `hall.v1`) as generated
//! Rust code, plus the few client-side helpers every client needs.
//!
//! This crate is the only place wire types are defined; the server converts
//! them to domain types at its gRPC edge and nowhere else.

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("hall.v1");
}

/// Encoded `FileDescriptorSet` of all hall protos, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hall_descriptor.bin"));

pub mod client;
pub mod errors;
