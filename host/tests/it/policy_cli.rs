//! `tt policy …` end to end (policy-core.md §4.2–§5), driving the real binary.

use super::support::{TestEnv, repo_root};
use std::os::unix::fs::PermissionsExt;

#[test]
fn default_module_passes_every_case_table() {
    let env = TestEnv::new();
    let out = env.run(&["policy", "test", "policies/default.wasm"]);
    assert_eq!(out.code, 0, "{out:?}");
    let last = out.stdout.lines().last().unwrap();
    let (passed, rest) = last.split_once(" passed, ").unwrap();
    assert_eq!(rest, "0 failed");
    assert!(passed.parse::<usize>().unwrap() >= 200, "{last}");
    // Every table of policies/cases/ ran.
    let json = env.run(&["--json", "policy", "test", "policies/default.wasm"]).json();
    let slots: Vec<&str> = json["tables"].as_array().unwrap().iter().map(|t| t["slot"].as_str().unwrap()).collect();
    for slot in ["claims", "fairness", "supersession", "host-lock"] {
        assert!(slots.contains(&slot), "{slots:?}");
    }
    assert_eq!(json["failed"], 0);
}

#[test]
fn verbose_test_prints_fuel_per_case_and_failures_exit_1() {
    let env = TestEnv::new();
    let out = env.run(&["--verbose", "policy", "test", "policies/default.wasm", "policies/cases/supersession.jsonl"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.lines().filter(|l| l.contains(": ok fuel ")).count() >= 20, "{}", out.stdout);
    // The default tables run against verified-only: the supersession rows disagree
    // and the other slots are not implemented.
    let out = env.run(&[
        "policy",
        "test",
        "policies/verified-only.wasm",
        "policies/cases/supersession.jsonl",
        "policies/cases/claims.jsonl",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("does not implement slot `claims`"), "{}", out.stdout);
    assert!(out.stdout.lines().last().unwrap().ends_with("failed"));
}

#[test]
fn verified_only_has_its_own_table() {
    let env = TestEnv::new();
    let out =
        env.run(&["policy", "test", "policies/verified-only.wasm", "policies/verified-only-cases/supersession.jsonl"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.trim_end().ends_with(" passed, 0 failed"));
}

#[test]
fn swap_one_slot_with_a_flag_and_make_it_stick() {
    let env = TestEnv::new();
    let show = env.run(&["--policy", "policies/verified-only.wasm", "--json", "policy", "show"]);
    assert_eq!(show.code, 0, "{show:?}");
    let slots = show.json()["slots"].as_array().unwrap().clone();
    let names: Vec<&str> = slots.iter().map(|s| s["slot"].as_str().unwrap()).collect();
    assert_eq!(names, ["claims", "fairness", "supersession", "host-lock"]);
    for s in &slots {
        if s["slot"] == "supersession" {
            assert_eq!(s["source"], "policies/verified-only.wasm");
            assert_eq!(s["name"], "stick-verified-only");
        } else {
            assert_eq!(s["source"], "embedded");
            assert_eq!(s["name"], "stick-default");
        }
        assert_eq!(s["sha256"].as_str().unwrap().len(), 64);
    }

    let used = env.run(&["--json", "policy", "use", "policies/verified-only.wasm"]);
    assert_eq!(used.code, 0, "{used:?}");
    let abs = repo_root().join("policies/verified-only.wasm").display().to_string();
    assert_eq!(used.json()["status"], "recorded");
    assert_eq!(used.json()["policy_modules"][0], abs.as_str());
    let settings = env.data_dir().join("settings.toml");
    assert_eq!(std::fs::metadata(&settings).unwrap().permissions().mode() & 0o777, 0o600);

    let show = env.run(&["--json", "policy", "show"]).json();
    assert_eq!(show["slots"][2]["source"], abs.as_str());
    assert_eq!(show["slots"][0]["source"], "embedded");

    // TT_POLICY outranks settings.toml; --policy outranks TT_POLICY; blank is unset.
    let mut env2 = TestEnv { dir: tempfile::tempdir().unwrap(), cwd: env.cwd.clone(), vars: env.vars.clone() };
    std::fs::create_dir_all(env2.data_dir()).unwrap();
    std::fs::copy(&settings, env2.data_dir().join("settings.toml")).unwrap();
    env2.set("TT_POLICY", "policies/default.wasm");
    let show = env2.run(&["--json", "policy", "show"]).json();
    assert_eq!(show["slots"][2]["source"], "policies/default.wasm");
    let show = env2.run(&["--json", "--policy", "policies/verified-only.wasm", "policy", "show"]).json();
    assert_eq!(show["slots"][2]["source"], "policies/verified-only.wasm");
    env2.set("TT_POLICY", "  ");
    let show = env2.run(&["--json", "policy", "show"]).json();
    assert_eq!(show["slots"][2]["source"], abs.as_str());

    let reset = env.run(&["--json", "policy", "use", "--reset"]);
    assert_eq!(reset.code, 0, "{reset:?}");
    assert_eq!(reset.json()["status"], "reset");
    let show = env.run(&["--json", "policy", "show"]).json();
    assert_eq!(show["slots"][2]["source"], "embedded");
}

#[test]
fn an_unusable_module_leaves_settings_untouched() {
    let env = TestEnv::new();
    let bad = env.dir.path().join("bad.wasm");
    std::fs::write(&bad, b"not wasm at all").unwrap();
    let out = env.run(&["--json", "policy", "use", bad.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty());
    let err = out.err_json();
    assert_eq!(err["error"], "policy_module_invalid");
    assert_eq!(err["path"], bad.to_str().unwrap());
    assert!(err["problems"][0].as_str().unwrap().contains("not a WebAssembly component"), "{err}");
    assert!(!env.data_dir().join("settings.toml").exists());

    let missing = env.run(&["--json", "policy", "check", "nope.wasm"]);
    assert_eq!(missing.code, 1);
    assert!(missing.err_json()["message"].as_str().unwrap().starts_with("policy module `nope.wasm` cannot be read"));
    let text = env.run(&["policy", "check", "nope.wasm"]);
    assert!(text.stderr.starts_with("Error: policy module `nope.wasm` cannot be read"), "{text:?}");
    assert!(text.stderr.contains("\nhint: "), "{text:?}");
}

#[test]
fn a_configured_module_that_is_not_usable_warns_and_falls_back() {
    let mut env = TestEnv::new();
    env.set("TT_POLICY", "does-not-exist.wasm");
    let out = env.run(&["--json", "policy", "show"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.starts_with("warning: policy module `does-not-exist.wasm` cannot be read"), "{out:?}");
    let slots = out.json()["slots"].as_array().unwrap().clone();
    assert!(slots.iter().all(|s| s["source"] == "embedded"));
    // The unusable module is recorded as a fault (policy-core.md §4.3).
    let log = std::fs::read_to_string(env.data_dir().join("logs/policy-faults.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.contains("does-not-exist.wasm"), "{log}");
    // check and test record none.
    env.run(&["policy", "check", "does-not-exist.wasm"]);
    assert_eq!(std::fs::read_to_string(env.data_dir().join("logs/policy-faults.jsonl")).unwrap(), log);
}

#[test]
fn aot_cache_is_owner_only_and_recovers_from_corruption() {
    let env = TestEnv::new();
    let out = env.run(&["--json", "policy", "compile", "policies/default.wasm"]);
    assert_eq!(out.code, 0, "{out:?}");
    let artifact = std::path::PathBuf::from(out.json()["artifact"].as_str().unwrap());
    let cache_dir = artifact.parent().unwrap();
    assert_eq!(cache_dir, env.data_dir().join("cache/policy"));
    assert_eq!(std::fs::metadata(cache_dir).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(cache_dir.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&artifact).unwrap().permissions().mode() & 0o777, 0o600);
    let good = std::fs::read(&artifact).unwrap();
    assert_eq!(env.run(&["--json", "policy", "show"]).json()["slots"][0]["cached"], true);

    for corrupt in [good.get(..good.len() / 3).unwrap().to_vec(), b"garbage, not an ELF artifact".to_vec(), Vec::new()]
    {
        std::fs::write(&artifact, &corrupt).unwrap();
        let out = env.run(&["--json", "policy", "show"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stderr.is_empty(), "recompiled silently: {out:?}");
        assert_eq!(out.json()["slots"][0]["name"], "stick-default");
        assert_eq!(std::fs::read(&artifact).unwrap().len(), good.len(), "the artifact was rewritten");
    }
}

#[test]
fn an_unwritable_data_dir_compiles_in_memory_with_one_warning() {
    let mut env = TestEnv::new();
    env.set("TT_DATA_DIR", "/proc/tt-cannot-create-this");
    let out = env.run(&["--json", "policy", "show"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(out.stderr.starts_with("warning: "), "{out:?}");
    let out = env.run(&["--json", "policy", "compile", "policies/default.wasm"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.err_json()["error"], "storage_error");
}

#[test]
fn check_reports_slots_functions_and_imports() {
    let env = TestEnv::new();
    let out = env.run(&["--json", "policy", "check", "policies/verified-only.wasm"]);
    assert_eq!(out.code, 0, "{out:?}");
    let j = out.json();
    assert_eq!(j["usable"], true);
    assert_eq!(j["name"], "stick-verified-only");
    let verdicts: Vec<(&str, &str)> = j["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["slot"].as_str().unwrap(), s["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [("claims", "absent"), ("fairness", "absent"), ("supersession", "ok"), ("host-lock", "absent")]
    );
    assert_eq!(j["slots"][2]["interface"], "stick:policy/supersession@0.1.0");
    assert_eq!(j["slots"][2]["functions"][0]["name"], "is-superseded");
    assert!(j["imports"].as_array().unwrap().iter().all(|i| {
        let i = i.as_str().unwrap();
        i.starts_with("wasi:cli/") || i.starts_with("wasi:io/")
    }));
}

#[test]
fn policy_commands_validate_settings_and_clock() {
    let mut env = TestEnv::new();
    env.set("TT_NOW_MS", "abc");
    let out = env.run(&["--json", "policy", "show"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.err_json()["error"], "cli_error");
    assert_eq!(out.err_json()["message"], "TT_NOW_MS must be an integer number of epoch milliseconds.");

    let mut env = TestEnv::new();
    for bad in [r#"{"bogus_ms":1}"#, r#"{"policy_fuel":10}"#, "not json", r#"{"policy_modules":[1]}"#] {
        env.set("TT_SETTINGS", bad);
        let out = env.run(&["--json", "policy", "show"]);
        assert_eq!(out.code, 2, "{bad}: {out:?}");
        assert_eq!(out.err_json()["error"], "invalid_settings");
        assert_eq!(out.err_json()["source"], "TT_SETTINGS");
        assert!(!env.data_dir().exists(), "nothing written for {bad}");
    }
    let mut env = TestEnv::new();
    let live = env.dir.path().join("live.json");
    std::fs::write(&live, r#"{"agent:a":"maybe"}"#).unwrap();
    env.set("TT_LIVENESS_FILE", live.to_str().unwrap());
    let out = env.run(&["--json", "policy", "show"]);
    assert_eq!((out.code, out.err_json()["error"].as_str()), (2, Some("invalid_settings")));
}

#[test]
fn help_is_side_effect_free_and_usage_errors_exit_2() {
    let env = TestEnv::new();
    for args in [vec!["policy", "--help"], vec!["help", "policy"], vec!["policy", "test", "-h"], vec!["--help"], vec![]]
    {
        let out = env.run(&args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(out.stdout.starts_with("Usage: tt "), "{args:?}: {}", out.stdout);
        assert!(out.stdout.contains("--help, -h"), "{args:?}");
        assert!(out.stdout.lines().nth(1) == Some(""), "{args:?}");
    }
    let out = env.run(&["policy", "test", "--help"]);
    assert!(out.stdout.starts_with("Usage: tt policy test <PATH> [CASES…] [options]"), "{}", out.stdout);
    // Even a malformed clock is not read by help.
    let mut env2 = TestEnv::new();
    env2.set("TT_NOW_MS", "abc");
    assert_eq!(env2.run(&["policy", "show", "--help"]).code, 0);
    assert!(!env.data_dir().exists() && !env2.data_dir().exists());

    let cases: [(&[&str], &str); 7] = [
        (&["bogus"], "Unknown command: bogus"),
        (&["help", "bogus"], "Unknown command: bogus"),
        (&["policy", "frob"], "Unknown policy subcommand: frob"),
        (&["policy", "show", "--frob"], "Unknown option --frob for tt policy show."),
        (&["--agent"], "Option --agent requires a value."),
        (&["policy", "show", "--json=1"], "Option --json does not take a value."),
        (&["policy", "use", "x.wasm", "--reset"], "PATH and --reset cannot be used together with tt policy use."),
    ];
    for (args, message) in cases {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = env.run(&a);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty());
        assert_eq!(out.err_json()["error"], "cli_error", "{args:?}");
        assert_eq!(out.err_json()["message"], message, "{args:?}");
    }
    let out = env.run(&["--json", "--json", "policy", "show", "--json"]);
    assert_eq!(out.code, 0, "booleans may repeat: {out:?}");
    let out = env.run(&["--json", "--agent", "a", "--agent", "b", "policy", "show"]);
    assert_eq!(out.code, 2, "value options may not: {out:?}");
    let out = env.run(&["--version"]);
    assert!(out.stdout.starts_with("tt "), "{out:?}");
}

#[test]
fn missing_case_directory_is_invalid_input() {
    let mut env = TestEnv::new();
    env.cwd = env.dir.path().to_path_buf();
    let module = repo_root().join("policies/default.wasm");
    let out = env.run(&["--json", "policy", "test", module.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.err_json()["error"], "invalid_input");
    assert_eq!(out.err_json()["field"], "cases");
    let out = env.run(&["--json", "policy", "test", module.to_str().unwrap(), "missing.jsonl"]);
    assert_eq!((out.code, out.err_json()["field"].as_str()), (1, Some("cases")));
    // A malformed line and an unknown slot are failed cases, not errors.
    let table = env.dir.path().join("claims-odd.jsonl");
    std::fs::write(&table, "not json\n[1]\n{\"slot\":\"nope\",\"input\":{},\"want\":null}\n{\"note\":\"ok\",\"input\":{\"text\":\"I'll push\"},\"want\":{\"verb\":\"push\"}}\n").unwrap();
    let out = env.run(&["policy", "test", module.to_str().unwrap(), table.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout.lines().last(), Some("1 passed, 3 failed"));
}
