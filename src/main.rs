//! `sockloop` — one binary, one thread, one readiness loop.
#![forbid(unsafe_code)]

use sockloop::cmd;

/// The top-level help; `$bench` is the line for `sockloop bench`, which a binary
/// built without the `bench` feature leaves out.
macro_rules! usage {
    ($bench:literal) => {
        concat!(
            "\
sockloop — socket servers and clients in one thread, one readiness loop

usage: sockloop <command> [options]

commands:
  serve      run TCP, UDP, Unix socket and WebSocket services (sockloop serve --help)
  tcp        full-duplex TCP client, like nc (sockloop tcp HOST:PORT)
  unix       full-duplex Unix socket client (sockloop unix PATH)
  udp        UDP client: a datagram per line (sockloop udp HOST:PORT)
  ws         WebSocket client, like websocat (sockloop ws ws://HOST:PORT/PATH)
  rpc        call ADD/SUB on a cmd service (sockloop rpc HOST:PORT add 17 18)
",
            $bench,
            "  lookup     DNS: addresses of a name, names of an IP, --ns servers (sockloop lookup NAME|IP)
  help       show this text
  version    print the version

exit codes: 0 ok, 1 network or protocol error, 2 bad command line"
        )
    };
}

#[cfg(feature = "bench")]
const USAGE: &str = usage!(
    "  bench      load generator: ws, tcp, udp echo and idle connections (sockloop bench --help)\n"
);
#[cfg(not(feature = "bench"))]
const USAGE: &str = usage!("");

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("serve") => cmd::serve::main(&args[1..]),
        Some("tcp") => cmd::tcp::main(&args[1..]),
        Some("unix") => cmd::unix::main(&args[1..]),
        Some("udp") => cmd::udp::main(&args[1..]),
        Some("ws") => cmd::ws::main(&args[1..]),
        Some("rpc") => cmd::rpc::main(&args[1..]),
        Some("bench") => cmd::bench::main(&args[1..]),
        Some("lookup") => cmd::lookup::main(&args[1..]),
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
