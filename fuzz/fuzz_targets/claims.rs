//! The claim classifier (follow-through.md §3), natively: `stick_policy::claims::
//! classify_action_claim` on the input as the host passes it (cut to 65 536 bytes at a
//! character boundary, §3.8).
//!
//! Checked: nothing panics (the classifier is pure and total, §3.1); a claim passes the
//! host's output check of §3.8 (a real verb, `matched` non-empty and no longer than the
//! input); `matched` is a trimmed substring of the input that holds a surface form of
//! its verb; the answer is deterministic; and matching is ASCII case-insensitive with
//! the original case kept (§3.2): upper- or lower-casing the ASCII letters of the input
//! gives the same verb and the same span, cased likewise. Finally the answer equals that
//! of a slow, literal regular-expression reading of §3.4–§3.6 (`claims_oracle.rs`): the
//! one-pass, eight-bytes-at-a-time classifier is checked against the spec's patterns.
#![no_main]

#[path = "claims_oracle.rs"]
mod claims_oracle;

use libfuzzer_sys::fuzz_target;
use stick::policy::{CLASSIFY_MAX_BYTES, cut_to_boundary};
use stick_policy::claims::classify_action_claim;
use stick_policy::types::{ActionVerb, Claim};

/// The shortest stem of each verb's surface forms (§3.3): every form contains it.
fn stem(verb: ActionVerb) -> &'static [&'static str] {
    match verb {
        ActionVerb::Relaunch => &["relaunch"],
        ActionVerb::Restart => &["restart"],
        ActionVerb::Redeploy => &["redeploy"],
        ActionVerb::Deploy => &["deploy"],
        ActionVerb::Push => &["push"],
        ActionVerb::Merge => &["merg"],
        ActionVerb::Revert => &["revert"],
        ActionVerb::Rebase => &["rebas"],
        ActionVerb::Rerun => &["rerun", "re-run"],
        ActionVerb::Fix => &["fix"],
        ActionVerb::Unknown => &[],
    }
}

fn recased(c: &Option<Claim>, f: fn(&str) -> String) -> Option<(ActionVerb, String)> {
    c.as_ref().map(|c| (c.verb, f(&c.matched)))
}

static ORACLE: std::sync::OnceLock<claims_oracle::Oracle> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let owned = String::from_utf8_lossy(data);
    let text = cut_to_boundary(&owned, CLASSIFY_MAX_BYTES);
    let got = classify_action_claim(text);
    if let Some(c) = &got {
        assert_ne!(c.verb, ActionVerb::Unknown);
        assert!(!c.matched.is_empty() && c.matched.len() <= text.len(), "{c:?}");
        assert_eq!(c.matched.trim(), c.matched, "{c:?}");
        assert!(text.contains(&c.matched), "{c:?} not in {text:?}");
        let lower = c.matched.to_ascii_lowercase();
        assert!(stem(c.verb).iter().any(|s| lower.contains(s)), "{c:?}");
    }
    assert_eq!(classify_action_claim(text), got, "not deterministic");
    let upper = classify_action_claim(&text.to_ascii_uppercase());
    assert_eq!(recased(&upper, |s| s.to_string()), recased(&got, str::to_ascii_uppercase), "upper-cased {text:?}");
    let lower = classify_action_claim(&text.to_ascii_lowercase());
    assert_eq!(recased(&lower, |s| s.to_string()), recased(&got, str::to_ascii_lowercase), "lower-cased {text:?}");
    let oracle = ORACLE.get_or_init(claims_oracle::Oracle::new).classify(text);
    assert_eq!(got.map(|c| (c.verb, c.matched)), oracle, "the spec's patterns disagree on {text:?}");
});
