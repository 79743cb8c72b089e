//! Every table in `policies/cases/` passes natively (policy-core.md §6).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::path::Path;
use stick_policy::cases::{Native, run_table};

#[test]
fn every_case_table_passes_natively() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/cases");
    let mut total = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "jsonl")) {
        let name = path.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let table = run_table(name, &text, &mut Native);
        assert!(table.slot.is_some(), "{name} names no slot");
        total += table.cases.len();
        for c in table.cases.iter().filter(|c| !c.passed) {
            failures.push(format!("{name}:{}: {}: want {} got {}", c.line, c.note, c.want, c.got));
        }
    }
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(total >= 200, "only {total} cases");
}
