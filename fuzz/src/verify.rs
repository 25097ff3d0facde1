//! Target `verify`: any bytes as a token.

use crate::oracle::{MayAccept, check_token};

/// Target `verify`: the bytes (lossily as UTF-8, as a header value would be) as a token.
pub fn verify_bytes(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    check_token(&token, MayAccept::AnyValid);
}
