//! The action-claim classifier (follow-through.md §3): decides whether a text contains a concrete
//! first-person promise to do one of ten actions now or very soon.
//!
//! The four pattern families of §3.4 are matched by hand (no regular-expression engine), with the
//! exact semantics of a global, leftmost-first regular expression: for each of the 40 patterns the
//! text is searched left to right for successive non-overlapping matches, each search resuming at
//! the end of the previous (possibly rejected) match.
//!
//! Design notes (why a hand-written matcher is exact here):
//! - Every `WS` in the patterns is followed by a non-whitespace character (a letter, `-` or `*`),
//!   so a greedy scan of the whole whitespace run is the only way the rest can match.
//! - At most one surface form of a verb can end at a word boundary at a given position (a shorter
//!   form that is a prefix of a longer one is followed by a word character), so `merg`/`merge`
//!   and `rebas`/`rebase` need no backtracking beyond "first form that ends at `\b`".
//! - The lead alternatives of one family are tried in the order of §3.4, each followed by the
//!   rest of the pattern, which is what backtracking over an alternation does.
//! - The `the` trailer takes between 0 and 40 characters greedily and nothing follows it, so the
//!   longest run allowed is the match.
//!
//! The lead of each family is computed once per start position and shared by the ten verbs, so a
//! classification costs time linear in the text (times a small constant) for texts up to the
//! 65 536 bytes of §3.8.

use crate::types::{ActionVerb, Claim};

/// The `the` trailer takes at most this many characters after `the` (follow-through.md §3.4).
const THE_TRAILER_MAX: usize = 40;

/// Whole words that veto a candidate whose own span contains one (follow-through.md §3.5 rule 2).
const PAST_FORMS: [&str; 11] = [
    "relaunched",
    "restarted",
    "redeployed",
    "deployed",
    "pushed",
    "merged",
    "reverted",
    "rebased",
    "reran",
    "re-ran",
    "fixed",
];

/// Surface forms (families F1–F3) of a verb, follow-through.md §3.3.
fn surface_forms(verb: ActionVerb) -> &'static [&'static str] {
    match verb {
        ActionVerb::Relaunch => &["relaunch", "relaunching", "relaunches"],
        ActionVerb::Restart => &["restart", "restarting", "restarts"],
        ActionVerb::Redeploy => &["redeploy", "redeploying", "redeploys"],
        ActionVerb::Deploy => &["deploy", "deploying", "deploys"],
        ActionVerb::Push => &["push", "pushing", "pushes"],
        ActionVerb::Merge => &["merg", "merge", "merging", "merges"],
        ActionVerb::Revert => &["revert", "reverting", "reverts"],
        ActionVerb::Rebase => &["rebas", "rebase", "rebasing", "rebases"],
        ActionVerb::Rerun => &["rerun", "re-run", "rerunning", "re-running", "reruns", "re-runs"],
        ActionVerb::Fix => &["fix", "fixing", "fixes"],
        ActionVerb::Unknown => &[],
    }
}

/// Participles (family F4) of a verb, follow-through.md §3.3.
fn participles(verb: ActionVerb) -> &'static [&'static str] {
    match verb {
        ActionVerb::Relaunch => &["relaunching"],
        ActionVerb::Restart => &["restarting"],
        ActionVerb::Redeploy => &["redeploying"],
        ActionVerb::Deploy => &["deploying"],
        ActionVerb::Push => &["pushing"],
        ActionVerb::Merge => &["merging"],
        ActionVerb::Revert => &["reverting"],
        ActionVerb::Rebase => &["rebasing"],
        ActionVerb::Rerun => &["rerunning", "re-running"],
        ActionVerb::Fix => &["fixing"],
        ActionVerb::Unknown => &[],
    }
}

/// A word character: ASCII letter, ASCII digit or `_` (follow-through.md §3.2).
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// An apostrophe: `'`, `‘` or `’` (follow-through.md §3.2).
fn is_apos(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}')
}

/// A character that marks a candidate as quoted (follow-through.md §3.5 rule 1).
fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '\u{201C}' | '\u{201D}' | '\u{2018}' | '\u{2019}' | '`')
}

