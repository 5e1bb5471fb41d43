//! One module per subcommand. Each takes its arguments (after the subcommand name)
//! and returns the process exit code.

#[cfg(feature = "bench")]
pub mod bench;
pub mod lookup;
pub mod rpc;
pub mod serve;
mod serve_banner;
mod serve_processes;
mod serve_tls;
pub mod size;
pub mod tcp;
pub mod udp;
pub mod unix;
pub mod ws;

use crate::client::ClientError;
use std::time::Duration;

/// `sockloop bench` in a binary built without the load generator: a usage error that
/// says why, rather than "unknown command", so nobody hunts for a typo.
#[cfg(not(feature = "bench"))]
pub mod bench {
    pub fn main(_args: &[String]) -> i32 {
        eprintln!(
            "sockloop bench: this sockloop was built without the load generator \
             (cargo feature \"bench\"); build it with the default features to use it"
        );
        super::exit::USAGE
    }
}

/// Exit codes shared by every subcommand.
pub mod exit {
    pub const OK: i32 = 0;
    /// A network or protocol error (bind failed, connection refused, ...).
    pub const FAILURE: i32 = 1;
    /// The command line was wrong.
    pub const USAGE: i32 = 2;
    /// Stopped by a second SIGINT/SIGTERM before finishing: 128 + SIGINT, what a shell
    /// reports for a program that Ctrl-C killed, so scripts see one value for both.
    pub const INTERRUPTED: i32 = 130;
}

/// The exit code of a client's run, with its error printed if it failed.
pub fn exit_code(command: &str, result: Result<(), ClientError>) -> i32 {
    match result {
        Ok(()) => exit::OK,
        Err(e) => fail(command, &e),
    }
}

/// Prints a client's error and gives the exit code it calls for.
pub fn fail(command: &str, e: &ClientError) -> i32 {
    match e {
        ClientError::Usage(why) => usage_error(command, why),
        ClientError::Failed(_) => {
            eprintln!("sockloop {command}: {e}");
            exit::FAILURE
        }
        ClientError::Interrupted => exit::INTERRUPTED,
    }
}

/// Every usage error, of every subcommand, is this one line: scripts and people see
/// the command and what was wrong with it, and nothing else on stderr.
pub fn usage_error(command: &str, why: &str) -> i32 {
    eprintln!("sockloop {command}: {why}");
    exit::USAGE
}

/// What every client's command line starts with (`tcp`, `unix`, `udp`, `ws`): `-h`,
/// after which there is nothing to do (`Ok(None)`), the trace options, and the one
/// positional argument, which `what` names in the error.
pub fn command_line(
    opts: &getopts::Options,
    args: &[String],
    about: &str,
    what: &str,
) -> Result<Option<(getopts::Matches, String)>, ClientError> {
    let Some(m) = parse_options(opts, args, about).map_err(ClientError::Usage)? else {
        return Ok(None);
    };
    crate::trace::from_matches(&m).map_err(ClientError::Usage)?;
    let target = one_argument(&m.free, what)
        .map_err(|e| ClientError::Usage(format!("{e}{}", bare_trace_note(&m))))?;
    Ok(Some((m, target)))
}

/// The seconds given to `--name`, if any (0, "off", counts as none).
pub fn seconds(m: &getopts::Matches, name: &str) -> Result<Option<Duration>, ClientError> {
    match m.opt_str(name) {
        Some(v) => parse_secs(&v, &format!("--{name}")).map_err(ClientError::Usage),
        None => Ok(None),
    }
}

/// Parses a subcommand's options; `None` once `-h` has printed the help.
pub fn parse_options(
    opts: &getopts::Options,
    args: &[String],
    about: &str,
) -> Result<Option<getopts::Matches>, String> {
    let m = opts
        .parse(attach_trace_layers(args))
        .map_err(|e| option_error(&e))?;
    if m.opt_present("h") {
        println!("{}", opts.usage(about));
        return Ok(None);
    }
    Ok(Some(m))
}

/// `--trace ws` read as `--trace=ws`. getopts, like GNU getopt, never takes an optional
/// value from the next argument (else `--trace` could not come before a positional
/// one), so `ws` would become the target and the real target an "unexpected argument".
/// The next argument is joined only when it reads as layers ([`crate::trace::looks_like_layers`]);
/// anything after `--` is left alone.
fn attach_trace_layers(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(rest.cloned());
            break;
        }
        let layers = rest.as_slice().first();
        match layers {
            Some(l) if arg == "--trace" && crate::trace::looks_like_layers(l) => {
                out.push(format!("--trace={l}"));
                rest.next();
            }
            _ => out.push(arg.clone()),
        }
    }
    out
}

/// Said after an "unexpected argument" when `--trace` came without layers: the
/// argument after it may have been meant as layers that are not ones we know.
pub fn bare_trace_note(m: &getopts::Matches) -> &'static str {
    if m.opt_defined("trace") && m.opt_present("trace") && m.opt_str("trace").is_none() {
        "; if the argument after --trace was meant as its layers, \
         they are loop, line, http, ws, tls, udp, dns (--trace=ws,http)"
    } else {
        ""
    }
}

/// The option parser's complaint in our words: the option written as it is typed
/// (`--max-line`, `-l`), and what to do about it.
fn option_error(e: &getopts::Fail) -> String {
    let typed = |name: &str| {
        if name.chars().count() == 1 {
            format!("-{name}")
        } else {
            format!("--{name}")
        }
    };
    match e {
        getopts::Fail::ArgumentMissing(n) => format!("{} needs a value", typed(n)),
        getopts::Fail::UnrecognizedOption(n) => {
            format!("unknown option '{}' (--help lists the options)", typed(n))
        }
        getopts::Fail::OptionMissing(n) => format!("{} is required", typed(n)),
        getopts::Fail::OptionDuplicated(n) => format!("{} is given more than once", typed(n)),
        getopts::Fail::UnexpectedArgument(n) => format!("{} takes no value", typed(n)),
    }
}

/// The one positional argument a client takes (`what` names it in the error).
pub fn one_argument(free: &[String], what: &str) -> Result<String, String> {
    match free {
        [one] => Ok(one.clone()),
        [] => Err(format!("missing {what}")),
        [_, extra, ..] => Err(format!("unexpected argument '{extra}'")),
    }
}

/// Parses a duration in seconds, fractions allowed ("0.5", "120"); 0 means "off".
pub fn parse_secs(text: &str, what: &str) -> Result<Option<Duration>, String> {
    match text.parse::<f64>() {
        Ok(0.0) => Ok(None),
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
        _ => Err(format!("{what} '{text}' is not a number of seconds")),
    }
}
