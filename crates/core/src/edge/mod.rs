//! The HTTP edge: where a request's token is found (and a cookie request checked for
//! cross-site use), and how a decision goes back out (the denial response, and the extractor
//! types and rejections both adapters share).

mod adapter_types;
pub(crate) mod cross_site;
pub(crate) mod extract;
pub(crate) mod response;
pub(crate) mod token_source;
