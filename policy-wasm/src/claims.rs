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
//!   by a word character. The ten verbs differ within their first three letters, so at most one
//!   verb matches at a position, and every start position yields at most one match per family
//!   and BOUNDARY alternative, shared by the ten verb patterns.
//! - The `the` trailer takes 0 to 40 characters greedily and nothing follows it, so the longest
//!   allowed run is the match.
//!
//! The matcher works on the UTF-8 bytes: every character a pattern names literally is ASCII, and
//! an ASCII byte never occurs inside a multi-byte character, so literal comparisons, word
//! characters (`\b`) and candidate starts are exact byte tests. Only the places where the spec
//! counts characters or names non-ASCII characters decode: `WS` (`char::is_whitespace`), the
//! typographic apostrophes and quotes, the two-character look-back (§3.5) and the 40-character
//! `the` trailer. Byte order is character order, so comparing starts is unaffected.
//!
//! The 40 searches run side by side in one left-to-right pass over the candidate start positions
//! (a byte table skips the rest), each pattern keeping its own resume position; the pass stops at
//! the first start with a surviving match. Time is linear in the text, which matters because the
//! policy runs under a fuel budget on up to 65 536 bytes (§3.8, policy-core.md §4.1).
//!
//! The past-tense guard (§3.5 rule 2) reads the candidate's span as a string of its own: a past
//! form cut by the end of the 40-character `the` trailer (`fixed` of `fixedly`) is a whole word
//! there, as it is for a regular expression run on the matched text.

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

/// The only verb whose forms (surface, participle or past) can start with the bytes `b0 b1 b2`
/// (ASCII case-insensitive). The ten verbs differ within their first three characters (`rel`,
/// `res`, `red`, `rev`, `reb`, `rer`/`re-`, `d`, `p`, `m`, `f`).
fn candidate_verb(b0: u8, b1: u8, b2: u8) -> Option<ActionVerb> {
    match b0.to_ascii_lowercase() {
        b'd' => Some(ActionVerb::Deploy),
        b'p' => Some(ActionVerb::Push),
        b'm' => Some(ActionVerb::Merge),
        b'f' => Some(ActionVerb::Fix),
        b'r' if b1.eq_ignore_ascii_case(&b'e') => match b2.to_ascii_lowercase() {
            b'l' => Some(ActionVerb::Relaunch),
            b's' => Some(ActionVerb::Restart),
            b'd' => Some(ActionVerb::Redeploy),
            b'v' => Some(ActionVerb::Revert),
            b'b' => Some(ActionVerb::Rebase),
            b'r' | b'-' => Some(ActionVerb::Rerun),
            _ => None,
        },
        _ => None,
    }
}

/// A cheap filter: `b` may be the first letter of a verb form (`r`, `d`, `p`, `m`, `f`, any case).
#[inline]
fn may_start_verb(b: u8) -> bool {
    matches!(b | 0x20, b'r' | b'd' | b'p' | b'm' | b'f')
}

/// A cheap filter: `b` may be the first letter of what follows a BOUNDARY (an F3 `going`/`about`
/// or an F4 participle).
#[inline]
fn may_follow_boundary(b: u8) -> bool {
    may_start_verb(b) || matches!(b | 0x20, b'g' | b'a')
}

/// A word character: ASCII letter, ASCII digit or `_` (follow-through.md §3.2). A byte of a
/// multi-byte character is never one, as letters outside ASCII are non-word characters.
#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A character that marks a candidate as quoted (follow-through.md §3.5 rule 1).
fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '\u{201C}' | '\u{201D}' | '\u{2018}' | '\u{2019}' | '`')
}

/// `[ \t]`: the characters of an indent and of the gap after a bullet (follow-through.md §3.4).
#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The length in bytes of the UTF-8 character whose first byte is `lead` (at least 1).
#[inline]
fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Where a match can start, other than at the start of the text (see [`start_class`]).
#[derive(Clone, Copy)]
enum StartClass {
    /// Not a possible start.
    None,
    /// `I`/`i`: F1 and F2 leads.
    I,
    /// `L`/`l`: the F1 lead `let me`.
    L,
    /// `.`, `!`, `?`: a BOUNDARY if `WS` follows.
    Punct,
    /// The line feed: a BOUNDARY.
    LineFeed,
}

