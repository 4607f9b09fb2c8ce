//! The hall's queue server: a sans-IO engine (`engine`), a durable sled event
//! log (`store`), the writer task with group commit (`writer`), and the gRPC
//! edge (`grpc`). `run` starts it on a bound listener; `main` only parses flags.

pub mod config;
pub mod engine;
pub mod privacy;
