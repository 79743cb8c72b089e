//! The action-claim classifier (follow-through.md §3): decides whether a text contains a concrete
//! first-person promise to do one of ten actions now or very soon.
//!
//! The 40 patterns of follow-through.md §3.4 (ten verbs × families F1–F4) are matched by hand,
//! without a regular-expression engine, but with the exact semantics of a global, leftmost-first
//! regular expression: each pattern is searched left to right for successive non-overlapping
//! matches, each search resuming at the end of the previous (possibly rejected) match.
//!
//! Why a direct matcher is exact here:
//! - Every `WS` of the patterns is followed by a non-whitespace character (a letter, or `-`/`*`
//!   after a sentence boundary), so only a greedy scan of the whole whitespace run can lead to a
//!   match, and backtracking into it never helps.
//! - The LEAD alternatives of a family are told apart by the text itself (`I'll`/`Ill` need an
//!   `l`, `I'm` an `m`, `I will`/`I am` whitespace then `will`/`am`, then `going`/`about`), so at
//!   most one lead matches at a position and its failure to reach a verb means no match there.
//! - At most one surface form can end at a word boundary at a given position: a form that is a
//!   prefix of a longer one (`merg`/`merge`, `rebas`/`rebase`, `push`/`pushes`) is then followed
//!   by a word character. For the same reason at most one verb matches at a position, so every
//!   start position yields at most one match per family, shared by the ten verb patterns.
//! - The `the` trailer takes 0 to 40 characters greedily and nothing follows it, so the longest
//!   allowed run is the match.
//!
//! Each family is scanned once (cheap first-character filters, then the lead, then the verb),
//! giving the list of all its matches in start order; the per-verb searches with their own resume
//! positions are then one pass over that list. Time is linear in the text, which matters because
//! the policy runs under a fuel budget on up to 65 536 bytes (§3.8, policy-core.md §4.1).

use crate::types::{ActionVerb, Claim};

/// The `the` trailer takes at most this many characters after `the` (follow-through.md §3.4).
const THE_TRAILER_MAX: usize = 40;


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

