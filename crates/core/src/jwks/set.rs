//! A parsed key set: every readable JWK kept under its kid, RSA keys parsed once.
//!
//! Which keys exist: an entry is skipped only when it cannot be read as a key at
//! all; every other entry is kept, and if it does not fit the token it fails check 8.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384,
    RSA_PKCS1_2048_8192_SHA512, RsaParameters, RsaPublicKeyComponents,
};
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::verify::config::Algorithm;
use crate::verify::jwt;

/// The smallest RSA modulus accepted (bits).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted (bits): bounds the cost of one verification.
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// The smallest RSA public exponent accepted (Cognito's keys all use it, `AQAB`): a small
/// exponent such as 3 has no place in a signing key a pool publishes.
pub(crate) const MIN_RSA_EXPONENT: u32 = 65_537;
/// The most keys one set may hold; a larger set is a failed fetch (bounded memory).
pub const MAX_KEYS: usize = 256;

const RSA_PARAMETERS: [&RsaParameters; 3] = [
    &RSA_PKCS1_2048_8192_SHA256,
    &RSA_PKCS1_2048_8192_SHA384,
    &RSA_PKCS1_2048_8192_SHA512,
];

/// One key of a set, with the facts check 8 needs precomputed.
pub(crate) struct KeyEntry {
    /// The JWK as served (canonical JSON), to recognise an unchanged key across fetches.
    source: Box<str>,
    kid: String,
    kty: String,
    use_ok: bool,
    alg: Option<String>,
    alg_ok: bool,
    key_ops_ok: bool,
    rsa: Option<RsaKey>,
    /// Set once a refresh replaced the set without keeping this entry: what it verified is no
    /// longer current (the verified-token cache reads this on every hit).
    retired: AtomicBool,
}

struct RsaKey {
    bits: usize,
    /// Whether the public exponent is odd and at least [`MIN_RSA_EXPONENT`].
    exponent_ok: bool,
    /// One parsed key per RS* algorithm; `None` when the material is not a usable RSA key.
    parsed: Option<[ParsedPublicKey; 3]>,
}

impl KeyEntry {
    /// Whether the issuer's current key set still holds this very entry (no refresh dropped or
    /// changed its kid since).
    pub(crate) fn is_current(&self) -> bool {
        !self.retired.load(Ordering::Acquire)
    }

    /// Check 8: the parsed key for `alg`, or `invalid_key` saying why the key does not fit.
    pub(crate) fn fit_for(&self, alg: Algorithm) -> Result<&ParsedPublicKey, Error> {
        let unfit = |detail| Err(Error::new(ErrorKind::InvalidKey, detail));
        let Some(rsa) = self.rsa.as_ref().filter(|_| self.kty == "RSA") else {
            return unfit("key type is not RSA");
        };
        if !self.use_ok {
            return unfit("key use is not sig");
        }
        if !self.alg_ok
            || self
                .alg
                .as_deref()
                .is_some_and(|key_alg| key_alg != alg.as_str())
        {
            return unfit("key alg does not match the token alg");
        }
        if !self.key_ops_ok {
            return unfit("key_ops does not allow verify");
        }
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&rsa.bits) {
            return unfit("RSA modulus size out of bounds");
        }
        if !rsa.exponent_ok {
            return unfit("RSA public exponent below 65537 or even");
        }
        match &rsa.parsed {
            Some(parsed) => Ok(&parsed[alg.index()]),
            None => unfit("RSA key material rejected"),
        }
    }
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("alg", &self.alg)
            .field("bits", &self.rsa.as_ref().map(|rsa| rsa.bits))
            .finish_non_exhaustive()
    }
}

/// A key set: kid → key, pre-parsed. Cheap to look up, replaced whole on refresh, and cheap
/// to clone (the parsed keys are shared).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<KeyEntry>>,
}

/// Why a key-set document was rejected as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// Not a JSON object with a `keys` array.
    #[error("not a JSON key set ({{\"keys\": [...]}})")]
    NotAKeySet,
    /// More than [`MAX_KEYS`] entries.
    #[error("key set has more than {MAX_KEYS} keys")]
    TooManyKeys,
}

