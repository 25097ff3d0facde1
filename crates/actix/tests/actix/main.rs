//! Tests of the actix-web adapter against real `actix_web::App`s, in process and over a socket:
//! every response of the response table byte-identical to the core's, the extractors, per-scope
//! policies and start-up failures. Time comes from the local issuer's manual clock.

mod config;
mod contract;
mod extractors;
mod support;
