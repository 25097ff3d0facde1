//! What a new user meets first, kept true: each Rust example of the README states, in the
//! dependency block above it, every crate and feature it uses (the doctests compile the
//! examples; this checks that copying the two blocks into a new project is enough), and the
//! root package's dev-dependencies stay free of the benchmarks' peers, which
//! `cargo run --example quickstart` would otherwise build.

use std::collections::{BTreeMap, BTreeSet};

const README: &str = include_str!("../README.md");
const MANIFEST: &str = include_str!("../Cargo.toml");

/// A fenced block of the README: its language, its `## ` section and its text.
#[derive(Debug)]
struct Block {
    language: String,
    section: String,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut open: Option<(String, String)> = None;
    for line in markdown.lines() {
        match &mut open {
            Some((language, text)) => {
                if line.starts_with("```") {
                    blocks.push(Block {
                        language: std::mem::take(language),
                        section: section.clone(),
                        text: std::mem::take(text),
                    });
                    open = None;
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            None => {
                if let Some(heading) = line.strip_prefix("## ") {
                    heading.clone_into(&mut section);
                } else if let Some(info) = line.strip_prefix("```") {
                    // `rust,ignore` fragments (calls into other SDKs) are not compiled, so
                    // they are not examples to copy into a project.
                    let language = if info.split(',').any(|part| part == "ignore") {
                        "ignore"
                    } else {
                        info.split(',').next().unwrap_or_default()
                    };
                    open = Some((language.to_owned(), String::new()));
                }
            }
        }
    }
    blocks
}

/// A dependency as a README block or a manifest states it.
#[derive(Debug, Default)]
struct Dependency {
    version: String,
    features: BTreeSet<String>,
    default_features: bool,
}

/// The `name = …` lines of the given tables of a TOML text (inline tables on one line).
fn dependencies(toml: &str, tables: &[&str]) -> BTreeMap<String, Dependency> {
    let mut table = String::new();
    let mut out = BTreeMap::new();
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            line.trim_matches(['[', ']']).clone_into(&mut table);
            continue;
        }
        if !tables.contains(&table.as_str()) {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        let name = name.strip_suffix(".workspace").unwrap_or(name);
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        // crates.io treats `-` and `_` in names alike (`lambda_http`); compare them so.
        let name = &name.replace('_', "-");
        let quoted = |key: &str| {
            value
                .split_once(key)
                .and_then(|(_, rest)| rest.split('"').nth(1))
                .unwrap_or_default()
                .to_owned()
        };
        let version = if value.starts_with('"') {
            value.trim_matches('"').to_owned()
        } else {
            quoted("version")
        };
        let features = value
            .split_once("features = [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(list, _)| {
                list.split(',')
                    .map(|feature| feature.trim().trim_matches('"').to_owned())
                    .filter(|feature| !feature.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            name.to_owned(),
            Dependency {
                version,
                features,
                default_features: !value.contains("default-features = false"),
            },
        );
    }
    out
}

/// Identifiers of a Rust text, with the character before each.
fn identifiers(text: &str) -> Vec<(Option<char>, String, &str)> {
    let mut out = Vec::new();
    let mut previous = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_alphabetic() || c == '_' {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push((previous, rest[..end].to_owned(), &rest[end..]));
            previous = rest[..end].chars().last();
            rest = &rest[end..];
        } else {
            previous = Some(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// What a snippet uses: external crates (by their Cargo name) and, for cognito-authz and
/// tokio, the features its paths need.
fn used(snippet: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut imported = BTreeSet::new();
    let mut crates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut body = String::new();
    let mut statement = String::new();
    for line in snippet.lines() {
        if line.starts_with("use ") || !statement.is_empty() {
            statement.push_str(line);
            if line.trim_end().ends_with(';') {
                let tree = statement.trim_start_matches("use ").trim_end_matches(';');
                let root = tree.split("::").next().unwrap_or_default().trim();
                if ["std", "core", "alloc", "crate", "self", "super"].contains(&root) {
                    statement.clear();
                    continue;
                }
                let features = crates.entry(root.replace('_', "-")).or_default();
                for (_, name, after) in identifiers(tree).into_iter().skip(1) {
                    if root == "cognito_authz"
                        && after.starts_with("::")
                        && ["axum", "actix", "tower", "testkit"].contains(&name.as_str())
                    {
                        features.insert(name.clone());
                    }
                    imported.insert(name);
                }
                statement.clear();
            }
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    for (before, name, after) in identifiers(&body) {
        let starts_path = before.is_none_or(|c| !(c == ':' || c.is_ascii_alphanumeric()));
        if !starts_path || !after.starts_with("::") || imported.contains(&name) {
            continue;
        }
        if ["std", "core", "alloc", "crate", "self", "super", "Self"].contains(&name.as_str())
            || name.starts_with(|c: char| c.is_ascii_uppercase())
        {
            continue;
        }
        let features = crates.entry(name.replace('_', "-")).or_default();
        if name == "tokio" {
            let path = after.trim_start_matches("::");
            if path.starts_with("main") {
                features.extend(["macros".to_owned(), "rt-multi-thread".to_owned()]);
            } else if path.starts_with("test") {
                features.extend(["macros".to_owned(), "rt".to_owned()]);
            } else if path.starts_with("net") {
                features.insert("net".to_owned());
            }
        }
    }
    crates
}

/// Caret compatibility of two version requirements: the same first non-zero component.
fn compatible(readme: &str, workspace: &str) -> bool {
    let significant = |version: &str| -> Vec<String> {
        let parts: Vec<String> = version.split('.').map(str::to_owned).collect();
        let end = parts
            .iter()
            .position(|part| part != "0")
            .map_or(parts.len(), |i| i + 1);
        parts[..end.min(parts.len())].to_vec()
    };
    let (readme, workspace) = (significant(readme), significant(workspace));
    readme.len() <= workspace.len() && workspace.starts_with(&readme)
}

#[test]
fn every_readme_rust_example_lists_the_crates_and_features_it_uses() {
    let blocks = blocks(README);
    let workspace = dependencies(MANIFEST, &["workspace.dependencies"]);
    let snippets: Vec<&Block> = blocks.iter().filter(|b| b.language == "rust").collect();
    assert!(snippets.len() >= 4, "README Rust examples went missing");
    for (index, snippet) in snippets.iter().enumerate() {
        let position = blocks
            .iter()
            .position(|block| std::ptr::eq(block, *snippet))
            .unwrap_or_default();
        let stated = blocks[..position]
            .iter()
            .rev()
            .take_while(|block| block.section == snippet.section)
            .filter(|block| block.language == "toml")
            .map(|block| dependencies(&block.text, &["dependencies", "dev-dependencies"]))
            .find(|deps| deps.contains_key("cognito-authz"))
            .unwrap_or_else(|| {
                panic!(
                    "README example {index} (\"## {}\") has no dependency block above it",
                    snippet.section
                )
            });
        for (name, features) in used(&snippet.text) {
            let dependency = stated.get(&name).unwrap_or_else(|| {
                panic!(
                    "README example {index} (\"## {}\") uses `{name}` but its dependency block \
                     does not list it",
                    snippet.section
                )
            });
            for feature in &features {
                let has = dependency.features.contains(feature)
                    || (feature == "rt" && dependency.features.contains("rt-multi-thread"));
                assert!(
                    has,
                    "README example {index} (\"## {}\") needs feature `{feature}` of `{name}`",
                    snippet.section
                );
            }
            assert!(
                dependency.default_features,
                "{name}: default features are needed"
            );
            if let Some(ours) = workspace.get(&name) {
                assert!(
                    compatible(&dependency.version, &ours.version),
                    "README asks for {name} {:?}, the workspace builds with {:?}",
                    dependency.version,
                    ours.version
                );
            }
        }
    }
}

#[test]
fn the_dependency_check_sees_what_a_snippet_uses() {
    let snippet = "use axum::{Router, routing::get};\nuse cognito_authz::{Authorizer, axum::{AuthzLayer}};\n\
                   #[tokio::main]\nasync fn main() { let l = tokio::net::TcpListener::bind(\"\"); \
                   std::process::exit(0); Router::new().route(\"/\", get(h)); }\n";
    let used = used(snippet);
    let names: Vec<&str> = used.keys().map(String::as_str).collect();
    assert_eq!(names, ["axum", "cognito-authz", "tokio"]);
    assert_eq!(used["cognito-authz"], BTreeSet::from(["axum".to_owned()]));
    assert_eq!(
        used["tokio"],
        BTreeSet::from([
            "macros".to_owned(),
            "net".to_owned(),
            "rt-multi-thread".to_owned()
        ])
    );
    assert!(compatible("0.8", "0.8"));
    assert!(compatible("4", "4.9"));
    assert!(!compatible("0.7", "0.8"));
}

#[test]
fn the_root_package_does_not_build_the_benchmarks_peers() {
    let dev = dependencies(MANIFEST, &["dev-dependencies"]);
    for peer in [
        "criterion",
        "jsonwebtoken",
        "tower-oauth2-resource-server",
        "actix-web-httpauth",
        "proptest",
    ] {
        assert!(
            !dev.contains_key(peer),
            "{peer} is a root dev-dependency: every `cargo run --example` would build it; \
             it belongs in benches/Cargo.toml"
        );
    }
    assert!(
        !dev.is_empty(),
        "the manifest parser found no dev-dependencies"
    );
}

#[test]
fn the_readme_states_the_minimum_rust_of_the_manifest() {
    let version = MANIFEST
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .expect("rust-version in Cargo.toml")
        .trim_matches('"');
    assert!(
        README.contains(&format!("Minimum Rust: {version} ")),
        "README must state the minimum Rust {version}"
    );
    assert!(README.contains("cargo install --locked"));
}

#[test]
fn the_cognito_pool_guide_policy_files_load() {
    let guide = include_str!("../docs/cognito-pool.md");
    let files: Vec<Block> = blocks(guide)
        .into_iter()
        .filter(|block| block.language == "toml" && block.text.contains("[[issuer]]"))
        .collect();
    assert!(files.len() >= 2, "the guide's policy files went missing");
    for (index, block) in files.iter().enumerate() {
        if let Err(error) =
            cognito_authz::PolicyFile::parse(&block.text, ".", format!("guide-{index}"))
        {
            panic!(
                "docs/cognito-pool.md policy file {index} (\"## {}\"): {error}",
                block.section
            );
        }
    }
}

/// The README's router test, run: the same router and requests against the README's policy
/// file (the README's copy is compiled with the doctests, but a `#[tokio::test]` inside a
/// doctest does not run, so this twin does).
#[tokio::test]
async fn the_readme_router_test_passes_against_the_readme_policy_file() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::{Router, routing::get};
    use cognito_authz::{Authorizer, axum::AuthzLayer, testkit::LocalIssuer};
    use tower::ServiceExt as _;

    fn app(authorizer: Authorizer) -> Router {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/reports/{id}", get(|| async { "report" }))
            .route("/admin/{*rest}", get(|| async { "admin" }))
            .layer(AuthzLayer::new(authorizer))
    }

    let readme_blocks = blocks(README);
    let policy = readme_blocks
        .iter()
        .find(|block| block.section == "The policy file" && block.language == "toml")
        .expect("README policy file");
    let testing = readme_blocks
        .iter()
        .find(|block| block.section == "Testing your own app" && block.language == "rust")
        .expect("README router test");
    // The twin and the README make the same requests.
    for request in [
        "(\"/health\", None, StatusCode::OK)",
        "(\"/reports/42\", None, StatusCode::UNAUTHORIZED)",
        "(\"/reports/42\", Some(&reader), StatusCode::OK)",
        "(\"/admin/users\", Some(&reader), StatusCode::FORBIDDEN)",
        "(\"/admin/users\", Some(&admin), StatusCode::OK)",
        "LocalIssuer::for_policy_file(\"policy.toml\")",
    ] {
        assert!(
            testing.text.contains(request),
            "README router test lost {request}"
        );
    }
    let dir = std::env::temp_dir().join(format!("cognito-authz-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("policy.toml");
    std::fs::write(&path, &policy.text).expect("policy.toml");

    let (issuer, authorizer) = LocalIssuer::for_policy_file(&path).await.expect("loads");
    let app = app(authorizer);
    let admin = issuer.access_token().groups(["admin"]).sign();
    let reader = issuer.access_token().scopes(["api/read"]).sign();
    for (route, token, expected) in [
        ("/health", None, StatusCode::OK),
        ("/reports/42", None, StatusCode::UNAUTHORIZED),
        ("/reports/42", Some(&reader), StatusCode::OK),
        ("/admin/users", Some(&reader), StatusCode::FORBIDDEN),
        ("/admin/users", Some(&admin), StatusCode::OK),
    ] {
        let mut request = Request::get(route);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), expected, "GET {route}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
