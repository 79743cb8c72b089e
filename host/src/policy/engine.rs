//! The wasmtime engine, the sandbox limits and the owner-only AOT cache
//! (policy-core.md §4.1–§4.2).

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// Create the engine a process runs policy modules on: the component model and fuel
/// metering; nothing else (no WASI, no threads, no async) and no compiler. It loads
/// the AOT artifacts of the cache; a module that must be compiled first goes through
/// [`compiling_engine`], which [`compile`] creates only then. Skipping cranelift's
/// set-up (ISA lookup, flag tables) takes about 0.3 ms off every command that makes a
/// policy decision (docs/PERFORMANCE.md).
///
/// Errors: wasmtime's own, if the host is unsupported.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = base_config();
    config.enable_compiler(false);
    Engine::new(&config)
}

/// An engine with the same settings as [`new_engine`] plus cranelift: its artifacts
/// load on [`new_engine`]'s engine (the compatibility hash and wasmtime's header check
/// see the same tunables and features), and it compiles modules kept in memory.
///
/// Errors: wasmtime's own, if the host CPU is unsupported.
fn compiling_engine() -> wasmtime::Result<Engine> {
    let mut config = base_config();
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    Engine::new(&config)
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.consume_fuel(true);
    config.wasm_component_model(true);
    config
}

/// The 64-hex SHA-256 digest of a module's bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A short, stable digest of the engine's compatibility settings: artifacts compiled
/// by another wasmtime version or configuration get another file name.
pub fn engine_hash(engine: &Engine) -> String {
    let mut h = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// What a module's bytes are, judged by the 8-byte preamble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasmKind {
    /// A component (the only kind a policy module may be).
    Component,
    /// A core WebAssembly module.
    CoreModule,
    /// Not WebAssembly at all.
    NotWasm,
}

/// Tell a component from a core module or garbage by the preamble.
pub fn wasm_kind(bytes: &[u8]) -> WasmKind {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => WasmKind::Component,
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => WasmKind::CoreModule,
        _ => WasmKind::NotWasm,
    }
}

/// A compiled component and how it was obtained.
pub struct Compiled {
    /// The component, ready to instantiate.
    pub component: Component,
    /// Whether a valid artifact was already in the cache before this load.
    pub was_cached: bool,
    /// The cache file, when the cache could be used.
    pub artifact: Option<PathBuf>,
    /// One warning line when the cache could not be used (compiled in memory).
    pub warning: Option<String>,
}

/// The cache file for a module: `<cache_dir>/<sha256>-<engine hash>.cwasm`.
pub fn artifact_path(engine: &Engine, cache_dir: &Path, sha256: &str) -> PathBuf {
    cache_dir.join(format!("{sha256}-{}.cwasm", engine_hash(engine)))
}

/// Compile `bytes`, through the AOT cache at `cache_dir` (`<data_dir>/cache/policy`)
/// when given: a valid artifact is memory-mapped into `engine` (from [`new_engine`]); a
/// missing, truncated or foreign one is a miss (compile with cranelift, rewrite
/// atomically, succeed). The cache directories are created 0700 and only trusted while
/// they are owned by this user and closed to others; otherwise the module is compiled
/// in memory with one warning. A component compiled in memory belongs to a compiling
/// engine, not to `engine`: use [`Component::engine`] for its linker and stores.
///
/// Errors: a one-line description when the bytes do not compile.
pub fn compile(engine: &Engine, bytes: &[u8], sha256: &str, cache_dir: Option<&Path>) -> Result<Compiled, String> {
    let Some(dir) = cache_dir else {
        return in_memory(bytes, None);
    };
    if let Err(e) = prepare_cache_dir(dir) {
        return in_memory(
            bytes,
            Some(format!("warning: policy cache `{}` unusable ({e}); compiling in memory", dir.display())),
        );
    }
    let path = artifact_path(engine, dir, sha256);
    if path.is_file()
        && let Ok(component) = deserialize_trusted(engine, &path)
    {
        return Ok(Compiled { component, was_cached: true, artifact: Some(path), warning: None });
    }
    // Compile once: the artifact written to the cache is this component's own
    // serialisation, and the component itself is the fallback when the cache fails.
    let Compiled { component: compiled, .. } = in_memory(bytes, None)?;
    let artifact = compiled.serialize().map_err(|e| one_line(&e))?;
    let fallback = |warning: String| {
        Ok(Compiled { component: compiled.clone(), was_cached: false, artifact: None, warning: Some(warning) })
    };
    match crate::paths::write_atomic(&path, &artifact).map_err(|e| e.to_string()) {
        Ok(()) => match deserialize_trusted(engine, &path) {
            Ok(component) => Ok(Compiled { component, was_cached: false, artifact: Some(path), warning: None }),
            Err(e) => {
                fallback(format!("warning: policy cache artifact unreadable ({}); compiled in memory", one_line(&e)))
            }
        },
        Err(e) => fallback(format!("warning: cannot write the policy cache ({e}); compiling in memory")),
    }
}

/// Compile `bytes` with a [`compiling_engine`], keeping the result in memory.
fn in_memory(bytes: &[u8], warning: Option<String>) -> Result<Compiled, String> {
    let compiler = compiling_engine().map_err(|e| one_line(&e))?;
    let component = Component::new(&compiler, bytes).map_err(|e| one_line(&e))?;
    Ok(Compiled { component, was_cached: false, artifact: None, warning })
}

/// Create `cache/` and `cache/policy/` with mode 0700 and check that the directory may
/// be trusted (owned by this user, closed to group and others).
fn prepare_cache_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent() {
        crate::paths::ensure_private_dir(parent)?;
    }
    crate::paths::ensure_private_dir(dir)?;
    if crate::paths::is_private_dir(dir) {
        Ok(())
    } else {
        Err(std::io::Error::other("not owned by this user with mode 0700"))
    }
}

/// Memory-map a precompiled artifact that this host wrote.
#[allow(unsafe_code, reason = "the one deserialize call of policy-core.md §4.2")]
fn deserialize_trusted(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime trusts the bytes of a precompiled artifact. `path` lies in the
    // owner-only cache directory checked by `prepare_cache_dir` (0700, owned by this
    // user), and only this host writes `.cwasm` files there, atomically (temp file +
    // rename) from `Component::serialize`; the engine-compatibility hash in
    // the file name and wasmtime's own header check reject artifacts of another
    // version or configuration. Any failure is treated as a cache miss.
    unsafe { Component::deserialize_file(engine, path) }
}

/// The first line of an error's root cause, for one-line problem descriptions
/// (wasmtime's outer contexts are backtrace headers, not causes).
pub fn one_line(e: &wasmtime::Error) -> String {
    let text = e.root_cause().to_string();
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("unknown error").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_time_digest_of_the_embedded_module_matches_its_bytes() {
        assert_eq!(sha256_hex(super::super::DEFAULT_MODULE), super::super::DEFAULT_MODULE_SHA256);
    }
}
