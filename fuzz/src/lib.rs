//! The harness behind the fuzz targets, shared with the stable corpus replay
//! (`tests/corpus_replay.rs`), so both run exactly the same code. One module per target
//! (`verify`, `verify_structured`, `keyset`, `policy_expr`, `policy_file`, `token_source`), the
//! fixed world they run in (`fixture`), the verifier oracle they share (`oracle`) and the triage
//! aid (`explain`).
//!
//! Every target checks more than "no panic":
//!
//! - `verify`: any bytes as a token. The verifier never awaits on a static key set, every
//!   rejection is a 401 invalid-token kind, the verified-token cache never changes a decision
//!   (cached verifier twice, uncached once: same outcome), a token `decode_unverified` calls
//!   malformed is `malformed_token`, and anything accepted obeys the verification rules
//!   (`crates/core/docs/verification.md`).
//! - `verify_structured`: header and payload JSON built from an [`arbitrary`] description
//!   (duplicate and escape-equivalent member names, wrong claim types, nulls, huge and odd
//!   numbers, odd algs, `crit`, embedded key headers, odd kids), signed with a fixed RSA key,
//!   then maybe tampered with. Nothing but the exact string that was signed may be accepted,
//!   never one with duplicate members, and acceptance implies the contract as above.
//! - `keyset`: any bytes as a JWKS document. `KeySet::from_json` never panics, never keeps more
//!   than `MAX_KEYS`, and a verifier over the document accepts a real token only when the first
//!   readable entry for its kid is exactly the real public key.
//! - `policy_expr`: any bytes (lossy UTF-8) as a policy expression. Errors point inside the
//!   text, print -> parse is the identity, and compiling (against [`POLICY_SET`] and alone) and
//!   evaluating against two real tokens never panic, answer `insufficient_scope` only with the
//!   required scopes, and decide as the effective (inlined) form does.
//! - `policy_file`: any bytes (lossy UTF-8) as a TOML policy file. Errors name a line and column
//!   inside the text; every loaded policy re-parses and recompiles to the same thing, and a
//!   static route is found by a lookup of its own path.
//! - `token_source`: a request (headers from a small set of names, a prefix such as `Bearer `
//!   or `id_token=` plus any bytes) and a token source configuration, built with [`arbitrary`].
//!   Extraction follows the token-source rules (the header twice or a token in two places:
//!   `invalid_request`; nothing there: `missing_token`), a token is a substring of a header the
//!   source reads, and neither unread headers nor the `HeaderLookup` implementation matter.
//!
//! The signing key is committed (`keys/fuzz-signing-key.pk8`, RSA-2048, used for nothing else) so
//! corpora stay meaningful across runs. The clock is fixed at [`NOW_SECS`].

mod explain;
mod fixture;
mod keyset;
mod oracle;
mod policy_expr;
mod policy_file;
mod token_source;
mod verify;
mod verify_structured;

pub use explain::explain;
pub use fixture::{
    CLIENT_ID, ISS, KID, MAX_TOKEN_BYTES, NOW_SECS, POOL_ID, UPDATED_ISS, build_verifier,
    key_set_json, probe_token, sign, signing_key, valid_access_payload, valid_header,
    valid_id_payload,
};
pub use keyset::keyset_bytes;
pub use oracle::complete;
pub use policy_expr::{POLICY_SET, policy_expr, policy_expr_bytes};
pub use policy_file::{POLICY_FILE_BASE_DIR, POLICY_FILE_LABEL, policy_file, policy_file_bytes};
pub use token_source::{
    CookieChoice, CustomHeader, HeaderChoice, HeaderSpec, SourceInput, SourceSpec, ValuePrefix,
    encode_source_input, token_source, token_source_bytes,
};
pub use verify::verify_bytes;
pub use verify_structured::{
    HEADER, JsonValue, Layout, Member, MemberName, OtherDigest, PAYLOAD, Slot, Tamper, TokenSpec,
    verify_structured, verify_structured_bytes,
};
