//! The load-time interface check (policy-core.md §4.4): walk a component's imports
//! and exports, compare each slot interface with the one this host was built for, and
//! describe every problem in one line.
//!
//! The expected shapes are read from the embedded default module, which is built from
//! `wit/` in this release; so the contract has one source.

use super::Slot;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};

/// The WIT package this host speaks.
pub const PACKAGE: &str = "stick:policy";
/// The compatible version range, as shown in messages.
pub const SUPPORTED: &str = "0.1.x";

/// Interfaces a std guest may import for panic plumbing; the host satisfies them with
/// traps (policy-core.md §4.1). Anything else is rejected.
const INERT_IMPORTS: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/streams",
    "wasi:io/poll",
];

/// One function of an interface. Its signature is rendered only when asked for
/// ([`FunctionSig::signature`]: `tt policy check`, or comparing a configured module with
/// the embedded default): the embedded default is loaded by every command that makes a
/// policy decision and never compared with anything.
#[derive(Clone)]
pub struct FunctionSig {
    /// The WIT function name.
    pub name: String,
    func: ComponentFunc,
}

impl FunctionSig {
    /// The signature in WIT-like text, e.g.
    /// `func(text: string) -> result<option<record { … }>, variant { … }>`.
    pub fn signature(&self) -> String {
        render_func(&self.func)
    }
}

impl std::fmt::Debug for FunctionSig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionSig").field("name", &self.name).field("signature", &self.signature()).finish()
    }
}

/// `{"name": …, "signature": …}`, as `tt policy check --json` prints it.
impl serde::Serialize for FunctionSig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("FunctionSig", 2)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("signature", &self.signature())?;
        st.end()
    }
}

/// The outcome for one exported slot interface (or `meta`).
#[derive(Clone, Debug)]
pub struct InterfaceReport {
    /// `claims`, `fairness`, `supersession`, `host-lock` or `meta`.
    pub name: &'static str,
    /// The export name with its version, e.g. `stick:policy/claims@0.1.0`.
    pub export: String,
    /// Its functions and signatures.
    pub functions: Vec<FunctionSig>,
}

/// Everything the check learned about a component.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Compatible exported interfaces (slots and `meta`).
    pub interfaces: Vec<InterfaceReport>,
    /// Every import name.
    pub imports: Vec<String>,
    /// One line per problem; empty when usable.
    pub problems: Vec<String>,
}

impl Report {
    /// The compatible export of `name`, if any.
    pub fn interface(&self, name: &str) -> Option<&InterfaceReport> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    /// Whether the module exports a compatible `slot`.
    pub fn implements(&self, slot: Slot) -> bool {
        self.interface(slot.name()).is_some()
    }
}

/// Split `stick:policy/claims@0.1.0` into (`stick:policy`, `claims`, Some(`0.1.0`)).
fn split_export(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (package, rest) = name.split_once('/')?;
    match rest.split_once('@') {
        Some((iface, version)) => Some((package, iface, Some(version))),
        None => Some((package, rest, None)),
    }
}

/// Whether `version` is compatible with 0.1.x (for 0.x the minor is the breaking axis).
fn compatible(version: Option<&str>) -> bool {
    let Some(v) = version else { return false };
    let mut parts = v.split(['.', '-', '+']);
    parts.next() == Some("0") && parts.next() == Some("1") && parts.next().is_some_and(|p| p.parse::<u64>().is_ok())
}

fn interface_name(iface: &str) -> Option<&'static str> {
    ["claims", "fairness", "supersession", "host-lock", "meta"].into_iter().find(|n| *n == iface)
}

