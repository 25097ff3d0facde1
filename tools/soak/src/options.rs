//! The command line: how long to run and how many client connections.

use crate::shared::BoxError;

/// Client tasks (one keep-alive connection each) unless `--concurrency` says otherwise.
pub(crate) const DEFAULT_CONCURRENCY: usize = 64;

/// Length of the measured run unless `--seconds` says otherwise.
pub(crate) const DEFAULT_SECONDS: u64 = 60;

/// Run settings from the command line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub(crate) seconds: u64,
    pub(crate) concurrency: usize,
}

pub(crate) fn parse_options() -> Result<Options, BoxError> {
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        concurrency: DEFAULT_CONCURRENCY,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => options.seconds = value("--seconds")?.parse()?,
            "--concurrency" => options.concurrency = value("--concurrency")?.parse()?,
            "-h" | "--help" => {
                println!(
                    "usage: soak [--seconds N (4-3600, default 60)] [--concurrency N (1-1024, default 64)]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if !(4..=3600).contains(&options.seconds) {
        return Err("--seconds must be between 4 and 3600".into());
    }
    if !(1..=1024).contains(&options.concurrency) {
        return Err("--concurrency must be between 1 and 1024".into());
    }
    Ok(options)
}
