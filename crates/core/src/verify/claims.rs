//! The verified token handed to policies and handlers: Cognito's standard claims parsed once,
//! plus the raw payload for typed deserialization into the user's own struct.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::verify::registered::{Audience, Claims};

/// Which kind of Cognito token this is (`token_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenUse {
    /// An id token (`token_use = "id"`): identity claims, audience = app client id.
    Id,
    /// An access token (`token_use = "access"`): scopes, `client_id`.
    Access,
}

impl TokenUse {
    /// `"id"` or `"access"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }

    /// Parses `"id"` or `"access"`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "id" => Some(TokenUse::Id),
            "access" => Some(TokenUse::Access),
            _ => None,
        }
    }
}

impl fmt::Display for TokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token that passed every verification check.
///
/// Standard claims are parsed once at verification; [`VerifiedToken::claims`] deserializes the
/// whole payload into any type, `custom:*` attributes included.
///
/// # Example
///
/// ```
/// # use cognito_authz_core::VerifiedToken;
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     sub: String,
///     #[serde(rename = "custom:tenant")]
///     tenant: Option<String>,
/// }
/// fn tenant_of(token: &VerifiedToken) -> Option<String> {
///     token.claims::<MyClaims>().ok()?.tenant
/// }
/// ```
pub struct VerifiedToken {
    pub(crate) issuer_name: Arc<str>,
    /// `iss`, `kid`, `sub`, the user name, the client, `jti`, `origin_jti` and `email`.
    texts: Texts,
    pub(crate) token_use: Option<TokenUse>,
    pub(crate) audiences: Names,
    pub(crate) groups: Names,
    pub(crate) scopes: Names,
    pub(crate) exp: f64,
    pub(crate) nbf: Option<f64>,
    pub(crate) iat: Option<f64>,
    pub(crate) auth_time: Option<f64>,
    /// The payload text as signed: the one copy of the claims; `claim`, `payload` and typed
    /// claims read it on demand.
    pub(crate) payload_json: Box<str>,
    typed: [OnceLock<Typed>; TYPED_SLOTS],
    /// What the typed values in `typed` are charged, and the verified-token cache's meter
    /// while the token is cached (see `charge_typed_value`).
    typed_account: Mutex<TypedAccount>,
    /// The generic-JSON size of the payload, measured when the first typed value is kept.
    json_heap_bytes: OnceLock<usize>,
    /// The revocation store's generation at which this token was last found not revoked.
    pub(crate) revocation_memo: crate::revocation::Memo,
    /// The Cedar entities built from this token, on first use by a Cedar route.
    #[cfg(feature = "cedar")]
    pub(crate) cedar: crate::cedar::EntitySlot,
}

/// Bytes charged for the typed values one token keeps, and where growth is reported while the
/// token sits in a verified-token cache.
#[derive(Debug, Default)]
pub(crate) struct TypedAccount {
    pub(crate) bytes: usize,
    pub(crate) meter: Option<Arc<AtomicUsize>>,
}

impl Clone for VerifiedToken {
    fn clone(&self) -> Self {
        Self {
            issuer_name: Arc::clone(&self.issuer_name),
            texts: self.texts.clone(),
            token_use: self.token_use,
            audiences: self.audiences.clone(),
            groups: self.groups.clone(),
            scopes: self.scopes.clone(),
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
            auth_time: self.auth_time,
            payload_json: self.payload_json.clone(),
            typed: self.typed.clone(),
            // The clone holds the same typed values; it is in no cache.
            typed_account: Mutex::new(TypedAccount {
                bytes: self.account().bytes,
                meter: None,
            }),
            json_heap_bytes: self.json_heap_bytes.clone(),
            // A clone is looked up in the revocation store afresh.
            revocation_memo: crate::revocation::Memo::default(),
            #[cfg(feature = "cedar")]
            cedar: self.cedar.clone(),
        }
    }
}

/// A compact list of names (`cognito:groups`, scopes, audiences): every name in one buffer,
/// with one end offset per name, so thousands of names cost two allocations, not thousands,
/// and a list of a few names one (their ends are kept in place).
///
/// Iterate it, index it with [`Names::get`], or test membership with [`Names::contains`];
/// it compares equal to arrays and slices of strings.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Names {
    text: Box<str>,
    /// Where each of the first [`FIRST_ENDS`] names ends in `text`; zero past the last name,
    /// so equal lists are equal field by field.
    first_ends: [u32; FIRST_ENDS],
    /// Where each later name ends (empty for a list of at most [`FIRST_ENDS`] names).
    later_ends: Box<[u32]>,
    len: usize,
}