/// Check `component` (loaded from `file`) against `reference` (the embedded default's
/// report, or None when checking the embedded default itself).
pub fn check(engine: &Engine, component: &Component, reference: Option<&Report>) -> Report {
    let ty = component.component_type();
    let mut report = Report::default();
    for (name, _) in ty.imports(engine) {
        report.imports.push(name.to_string());
        let base = name.split('@').next().unwrap_or(name);
        if !INERT_IMPORTS.contains(&base) {
            report.problems.push(format!(
                "imports `{name}`, which a policy module may not use (policy modules get no capabilities)"
            ));
        }
    }
    for (name, item) in ty.exports(engine) {
        let Some((package, iface, version)) = split_export(name) else { continue };
        if package != PACKAGE {
            continue;
        }
        let Some(iface) = interface_name(iface) else { continue };
        if !compatible(version) {
            report.problems.push(format!("exports `{name}`; this `tt` supports `{PACKAGE}/{iface}@{SUPPORTED}`"));
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            report.problems.push(format!("exports `{name}` as something other than an interface instance"));
            continue;
        };
        let functions: Vec<FunctionSig> = instance
            .exports(engine)
            .filter_map(|(fname, f)| match f.ty {
                ComponentItem::ComponentFunc(func) => Some(FunctionSig { name: fname.to_string(), func }),
                _ => None,
            })
            .collect();
        let problems_before = report.problems.len();
        if let Some(expected) = reference.and_then(|r| r.interface(iface)) {
            for want in &expected.functions {
                match functions.iter().find(|f| f.name == want.name) {
                    None => report.problems.push(format!("exports `{name}` without function `{}`", want.name)),
                    Some(found) => {
                        let (got, expected) = (found.signature(), want.signature());
                        if got != expected {
                            report.problems.push(format!(
                                "exports function `{}` of `{name}` with signature `{got}`; this `tt` expects `{expected}`",
                                want.name
                            ));
                        }
                    }
                }
            }
        }
        // An interface with a mismatched function does not count as implemented.
        if report.problems.len() == problems_before {
            report.interfaces.push(InterfaceReport { name: iface, export: name.to_string(), functions });
        }
    }
    if !Slot::ALL.iter().any(|s| report.implements(*s)) && report.problems.is_empty() {
        report.problems.push(format!("exports no policy slot interface of `{PACKAGE}@{SUPPORTED}`"));
    }
    report
}

/// Render a function type as WIT-like text: `func(a: string) -> bool`.
pub fn render_func(f: &ComponentFunc) -> String {
    let params: Vec<String> = f.params().map(|(n, t)| format!("{n}: {}", render_type(&t))).collect();
    let results: Vec<String> = f.results().map(|t| render_type(&t)).collect();
    match results.as_slice() {
        [] => format!("func({})", params.join(", ")),
        [one] => format!("func({}) -> {one}", params.join(", ")),
        many => format!("func({}) -> ({})", params.join(", "), many.join(", ")),
    }
}

/// Render a value type as WIT-like text, structurally (names of records, enums and
/// variants are not part of a component's type; their fields and cases are).
pub fn render_type(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", render_type(&l.ty())),
        Type::Record(r) => {
            let fields: Vec<String> = r.fields().map(|f| format!("{}: {}", f.name, render_type(&f.ty))).collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        Type::Tuple(tu) => {
            let types: Vec<String> = tu.types().map(|x| render_type(&x)).collect();
            format!("tuple<{}>", types.join(", "))
        }
        Type::Variant(v) => {
            let cases: Vec<String> = v
                .cases()
                .map(|c| match c.ty {
                    Some(ty) => format!("{}({})", c.name, render_type(&ty)),
                    None => c.name.to_string(),
                })
                .collect();
            format!("variant {{ {} }}", cases.join(", "))
        }
        Type::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
        Type::Option(o) => format!("option<{}>", render_type(&o.ty())),
        Type::Result(r) => {
            let ok = r.ok().map(|t| render_type(&t)).unwrap_or_else(|| "_".into());
            match r.err() {
                Some(e) => format!("result<{ok}, {}>", render_type(&e)),
                None => format!("result<{ok}>"),
            }
        }
        Type::Flags(f) => format!("flags {{ {} }}", f.names().collect::<Vec<_>>().join(", ")),
        other => format!("{other:?}").split('(').next().unwrap_or("unsupported").to_lowercase(),
    }
}
