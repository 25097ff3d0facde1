//! Cookie tokens and cross-site request forgery: an app that reads its token from a cookie
//! must refuse state-changing requests other sites make the browser send, in both adapters.
//!
//! - `raw_socket`: every combination of `Sec-Fetch-Site`, `Origin` and `Referer`, written byte
//!   for byte to the axum and the actix-web app;
//! - `browser`: the same apps driven by a real headless Chromium, attacked from a page on
//!   another site.

mod apps;
mod browser;
mod chromium;
mod raw_socket;
