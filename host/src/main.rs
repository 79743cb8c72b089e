//! `tt`: the thin binary. Parse, call one library function per command, render, map
//! errors to exit codes (design.md §3 habit 2).
//!
//! On Linux with glibc `tt` has its own C `main` instead of Rust's runtime start-up
//! (`#![no_main]`). `tt` is started many times a minute by every agent, and that start-up
//! costs about 0.08 ms of each run (docs/PERFORMANCE.md): glibc's `pthread_getattr_np`
//! parses `/proc/self/maps` to find the main thread's stack for the stack-overflow
//! handler, which also maps an alternate signal stack and unmaps it at exit. What of it
//! `tt` relies on is done in [`start`]: the standard descriptors are open, and `SIGPIPE`
//! does not kill the process. A stack overflow is then a plain `SIGSEGV` without std's
//! message. Arguments still come from `std::env::args_os`, which glibc targets fill from
//! `.init_array`; other targets keep Rust's start-up.
#![cfg_attr(all(target_os = "linux", target_env = "gnu"), no_main)]

mod cli;

/// The C entry point (see the module docs).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code, reason = "an exported `main` symbol is an unsafe attribute; the function itself is safe")]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    start();
    // A panic must not unwind into C: exit 101 as Rust's start-up would (the panic hook
    // has printed the message).
    let code = std::panic::catch_unwind(run).unwrap_or(101);
    std::process::exit(code)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    cli::run(args, stick::env::Env::from_process())
}

/// What Rust's start-up does that `tt` needs:
/// - descriptors 0–2 are open: a closed one is reopened on `/dev/null`, so that no file
///   `tt` opens (the session file, a lock marker) becomes standard output;
/// - writing to a closed pipe fails with `EPIPE` instead of killing the process (Rust
///   ignores `SIGPIPE`; a handler has the same effect and, like the ignored disposition
///   under Rust's start-up, is not passed on to the processes `tt` spawns).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn start() {
    use std::os::fd::AsFd;
    let closed = [
        rustix::io::fcntl_getfd(std::io::stdin().as_fd()).is_err(),
        rustix::io::fcntl_getfd(std::io::stdout().as_fd()).is_err(),
        rustix::io::fcntl_getfd(std::io::stderr().as_fd()).is_err(),
    ];
    for _ in closed.iter().filter(|c| **c) {
        // `open` returns the lowest free descriptor: the closed ones, in order.
        match rustix::fs::open("/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()) {
            Ok(fd) => std::mem::forget(fd),
            Err(_) => std::process::abort(),
        }
    }
    let broken_pipe = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if signal_hook::flag::register(signal_hook::consts::SIGPIPE, broken_pipe).is_err() {
        std::process::abort();
    }
}