/// How many names' ends [`Names`] keeps in place rather than in a buffer of their own.
const FIRST_ENDS: usize = 3;

impl Names {
    /// Builds the list from names, in order (exactly sized: no spare capacity).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let names: Vec<&str> = names.into_iter().collect();
        Self::from_slice(&names)
    }

    /// Builds the list from a slice of names, in order, without an intermediate list.
    pub(crate) fn from_slice<S: AsRef<str>>(names: &[S]) -> Self {
        let mut text = String::with_capacity(names.iter().map(|name| name.as_ref().len()).sum());
        let mut first_ends = [0; FIRST_ENDS];
        let mut later_ends = Vec::with_capacity(names.len().saturating_sub(FIRST_ENDS));
        for (index, name) in names.iter().enumerate() {
            text.push_str(name.as_ref());
            // Names come from a token of at most a few MiB: offsets fit in u32. Were one
            // not to, `get` would find the range out of bounds and answer `None`.
            let end = u32::try_from(text.len()).unwrap_or(u32::MAX);
            match first_ends.get_mut(index) {
                Some(slot) => *slot = end,
                None => later_ends.push(end),
            }
        }
        Self {
            text: text.into_boxed_str(),
            first_ends,
            later_ends: later_ends.into_boxed_slice(),
            len: names.len(),
        }
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the name at `index` ends in the text.
    fn end(&self, index: usize) -> Option<usize> {
        if index >= self.len {
            return None;
        }
        let end = match index.checked_sub(FIRST_ENDS) {
            None => self.first_ends.get(index),
            Some(later) => self.later_ends.get(later),
        };
        end.map(|&end| end as usize)
    }

    /// The name at `index`.
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = self.end(index)?;
        let start = match index.checked_sub(1) {
            Some(before) => self.end(before)?,
            None => 0,
        };
        self.text.get(start..end)
    }

    /// The first name.
    pub fn first(&self) -> Option<&str> {
        self.get(0)
    }

    /// The names, in order.
    pub fn iter(&self) -> NamesIter<'_> {
        NamesIter {
            names: self,
            front: 0,
            back: self.len(),
        }
    }

    /// Whether `name` is one of the names (exact, case-sensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|item| item == name)
    }

    /// The names joined with `separator`.
    pub fn join(&self, separator: &str) -> String {
        self.iter().collect::<Vec<_>>().join(separator)
    }

    /// The names as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }

    /// Binary search in a sorted list; a short list is scanned, comparing lengths first.
    fn binary_contains(&self, name: &str) -> bool {
        if let Some(ends) = self.first_ends.get(..self.len) {
            let (text, mut start) = (self.text.as_bytes(), 0);
            for &end in ends {
                let end = end as usize;
                if end.checked_sub(start) == Some(name.len())
                    && text.get(start..end) == Some(name.as_bytes())
                {
                    return true;
                }
                start = end;
            }
            return false;
        }
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match self.get(middle).unwrap_or_default().cmp(name) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    /// Heap bytes held (both buffers, with the allocator's per-allocation overhead).
    pub(crate) fn heap_bytes(&self) -> usize {
        heap_allocation(self.text.len()) + heap_allocation(self.later_ends.len() * 4)
    }
}

/// An iterator over [`Names`].
#[derive(Debug, Clone)]
pub struct NamesIter<'a> {
    names: &'a Names,
    front: usize,
    back: usize,
}

impl<'a> Iterator for NamesIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        self.names.get(self.front - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.back - self.front;
        (left, Some(left))
    }
}

impl DoubleEndedIterator for NamesIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.names.get(self.back)
    }
}

impl ExactSizeIterator for NamesIter<'_> {}

impl<'a> IntoIterator for &'a Names {
    type Item = &'a str;
    type IntoIter = NamesIter<'a>;

