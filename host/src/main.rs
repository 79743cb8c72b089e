//! `tt`: the thin binary. Parse, call one library function per command, render, map
//! errors to exit codes (design.md §3 habit 2).

mod cli;

fn main() {
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let code = cli::run(args, stick::env::Env::from_process());
    std::process::exit(code);
}
