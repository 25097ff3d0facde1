//! What the tests of the workspace share that is no use to a user of the testkit: the exact
//! response texts a denial answers with, request headers in the shape the tables use, the
//! standard route table, the rows of the response-table tests, the harness of the JWKS tests,
//! the `cognito-authz` binary's runner, answers read off a raw socket, the programs from outside Rust some tests run, the
//! tracing events a test's thread emits, and a free port for a child process.
//!
//! An unpublished crate rather than a `#[path]`-included file: the adapters' tests and the root
//! tests depend on it like on any crate, each uses what it needs without dead-code allowances,
//! and its own dependencies (the core and the testkit) stay declared in one place. What a user
//! could use in their own tests (a ready authorizer for a route table, token surgery) lives in
//! `cognito-authz-testkit` instead.
#![forbid(unsafe_code)]

pub mod cli;
pub mod contract;
pub mod events;
pub mod jwks;
pub mod policy;
pub mod raw_http;
pub mod responses;
pub mod tools;

use std::net::{Ipv4Addr, TcpListener};

/// A port on 127.0.0.1 that was free a moment ago, for a child process to listen on (the
/// listener that found it is closed on return).
///
/// # Panics
/// 127.0.0.1 cannot be bound.
pub fn free_loopback_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}
