//! Text rendering of command results (JSON is serde's).

use stick::commands::policy::{CheckResult, CompileResult, ShowResult, TestResult, UseResult};

/// `tt policy show`: one line per slot.
pub fn policy_show(r: &ShowResult) -> String {
    let mut out = String::new();
    for s in &r.slots {
        let source = if s.source == "embedded" { "embedded default".to_string() } else { s.source.clone() };
        let name = match (&s.name, &s.version) {
            (Some(n), Some(v)) => format!("{n} {v}"),
            _ => "(no meta)".into(),
        };
        let cached = if s.cached { "cached" } else { "not cached" };
        out.push_str(&format!("{:<13} {source}  {name}  sha256 {}  {cached}\n", s.slot, s.sha256));
    }
    out
}

/// `tt policy check`: verdict per slot, functions, imports.
pub fn policy_check(r: &CheckResult) -> String {
    let mut out = format!("{}: usable\n", r.path);
    out.push_str(&format!("  sha256   {}\n", r.sha256));
    if let (Some(n), Some(v)) = (&r.name, &r.version) {
        out.push_str(&format!("  module   {n} {v}\n"));
    }
    for s in &r.slots {
        match &s.interface {
            Some(i) => {
                out.push_str(&format!("  {:<13} ok      {i}\n", s.slot));
                for f in s.functions.iter().flatten() {
                    out.push_str(&format!("      {}: {}\n", f.name, f.signature()));
                }
            }
            None => out.push_str(&format!("  {:<13} absent\n", s.slot)),
        }
    }
    if r.imports.is_empty() {
        out.push_str("  imports  none\n");
    } else {
        out.push_str(&format!("  imports  {} (satisfied with traps)\n", r.imports.join(", ")));
    }
    out
}

/// `tt policy test`: failures (and with `verbose` every case with its fuel), then the
/// stable last line `N passed, M failed`.
pub fn policy_test(r: &TestResult, verbose: bool) -> String {
    let mut out = String::new();
    if verbose {
        for c in &r.cases {
            let fuel = c.fuel.map(|f| f.to_string()).unwrap_or_else(|| "-".into());
            let verdict = if c.passed { "ok" } else { "FAILED" };
            out.push_str(&format!("{}:{}: {verdict} fuel {fuel}: {}\n", c.path, c.line, c.note));
        }
    }
    for f in &r.failures {
        out.push_str(&format!(
            "FAILED {}:{}: {}: input {} want {} got {}\n",
            f.path, f.line, f.note, f.input, f.want, f.got
        ));
    }
    out.push_str(&format!("{} passed, {} failed\n", r.passed, r.failed));
    out
}

/// `tt policy use`.
pub fn policy_use(r: &UseResult) -> String {
    match &r.policy_modules {
        Some(list) => format!("recorded policy module {} in {}\n", list.join(", "), r.settings_path),
        None => format!(
            "reset: {} no longer selects policy modules; the embedded default fills every slot\n",
            r.settings_path
        ),
    }
}

/// `tt policy compile`.
pub fn policy_compile(r: &CompileResult) -> String {
    format!("compiled {} (sha256 {})\n{}\n", r.path, r.sha256, r.artifact)
}
