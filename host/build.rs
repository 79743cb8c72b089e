//! Linking of `tt` on Linux. The default build is static and non-PIE: `.cargo/config.toml`
//! sets `+crt-static` and `relocation-model=static` for the host's own triple, which skips
//! the dynamic loader on every start (docs/PERFORMANCE.md). When those flags are not in
//! effect (an explicit `--target` for another triple, or a RUSTFLAGS variable), `tt` is
//! still linked as a position-dependent executable: a PIE build of this binary carries
//! ~26 000 relative relocations (wasmtime, clap, rusqlite) that the dynamic loader applies,
//! touching ~100 extra pages, on every start; `-no-pie` resolves them at link time and
//! cuts about 1 ms from every invocation. A static build must not get `-no-pie` (the
//! static-pie start-up code would run unrelocated).
//!
//! It also computes the SHA-256 of the embedded default policy module
//! (`policies/default.wasm`) into `TT_DEFAULT_MODULE_SHA256`, so that `tt` does not hash
//! 84 KB on every start to name its AOT cache artifact (policy-core.md §4.2).

use sha2::{Digest, Sha256};

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=build.rs");
    let module = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.wasm");
    println!("cargo:rerun-if-changed={}", module.display());
    let bytes = std::fs::read(&module)?;
    println!("cargo:rustc-env=TT_DEFAULT_MODULE_SHA256={:x}", Sha256::digest(&bytes));
    let static_crt = std::env::var("CARGO_CFG_TARGET_FEATURE").is_ok_and(|f| f.split(',').any(|f| f == "crt-static"));
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux") && !static_crt {
        println!("cargo:rustc-link-arg-bin=tt=-no-pie");
    }
    Ok(())
}