/// Past forms of a verb: the whole words that veto a candidate whose own span contains one
/// (follow-through.md §3.5 rule 2: `relaunched`, `restarted`, `redeployed`, `deployed`, `pushed`,
/// `merged`, `reverted`, `rebased`, `reran`, `re-ran`, `fixed`).
fn past_forms(verb: ActionVerb) -> &'static [&'static str] {
    match verb {
        ActionVerb::Relaunch => &["relaunched"],
        ActionVerb::Restart => &["restarted"],
        ActionVerb::Redeploy => &["redeployed"],
        ActionVerb::Deploy => &["deployed"],
        ActionVerb::Push => &["pushed"],
        ActionVerb::Merge => &["merged"],
        ActionVerb::Revert => &["reverted"],
        ActionVerb::Rebase => &["rebased"],
        ActionVerb::Rerun => &["reran", "re-ran"],
        ActionVerb::Fix => &["fixed"],
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

/// The only verb whose forms can start at the characters `c0 c1 c2` (ASCII case-insensitive).
/// The ten verbs differ within their first three characters (`rel`, `res`, `red`, `rev`, `reb`,
/// `rer`/`re-`, `d`, `p`, `m`, `f`), so at most one verb can match at a position.
fn candidate_verb(c0: char, c1: Option<char>, c2: Option<char>) -> Option<ActionVerb> {
    let lower = |c: Option<char>| c.map(|c| c.to_ascii_lowercase());
    match c0.to_ascii_lowercase() {
        'd' => Some(ActionVerb::Deploy),
        'p' => Some(ActionVerb::Push),
        'm' => Some(ActionVerb::Merge),
        'f' => Some(ActionVerb::Fix),
        'r' if lower(c1) == Some('e') => match lower(c2)? {
            'l' => Some(ActionVerb::Relaunch),
            's' => Some(ActionVerb::Restart),
            'd' => Some(ActionVerb::Redeploy),
            'v' => Some(ActionVerb::Revert),
            'b' => Some(ActionVerb::Rebase),
            'r' | '-' => Some(ActionVerb::Rerun),
            _ => None,
        },
        _ => None,
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

/// `[ \t]`: the characters of an indent and of the gap after a bullet (follow-through.md §3.4).
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// One match of a family: the span `[start, end)` and the verb whose pattern it matches.
#[derive(Clone, Copy)]
struct Match {
    start: usize,
    end: usize,
    verb: ActionVerb,
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
        for want in lit.bytes() {
            let c = self.at(j)?;
            if j >= limit || !c.is_ascii() || !(c as u8).eq_ignore_ascii_case(&want) {
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

    /// The position of the first character at or after `i` that fails `pred`.
    fn skip_while(&self, i: usize, pred: impl Fn(char) -> bool) -> usize {
        let mut j = i;
        while self.at(j).is_some_and(&pred) {
            j += 1;
        }
        j
    }

    /// `WS`: one or more characters for which `char::is_whitespace` holds, taken greedily.
    fn ws(&self, i: usize) -> Option<usize> {
        let end = self.skip_while(i, char::is_whitespace);
        (end > i).then_some(end)
    }

    /// `w1 WS w2 WS … wn`.
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

    /// `\b I` at `i`: the position after the `I`.
    fn word_initial_i(&self, i: usize) -> Option<usize> {
        if self.word_before(i) {
            return None;
        }
        self.lit(i, "i")
    }

    /// F1's `\b LEAD WS` at `i` (follow-through.md §3.4): where `VERB` must start.
    fn f1_lead(&self, i: usize) -> Option<usize> {
        if self.word_before(i) {
            return None;
        }
        let after_lead = match self.at(i)? {
            'i' | 'I' => {
                let j = i + 1;
                let k = if self.at(j).is_some_and(is_apos) { j + 1 } else { j };
                match self.at(k)? {
                    // `I APOS? ll`
                    'l' | 'L' => self.lit(k, "ll")?,
                    // `I APOS? m WS (going|about) WS to`
                    'm' | 'M' => {
                        let g = self.ws(k + 1)?;
                        self.words(g, &["going", "to"]).or_else(|| self.words(g, &["about", "to"]))?
                    }
                    // `I WS will`, `I WS am WS (going|about) WS to`
                    _ if k == j => {
                        let w = self.ws(j)?;
                        self.lit(w, "will").or_else(|| {
                            let g = self.ws(self.lit(w, "am")?)?;
                            self.words(g, &["going", "to"]).or_else(|| self.words(g, &["about", "to"]))
                        })?
                    }
                    _ => return None,
                }
            }
            // `let WS me`
            'l' | 'L' => self.words(i, &["let", "me"])?,
            _ => return None,
        };
        self.ws(after_lead)
    }

    /// F2's `\b I ( APOS? m | WS am ) WS` at `i`: where `VERB` must start.
    fn f2_lead(&self, i: usize) -> Option<usize> {
        let j = self.word_initial_i(i)?;
        let k = if self.at(j).is_some_and(is_apos) { j + 1 } else { j };
        let after_lead = self.lit(k, "m").or_else(|| self.lit(self.ws(j)?, "am"))?;
        self.ws(after_lead)
    }

    /// BOUNDARY at `s` apart from its start-of-text alternative (follow-through.md §3.4): `.`,
    /// `!` or `?` followed by `WS`, or a line feed; returns the position after it.
    fn sentence_mark(&self, s: usize, c: char) -> Option<usize> {
        match c {
            '.' | '!' | '?' => self.ws(s + 1),
            '\n' => Some(s + 1),
            _ => None,
        }
    }

    /// `[ \t]*` then an optional `-`/`*` bullet followed by `[ \t]+`. Leaving out a bullet that is
    /// there would make the next word start at the `-`/`*`, which no lead does, so taking the
    /// bullet whenever it is there is exact.
    fn indent_bullet(&self, i: usize) -> usize {
        let j = self.skip_while(i, is_blank);
        if matches!(self.at(j), Some('-' | '*')) {
            let k = self.skip_while(j + 1, is_blank);
            if k > j + 1 {
                return k;
            }
        }
        j
    }

    /// F3's `(going WS to | about WS to) WS` at `p`: where `VERB` must start.
    fn f3_lead(&self, p: usize) -> Option<usize> {
        let after = self.words(p, &["going", "to"]).or_else(|| self.words(p, &["about", "to"]))?;
        self.ws(after)
    }

    /// The only verb that may have a form starting at `p` (see [`candidate_verb`]).
    fn candidate_verb_at(&self, p: usize) -> Option<ActionVerb> {
        candidate_verb(self.at(p)?, self.at(p + 1), self.at(p + 2))
    }

    /// The verb of which a surface form starts at `p` and is followed by `\b`, with its end.
    /// Forms are tried in table order; at most one ends at a boundary.
    fn verb_at(&self, p: usize) -> Option<(ActionVerb, usize)> {
        let verb = self.candidate_verb_at(p)?;
        let end = surface_forms(verb).iter().find_map(|f| self.lit(p, f).filter(|&e| self.boundary(e)))?;
        Some((verb, end))
    }

    /// The verb of which `PART TRAILER` starts at `p`, with the end of the trailer.
    fn participle_at(&self, p: usize) -> Option<(ActionVerb, usize)> {
        let verb = self.candidate_verb_at(p)?;
        let end = participles(verb).iter().find_map(|part| self.lit(p, part).and_then(|e| self.trailer(e)))?;
        Some((verb, end))
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
        let mut k = e;
        while k - e < THE_TRAILER_MAX && self.at(k).is_some_and(|c| !matches!(c, '.' | '!' | '?' | '\n')) {
            k += 1;
        }
        Some(k)
    }

    /// All matches of the four families (F1, F2, F3, F4), each in start order; at one start, the
    /// matches of the BOUNDARY alternatives come in alternative order. One pass over the text
    /// with first-character filters: F1 starts at `I`/`let`, F2 at `I`, F3 and F4 at the start
    /// of the text or at `.`, `!`, `?` or a line feed.
    fn scan(&self) -> [Vec<Match>; 4] {
        let [mut f1, mut f2, mut f3, mut f4] = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        fn add(out: &mut Vec<Match>, start: usize, found: Option<(ActionVerb, usize)>) {
            if let Some((verb, end)) = found {
                out.push(Match { start, end, verb });
            }
        }
        for (start, &c) in self.chars.iter().enumerate() {
            let sentence = match c {
                'i' | 'I' => {
                    add(&mut f1, start, self.f1_lead(start).and_then(|p| self.verb_at(p)));
                    add(&mut f2, start, self.f2_lead(start).and_then(|p| self.verb_at(p)));
                    false
                }
                'l' | 'L' => {
                    add(&mut f1, start, self.f1_lead(start).and_then(|p| self.verb_at(p)));
                    false
                }
                '.' | '!' | '?' | '\n' => true,
                _ => false,
            };
            if start != 0 && !sentence {
                continue;
            }
            // BOUNDARY alternatives in order: start of text, then `.`/`!`/`?` + WS or line feed.
            let start_of_text = (start == 0).then_some(0);
            let mark = if sentence { self.sentence_mark(start, c) } else { None };
            for after in [start_of_text, mark].into_iter().flatten() {
                let p = self.indent_bullet(after);
                match self.at(p) {
                    Some('g' | 'G' | 'a' | 'A') => {
                        add(&mut f3, start, self.f3_lead(p).and_then(|q| self.verb_at(q)));
                    }
                    Some(_) => add(&mut f4, start, self.participle_at(p)),
                    None => {}
                }
            }
        }
        [f1, f2, f3, f4]
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

    /// §3.5 rule 2: the span `[s, e)`, read as a string of its own, contains a whole past form.
    /// Each past form starts with the first three letters of its verb, so [`candidate_verb`]
    /// picks the only forms worth trying at a word start.
    fn past_tense(&self, s: usize, e: usize) -> bool {
        (s..e).any(|j| {
            (j == s || !self.word_before(j))
                && self.candidate_verb_at(j).is_some_and(|verb| {
                    past_forms(verb)
                        .iter()
                        .any(|w| self.lit_within(j, w, e).is_some_and(|end| end == e || !self.word_at(end)))
                })
        })
    }
}

/// Index of a verb in [`ActionVerb::ALL`] (contract order, follow-through.md §3.3).
fn verb_index(verb: ActionVerb) -> Option<usize> {
    ActionVerb::ALL.iter().position(|&v| v == verb)
}

/// For each verb, the first match of its pattern in this family that survives §3.5. Each verb's
/// search resumes at the end of its own previous match, rejected or not (a global regex).
fn first_survivors(text: &Text, matches: &[Match]) -> [Option<(usize, usize)>; 10] {
    let mut survivor = [None; 10];
    let mut resume = [0usize; 10];
    for m in matches {
        let Some(v) = verb_index(m.verb) else { continue };
        let (Some(slot), Some(res)) = (survivor.get_mut(v), resume.get_mut(v)) else { continue };
        if slot.is_some() || m.start < *res {
            continue;
        }
        if text.quoted(m.start) || text.past_tense(m.start, m.end) {
            *res = m.end;
        } else {
            *slot = Some((m.start, m.end));
        }
    }
    survivor
}

/// Classify `text` as an action claim (follow-through.md §3.1, §3.4–§3.6).
///
/// Evaluates the 40 patterns (the ten verbs of §3.3 in contract order × families F1–F4), keeps
/// each pattern's first match that survives the quote skip and the past-tense guard (§3.5), and
/// returns the survivor with the smallest start, ties going to the earlier pattern (§3.6).
/// `matched` is the winning span with surrounding whitespace removed (`str::trim`). Pure and
/// total: every input, including the empty string, gives an answer.
pub fn classify_action_claim(text: &str) -> Option<Claim> {
    let text = Text { chars: text.chars().collect() };
    let survivors = text.scan().map(|matches| first_survivors(&text, &matches));
    let mut best: Option<(usize, usize, ActionVerb)> = None;
    for (v, verb) in ActionVerb::ALL.into_iter().enumerate() {
        for family in &survivors {
            if let Some(&Some((start, end))) = family.get(v)
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
    fn past_forms_are_the_eleven_of_the_spec() {
        let mut all: Vec<&str> = ActionVerb::ALL.iter().flat_map(|&v| past_forms(v).iter().copied()).collect();
        all.sort_unstable();
        let mut want = vec![
            "relaunched", "restarted", "redeployed", "deployed", "pushed", "merged", "reverted", "rebased", "reran",
            "re-ran", "fixed",
        ];
        want.sort_unstable();
        assert_eq!(all, want);
        // Every form is reachable through its verb's three-letter dispatch.
        for verb in ActionVerb::ALL {
            for form in surface_forms(verb).iter().chain(participles(verb)).chain(past_forms(verb)) {
                let c: Vec<char> = form.chars().collect();
                assert_eq!(candidate_verb(c[0], c.get(1).copied(), c.get(2).copied()), Some(verb), "{form}");
            }
        }
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
