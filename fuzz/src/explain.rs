//! Triage: what an input means to a target and what the verifier decides.

use std::fmt::Write as _;

use arbitrary::{Arbitrary as _, Unstructured};
use cognito_authz_core::dangerous::decode_unverified;
use cognito_authz_core::jwks::KeySet;
use cognito_authz_core::{IssuerConfig, Policy, PolicyFile};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::fixture::verifiers;
use crate::oracle::complete;
use crate::policy_expr::{policy_set, policy_tokens};
use crate::policy_file::{POLICY_FILE_BASE_DIR, POLICY_FILE_LABEL};
use crate::token_source::{SourceInput, outcome};
use crate::verify_structured::{HEADER, PAYLOAD, TokenSpec, build, render_object};

/// Describes what an input means to a target and what the verifier decides (the `explain`
/// example; for triage, not used by the targets).
pub fn explain(target: &str, data: &[u8]) -> String {
    let mut out = String::new();
    let show_token = |out: &mut String, token: &str| {
        let _ = writeln!(out, "token: {token}");
        match decode_unverified(token) {
            Ok((header, payload)) => {
                let _ = writeln!(
                    out,
                    "header: {}\npayload: {}",
                    Value::from(header),
                    Value::from(payload)
                );
            }
            Err(error) => {
                let _ = writeln!(out, "decode_unverified: {error}");
            }
        }
        for (name, verifier) in [
            ("cached", &verifiers().cached),
            ("uncached", &verifiers().uncached),
        ] {
            let outcome = complete(verifier.verify(token));
            let _ = writeln!(
                out,
                "{name}: {:?}",
                outcome.map(|verified| verified.kid().to_owned())
            );
        }
    };
    match target {
        "verify" => show_token(&mut out, &String::from_utf8_lossy(data)),
        "verify_structured" => match TokenSpec::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(spec) => {
                let (token, genuine, duplicates) = build(&spec);
                let _ = writeln!(out, "spec: {spec:#?}");
                let header =
                    render_object(&HEADER, &spec.header, &spec.extra_header, spec.id_token);
                let payload =
                    render_object(&PAYLOAD, &spec.payload, &spec.extra_payload, spec.id_token);
                let _ = writeln!(out, "header text: {}", header.render(spec.header_layout));
                let _ = writeln!(out, "payload text: {}", payload.render(spec.payload_layout));
                let _ = writeln!(
                    out,
                    "genuine: {}; duplicates: {duplicates}",
                    genuine.as_deref() == Some(token.as_str())
                );
                show_token(&mut out, &token);
            }
            Err(error) => {
                let _ = writeln!(out, "not a spec: {error}");
            }
        },
        "keyset" => {
            let _ = writeln!(
                out,
                "KeySet::from_json: {:?}",
                KeySet::from_json(data)
                    .map(|set| set.kids().map(str::to_owned).collect::<Vec<_>>())
            );
        }
        "policy_expr" => {
            let text = String::from_utf8_lossy(data);
            let _ = writeln!(out, "text: {text:?}");
            match text.parse::<Policy>() {
                Ok(policy) => {
                    let _ = writeln!(out, "parsed: {policy:?}\nprinted: {policy}");
                    let _ = writeln!(out, "reparsed: {:?}", policy.to_string().parse::<Policy>());
                    match policy_set().compile(&policy) {
                        Ok(compiled) => {
                            let _ = writeln!(
                                out,
                                "compiled: {compiled:?}\neffective: {}",
                                compiled.effective()
                            );
                            for token in policy_tokens() {
                                let _ = writeln!(
                                    out,
                                    "{:?} token: {:?} ({})",
                                    token.token_use(),
                                    compiled.evaluate(token),
                                    compiled.explain(token)
                                );
                            }
                        }
                        Err(error) => {
                            let _ = writeln!(out, "compile: {error}");
                        }
                    }
                }
                Err(error) => {
                    let _ = writeln!(
                        out,
                        "error: {error} (text has {} chars)",
                        text.chars().count()
                    );
                }
            }
        }
        "policy_file" => {
            let text = String::from_utf8_lossy(data);
            let _ = writeln!(out, "text: {text:?}");
            match PolicyFile::parse(&text, POLICY_FILE_BASE_DIR, POLICY_FILE_LABEL) {
                Ok(file) => {
                    let _ = writeln!(
                        out,
                        "loaded, issuers: {:?}",
                        file.issuers()
                            .iter()
                            .map(IssuerConfig::name)
                            .collect::<Vec<_>>()
                    );
                    let _ = write!(out, "{file}");
                }
                Err(error) => {
                    let _ = writeln!(out, "error: {error}");
                }
            }
        }
        "token_source" => match SourceInput::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(input) => {
                let _ = writeln!(out, "input: {input:#?}");
                let source = input.source.build();
                let _ = writeln!(out, "source: {source:?}");
                let mut map = HeaderMap::new();
                for header in &input.headers {
                    let mut value = header.prefix.bytes().to_vec();
                    value.extend_from_slice(&header.value);
                    match HeaderValue::from_bytes(&value) {
                        Ok(header_value) => {
                            if let Ok(name) = HeaderName::from_bytes(header.name.name().as_bytes())
                            {
                                map.append(name, header_value);
                            }
                        }
                        Err(_) => {
                            let _ = writeln!(
                                out,
                                "skipped (not a header value): {:?}",
                                String::from_utf8_lossy(&value)
                            );
                        }
                    }
                }
                let _ = writeln!(out, "headers: {map:?}");
                let _ = writeln!(out, "extract: {:?}", outcome(source.extract(&map)));
            }
            Err(error) => {
                let _ = writeln!(out, "not an input: {error}");
            }
        },
        other => {
            let _ = writeln!(out, "unknown target {other:?}");
        }
    }
    out
}