    fn into_iter(self) -> NamesIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl serde::Serialize for Names {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Names {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Names {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for &Names {
    fn eq(&self, other: &[S; N]) -> bool {
        **self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Names {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

/// Which string of a token a [`Texts`] slot holds.
#[derive(Debug, Clone, Copy)]
enum Text {
    Issuer,
    Kid,
    Sub,
    Username,
    Client,
    Jti,
    OriginJti,
    Email,
}

/// How many strings [`Texts`] holds (one per [`Text`]).
const TEXTS: usize = 8;

/// A token's single strings (`iss`, `kid`, `sub`, the user name, the client, `jti`,
/// `origin_jti`, `email`) in one buffer: verifying a token allocates once for all of them.
#[derive(Debug, Clone, Default)]
struct Texts {
    text: Box<str>,
    /// Where each string ends in `text`; each starts where the one before it ends.
    ends: [usize; TEXTS],
    /// One bit per string present (an absent one is empty in `text`).
    present: u8,
}

impl Texts {
    /// The strings, in the order of [`Text`].
    fn new(values: [Option<&str>; TEXTS]) -> Self {
        let mut text =
            String::with_capacity(values.iter().flatten().map(|value| value.len()).sum());
        let mut ends = [0; TEXTS];
        let mut present = 0_u8;
        for (bit, (value, end)) in values.iter().zip(&mut ends).enumerate() {
            if let Some(value) = value {
                text.push_str(value);
                present |= 1 << bit;
            }
            *end = text.len();
        }
        Self {
            text: text.into_boxed_str(),
            ends,
            present,
        }
    }

    fn get(&self, which: Text) -> Option<&str> {
        let index = which as usize;
        if self.present & (1 << index) == 0 {
            return None;
        }
        let start = match index.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.get(start..*self.ends.get(index)?)
    }
}

/// Scopes sorted and deduplicated without more than a handful of borrowed slices on the stack
/// (a list on the heap only for a long `scope`), then copied once into an exactly sized buffer.
fn scopes(scope: &str) -> Names {
    /// Scopes sorted on the stack; a token with more sorts them in a list.
    const FEW: usize = 16;
    let mut few = [""; FEW];
    let mut count = 0;
    let mut many = Vec::new();
    // One pass over the bytes: a scope is a run of bytes other than a space (a space is one
    // byte in UTF-8, so every run is whole characters).
    let mut start = 0;
    for word in scope.as_bytes().split(|&byte| byte == b' ') {
        let end = start + word.len();
        if let Some(word) = scope.get(start..end).filter(|word| !word.is_empty()) {
            if let Some(slot) = few.get_mut(count) {
                *slot = word;
                count += 1;
            } else {
                if many.is_empty() {
                    many.extend_from_slice(&few);
                }
                many.push(word);
            }
        }
        start = end + 1;
    }
    let list: &mut [&str] = if many.is_empty() {
        few.get_mut(..count).unwrap_or_default()
    } else {
        &mut many
    };
    list.sort_unstable();
    // Deduplicate in place: `kept` names are distinct; each later one is kept if it differs
    // from the last kept.
    let mut kept = 0;
    for index in 0..list.len() {
        if kept == 0 || list.get(kept - 1) != list.get(index) {
            list.swap(kept, index);
            kept += 1;
        }
    }
    Names::from_slice(list.get(..kept).unwrap_or_default())
}

/// What one heap allocation of `bytes` costs: the bytes, rounded up to the allocator's
/// 16-byte granularity, plus its bookkeeping (`0` for an empty buffer, which allocates nothing).
pub(crate) fn heap_allocation(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        bytes.div_ceil(16) * 16 + ALLOCATION_OVERHEAD
    }
}

/// Allocator bookkeeping per allocation (glibc malloc: 8 to 16 bytes).
pub(crate) const ALLOCATION_OVERHEAD: usize = 16;

/// How many claim types one token keeps deserialized ([`VerifiedToken::shared_claims`]): a
/// service reads its tokens into one or two types, so four bounds the memory a cached token
/// can grow by without ever missing in practice.
const TYPED_SLOTS: usize = 4;

/// One deserialized claims value and its type.
type Typed = (TypeId, Arc<dyn Any + Send + Sync>);

impl VerifiedToken {
    /// Builds the view from claims that passed checks 2–3, still without the payload text
    /// (the claims borrow it): the caller sets `payload_json` in place once they are gone, so
    /// the text decoded from the token is kept, never copied, and the token is not moved for
    /// it.
    /// A token an Application Load Balancer signed, for app client `client` (its header's,
    /// checked): the payload is the identity provider's user-info, which grants no Cognito
    /// groups, scopes or token use whatever claims of those names it holds.
    #[cfg(feature = "alb")]
    pub(crate) fn from_alb_claims(
        issuer_name: Arc<str>,
        kid: &str,
        mut claims: Claims<'_>,
        client: &str,
    ) -> Self {
        claims.groups = None;
        claims.scope = None;
        claims.token_use = None;
        claims.aud = Audience::Absent;
        claims.client_id = Some(std::borrow::Cow::Owned(client.to_owned()));
        Self::from_claims(issuer_name, kid, claims)
    }

    pub(crate) fn from_claims(issuer_name: Arc<str>, kid: &str, claims: Claims<'_>) -> Self {
        let token_use = claims.token_use.as_deref().and_then(TokenUse::parse);
        let audiences = match &claims.aud {
            Audience::Absent => Names::default(),
            Audience::One(aud) => Names::from_slice(&[aud]),
            Audience::Many(items) => Names::from_slice(items),
        };
        let client_id = claims.client_id.as_deref();
        let client = match token_use {
            Some(TokenUse::Access) => client_id,
            Some(TokenUse::Id) => audiences.first(),
            None => client_id.or_else(|| audiences.first()),
        };
        let username = claims
            .cognito_username
            .as_deref()
            .or(claims.username.as_deref());
        let texts = Texts::new([
            Some(claims.iss.as_deref().unwrap_or_default()),
            Some(kid),
            claims.sub.as_deref(),
            username,
            client,
            claims.jti.as_deref(),
            claims.origin_jti.as_deref(),
            claims.email.as_deref(),
        ]);
        let groups = claims
            .groups
            .map(|groups| Names::from_slice(groups.as_slice()))
            .unwrap_or_default();
        Self {
            exp: claims.exp.unwrap_or(0.0),
            nbf: claims.nbf,
            iat: claims.iat,
            auth_time: claims.auth_time,
            issuer_name,
            texts,
            token_use,
            audiences,
            groups,
            scopes: scopes(claims.scope.as_deref().unwrap_or_default()),
            payload_json: Box::default(),
            typed: Default::default(),
            typed_account: Mutex::new(TypedAccount::default()),
            json_heap_bytes: OnceLock::new(),
            revocation_memo: crate::revocation::Memo::default(),
            #[cfg(feature = "cedar")]
            cedar: crate::cedar::EntitySlot::default(),
        }
    }

    /// Heap bytes verification built for this token (every owned buffer, with allocator
    /// overhead), not counting the `VerifiedToken` itself, the issuer name it shares with its
    /// configuration, or typed values kept later by [`VerifiedToken::shared_claims`] (charged
    /// separately, see `charge_typed_value`). Never changes.
    pub(crate) fn fixed_heap_bytes(&self) -> usize {
        heap_allocation(self.texts.text.len())
            + heap_allocation(self.payload_json.len())
            + self.audiences.heap_bytes()
            + self.groups.heap_bytes()
            + self.scopes.heap_bytes()
    }

    pub(crate) fn account(&self) -> std::sync::MutexGuard<'_, TypedAccount> {
        // Two plain fields updated together under the lock: a poisoned lock is still usable.
        self.typed_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Builds a token from payload JSON text, for tests of the code that reads tokens.
    #[cfg(test)]
    pub(crate) fn from_payload(issuer_name: Arc<str>, kid: &str, payload_json: &str) -> Self {
        let claims = Claims::parse(payload_json).expect("test payloads are well-formed");
        let mut token = Self::from_claims(issuer_name, kid, claims);
        token.payload_json = payload_json.into();
        token
    }

    /// The configured name of the issuer that accepted the token (policy atom `issuer:`).
    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> &str {
        self.texts.get(Text::Issuer).unwrap_or_default()
    }

    /// The `kid` of the key that verified the signature.
    pub fn kid(&self) -> &str {
        self.texts.get(Text::Kid).unwrap_or_default()
    }

    /// `token_use`: always present for Cognito issuers; `None` only for generic OIDC tokens
    /// without it.
    pub fn token_use(&self) -> Option<TokenUse> {
        self.token_use
    }

    /// The `sub` claim (the user's or machine client's stable id).
    pub fn sub(&self) -> Option<&str> {
        self.texts.get(Text::Sub)
    }

    /// The user name: `cognito:username` in id tokens, `username` in access tokens.
    pub fn username(&self) -> Option<&str> {
        self.texts.get(Text::Username)
    }

    /// The app client: `aud` for id tokens, `client_id` for access tokens.
    pub fn client_id(&self) -> Option<&str> {
        self.texts.get(Text::Client)
    }

    /// Every `aud` value (one for Cognito id tokens, none for access tokens).
    pub fn audiences(&self) -> &Names {
        &self.audiences
    }

    /// `cognito:groups`, in token order (empty when absent).
    pub fn groups(&self) -> &Names {
        &self.groups
    }

    /// Whether `cognito:groups` contains `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.contains(group)
    }

    /// The scopes of `scope`, split on spaces, sorted and deduplicated.
    pub fn scopes(&self) -> &Names {
        &self.scopes
    }

    /// Whether the token grants `scope` (exact, case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.binary_contains(scope)
    }

    /// `exp`, seconds since the epoch.
    pub fn expires_at(&self) -> f64 {
        self.exp
    }

    /// `nbf`, if present.
    pub fn not_before(&self) -> Option<f64> {
        self.nbf
    }

    /// `iat`, if present.
    pub fn issued_at(&self) -> Option<f64> {
        self.iat
    }

    /// `auth_time`, if present.
    pub fn auth_time(&self) -> Option<f64> {
        self.auth_time
    }

    /// `jti`, if present.
    pub fn jti(&self) -> Option<&str> {
        self.texts.get(Text::Jti)
    }

    /// `origin_jti`, if present.
    pub fn origin_jti(&self) -> Option<&str> {
        self.texts.get(Text::OriginJti)
    }

    /// `email`, if present as a string.
    pub fn email(&self) -> Option<&str> {
        self.texts.get(Text::Email)
    }

    /// Any claim by name, e.g. `claim("custom:tenant")`, read from the payload text.
    ///
    /// Each call reads the payload (only the named member is built); a token keeps its claims
    /// once, as the signed text, rather than also as a JSON tree.
    pub fn claim(&self, name: &str) -> Option<Value> {
        let mut reader = serde_json::Deserializer::from_str(&self.payload_json);
        // The text parsed as a JSON object without duplicate members during verification,
        // so this cannot fail; "absent" is the fail-closed answer if it somehow did.
        FindMember(name).deserialize(&mut reader).ok().flatten()
    }

    /// The whole payload as a JSON object, built from the payload text on each call.
    pub fn payload(&self) -> Map<String, Value> {
        // As in `claim`: the text is a verified JSON object; empty is the fail-closed answer.
        serde_json::from_str(&self.payload_json).unwrap_or_default()
    }

    /// The payload exactly as signed (decoded JSON text).
    pub fn payload_json(&self) -> &str {
        &self.payload_json
    }

    /// Deserializes the whole payload into `T` (on each call; see
    /// [`VerifiedToken::shared_claims`] for a value kept with the token).
    ///
    /// # Errors
    /// The payload does not fit `T`.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.payload_json)
    }

    /// The payload deserialized into `T` once per token and type, then shared.
    ///
    /// What the adapters' `Claims<T>` extractors hand to handlers: a token served from the
    /// verified-token cache yields the same `Arc<T>` on every request, so reading typed claims
    /// costs a reference count, not a deserialization. A token keeps values of up to four
    /// types; a fifth type is deserialized on each call. A payload that does not fit `T` is not
    /// kept (each call reports the error). While the token is in the verified-token cache,
    /// each kept value counts against the cache's byte bound.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use cognito_authz_core::{CognitoClaims, VerifiedToken};
    /// fn user(token: &VerifiedToken) -> Option<String> {
    ///     let claims: Arc<CognitoClaims> = token.shared_claims().ok()?;
    ///     claims.username.clone()
    /// }
    /// ```
    ///
    /// # Errors
    /// The payload does not fit `T`.
    pub fn shared_claims<T>(&self) -> Result<Arc<T>, serde_json::Error>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let id = TypeId::of::<T>();
        let mut fresh: Option<Arc<T>> = None;
        for slot in &self.typed {
            if slot.get().is_none() {
                let value = match &fresh {
                    Some(value) => Arc::clone(value),
                    None => Arc::clone(fresh.insert(Arc::new(self.claims::<T>()?))),
                };
                // Losing the race to another thread is fine: it stored this type or another.
                if slot.set((id, value)).is_ok() {
                    self.charge_typed_value(std::mem::size_of::<T>());
                }
            }
            if let Some((slot_id, value)) = slot.get()
                && *slot_id == id
                && let Ok(value) = Arc::clone(value).downcast::<T>()
            {
                return Ok(value);
            }
        }
        match fresh {
            Some(value) => Ok(value),
            None => self.claims::<T>().map(Arc::new),
        }
    }
}

impl VerifiedToken {
    /// Charges a typed value just kept: the size of its type plus what the payload takes as a
    /// generic JSON tree (what a type mirroring the payload holds on the heap; the library
    /// cannot see inside the application's types). Reported to the verified-token cache's
    /// meter while the token is cached, so the cache's byte bound covers it.
    ///
    /// A token outside any cache is not measured: it is inserted (if at all) by the
    /// verification that built it, before anyone can keep a typed value on it, so one not linked
    /// to a meter now never will be (and verifying without a cache pays nothing here).
    fn charge_typed_value(&self, inline: usize) {
        let mut account = self.account();
        let Some(meter) = account.meter.clone() else {
            return;
        };
        let json = *self
            .json_heap_bytes
            .get_or_init(|| json_heap_bytes(&self.payload_json));
        let bytes = heap_allocation(2 * std::mem::size_of::<usize>() + inline) + json;
        account.bytes += bytes;
        meter.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Finds one top-level member of a JSON object, skipping the others without building them.
struct FindMember<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for FindMember<'_> {
    type Value = Option<Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<Self::Value, D::Error> {
        reader.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FindMember<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(matches) = map.next_key_seed(KeyIs(self.0))? {
            if matches && found.is_none() {
                found = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Compares a member name with the one sought, escaped or not, without keeping it.
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<bool, D::Error> {
        reader.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

/// What the payload would take on the heap as a `serde_json::Value` tree (strings, arrays,
/// object nodes and member names, with allocator overhead), measured in one pass without
/// building it.
fn json_heap_bytes(payload_json: &str) -> usize {
    let mut reader = serde_json::Deserializer::from_str(payload_json);
    // The text is a verified JSON object; were it not, the payload length is a floor.
    JsonSize
        .deserialize(&mut reader)
        .unwrap_or(payload_json.len())
}

/// Measures a JSON value's `serde_json::Value` heap size.
struct JsonSize;

/// `size_of::<serde_json::Value>()` on 64-bit targets.
const JSON_VALUE_BYTES: usize = 32;
/// A `BTreeMap<String, Value>` node: up to 11 members of key plus value, and links.
const JSON_OBJECT_NODE_BYTES: usize = 11 * (24 + JSON_VALUE_BYTES) + 8 * 12 + 16;

impl<'de> DeserializeSeed<'de> for JsonSize {
    type Value = usize;

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<usize, D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonSize {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_i64<E>(self, _: i64) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_u64<E>(self, _: u64) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_f64<E>(self, _: f64) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_unit<E>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_str<E>(self, text: &str) -> Result<usize, E> {
        Ok(heap_allocation(text.len()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<usize, A::Error> {
        let (mut count, mut inner) = (0_usize, 0_usize);
        while let Some(size) = items.next_element_seed(JsonSize)? {
            count += 1;
            inner += size;
        }
        // A Vec grown by pushing holds up to twice its length.
        Ok(inner
            + heap_allocation(count.next_power_of_two() * JSON_VALUE_BYTES)
                * usize::from(count > 0))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<usize, A::Error> {
        let (mut count, mut inner) = (0_usize, 0_usize);
        while let Some(name) = members.next_key_seed(JsonSize)? {
            count += 1;
            inner += name + members.next_value_seed(JsonSize)?;
        }
        // B-tree nodes are at least half full, except the root.
        let nodes = if count == 0 { 0 } else { count / 5 + 1 };
        Ok(inner + nodes * heap_allocation(JSON_OBJECT_NODE_BYTES))
    }
}

impl fmt::Debug for VerifiedToken {
    // Claims may be personal data; Debug shows who and what, not the payload.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("issuer", &self.issuer_name)
            .field("token_use", &self.token_use)
            .field("sub", &self.sub())
            .field("client_id", &self.client_id())
            .field("groups", &self.groups)
            .field("scopes", &self.scopes)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

/// Cognito's standard claims as a plain struct, the default target of typed extractors.
///
/// Every field is optional so the same type reads id and access tokens.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[non_exhaustive]
pub struct CognitoClaims {
    /// `sub`.
    #[serde(default)]
    pub sub: Option<String>,
    /// `iss`.
    #[serde(default)]
    pub iss: Option<String>,
    /// `token_use`.
    #[serde(default)]
    pub token_use: Option<String>,
    /// `cognito:username` (id tokens).
    #[serde(default, rename = "cognito:username")]
    pub cognito_username: Option<String>,
    /// `username` (access tokens).
    #[serde(default)]
    pub username: Option<String>,
    /// `client_id` (access tokens).
    #[serde(default)]
    pub client_id: Option<String>,
    /// `aud` (id tokens).
    #[serde(default)]
    pub aud: Option<Value>,
    /// `cognito:groups`.
    #[serde(default, rename = "cognito:groups")]
    pub groups: Option<Vec<String>>,
    /// `scope` as sent (space-separated).
    #[serde(default)]
    pub scope: Option<String>,
    /// `email` (id tokens).
    #[serde(default)]
    pub email: Option<String>,
    /// `exp`.
    #[serde(default)]
    pub exp: Option<f64>,
    /// `iat`.
    #[serde(default)]
    pub iat: Option<f64>,
    /// `auth_time`.
    #[serde(default)]
    pub auth_time: Option<f64>,
    /// `jti`.
    #[serde(default)]
    pub jti: Option<String>,
    /// `origin_jti`.
    #[serde(default)]
    pub origin_jti: Option<String>,
}

#[cfg(test)]
mod adversarial;

#[cfg(test)]
mod tests {
    use super::*;

    /// A token's scopes, up to five words with repeats, any order and runs
    /// of spaces, hold exactly the words it names: no prefix, extension, empty name, space or
    /// multi-byte near miss matches, whether the list is scanned (up to 3) or searched.
    #[test]
    fn has_scope_is_exactly_membership_of_the_scope_words() {
        const WORDS: [&str; 5] = ["a", "ab", "b", "aa", "\u{e9}"];
        const ASKED: [&str; 10] = ["a", "ab", "b", "aa", "\u{e9}", "", " ", "a ", "abc", "e"];
        let mut checked = 0;
        for count in 0..=5_u32 {
            for pick in 0..5_usize.pow(count) {
                let words: Vec<&str> = (0..count)
                    .map(|i| WORDS[pick / 5_usize.pow(i) % 5])
                    .collect();
                for separator in [" ", "  "] {
                    let scope = format!(" {} ", words.join(separator));
                    let payload = serde_json::json!({"exp": 1, "scope": scope}).to_string();
                    let token = VerifiedToken::from_payload(Arc::from("main"), "k", &payload);
                    for asked in ASKED {
                        assert_eq!(
                            token.has_scope(asked),
                            words.contains(&asked),
                            "{scope:?} has {asked:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 60_000, "{checked}");
        // Unsorted and duplicated short lists are scanned whole.
        for list in [["b", "a", "a"], ["b", "b", "a"], ["", "b", "a"]] {
            let names = Names::new(list);
            for asked in ["a", "b", "", "ab", "ba"] {
                assert_eq!(
                    names.binary_contains(asked),
                    list.contains(&asked),
                    "{list:?} {asked:?}"
                );
            }
        }
    }

    /// A sorted list of any count (scanned while short, searched beyond) finds each of its
    /// names and nothing else: not a prefix, an extension or a name between two of them.
    #[test]
    fn a_sorted_list_of_any_count_contains_exactly_its_names() {
        for count in 0..=8 {
            let list: Vec<String> = (0..count)
                .map(|i| format!("scope/{:02}", 2 * i + 1))
                .collect();
            let names = Names::from_slice(&list);
            for name in &list {
                assert!(names.binary_contains(name), "{count}: {name}");
                assert!(
                    !names.binary_contains(&name[..name.len() - 1]),
                    "{count}: prefix"
                );
                assert!(
                    !names.binary_contains(&format!("{name}0")),
                    "{count}: extension"
                );
            }
            for i in 0..=count {
                let between = format!("scope/{:02}", 2 * i);
                assert!(!names.binary_contains(&between), "{count}: {between}");
            }
            assert!(!names.binary_contains(""), "{count}: empty");
        }
        let with_empty = Names::new(["", "a"]);
        assert!(with_empty.binary_contains("") && with_empty.binary_contains("a"));
    }

    /// Lists of every count around the ends kept in place read back as built, compare and hash
    /// by content, and are charged one buffer until their ends need one of their own.
    #[test]
    fn names_of_any_count_read_back_and_compare_by_content() {
        use std::hash::{BuildHasher, RandomState};
        let hasher = RandomState::new();
        for count in 0..=8 {
            let list: Vec<String> = (0..count).map(|i| "n".repeat(i % 3)).collect();
            let names = Names::new(list.iter().map(String::as_str));
            assert_eq!(names.len(), count);
            assert_eq!(names.to_vec(), list);
            assert_eq!(names.iter().rev().count(), count);
            assert_eq!(names.get(count), None);
            let again = Names::from_slice(&list);
            assert_eq!(names, again);
            assert_eq!(hasher.hash_one(&names), hasher.hash_one(&again));
            let longer = Names::new(list.iter().map(String::as_str).chain(["x"]));
            assert_ne!(names, longer);
            let text: usize = list.iter().map(String::len).sum();
            assert_eq!(
                names.heap_bytes(),
                heap_allocation(text) + heap_allocation(count.saturating_sub(FIRST_ENDS) * 4)
            );
        }
        assert_ne!(Names::new([""]), Names::default());
    }

    #[derive(Debug, serde::Deserialize)]
    struct Name {
        username: String,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Tenant {
        #[serde(rename = "custom:tenant")]
        tenant: String,
    }

    fn token(payload: &str) -> VerifiedToken {
        VerifiedToken::from_payload(Arc::from("main"), "k", payload)
    }

    #[test]
    fn shared_claims_are_deserialized_once_per_type() {
        let token = token(r#"{"username":"ann","custom:tenant":"acme"}"#);
        let first = token.shared_claims::<Name>().expect("fits");
        let again = token.shared_claims::<Name>().expect("fits");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(again.username, "ann");
        let tenant = token.shared_claims::<Tenant>().expect("fits");
        assert_eq!(tenant.tenant, "acme");
        assert!(Arc::ptr_eq(
            &tenant,
            &token.shared_claims::<Tenant>().expect("fits")
        ));
        let standard = token.shared_claims::<CognitoClaims>().expect("fits");
        assert_eq!(standard.username.as_deref(), Some("ann"));
    }

    #[test]
    fn a_payload_that_does_not_fit_is_an_error_every_time_and_takes_no_slot() {
        let token = token(r#"{"username":"ann"}"#);
        for _ in 0..(TYPED_SLOTS + 1) {
            assert!(token.shared_claims::<Tenant>().is_err());
        }
        assert!(token.typed.iter().all(|slot| slot.get().is_none()));
        assert!(token.shared_claims::<Name>().is_ok());
    }

    #[test]
    fn types_beyond_the_slots_are_deserialized_on_each_call() {
        #[derive(serde::Deserialize)]
        struct A {}
        #[derive(serde::Deserialize)]
        struct B {}
        #[derive(serde::Deserialize)]
        struct C {}
        #[derive(serde::Deserialize)]
        struct D {}
        let token = token(r#"{"username":"ann"}"#);
        token.shared_claims::<A>().expect("fits");
        token.shared_claims::<B>().expect("fits");
        token.shared_claims::<C>().expect("fits");
        token.shared_claims::<D>().expect("fits");
        let fifth = token.shared_claims::<Name>().expect("fits");
        let again = token.shared_claims::<Name>().expect("fits");
        assert!(!Arc::ptr_eq(&fifth, &again), "no slot left to keep it");
        assert_eq!(again.username, "ann");
    }

    #[test]
    fn threads_racing_for_slots_each_get_their_own_type() {
        let token = token(r#"{"username":"ann","custom:tenant":"acme"}"#);
        std::thread::scope(|scope| {
            for round in 0..8 {
                let token = &token;
                scope.spawn(move || {
                    if round % 2 == 0 {
                        assert_eq!(token.shared_claims::<Name>().expect("fits").username, "ann");
                    } else {
                        assert_eq!(
                            token.shared_claims::<Tenant>().expect("fits").tenant,
                            "acme"
                        );
                    }
                });
            }
        });
        let kept = token
            .typed
            .iter()
            .filter(|slot| slot.get().is_some())
            .count();
        assert!((2..=TYPED_SLOTS).contains(&kept), "{kept} slots used");
    }
}