/// Why a key-set file could not be loaded by [`KeySet::from_file`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file cannot be read (or is larger than the bound on input files).
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// The file is not a JSON key set.
    #[error("{0}")]
    Invalid(#[source] KeySetError),
}

#[cfg(test)]
thread_local! {
    /// How many key files [`KeySet::from_file`] has read on this thread (tests count reads).
    pub(crate) static FILE_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl KeySet {
    /// Reads a key-set file (at most the bound of
    /// [`bounded_read`](crate::bounded_read)) and parses it as [`KeySet::from_json`] does: the
    /// one place key files are read, for the verifier, the policy-file loader and the CLI.
    ///
    /// # Errors
    /// The file cannot be read, or is not a JSON key set.
    pub fn from_file(path: &std::path::Path) -> Result<Self, KeyFileError> {
        #[cfg(test)]
        FILE_READS.with(|reads| reads.set(reads.get() + 1));
        let bytes = crate::bounded_read::read_file_bounded(path).map_err(KeyFileError::Read)?;
        Self::from_json(&bytes).map_err(KeyFileError::Invalid)
    }

    /// Parses a JWKS document (`{"keys": [...]}`).
    ///
    /// # Errors
    /// The document is not a key set, or holds more than [`MAX_KEYS`] entries. Unreadable
    /// entries are skipped, not errors.
    pub fn from_json(json: &[u8]) -> Result<Self, KeySetError> {
        let document: Value = serde_json::from_slice(json).map_err(|_| KeySetError::NotAKeySet)?;
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(KeySetError::NotAKeySet)?;
        if entries.len() > MAX_KEYS {
            return Err(KeySetError::TooManyKeys);
        }
        let mut keys = HashMap::with_capacity(entries.len());
        for entry in entries {
            if let Some(key) = read_entry(entry) {
                // The first readable entry of a kid wins.
                keys.entry(key.kid.clone()).or_insert_with(|| Arc::new(key));
            }
        }
        Ok(Self { keys })
    }

    /// Keeps the previous set's entry wherever a kid's JWK is unchanged, so what was verified
    /// with that key (the verified-token cache checks key identity) stays valid across a
    /// refresh that did not change it.
    pub(crate) fn reuse_unchanged(&mut self, previous: &KeySet) {
        for (kid, entry) in &mut self.keys {
            if let Some(old) = previous.keys.get(kid)
                && old.source == entry.source
            {
                *entry = Arc::clone(old);
            }
        }
    }

    /// Retires every entry of this outgoing set that `next` (its replacement) does not keep.
    pub(crate) fn retire_replaced(&self, next: &KeySet) {
        for (kid, entry) in &self.keys {
            if !next
                .keys
                .get(kid)
                .is_some_and(|kept| Arc::ptr_eq(kept, entry))
            {
                entry.retired.store(true, Ordering::Release);
            }
        }
    }

    /// Whether at least one key could verify a token: RSA, 2048 to 8192 bits, an odd public
    /// exponent of at least 65537, and its `use`, `alg` and `key_ops` allow signature
    /// verification with one of RS256, RS384 or RS512.
    ///
    /// A fetched set without one is a failed fetch (the last good set stays).
    pub fn has_usable_key(&self) -> bool {
        self.keys.values().any(|entry| {
            [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512]
                .into_iter()
                .any(|alg| entry.fit_for(alg).is_ok())
        })
    }

    /// The key with this kid.
    pub(crate) fn get(&self, kid: &str) -> Option<&Arc<KeyEntry>> {
        // A pool publishes two keys or so: comparing them is cheaper than hashing the kid.
        if self.keys.len() <= 4 {
            return self
                .keys
                .iter()
                .find(|(candidate, _)| *candidate == kid)
                .map(|(_, entry)| entry);
        }
        self.keys.get(kid)
    }

    /// Whether a key is kept under `kid` (usable or not: an unfit key fails `invalid_key`,
    /// an absent one `unknown_kid`).
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Number of keys kept.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key was kept.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The kids kept, in no particular order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

fn read_entry(entry: &Value) -> Option<KeyEntry> {
    let object = entry.as_object()?;
    let kid = object.get("kid")?.as_str()?.to_owned();
    let kty = object.get("kty")?.as_str()?.to_owned();
    let rsa = if kty == "RSA" {
        let n = jwt::decode_segment(object.get("n")?.as_str()?).ok()?;
        let e = jwt::decode_segment(object.get("e")?.as_str()?).ok()?;
        Some(rsa_key(&n, &e))
    } else {
        None
    };
    let use_ok = match object.get("use") {
        None => true,
        Some(value) => value.as_str() == Some("sig"),
    };
    let (alg, alg_ok) = match object.get("alg") {
        None => (None, true),
        Some(Value::String(alg)) => (Some(alg.clone()), true),
        Some(_) => (None, false),
    };
    let key_ops_ok = match object.get("key_ops") {
        None => true,
        Some(Value::Array(ops)) => ops.iter().any(|op| op.as_str() == Some("verify")),
        Some(_) => false,
    };
    Some(KeyEntry {
        source: in_name_order(entry).to_string().into_boxed_str(),
        kid,
        kty,
        use_ok,
        alg,
        alg_ok,
        key_ops_ok,
        rsa,
        retired: AtomicBool::new(false),
    })
}

fn rsa_key(n: &[u8], e: &[u8]) -> RsaKey {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let bits = n.first().map_or(0, |&top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    });
    let exponent_ok = exponent_is_strong(e);
    let parsed = if exponent_ok && (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        let components = RsaPublicKeyComponents { n, e };
        let parse = |params| components.to_parsed_public_key(params).ok();
        match (
            parse(RSA_PARAMETERS[0]),
            parse(RSA_PARAMETERS[1]),
            parse(RSA_PARAMETERS[2]),
        ) {
            (Some(a), Some(b), Some(c)) => Some([a, b, c]),
            _ => None,
        }
    } else {
        None
    };
    RsaKey {
        bits,
        exponent_ok,
        parsed,
    }
}

/// Whether the public exponent `e` (big-endian, leading zeros stripped) is odd and at least
/// [`MIN_RSA_EXPONENT`].
fn exponent_is_strong(e: &[u8]) -> bool {
    let odd = e.last().is_some_and(|low| low & 1 == 1);
    // Four bytes or more (no leading zero) is at least 2^24, far above the minimum.
    let large = e.len() > 3
        || e.iter()
            .fold(0u32, |value, &byte| (value << 8) | u32::from(byte))
            >= MIN_RSA_EXPONENT;
    odd && large
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// `value` with every object's members in name order, so one key written with its members in
/// another order compares equal, whichever map type serde_json was built with (a dependency
/// such as Cedar turns on its insertion-ordered maps).
fn in_name_order(value: &Value) -> Value {
    match value {
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(name, member)| (name.clone(), in_name_order(member)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(in_name_order).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_entries_are_skipped_and_unfit_ones_kept() {
        let json = br#"{"keys":[
            "not an object",
            {"kty":"RSA","n":"AQAB","e":"AQAB"},
            {"kid":1,"kty":"RSA"},
            {"kid":"no-kty"},
            {"kid":"no-n","kty":"RSA","e":"AQAB"},
            {"kid":"padded","kty":"RSA","n":"AQAB=","e":"AQAB"},
            {"kid":"std-alphabet","kty":"RSA","n":"+/+/","e":"AQAB"},
            {"kid":"ec","kty":"EC","crv":"P-256","x":"AA","y":"AA"},
            {"kid":"weird","kty":"frob"},
            {"kid":"small","kty":"RSA","n":"AQAB","e":"AQAB"}
        ]}"#;
        let set = KeySet::from_json(json).expect("a key set");
        let mut kids: Vec<_> = set.kids().collect();
        kids.sort_unstable();
        assert_eq!(kids, ["ec", "small", "weird"]);
        for kid in kids {
            let error = set
                .get(kid)
                .expect("kept")
                .fit_for(Algorithm::RS256)
                .expect_err("unfit");
            assert_eq!(error.kind(), ErrorKind::InvalidKey, "{kid}");
        }
    }

    #[test]
    fn documents_that_are_not_key_sets_fail_whole() {
        for json in [&b"[]"[..], b"{}", b"{\"keys\":{}}", b"<html>", b""] {
            assert_eq!(
                KeySet::from_json(json).expect_err("not a set"),
                KeySetError::NotAKeySet
            );
        }
        let many = format!(
            "{{\"keys\":[{}]}}",
            vec!["{\"kid\":\"x\",\"kty\":\"EC\"}"; MAX_KEYS + 1].join(",")
        );
        assert_eq!(
            KeySet::from_json(many.as_bytes()).expect_err("too many"),
            KeySetError::TooManyKeys
        );
        assert!(
            KeySet::from_json(b"{\"keys\":[]}")
                .expect("empty is fine")
                .is_empty()
        );
    }

    #[test]
    fn unchanged_keys_keep_their_identity_across_sets() {
        let first =
            KeySet::from_json(br#"{"keys":[{"kid":"a","kty":"EC"},{"kid":"b","kty":"EC"}]}"#)
                .expect("set");
        let mut second = KeySet::from_json(
            br#"{"keys":[{"kty":"EC","kid":"a"},{"kid":"b","kty":"EC","use":"enc"},{"kid":"c","kty":"EC"}]}"#,
        )
        .expect("set");
        second.reuse_unchanged(&first);
        let same = |kid| {
            Arc::ptr_eq(
                first.get(kid).expect("first"),
                second.get(kid).expect("second"),
            )
        };
        assert!(same("a"), "member order does not matter");
        assert!(!same("b"), "a changed JWK is a new key");
        assert!(second.get("c").is_some());

        let third = KeySet::from_json(br#"{"keys":[{"kid":"a","kty":"EC"}]}"#).expect("set");
        first.retire_replaced(&second);
        let current = |set: &KeySet, kid| set.get(kid).expect("kid").is_current();
        assert!(current(&first, "a"), "kept by the replacement");
        assert!(!current(&first, "b"), "changed by the replacement");
        assert!(current(&second, "b") && current(&second, "c"));
        second.retire_replaced(&third);
        assert!(
            !current(&second, "a"),
            "the replacement has its own entry for a"
        );
        assert!(!current(&second, "b") && !current(&second, "c"), "dropped");
    }

    #[test]
    fn rsa_keys_need_an_odd_public_exponent_of_at_least_65537() {
        let jwks: Value =
            serde_json::from_str(crate::test_tokens::issuer().jwks_json()).expect("jwks json");
        let n = jwks["keys"][0]["n"]
            .as_str()
            .expect("the test key's modulus");
        // (the JWK's `e`, its value, whether the key fits)
        let cases = [
            ("AQAB", "65537", true),
            ("AAEAAQ", "65537 with a leading zero byte", true),
            ("AQAD", "65539", true),
            ("AQAAAQ", "2^24 + 1", true),
            ("Aw", "3", false),
            ("AQ", "1", false),
            ("AA", "0", false),
            ("__8", "65535", false),
            ("AQAA", "65536, even", false),
            ("AQAAAA", "2^24, even", false),
        ];
        for (e, value, fits) in cases {
            let json = serde_json::json!({"keys": [{"kid": "k", "kty": "RSA", "n": n, "e": e}]});
            let set = KeySet::from_json(json.to_string().as_bytes()).expect("a key set");
            // Kept whatever its exponent: a token naming it fails check 8, not the lookup.
            let entry = set.get("k").expect("kept");
            for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512] {
                match entry.fit_for(alg) {
                    Ok(_) => assert!(fits, "e = {value} fits {alg:?}"),
                    Err(error) => {
                        assert!(!fits, "e = {value} does not fit {alg:?}: {error}");
                        assert_eq!(error.kind(), ErrorKind::InvalidKey, "e = {value}");
                    }
                }
            }
            assert_eq!(set.has_usable_key(), fits, "e = {value}");
        }
    }

    #[test]
    fn duplicate_kids_keep_the_first_readable_entry() {
        let json = br#"{"keys":[
            {"kid":"a","kty":"RSA","e":"AQAB"},
            {"kid":"a","kty":"EC"},
            {"kid":"a","kty":"oct"}
        ]}"#;
        let set = KeySet::from_json(json).expect("set");
        assert_eq!(set.get("a").expect("kept").kty, "EC");
    }
}
