//! The rules in prose: what is verified and in which order, the policy language and file, how
//! a request finds its route, and what each refusal answers with. The same pages are in the
//! repository under `crates/core/docs/`.

#[doc = include_str!("../docs/verification.md")]
pub mod verification {}

#[doc = include_str!("../docs/policy.md")]
pub mod policy {}

#[doc = include_str!("../docs/routing.md")]
pub mod routing {}

#[doc = include_str!("../docs/responses.md")]
pub mod responses {}
