//! `stick-policy`: the pure policy decisions of `tt` (policy-core.md).
//!
//! Every decision is a plain Rust function of its facts, tested natively
//! (`cargo test -p stick-policy`) and against the case tables in
//! `policies/cases/`. The WebAssembly component is produced from the same code
//! by the thin glue module [`component`] (wasm32 only), built with
//! `cargo build -p stick-policy --target wasm32-wasip2 --profile wasm`
//! (see `scripts/build-policies.sh`).
//!
//! With the cargo feature `verified-only` the crate builds the alternative
//! module of protocol.md §14.4: the supersession slot uses the verified-only
//! predicate and the component exports only `supersession` and `meta`.
//!
//! On wasm32 the crate is `no_std` (`core` and `alloc`, with `dlmalloc` as the
//! allocator): the component then imports nothing, so the host has no WASI
//! interfaces to deserialise, type-check and stub as traps each time it loads the
//! module (docs/PERFORMANCE.md). Natively it links `std` as usual.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::string::ToString;

#[cfg(not(target_arch = "wasm32"))]
pub mod cases;
pub mod claims;
pub mod fairness;
pub mod host_lock;
pub mod supersession;
pub mod types;

/// The allocator of the component: dlmalloc, the one Rust's `std` uses on wasm32-unknown-unknown.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// A panic is a trap: the host applies the decision's safe fallback (policy-core.md §4.1, "Fail closed").
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(target_arch = "wasm32")]
#[allow(
    unsafe_code,
    missing_docs,
    reason = "the canonical-ABI glue is unsafe by nature: what wit-bindgen generates, and the `cabi_realloc` export a no_std component provides itself"
)]
mod component;

pub use types::*;

/// The module name reported by `meta.describe`.
#[cfg(not(feature = "verified-only"))]
pub const MODULE_NAME: &str = "stick-default";
/// The module name reported by `meta.describe`.
#[cfg(feature = "verified-only")]
pub const MODULE_NAME: &str = "stick-verified-only";

/// The slot interfaces this build implements, in the order of policy-core.md §5.
#[cfg(not(feature = "verified-only"))]
pub const SLOTS: &[&str] = &["claims", "fairness", "supersession", "host-lock"];
/// The slot interfaces this build implements, in the order of policy-core.md §5.
#[cfg(feature = "verified-only")]
pub const SLOTS: &[&str] = &["supersession"];

/// `meta.describe`: module name, version (the crate version) and slots.
pub fn describe() -> ModuleInfo {
    ModuleInfo {
        name: MODULE_NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        slots: SLOTS.iter().map(|s| (*s).to_string()).collect(),
    }
}

/// The supersession predicate of this build: classic by default
/// (protocol.md §14.2), verified-only with the feature (§14.4).
pub fn is_superseded(existing: &HarnessInstance, incoming: &HarnessInstance) -> bool {
    if cfg!(feature = "verified-only") {
        supersession::is_superseded_verified_only(existing, incoming)
    } else {
        supersession::is_superseded_classic(existing, incoming)
    }
}
