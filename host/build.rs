//! Link `tt` as a position-dependent executable on Linux: a PIE build of this binary
//! carries ~26 000 relative relocations (wasmtime, clap, rusqlite) that the dynamic
//! loader applies, touching ~100 extra pages, on every start. `tt` is started many times
//! a minute and its whole-process time is a protocol target (docs/PERFORMANCE.md);
//! `-no-pie` resolves them at link time and cuts about 1 ms from every invocation.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux") {
        println!("cargo:rustc-link-arg-bin=tt=-no-pie");
    }
}