/// The bytes at which a match can start (other than at the start of the text): the first byte
/// of the F1/F2 leads (`I`, `let`) and the BOUNDARY characters of F3/F4 (`.`, `!`, `?`, line
/// feed). A table, so that skipping the other bytes costs one lookup each.
#[allow(clippy::indexing_slicing, reason = "constant indices below 256 into a [bool; 256]")]
static START_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = !matches!(start_class(b as u8), StartClass::None);
        b += 1;
    }
    table
};

/// Whether a match can start at byte `b` (see [`START_BYTES`]).
#[inline]
fn is_start_byte(b: u8) -> bool {
    START_BYTES.get(usize::from(b)).copied().unwrap_or(false)
}

/// The first byte of the F1/F2 leads (`I`, `let`) and the BOUNDARY characters of F3/F4.
#[inline]
const fn start_class(b: u8) -> StartClass {
    match b {
        b'i' | b'I' => StartClass::I,
        b'l' | b'L' => StartClass::L,
        b'.' | b'!' | b'?' => StartClass::Punct,
        b'\n' => StartClass::LineFeed,
        _ => StartClass::None,
    }
}

/// The text, with the primitive matchers of follow-through.md §3.2. Positions are byte offsets
/// at character boundaries.
struct Text<'a> {
    text: &'a str,
    bytes: &'a [u8],
}

