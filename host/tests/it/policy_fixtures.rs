//! Fixture modules (tests/fixtures/modules): each bad module gets its own clear error,
//! the superset loads, and the host never crashes (policy-core.md §4.4, §7 P6).

use super::policy_runtime::config;
use super::support::{TestEnv, repo_root};
use stick::policy::Policies;

fn fixture(name: &str) -> String {
    format!("tests/fixtures/modules/{name}.wasm")
}

#[test]
fn interface_mismatches_are_rejected_with_expected_and_found() {
    let env = TestEnv::new();
    let cases = [
        ("wrong-version", "exports `stick:policy/claims@0.2.0`; this `tt` supports `stick:policy/claims@0.1.x`"),
        (
            "changed-signature",
            "exports function `classify-action-claim` of `stick:policy/claims@0.1.0` with signature `func(text: string, max-bytes: u32)",
        ),
        ("extra-import", "imports `stick:evil/net@0.1.0`, which a policy module may not use"),
        ("core-module", "is a core WebAssembly module, not a component"),
        ("garbage", "is not a WebAssembly component"),
    ];
    for (name, problem) in cases {
        let path = fixture(name);
        let out = env.run(&["--json", "policy", "check", &path]);
        assert_eq!(out.code, 1, "{name}: {out:?}");
        assert!(out.stdout.is_empty());
        let err = out.err_json();
        assert_eq!(err["error"], "policy_module_invalid", "{name}");
        let message = err["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("policy module `{path}` {problem}")), "{name}: {message}");
        if name == "changed-signature" {
            assert!(message.contains("; this `tt` expects `func(text: string) -> result<"), "{message}");
        }
    }
}

#[test]
fn a_superset_of_the_minor_loads_and_answers() {
    let env = TestEnv::new();
    let out = env.run(&["--json", "policy", "check", &fixture("superset")]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["slots"][0]["interface"], "stick:policy/claims@0.1.3");
    let out = env.run(&["policy", "test", &fixture("superset"), "tests/fixtures/claims-superset.jsonl"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().last(), Some("3 passed, 0 failed"));
    assert!(out.stdout.trim_end().ends_with(" passed, 0 failed"));
}

#[test]
fn runaway_modules_fail_each_case_with_a_distinct_error() {
    let env = TestEnv::new();
    for (name, error) in [
        ("busy-loop", "ran out of fuel (limit 10000000 units)"),
        (
            "panic",
            "trapped: the module called an inert import (a panic or a print): unknown import: `wasi:cli/environment@0.2.6#get-environment` has not been defined",
        ),
        ("memory-hog", "exceeded the memory limit of 16777216 bytes"),
    ] {
        let out = env.run(&["--json", "policy", "test", &fixture(name), "policies/cases/claims.jsonl"]);
        assert_eq!(out.code, 1, "{name}: {out:?}");
        let j = out.json();
        assert_eq!(j["passed"], 0, "{name}");
        let cases = std::fs::read_to_string(repo_root().join("policies/cases/claims.jsonl")).unwrap();
        assert_eq!(j["failed"], cases.lines().filter(|l| !l.trim().is_empty()).count(), "{name}");
        for f in j["failures"].as_array().unwrap() {
            assert_eq!(f["got"]["error"], error, "{name}");
        }
    }
}

#[test]
fn runaway_modules_in_a_slot_fall_back_safely() {
    for name in ["busy-loop", "panic", "memory-hog"] {
        let dir = tempfile::tempdir().unwrap();
        let module = fixture(name);
        let mut p = Policies::new(config(dir.path(), &[module.as_str()], &[]));
        for _ in 0..3 {
            assert_eq!(p.classify_action_claim("I'll restart the server."), None, "{name}: not a claim");
        }
        let warnings = p.take_warnings();
        assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
        assert_eq!(p.faults().len(), 3, "{name}: a fresh store per call after a trap");
        // The slots the fixture does not fill still come from the embedded default.
        assert!(p.is_superseded(
            &stick_policy::HarnessInstance {
                harness_name: Some("c".into()),
                harness_session_id: Some("a".into()),
                harness_pid: Some(1),
                harness_process_started_at: Some(1),
                harness_host_id: None
            },
            &stick_policy::HarnessInstance {
                harness_name: Some("c".into()),
                harness_session_id: Some("b".into()),
                harness_pid: Some(1),
                harness_process_started_at: Some(1),
                harness_host_id: None
            },
        ));
    }
    assert!(repo_root().join("tests/fixtures/modules").is_dir());
}
