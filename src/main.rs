//! `sockloop` — one binary, one thread, one readiness loop.

use sockloop::cmd;

const USAGE: &str = "\
sockloop — socket servers and clients in one thread, one readiness loop

usage: sockloop <command> [options]

commands:
  serve      run TCP, UDP and Unix socket services (sockloop serve --help)
  help       show this text
  version    print the version

exit codes: 0 ok, 1 network or protocol error, 2 bad command line";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("serve") => cmd::serve::main(&args[1..]),
        Some("version" | "--version" | "-V") => {
            println!("sockloop {}", env!("CARGO_PKG_VERSION"));
            cmd::exit::OK
        }
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            cmd::exit::OK
        }
        Some(other) => {
            eprintln!("sockloop: unknown command '{other}'\n\n{USAGE}");
            cmd::exit::USAGE
        }
        None => {
            eprintln!("{USAGE}");
            cmd::exit::USAGE
        }
    };
    std::process::exit(code);
}
