//! A slow, literal reading of follow-through.md §3.2–§3.6 with regular expressions: the
//! 40 patterns as the spec writes them, searched as a global regular expression does,
//! then the quote skip and the past-tense guard of §3.5 and the selection of §3.6. The
//! `claims` fuzz target compares `stick_policy`'s one-pass classifier with it.

use regex::Regex;
use stick_policy::types::ActionVerb;

/// Surface forms (F1–F3) and participles (F4) of each verb, in contract order (§3.3).
const VERBS: [(ActionVerb, &str, &str); 10] = [
    (ActionVerb::Relaunch, "relaunch|relaunching|relaunches", "relaunching"),
    (ActionVerb::Restart, "restart|restarting|restarts", "restarting"),
    (ActionVerb::Redeploy, "redeploy|redeploying|redeploys", "redeploying"),
    (ActionVerb::Deploy, "deploy|deploying|deploys", "deploying"),
    (ActionVerb::Push, "push|pushing|pushes", "pushing"),
    (ActionVerb::Merge, "merg|merge|merging|merges", "merging"),
    (ActionVerb::Revert, "revert|reverting|reverts", "reverting"),
    (ActionVerb::Rebase, "rebas|rebase|rebasing|rebases", "rebasing"),
    (ActionVerb::Rerun, "rerun|re-run|rerunning|re-running|reruns|re-runs", "rerunning|re-running"),
    (ActionVerb::Fix, "fix|fixing|fixes", "fixing"),
];

const PAST: &str =
    r"(?i-u:\b(?:relaunched|restarted|redeployed|deployed|pushed|merged|reverted|rebased|reran|re-ran|fixed)\b)";

/// The compiled patterns: (verb, regex), verb-major, family-minor (§3.6).
pub struct Oracle {
    patterns: Vec<(ActionVerb, Regex)>,
    past: Regex,
}

impl Oracle {
    pub fn new() -> Oracle {
        // `\b` is the ASCII word boundary; WS is `char::is_whitespace` (Unicode White_Space,
        // which `\s` matches); matching is ASCII case-insensitive (§3.2).
        let b = r"(?-u:\b)";
        let ws = r"\s+";
        let apos = "['\u{2018}\u{2019}]";
        let lead = format!(
            "(?i-u:i){apos}?(?i-u:ll)|(?i-u:i){ws}(?i-u:will)|(?i-u:i){apos}?(?i-u:m){ws}(?i-u:going){ws}(?i-u:to)\
             |(?i-u:i){ws}(?i-u:am){ws}(?i-u:going){ws}(?i-u:to)|(?i-u:i){apos}?(?i-u:m){ws}(?i-u:about){ws}(?i-u:to)\
             |(?i-u:i){ws}(?i-u:am){ws}(?i-u:about){ws}(?i-u:to)|(?i-u:let){ws}(?i-u:me)"
        );
        let boundary = r"(?:\A|[.!?]\s+|\n)[ \t]*(?:[-*][ \t]+)?";
        let trailer = format!(r"{ws}(?:(?i-u:now|it|this|that){b}|(?i-u:the){b}[^.!?\n]{{0,40}})");
        let mut patterns = Vec::new();
        for (verb, forms, parts) in VERBS {
            let v = format!("(?i-u:{forms})");
            let p = format!("(?i-u:{parts})");
            let f1 = format!("{b}(?:{lead}){ws}{v}{b}");
            let f2 = format!("{b}(?i-u:i)(?:{apos}?(?i-u:m)|{ws}(?i-u:am)){ws}{v}{b}");
            let f3 = format!("{boundary}(?:(?i-u:going){ws}(?i-u:to)|(?i-u:about){ws}(?i-u:to)){ws}{v}{b}");
            let f4 = format!("{boundary}{p}{trailer}");
            for f in [f1, f2, f3, f4] {
                patterns.push((verb, Regex::new(&f).expect("a valid pattern")));
            }
        }
        Oracle { patterns, past: Regex::new(PAST).expect("a valid pattern") }
    }

    /// §3.5 rule 1: the one or two characters before byte offset `start`.
    fn quoted(text: &str, start: usize) -> bool {
        let mut before = text[..start].chars().rev();
        for _ in 0..2 {
            match before.next() {
                None => return false,
                Some(' ') => continue,
                Some(c) => return matches!(c, '"' | '\'' | '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}' | '`'),
            }
        }
        false
    }

    /// The claim of `text` per §3.4–§3.6: (verb, matched).
    pub fn classify(&self, text: &str) -> Option<(ActionVerb, String)> {
        let mut best: Option<(usize, usize, ActionVerb, &str)> = None;
        for (i, (verb, re)) in self.patterns.iter().enumerate() {
            let survivor =
                re.find_iter(text).find(|m| !Self::quoted(text, m.start()) && !self.past.is_match(m.as_str()));
            if let Some(m) = survivor
                && best.is_none_or(|(start, _, _, _)| m.start() < start)
            {
                best = Some((m.start(), i, *verb, m.as_str()));
            }
        }
        best.map(|(_, _, verb, span)| (verb, span.trim().to_string()))
    }
}
