//! Triage aid: shows what a corpus or crash file means to a target and what the verifier said.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --no-default-features --example explain -- TARGET FILE`

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(target), Some(path)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: explain verify|verify_structured|keyset|policy_expr|policy_file|token_source FILE"
        );
        std::process::exit(2);
    };
    let data = std::fs::read(&path).expect("readable input file");
    println!("{}", cognito_authz_fuzz::explain(&target, &data));
}
