//! The `cognito-authz` binary as its tests run it: a command line in, an exit code and two
//! texts out, scratch folders under Cargo's temporary directory, and tokens minted with a key
//! file the way a user of `cognito-authz mint` makes them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The user pool `cognito-authz mint` names by default.
pub const POOL: &str = "us-east-1_Example1";
/// The app client `cognito-authz mint` names by default.
pub const CLIENT: &str = "1example23456789";

/// The binary under test and where its test suite keeps scratch folders.
///
/// Built in a test file from what Cargo passes at compile time:
/// `Cli::new(env!("CARGO_BIN_EXE_cognito-authz"), env!("CARGO_TARGET_TMPDIR"), "hints")`.
#[derive(Debug, Clone, Copy)]
pub struct Cli {
    program: &'static str,
    temp: &'static str,
    suite: &'static str,
}

impl Cli {
    /// The binary at `program`, with scratch folders named `<suite>-<name>` under `temp`.
    #[must_use]
    pub const fn new(program: &'static str, temp: &'static str, suite: &'static str) -> Self {
        Self {
            program,
            temp,
            suite,
        }
    }

    /// A command for the binary, with no arguments yet.
    #[must_use]
    pub fn command(self) -> Command {
        Command::new(self.program)
    }

    /// Runs the binary with `args` and waits for it.
    ///
    /// # Panics
    /// The binary cannot be started.
    #[must_use]
    pub fn run(self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("binary runs")
    }

    /// Runs the binary with `args`, `stdin` as its standard input.
    ///
    /// # Panics
    /// The binary cannot be started or its input written.
    #[must_use]
    pub fn run_with_stdin(self, args: &[&str], stdin: &str) -> Output {
        let mut command = self.command();
        command.args(args);
        crate::tools::output_with_input(command, stdin.as_bytes())
    }

    /// Runs the binary with `args` (a `--json` command line); its exit code and what it
    /// printed as JSON (`null` if it printed no JSON).
    #[must_use]
    pub fn run_json(self, args: &[&str]) -> (Option<i32>, serde_json::Value) {
        let output = self.run(args);
        let json = serde_json::from_str(stdout(&output).trim()).unwrap_or_default();
        (output.status.code(), json)
    }

    /// An empty folder for one test, `<suite>-<name>` under Cargo's test temp dir.
    ///
    /// # Panics
    /// The folder cannot be made.
    #[must_use]
    pub fn scratch(self, name: &str) -> PathBuf {
        let dir = Path::new(self.temp).join(format!("{}-{name}", self.suite));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// `cognito-authz mint` with the key file `dir/dev.key` (made on first use) and `extra`
    /// arguments; returns the token and the path of the key set written beside it.
    ///
    /// # Panics
    /// The command fails or does not warn that the token is for local tests only.
    #[must_use]
    pub fn mint(self, dir: &Path, extra: &[&str]) -> (String, String) {
        let key = dir.join("dev.key");
        let jwks = dir.join("jwks.json");
        let mut args = vec![
            "mint",
            "--key-file",
            key.to_str().expect("utf8"),
            "--jwks-out",
            jwks.to_str().expect("utf8"),
        ];
        args.extend_from_slice(extra);
        let output = self.run(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(stderr(&output).contains("NOT valid for a real pool"));
        (
            stdout(&output).trim().to_owned(),
            jwks.to_str().expect("utf8").to_owned(),
        )
    }
}

/// What the command wrote to standard output.
#[must_use]
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What the command wrote to standard error.
#[must_use]
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `dir/policy.toml`: the minted tokens' pool and client as the one issuer (access
/// tokens, keys from `jwks.json` beside it), then `rest`; returns its path.
///
/// # Panics
/// The file cannot be written.
#[must_use]
pub fn policy_file(dir: &Path, rest: &str) -> String {
    let path = dir.join("policy.toml");
    let text = format!(
        "[[issuer]]\nname = \"local\"\nuser_pool_id = \"{POOL}\"\nclient_ids = [\"{CLIENT}\"]\n\
         token_use = \"access\"\njwks_file = \"jwks.json\"\n\n{rest}"
    );
    std::fs::write(&path, text).expect("write policy");
    path.to_str().expect("utf8").to_owned()
}