impl Text<'_> {
    /// The byte at `i`, or NUL past the end (NUL is a non-word, non-space, non-quote character,
    /// so every test treats it like the end of the text).
    #[inline]
    fn byte(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    /// The character starting at byte `i`.
    fn char_at(&self, i: usize) -> Option<char> {
        self.text.get(i..)?.chars().next()
    }

    #[inline]
    fn word_at(&self, i: usize) -> bool {
        is_word(self.byte(i))
    }

    #[inline]
    fn word_before(&self, i: usize) -> bool {
        i > 0 && is_word(self.byte(i - 1))
    }

    /// `\b` at `i` (between the characters before and at `i`).
    #[inline]
    fn boundary(&self, i: usize) -> bool {
        self.word_before(i) != self.word_at(i)
    }

    /// The ASCII-lowercase literal `lit` at `i`, ASCII case-insensitively, ending at or before
    /// `limit`; returns the position after it.
    #[inline]
    fn lit_within(&self, i: usize, lit: &str, limit: usize) -> Option<usize> {
        let end = i.checked_add(lit.len()).filter(|&e| e <= limit)?;
        self.bytes.get(i..end).filter(|got| got.eq_ignore_ascii_case(lit.as_bytes())).map(|_| end)
    }

    /// The literal `lit` at `i` (ASCII case-insensitive); returns the position after it.
    #[inline]
    fn lit(&self, i: usize, lit: &str) -> Option<usize> {
        self.lit_within(i, lit, self.bytes.len())
    }

    /// The byte length of the whitespace character (`char::is_whitespace`) at `i`, or 0.
    #[inline]
    fn ws_len(&self, i: usize) -> usize {
        let b = self.byte(i);
        if b < 0x80 {
            usize::from(matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' '))
        } else {
            self.char_at(i).filter(|c| c.is_whitespace()).map_or(0, char::len_utf8)
        }
    }

    /// `WS`: one or more whitespace characters, taken greedily; returns the position after them.
    #[inline]
    fn ws(&self, i: usize) -> Option<usize> {
        let b = self.byte(i);
        if b < 0x80 && !matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
            return None;
        }
        self.ws_run(i)
    }

    /// The greedy part of [`Text::ws`].
    fn ws_run(&self, i: usize) -> Option<usize> {
        let mut j = i;
        loop {
            let n = self.ws_len(j);
            if n == 0 {
                break;
            }
            j += n;
        }
        (j > i).then_some(j)
    }

    /// The byte length of the apostrophe (`'`, `‘`, `’`) at `i`, or 0.
    #[inline]
    fn apos_len(&self, i: usize) -> usize {
        match self.byte(i) {
            b'\'' => 1,
            0xE2 => match self.char_at(i) {
                Some('\u{2018}' | '\u{2019}') => 3,
                _ => 0,
            },
            _ => 0,
        }
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

    /// `going WS to` or `about WS to` at `i`.
    fn going_or_about_to(&self, i: usize) -> Option<usize> {
        match self.byte(i).to_ascii_lowercase() {
            b'g' => self.words(i, &["going", "to"]),
            b'a' => self.words(i, &["about", "to"]),
            _ => None,
        }
    }

    /// The leads that start with `I` at `i` (follow-through.md §3.4), given `\b` before it:
    /// where `VERB` must start for F1 (`I APOS? ll`, `I WS will`, `I APOS? m WS going WS to`,
    /// `I WS am WS going WS to`, `I APOS? m WS about WS to`, `I WS am WS about WS to`, each
    /// followed by `WS`) and for F2 (`I (APOS? m | WS am) WS`). Both families share the `I'm` /
    /// `I am` prefix, so it is matched once.
    fn i_leads(&self, i: usize) -> (Option<usize>, Option<usize>) {
        let j = i + 1;
        let k = j + self.apos_len(j);
        // After `I'm`/`Im`/`I am` and WS: F2's verb position, and F1's after `going/about WS to WS`.
        let after_am = |g: Option<usize>| match g {
            Some(g) => (self.going_or_about_to(g).and_then(|e| self.ws(e)), Some(g)),
            None => (None, None),
        };
        match self.byte(k) {
            b'l' | b'L' => (self.lit(k, "ll").and_then(|e| self.ws(e)), None),
            b'm' | b'M' => after_am(self.ws(k + 1)),
            _ if k == j => {
                let Some(w) = self.ws(j) else {
                    return (None, None);
                };
                match self.byte(w) {
                    b'w' | b'W' => (self.lit(w, "will").and_then(|e| self.ws(e)), None),
                    b'a' | b'A' => after_am(self.lit(w, "am").and_then(|e| self.ws(e))),
                    _ => (None, None),
                }
            }
            _ => (None, None),
        }
    }

    /// F1's `\b let WS me WS` at `i`: where `VERB` must start.
    fn let_me_lead(&self, i: usize) -> Option<usize> {
        self.words(i, &["let", "me"]).and_then(|e| self.ws(e))
    }

    /// `[ \t]*` then an optional `-`/`*` bullet followed by `[ \t]+`. Leaving out a bullet that is
    /// there would make the next word start at the `-`/`*`, which no lead does, so taking the
    /// bullet whenever it is there is exact.
    fn indent_bullet(&self, i: usize) -> usize {
        let mut j = i;
        while is_blank(self.byte(j)) {
            j += 1;
        }
        if matches!(self.byte(j), b'-' | b'*') && is_blank(self.byte(j + 1)) {
            let mut k = j + 1;
            while is_blank(self.byte(k)) {
                k += 1;
            }
            return k;
        }
        j
    }

    /// The only verb that may have a form starting at `p` (see [`candidate_verb`]).
    #[inline]
    fn candidate_verb_at(&self, p: usize) -> Option<ActionVerb> {
        candidate_verb(self.byte(p), self.byte(p + 1), self.byte(p + 2))
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
        // Then 0 to 40 characters, none of them `.`, `!`, `?` or a line feed, greedily.
        let mut k = e;
        for _ in 0..THE_TRAILER_MAX {
            let b = self.byte(k);
            if k >= self.bytes.len() || matches!(b, b'.' | b'!' | b'?' | b'\n') {
                break;
            }
            k = (k + utf8_len(b)).min(self.bytes.len());
        }
        Some(k)
    }

    /// The F3 or F4 match whose BOUNDARY ends (before the indent) at `after`, reported to
    /// `found` as (family index, verb and end of the match).
    #[inline]
    fn sentence(&self, after: usize, found: &mut impl FnMut(usize, Option<(ActionVerb, usize)>)) {
        let p = self.indent_bullet(after);
        if !may_follow_boundary(self.byte(p)) {
            return;
        }
        match self.byte(p) {
            b'g' | b'G' | b'a' | b'A' => {
                found(F3, self.going_or_about_to(p).and_then(|q| self.ws(q)).and_then(|q| self.verb_at(q)))
            }
            _ => found(F4, self.participle_at(p)),
        }
    }

    /// Every match of the four families that starts at `start`, reported to `found` as (family
    /// index, verb and end of the match), in the order of the alternatives (for F3/F4 the start
    /// of text before `.`/`!`/`?`/line feed). F1 starts at `I`/`let`, F2 at `I`, F3 and F4 at
    /// the start of the text or at `.`, `!`, `?` (followed by `WS`) or a line feed.
    fn matches_at(&self, start: usize, found: &mut impl FnMut(usize, Option<(ActionVerb, usize)>)) {
        let b = self.byte(start);
        if start == 0 {
            self.sentence(0, found);
        }
        match start_class(b) {
            // `\b I`: a word starting with `I` whose next byte can continue a lead.
            StartClass::I => {
                if !self.word_before(start)
                    && matches!(self.byte(start + 1), b'l' | b'L' | b'm' | b'M' | 0x80.. | 0..=0x40)
                {
                    let (v1, v2) = self.i_leads(start);
                    found(F1, v1.and_then(|p| self.verb_at(p)));
                    found(F2, v2.and_then(|p| self.verb_at(p)));
                }
            }
            // `\b let`
            StartClass::L => {
                if !self.word_before(start) && self.byte(start + 1).eq_ignore_ascii_case(&b'e') {
                    found(F1, self.let_me_lead(start).and_then(|p| self.verb_at(p)));
                }
            }
            StartClass::Punct => {
                if let Some(after) = self.ws(start + 1) {
                    self.sentence(after, found);
                }
            }
            StartClass::LineFeed => self.sentence(start + 1, found),
            StartClass::None => {}
        }
    }

    /// The first position at or after `from` where a match can start, other than 0.
    fn next_start(&self, from: usize) -> Option<usize> {
        let offset = self.bytes.get(from..)?.iter().position(|&b| is_start_byte(b))?;
        Some(from + offset)
    }

    /// The character before byte position `i`, with its position.
    fn char_before(&self, i: usize) -> Option<(usize, char)> {
        let mut j = i.checked_sub(1)?;
        while j > 0 && self.byte(j) & 0xC0 == 0x80 {
            j -= 1;
        }
        Some((j, self.char_at(j)?))
    }

    /// §3.5 rule 1: the candidate starting at `i` is quoted. Looks at the characters at `i-1`
    /// and `i-2` only, passing over U+0020; the first other character decides.
    fn quoted(&self, i: usize) -> bool {
        let mut pos = i;
        for _ in 0..2 {
            let Some((j, c)) = self.char_before(pos) else {
                return false;
            };
            if c != ' ' {
                return is_quote(c);
            }
            pos = j;
        }
        false
    }

    /// §3.5 rule 2: the span `[s, e)`, read as a string of its own, contains a whole past form.
    /// Each past form starts with its verb's first three letters, so [`candidate_verb`] picks the
    /// only forms worth trying at a word start.
    fn past_tense(&self, s: usize, e: usize) -> bool {
        let Some(span) = self.bytes.get(s..e) else {
            return false;
        };
        let mut prev_word = false;
        for (offset, &b) in span.iter().enumerate() {
            let word = is_word(b);
            if word && !prev_word && may_start_verb(b) {
                let j = s + offset;
                let found = self.candidate_verb_at(j).is_some_and(|verb| {
                    past_forms(verb)
                        .iter()
                        .any(|w| self.lit_within(j, w, e).is_some_and(|end| end == e || !self.word_at(end)))
                });
                if found {
                    return true;
                }
            }
            prev_word = word;
        }
        false
    }
}

