//! Policy-core benchmarks P1–P5 (policy-core.md §7). Not a test: it measures and
//! prints a markdown table; with `BENCH_WRITE=1` it also rewrites the policy section
//! of `docs/PERFORMANCE.md`.
//!
//! Run: `cargo bench -p stick --bench policy` (or `BENCH_WRITE=1 cargo bench …`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark"
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use stick::policy::module::LoadedModule;
use stick::policy::{DEFAULT_MODULE, Limits, engine};
use stick_policy::types as n;

const LIMITS: Limits = Limits { fuel: 10_000_000, memory_bytes: 16 << 20 };

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn text_1kb() -> String {
    let mut s = String::new();
    while s.len() < 1000 {
        s.push_str("Reviewed the diff and the failing test. ");
    }
    s.push_str("I'll restart the server.");
    s
}

fn selection_16() -> n::SelectionInput {
    let now = 1_776_859_200_000;
    n::SelectionInput {
        purpose: n::Purpose::Release,
        now_ms: now,
        after: Some(n::AgentRef { agent_id: "agent:0".into(), rank: Some(0) }),
        member_count: 16,
        candidates: (0..16)
            .map(|i| n::Candidate {
                agent_id: format!("agent:{i}"),
                ordinal: i,
                rank: i as u32,
                last_seen_at_ms: now - 100,
                last_wait_at_ms: Some(now - 50),
                last_held_at_ms: Some(now - 1000 * i),
                liveness: n::Liveness::Unprobed,
                session_kind: "agent".into(),
            })
            .collect(),
        presence_ttl_ms: 14_400_000,
        waiter_grace_ms: 10_000,
    }
}

fn run_tt(data: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tt"))
        .args(args)
        .env("TT_DATA_DIR", data)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(out.status.success() || args.contains(&"test"), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    elapsed
}

fn main() {
    let engine = engine::new_engine().unwrap();
    let (mut module, _) =
        LoadedModule::load(&engine, None, DEFAULT_MODULE, None, None, LIMITS).map_err(|u| u.problems).unwrap();
    let text = text_1kb();
    let input = selection_16();
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // P1: one warm call.
    for _ in 0..1000 {
        module.classify_action_claim(&text).unwrap();
    }
    let mut samples: Vec<Duration> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(module.classify_action_claim(&text).unwrap());
            t.elapsed()
        })
        .collect();
    let p1a = percentile(&mut samples, 0.5);
    let p1a99 = percentile(&mut samples, 0.99);
    let mut samples: Vec<Duration> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(module.select_next_holder(&input).unwrap());
            t.elapsed()
        })
        .collect();
    let p1b = percentile(&mut samples, 0.5);
    rows.push((
        "P1 warm call, classify 1 KB text".into(),
        format!("p50 {} (p99 {})", us(p1a), us(p1a99)),
        "p50 < 10 µs".into(),
    ));
    rows.push(("P1 warm call, select among 16 candidates".into(), format!("p50 {}", us(p1b)), "p50 < 10 µs".into()));
    let mut samples: Vec<Duration> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(stick_policy::claims::classify_action_claim(std::hint::black_box(&text)));
            t.elapsed()
        })
        .collect();
    let native = percentile(&mut samples, 0.5);
    rows.push(("(reference) the same classification, native".into(), format!("p50 {}", us(native)), "—".into()));

    // P2: fresh Store + instantiate + one call.
    let mut samples: Vec<Duration> = (0..5_000)
        .map(|_| {
            module.discard_instance();
            let t = Instant::now();
            std::hint::black_box(module.classify_action_claim(&text).unwrap());
            t.elapsed()
        })
        .collect();
    let p2 = percentile(&mut samples, 0.5);
    rows.push(("P2 fresh Store + instantiate + one call".into(), format!("p50 {}", us(p2)), "< 150 µs".into()));

    // P3: whole-process cost of loading the policy (warm AOT cache): `tt policy show`
    // (engine + mmap of the cached artifact + instantiate + one `describe` call) against
    // `tt --version` (no policy), median of paired runs.
    let data = tempfile::tempdir().unwrap();
    run_tt(data.path(), &["policy", "compile", "policies/default.wasm"]);
    let mut deltas = Vec::new();
    let mut with = Vec::new();
    let mut without = Vec::new();
    for _ in 0..200 {
        let a = run_tt(data.path(), &["policy", "show"]);
        let b = run_tt(data.path(), &["--version"]);
        with.push(a);
        without.push(b);
        deltas.push(a.saturating_sub(b));
    }
    let d = percentile(&mut deltas, 0.5);
    rows.push((
        "P3 whole `tt` with one policy load + call, warm cache, minus the same binary without".into(),
        format!("+{} (median {} vs {})", ms(d), ms(percentile(&mut with, 0.5)), ms(percentile(&mut without, 0.5))),
        "≤ +2 ms".into(),
    ));

    // P4: first use of a new module: compile + cache write, in process and whole `tt`.
    let mut samples: Vec<Duration> = (0..10)
        .map(|_| {
            let fresh = tempfile::tempdir().unwrap();
            let dir = fresh.path().join("cache/policy");
            let t = Instant::now();
            LoadedModule::load(&engine, None, DEFAULT_MODULE, Some(&dir), None, LIMITS)
                .map_err(|u| u.problems)
                .unwrap();
            t.elapsed()
        })
        .collect();
    let p4 = percentile(&mut samples, 0.5);
    let mut samples: Vec<Duration> = (0..10)
        .map(|_| {
            let fresh = tempfile::tempdir().unwrap();
            run_tt(fresh.path(), &["policy", "compile", "policies/default.wasm"])
        })
        .collect();
    let p4b = percentile(&mut samples, 0.5);
    rows.push((
        format!("P4 first use of a new module ({} KB): compile + cache write", DEFAULT_MODULE.len() / 1024),
        format!("{} in process; {} whole `tt policy compile`", ms(p4), ms(p4b)),
        "< 500 ms".into(),
    ));

    // P5: `tt policy test` throughput over every table (warm cache).
    let cases: usize = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/cases"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap().lines().filter(|l| !l.trim().is_empty()).count())
        .sum();
    let mut samples: Vec<Duration> =
        (0..20).map(|_| run_tt(data.path(), &["policy", "test", "policies/default.wasm"])).collect();
    let p5 = percentile(&mut samples, 0.5);
    let rate = cases as f64 / p5.as_secs_f64();
    rows.push((
        format!("P5 `tt policy test` over {cases} cases (whole process)"),
        format!("{rate:.0} cases/s ({} per run)", ms(p5)),
        "≥ 1 000 cases/s".into(),
    ));

    let mut table = String::from("| # | measured | target |\n|---|---|---|\n");
    for (what, got, target) in &rows {
        table.push_str(&format!("| {what} | {got} | {target} |\n"));
    }
    println!("{table}");
    if std::env::var("BENCH_WRITE").is_ok_and(|v| v == "1") {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PERFORMANCE.md");
        let text = std::fs::read_to_string(&doc).unwrap();
        let (begin, end) = ("<!-- policy-bench:begin -->", "<!-- policy-bench:end -->");
        let (Some(a), Some(b)) = (text.find(begin), text.find(end)) else { panic!("markers missing in {doc:?}") };
        let updated = format!("{}{begin}\n{table}{}", &text[..a], &text[b..]);
        std::fs::write(&doc, updated).unwrap();
        println!("wrote {}", doc.display());
    }
}
