//! `cognito-authz policy lint FILE`: load a policy file the way an adapter would at start-up,
//! report the first error with file, line and column, or list the routes in match order.

use std::path::PathBuf;

use cognito_authz_core::PolicyFile;

use crate::{Outcome, UsageError};

/// Arguments of `policy lint`.
#[derive(Debug, clap::Args)]
pub(crate) struct LintArgs {
    /// The policy file (TOML).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Exit 0 when the file loads (warnings, if any, go to standard error as
/// `file:line:column: warning: …`), 1 when it has an error (printed as
/// `file:line:column: message`).
pub(crate) fn run(args: &LintArgs) -> Result<Outcome, UsageError> {
    match PolicyFile::load(&args.file).and_then(|file| file.load_key_files(None).map(|_| file)) {
        Ok(file) => {
            print!("{}", listing(&args.file, &file));
            for warning in file.warnings() {
                eprintln!("{warning}");
            }
            Ok(Outcome::Accepted)
        }
        Err(error) => {
            eprintln!("{error}");
            Ok(Outcome::Rejected)
        }
    }
}

/// The routes in match order (most specific first: per segment, static before a parameter
/// before a catch-all), each with its methods and effective policy.
fn listing(path: &std::path::Path, file: &PolicyFile) -> String {
    use std::fmt::Write as _;
    let mut routes: Vec<_> = file.routes().routes().iter().collect();
    routes.sort_by_cached_key(|route| (specificity(route.pattern()), route.pattern().to_owned()));
    let mut out = String::new();
    let issuers: Vec<&str> = file.issuers().iter().map(|issuer| issuer.name()).collect();
    let _ = writeln!(
        out,
        "{}: ok ({} routes; issuers: {})",
        path.display(),
        routes.len(),
        issuers.join(", ")
    );
    let width = routes
        .iter()
        .map(|route| route.pattern().len())
        .max()
        .unwrap_or(0);
    for route in routes {
        let methods = route.methods().map_or_else(
            || "*".to_owned(),
            |methods| {
                methods
                    .iter()
                    .map(http::Method::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            },
        );
        let policy = route.policy();
        let effective = policy.effective();
        let _ = write!(
            out,
            "  {methods:<8} {:<width$}  {effective}",
            route.pattern()
        );
        if effective != policy.text() {
            let _ = write!(out, "   (as written: {})", policy.text());
        }
        out.push('\n');
    }
    let unmatched = file.routes().unmatched();
    let _ = writeln!(
        out,
        "  {:<8} {:<width$}  {}",
        "*",
        "(unmatched)",
        unmatched.effective()
    );
    out
}

/// Ranks a pattern's segments: 0 static, 1 parameter, 2 catch-all; shorter wins ties.
fn specificity(pattern: &str) -> Vec<u8> {
    pattern
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            if segment.starts_with("{*") {
                2
            } else if segment.contains('{') {
                1
            } else {
                0
            }
        })
        .collect()
}