/// Index of a verb in [`ActionVerb::ALL`] (contract order, follow-through.md §3.3).
fn verb_index(verb: ActionVerb) -> Option<usize> {
    ActionVerb::ALL.iter().position(|&v| v == verb)
}

/// Family indices, in evaluation order (follow-through.md §3.4).
const F1: usize = 0;
/// See [`F1`].
const F2: usize = 1;
/// See [`F1`].
const F3: usize = 2;
/// See [`F1`].
const F4: usize = 3;

/// Classify `text` as an action claim (follow-through.md §3.1, §3.4–§3.6).
///
/// Evaluates the 40 patterns (the ten verbs of §3.3 in contract order × families F1–F4), keeps
/// each pattern's first match that survives the quote skip and the past-tense guard (§3.5), and
/// returns the survivor with the smallest start, ties going to the earlier pattern (§3.6).
/// `matched` is the winning span with surrounding whitespace removed (`str::trim`). Pure and
/// total: every input, including the empty string, gives an answer.
///
/// The 40 searches run side by side, start position by start position: each pattern keeps its
/// own resume position (the end of its last match, rejected or not, as a global regular
/// expression does), and the first start at which some pattern has a surviving match is the
/// smallest start of all survivors, so the search stops there.
pub fn classify_action_claim(text: &str) -> Option<Claim> {
    let text = Text { text, bytes: text.as_bytes() };
    // Resume position of each pattern, by family then verb.
    let mut resume = [[0usize; 10]; 4];
    // Position 0 (start of text) first, then every byte that can start a match.
    let mut next = Some(0);
    while let Some(start) = next {
        next = text.next_start(start + 1);
        // The best survivor starting here, as (verb index, family index, end).
        let mut best: Option<(usize, usize, usize)> = None;
        text.matches_at(start, &mut |family, found| {
            let Some((verb, end)) = found else { return };
            let Some(v) = verb_index(verb) else { return };
            let Some(res) = resume.get_mut(family).and_then(|r| r.get_mut(v)) else {
                return;
            };
            if start < *res {
                return;
            }
            // Either way, this pattern's next search starts after this match.
            *res = end;
            if !text.quoted(start)
                && !text.past_tense(start, end)
                && best.is_none_or(|(bv, bf, _)| (v, family) < (bv, bf))
            {
                best = Some((v, family, end));
            }
        });
        if let Some((v, _, end)) = best {
            let verb = ActionVerb::ALL.get(v).copied()?;
            let matched = text.text.get(start..end)?.trim().to_owned();
            return Some(Claim { verb, matched });
        }
    }
    None
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
        let t = |s: &'static str| Text { text: s, bytes: s.as_bytes() };
        assert!(t("x fixed").past_tense(0, 7));
        assert!(!t("x fixedly").past_tense(0, 9));
        assert!(t("x fixedly").past_tense(0, 7));
        assert!(!t("unfixed").past_tense(0, 7));
        assert!(t("unfixed").past_tense(2, 7));
        assert!(t("\u{e9}fixed").past_tense(0, 7));
        assert!(t("x RE-RAN").past_tense(0, 8));
    }

    #[test]
    fn past_forms_are_the_eleven_of_the_spec() {
        let mut all: Vec<&str> = ActionVerb::ALL.iter().flat_map(|&v| past_forms(v).iter().copied()).collect();
        all.sort_unstable();
        let mut want = vec![
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
        want.sort_unstable();
        assert_eq!(all, want);
        // Every form is reachable through its verb's three-letter dispatch.
        for verb in ActionVerb::ALL {
            for form in surface_forms(verb).iter().chain(participles(verb)).chain(past_forms(verb)) {
                let b = form.as_bytes();
                assert_eq!(candidate_verb(b[0], b[1], b[2]), Some(verb), "{form}");
                let upper = form.to_ascii_uppercase();
                let b = upper.as_bytes();
                assert_eq!(candidate_verb(b[0], b[1], b[2]), Some(verb), "{upper}");
            }
        }
    }

    #[test]
    fn ws_is_char_is_whitespace() {
        let samples: Vec<char> = (0u32..0x3100).filter_map(char::from_u32).collect();
        for c in samples {
            let s = format!("{c}x");
            let t = Text { text: &s, bytes: s.as_bytes() };
            let want = c.is_whitespace().then_some(c.len_utf8());
            assert_eq!(t.ws(0), want, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn quote_lookback_is_two_characters() {
        let t = |s: &'static str| Text { text: s, bytes: s.as_bytes() };
        assert!(!t("x").quoted(0));
        assert!(t("\u{201C}x").quoted(3));
        assert!(t("\u{2019} x").quoted(4));
        assert!(!t("\u{e9} x").quoted(3));
        assert!(!t("\u{a0}x").quoted(2));
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
        assert_eq!(claim(&format!("{}I'll push", "a ".repeat((n - 9) / 2))).map(|c| c.0), Some(ActionVerb::Push));
        let elapsed = started.elapsed();
        assert!(elapsed.as_secs() < 20, "too slow: {elapsed:?}");
    }
}