/// The text as characters, with the primitive matchers of follow-through.md §3.2.
struct Text {
    chars: Vec<char>,
}

impl Text {
    fn len(&self) -> usize {
        self.chars.len()
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn word_at(&self, i: usize) -> bool {
        self.at(i).is_some_and(is_word)
    }

    fn word_before(&self, i: usize) -> bool {
        i.checked_sub(1).is_some_and(|j| self.word_at(j))
    }

    /// `\b` at position `i` (between `i-1` and `i`).
    fn boundary(&self, i: usize) -> bool {
        self.word_before(i) != self.word_at(i)
    }

    /// The ASCII-lowercase literal `lit` at `i`, ASCII case-insensitively, ending at or before
    /// `limit`; returns the position after it.
    fn lit_within(&self, i: usize, lit: &str, limit: usize) -> Option<usize> {
        let mut j = i;
        for want in lit.chars() {
            if j >= limit {
                return None;
            }
            let c = self.at(j)?;
            if !c.eq_ignore_ascii_case(&want) {
                return None;
            }
            j += 1;
        }
        Some(j)
    }

    /// The literal `lit` at `i` (ASCII case-insensitive); returns the position after it.
    fn lit(&self, i: usize, lit: &str) -> Option<usize> {
        self.lit_within(i, lit, self.len())
    }

    /// `WS`: one or more whitespace characters, taken greedily.
    fn ws(&self, i: usize) -> Option<usize> {
        let end = self.skip_while(i, char::is_whitespace);
        (end > i).then_some(end)
    }

    /// The position of the first character at or after `i` that fails `pred`.
    fn skip_while(&self, i: usize, pred: impl Fn(char) -> bool) -> usize {
        let mut j = i;
        while self.at(j).is_some_and(&pred) {
            j += 1;
        }
        j
    }

    /// `APOS?`: an optional apostrophe.
    fn apos_opt(&self, i: usize) -> usize {
        if self.at(i).is_some_and(is_apos) { i + 1 } else { i }
    }

    /// `lit WS`: a literal followed by whitespace.
    fn lit_ws(&self, i: usize, lit: &str) -> Option<usize> {
        self.lit(i, lit).and_then(|j| self.ws(j))
    }

    /// A sequence `w1 WS w2 WS … wn`.
    fn words(&self, i: usize, words: &[&str]) -> Option<usize> {
        let mut j = i;
        for (k, w) in words.iter().enumerate() {
            if k > 0 {
                j = self.ws(j)?;
            }
            j = self.lit(j, w)?;
        }
        Some(j)
    }

    /// `I APOS? <lit>`.
    fn i_apos(&self, i: usize, lit: &str) -> Option<usize> {
        let j = self.lit(i, "i")?;
        self.lit(self.apos_opt(j), lit)
    }

    /// The ends of the F1 leads starting at `i`, in the order of follow-through.md §3.4, each
    /// already followed by `WS` (so the value is where `VERB` must start).
    fn f1_leads(&self, i: usize) -> [Option<usize>; 7] {
        if !self.boundary(i) {
            return [None; 7];
        }
        let m_then = |rest: &[&str]| {
            self.i_apos(i, "m").and_then(|j| self.ws(j)).and_then(|j| self.words(j, rest))
        };
        let i_ws = |rest: &[&str]| {
            self.lit_ws(i, "i").and_then(|j| self.words(j, rest))
        };
        [
            self.i_apos(i, "ll"),
            i_ws(&["will"]),
            m_then(&["going", "to"]),
            i_ws(&["am", "going", "to"]),
            m_then(&["about", "to"]),
            i_ws(&["am", "about", "to"]),
            self.words(i, &["let", "me"]),
        ]
        .map(|end| end.and_then(|j| self.ws(j)))
    }

    /// The ends of the F2 leads starting at `i` (`\b I (APOS? m | WS am) WS`).
    fn f2_leads(&self, i: usize) -> [Option<usize>; 2] {
        if !self.boundary(i) {
            return [None; 2];
        }
        [self.i_apos(i, "m"), self.lit_ws(i, "i").and_then(|j| self.lit(j, "am"))]
            .map(|end| end.and_then(|j| self.ws(j)))
    }

    /// BOUNDARY at `s` (follow-through.md §3.4), followed by `[ \t]*` and an optional bullet:
    /// where the word after it may start, one entry per BOUNDARY alternative (start of text;
    /// `.`/`!`/`?` + `WS`; line feed).
    fn sentence_starts(&self, s: usize) -> [Option<usize>; 3] {
        let start_of_text = (s == 0).then_some(0);
        let punct = match self.at(s) {
            Some('.' | '!' | '?') => self.ws(s + 1),
            _ => None,
        };
        let line_feed = (self.at(s) == Some('\n')).then_some(s + 1);
        [start_of_text, punct, line_feed].map(|p| p.map(|j| self.indent_bullet(j)))
    }

    /// `[ \t]*` then optionally `-`/`*` followed by `[ \t]+`. Without the bullet the next word
    /// would have to start at the `-`/`*`, which no lead does, so taking the bullet is exact.
    fn indent_bullet(&self, i: usize) -> usize {
        let blank = |c: char| c == ' ' || c == '\t';
        let j = self.skip_while(i, blank);
        match self.at(j) {
            Some('-' | '*') => {
                let k = self.skip_while(j + 1, blank);
                if k > j + 1 { k } else { j }
            }
            _ => j,
        }
    }

    /// The ends of the F3 leads (`going WS to WS` | `about WS to WS`) for a match starting at `s`.
    fn f3_leads(&self, s: usize) -> [Option<usize>; 6] {
        let [a, b, c] = self.sentence_starts(s);
        let lead = |p: Option<usize>| -> [Option<usize>; 2] {
            let go = |w: &str| p.and_then(|p| self.words(p, &[w, "to"])).and_then(|j| self.ws(j));
            [go("going"), go("about")]
        };
        let [a1, a2] = lead(a);
        let [b1, b2] = lead(b);
        let [c1, c2] = lead(c);
        [a1, a2, b1, b2, c1, c2]
    }

    /// A surface form of a verb at `i` followed by `\b`; returns its end.
    fn verb_at(&self, i: usize, forms: &[&str]) -> Option<usize> {
        forms.iter().find_map(|f| self.lit(i, f).filter(|&e| self.boundary(e)))
    }

    /// TRAILER at `i` (follow-through.md §3.4); returns the end of the match.
    fn trailer(&self, i: usize) -> Option<usize> {
        let j = self.ws(i)?;
        for w in ["now", "it", "this", "that"] {
            if let Some(e) = self.lit(j, w).filter(|&e| self.boundary(e)) {
                return Some(e);
            }
        }
        let e = self.lit(j, "the").filter(|&e| self.boundary(e))?;
        let stop = |c: char| matches!(c, '.' | '!' | '?' | '\n');
        let mut k = e;
        while k - e < THE_TRAILER_MAX && self.at(k).is_some_and(|c| !stop(c)) {
            k += 1;
        }
        Some(k)
    }

    /// §3.5 rule 1: the candidate starting at `i` is quoted.
    fn quoted(&self, i: usize) -> bool {
        for back in 1..=2 {
            let Some(c) = i.checked_sub(back).and_then(|j| self.at(j)) else {
                return false;
            };
            if c != ' ' {
                return is_quote(c);
            }
        }
        false
    }

    /// §3.5 rule 2: the span `[s, e)`, as a string of its own, contains a whole past form.
    fn past_tense(&self, s: usize, e: usize) -> bool {
        (s..e).any(|j| {
            let starts_word = j == s || !self.word_before(j);
            starts_word
                && PAST_FORMS.iter().any(|w| {
                    self.lit_within(j, w, e).is_some_and(|end| end == e || !self.word_at(end))
                })
        })
    }
}

/// One candidate start: where the match begins and where the verb (or participle) must begin.
/// Several entries may share a start; they are in alternation order.
#[derive(Clone, Copy)]
struct Lead {
    start: usize,
    verb_pos: usize,
}

/// The four families of follow-through.md §3.4.
#[derive(Clone, Copy)]
enum Family {
    F1,
    F2,
    F3,
    F4,
}

/// The leads of a family over the whole text, in increasing start order.
fn leads(text: &Text, family: Family) -> Vec<Lead> {
    let mut out = Vec::new();
    for start in 0..text.len() {
        let mut push = |verb_pos: Option<usize>| {
            if let Some(verb_pos) = verb_pos {
                out.push(Lead { start, verb_pos });
            }
        };
        match family {
            Family::F1 => text.f1_leads(start).into_iter().for_each(&mut push),
            Family::F2 => text.f2_leads(start).into_iter().for_each(&mut push),
            Family::F3 => text.f3_leads(start).into_iter().for_each(&mut push),
            Family::F4 => text.sentence_starts(start).into_iter().for_each(&mut push),
        }
    }
    out
}

/// The first match of one pattern (a family with one verb's forms) that survives §3.5, as a span
/// `[start, end)`; each search resumes at the end of the previous match.
fn first_surviving(text: &Text, leads: &[Lead], family: Family, verb: ActionVerb) -> Option<(usize, usize)> {
    let mut resume = 0;
    let mut k = 0;
    while let Some(first) = leads.get(k) {
        let start = first.start;
        // All lead alternatives at this start, in order; the first that completes is the match.
        let mut end = None;
        while let Some(lead) = leads.get(k).filter(|l| l.start == start) {
            k += 1;
            if start < resume || end.is_some() {
                continue;
            }
            end = match family {
                Family::F4 => participles(verb)
                    .iter()
                    .find_map(|p| text.lit(lead.verb_pos, p).and_then(|e| text.trailer(e))),
                _ => text.verb_at(lead.verb_pos, surface_forms(verb)),
            };
        }
        if let Some(end) = end {
            if !text.quoted(start) && !text.past_tense(start, end) {
                return Some((start, end));
            }
            resume = end;
        }
    }
    None
}

/// Classify `text` as an action claim (follow-through.md §3.1, §3.4–§3.6).
///
/// Evaluates the 40 patterns (the ten verbs of §3.3 in contract order × families F1–F4), keeps
/// each pattern's first match that survives the quote skip and the past-tense guard (§3.5), and
/// returns the survivor with the smallest start, ties going to the earlier pattern (§3.6).
/// `matched` is the winning span with surrounding whitespace trimmed. Total: every input,
/// including the empty string, gives an answer.
pub fn classify_action_claim(text: &str) -> Option<Claim> {
    let text = Text { chars: text.chars().collect() };
    let families = [Family::F1, Family::F2, Family::F3, Family::F4];
    let all_leads = families.map(|f| leads(&text, f));
    let mut best: Option<(usize, usize, ActionVerb)> = None;
    for verb in ActionVerb::ALL {
        for (family, family_leads) in families.iter().zip(all_leads.iter()) {
            if let Some((start, end)) = first_surviving(&text, family_leads, *family, verb)
                && best.is_none_or(|(s, _, _)| start < s)
            {
                best = Some((start, end, verb));
            }
        }
    }
    let (start, end, verb) = best?;
    let span: String = text.chars.get(start..end)?.iter().collect();
    Some(Claim { verb, matched: span.trim().to_owned() })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "tests")]

    use super::*;
    use serde::Deserialize;

    /// The `want` of a case row: `matched` is compared only when present (follow-through.md §3.1).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Want {
        verb: ActionVerb,
        #[serde(default)]
        matched: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        text: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Row {
        note: String,
        input: Input,
        want: Option<Want>,
    }

    const CASES: &str = include_str!("../../policies/cases/claims.jsonl");

    fn rows() -> Vec<Row> {
        CASES
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}", i + 1)))
            .collect()
    }

    #[test]
    fn case_table_rows() {
        let rows = rows();
        let mut failures = Vec::new();
        for row in &rows {
            let got = row.input.text.as_deref().and_then(classify_action_claim);
            let ok = match (&row.want, &got) {
                (None, None) => true,
                (Some(want), Some(got)) => {
                    want.verb == got.verb && want.matched.as_ref().is_none_or(|m| *m == got.matched)
                }
                _ => false,
            };
            if !ok {
                failures.push(format!("{}: got {got:?}", row.note));
            }
        }
        assert!(failures.is_empty(), "{} failing rows:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn case_table_holds_all_conformance_rows() {
        let rows = rows();
        for (prefix, count) in [("A", 32), ("B", 34), ("C", 33)] {
            for n in 1..=count {
                let id = format!("{prefix}{n} ");
                assert_eq!(
                    rows.iter().filter(|r| r.note.starts_with(&id)).count(),
                    1,
                    "row {prefix}{n} must appear exactly once"
                );
            }
        }
        assert!(rows.iter().filter(|r| r.note.starts_with('X')).count() >= 40);
    }

    fn claim(text: &str) -> Option<(ActionVerb, String)> {
        classify_action_claim(text).map(|c| (c.verb, c.matched))
    }

    #[test]
    fn empty_and_whitespace_only() {
        assert_eq!(claim(""), None);
        assert_eq!(claim(" \n\t "), None);
        assert_eq!(claim("."), None);
        assert_eq!(claim("\n"), None);
        assert_eq!(claim("- "), None);
    }

    #[test]
    fn stems_merg_and_rebas_pick_the_form_ending_at_a_boundary() {
        assert_eq!(claim("I'll merge it"), Some((ActionVerb::Merge, "I'll merge".into())));
        assert_eq!(claim("I'll merges"), Some((ActionVerb::Merge, "I'll merges".into())));
        assert_eq!(claim("I'll rebas"), Some((ActionVerb::Rebase, "I'll rebas".into())));
        assert_eq!(claim("I'll rebase."), Some((ActionVerb::Rebase, "I'll rebase".into())));
        assert_eq!(claim("I'll merger"), None);
    }

    #[test]
    fn rejected_match_consumes_its_span() {
        // The quoted '.' match is leftmost; the search resumes after it, so the lf start inside
        // its span is never tried (follow-through.md §3.4, §3.5).
        assert_eq!(claim("\"ok\".\nRelaunching now."), None);
        // Without the quote the same text is a claim from the '.'.
        assert_eq!(claim("ok.\nRelaunching now."), Some((ActionVerb::Relaunch, ".\nRelaunching now".into())));
    }

    #[test]
    fn past_tense_guard_reads_only_the_span() {
        assert!(Text { chars: "x fixed".chars().collect() }.past_tense(0, 7));
        assert!(!Text { chars: "x fixedly".chars().collect() }.past_tense(0, 9));
        assert!(Text { chars: "x fixedly".chars().collect() }.past_tense(0, 7));
        assert!(!Text { chars: "unfixed".chars().collect() }.past_tense(0, 7));
        assert!(Text { chars: "unfixed".chars().collect() }.past_tense(2, 7));
    }

    #[test]
    fn quote_lookback_is_two_characters() {
        let t = |s: &str| Text { chars: s.chars().collect() };
        assert!(!t("x").quoted(0));
        assert!(t("\"x").quoted(1));
        assert!(t("\" x").quoted(2));
        assert!(!t("\"  x").quoted(3));
        assert!(!t(" x").quoted(1));
        assert!(!t("\"\tx").quoted(2));
    }

    /// Adversarial inputs of the maximal size run in (near) linear time and never panic.
    #[test]
    fn large_adversarial_inputs() {
        let n = 65_536;
        let fill = |unit: &str| unit.repeat(n / unit.len());
        let inputs = [
            fill(" "),
            fill("\n"),
            fill(". "),
            format!(".{}", " ".repeat(n - 1)),
            format!("I{}", " ".repeat(n - 1)),
            fill("I "),
            fill("I'm "),
            fill("I am going to "),
            fill("Pushing the "),
            fill("\n- Pushing the"),
            fill("ill "),
            fill("é"),
            fill("\u{2019}"),
            format!("Pushing the{}", "x".repeat(n - 11)),
            format!("{}I'll push", "a ".repeat((n - 9) / 2)),
        ];
        let started = std::time::Instant::now();
        for text in &inputs {
            let _ = classify_action_claim(text);
        }
        assert_eq!(
            claim(&format!("{}I'll push", "a ".repeat((n - 9) / 2))).map(|c| c.0),
            Some(ActionVerb::Push)
        );
        let elapsed = started.elapsed();
        assert!(elapsed.as_secs() < 20, "too slow: {elapsed:?}");
    }
}
