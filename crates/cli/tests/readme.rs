//! The README's command-line section, run as written: its `sh` block, line by line in one shell,
//! in a fresh folder holding the README's policy file as `policy.toml`, with the built
//! `cognito-authz` first on `PATH`. Every line must exit 0, so the lines chain (`mint` then
//! `verify` then `check`) and the README cannot drift from the command.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{}: {error}", full.display()))
}

/// The first fenced block of `language` after the `## heading` line.
fn code_block(markdown: &str, heading: &str, language: &str) -> String {
    let section = markdown
        .split_once(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has no \"## {heading}\" section"))
        .1;
    let body = section
        .split_once(&format!("```{language}\n"))
        .unwrap_or_else(|| panic!("\"## {heading}\" has no {language} block"))
        .1;
    body.split_once("```")
        .unwrap_or_else(|| panic!("unclosed {language} block"))
        .0
        .to_owned()
}

/// A key's value in a TOML text, as written (without a trailing comment).
fn toml_value(text: &str, key: &str) -> String {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix(key))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|rest| {
            rest.split(" #")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .next()
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("readme-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn the_readme_command_lines_run_in_order_and_each_exits_0() {
    let readme = repository_file("README.md");
    let policy = code_block(&readme, "The policy file", "toml");
    let commands = code_block(&readme, "The command line", "sh");
    let dir = scratch("cli");
    let work = dir.join("work");
    let cache = dir.join("cache");
    std::fs::create_dir_all(&work).expect("work dir");
    std::fs::write(work.join("policy.toml"), &policy).expect("policy.toml");

    // One shell, so `TOKEN=…` carries to the next lines; each line's status goes to a file.
    let statuses = dir.join("statuses");
    let mut script = String::new();
    let mut lines = Vec::new();
    for line in commands.lines().map(str::trim) {
        // Installing is what this test's build already did.
        if line.is_empty() || line.starts_with('#') || line.starts_with("cargo install") {
            continue;
        }
        script.push_str(line);
        script.push_str(&format!(
            "\necho \"{} $?\" >> '{}'\n",
            lines.len(),
            statuses.display()
        ));
        lines.push(line);
    }
    for command in ["mint", "verify", "check", "policy lint", "decode"] {
        let prefix = format!("cognito-authz {command} ");
        assert!(
            lines.iter().any(|line| line.starts_with(&prefix)),
            "the README's command block has no `{prefix}` line"
        );
    }

    let binary = Path::new(env!("CARGO_BIN_EXE_cognito-authz"));
    let path = std::env::join_paths(
        std::iter::once(binary.parent().expect("bin dir").to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ),
    )
    .expect("PATH");
    let output = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("HOME", dir.join("home"))
        .env("XDG_CACHE_HOME", &cache)
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let statuses = std::fs::read_to_string(&statuses).unwrap_or_default();
    let statuses: Vec<&str> = statuses.lines().collect();
    assert_eq!(
        statuses.len(),
        lines.len(),
        "not every line ran\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for (line, status) in lines.iter().zip(&statuses) {
        let code = status.split_once(' ').map_or(*status, |(_, code)| code);
        assert_eq!(
            code, "0",
            "`{line}` exited with {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    }

    // `mint` kept its private key in the cache folder and said so; the working folder holds
    // only what the lines wrote on purpose.
    let key = cache.join("cognito-authz").join("dev-signing-key.der");
    assert!(
        key.is_file(),
        "no key at {}\nstderr:\n{stderr}",
        key.display()
    );
    assert!(stderr.contains(&key.display().to_string()), "{stderr}");
    let mut written: Vec<String> = std::fs::read_dir(&work)
        .expect("work dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    written.sort();
    assert_eq!(written, ["keys.json", "policy.toml", "token.txt"]);
}

#[test]
fn the_readme_example_file_and_mint_name_one_pool_and_client() {
    let readme_policy = code_block(&repository_file("README.md"), "The policy file", "toml");
    let example_policy = repository_file("examples/policy.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_cognito-authz"))
        .args(["mint", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for key in ["user_pool_id", "client_ids"] {
        assert_eq!(
            toml_value(&readme_policy, key),
            toml_value(&example_policy, key),
            "README and examples/policy.toml differ in {key}"
        );
    }
    let pool = toml_value(&readme_policy, "user_pool_id");
    let client = toml_value(&readme_policy, "client_ids");
    let pool = pool.trim_matches('"');
    let client = client.trim_matches(['[', ']', '"']);
    assert!(help.contains(&format!("[default: {pool}]")), "{help}");
    assert!(help.contains(&format!("[default: {client}]")), "{help}");
}
