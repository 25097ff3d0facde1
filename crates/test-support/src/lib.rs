//! What the tests of the workspace share that is no use to a user of the testkit: the exact
//! response texts a denial answers with, request headers in the shape the tables use, the
//! standard route table, the rows of the response-table tests, the harness of the JWKS tests,
//! the `cognito-authz` binary's runner, answers read off a raw socket, the programs from outside Rust some tests run, the
//! tracing events a test's thread emits, a free port for a child process, and a test run again
//! in a child process with an environment variable set.
//!
//! An unpublished crate rather than a `#[path]`-included file: the adapters' tests and the root
//! tests depend on it like on any crate, each uses what it needs without dead-code allowances,
//! and its own dependencies (the core and the testkit) stay declared in one place. What a user
//! could use in their own tests (a ready authorizer for a route table, token surgery) lives in
//! `cognito-authz-testkit` instead.
#![forbid(unsafe_code)]

/// The testkit, for the core's own tests: the core cannot depend on it directly (the testkit
/// depends on the core, and a published crate's dependencies must resolve without it).
pub use cognito_authz_testkit as testkit;

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

/// Whether this process is the child that runs the test `name` with the environment variable
/// `var` set: when it is not, runs `name` again in a child process of this test binary with
/// `var=true` and asserts that it passed, then returns `false` (the caller returns). For
/// settings read from the process environment, which a test cannot change for itself alone.
///
/// # Panics
/// The child fails, or does not run exactly that one test.
pub fn in_child_with(name: &str, var: &str) -> bool {
    if std::env::var_os(var).is_some() {
        return true;
    }
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--nocapture"])
        .env(var, "true")
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} with {var}: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    false
}
