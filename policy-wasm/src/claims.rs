//! The action-claim classifier (follow-through.md §3): decides whether a text contains a concrete
//! first-person promise to do one of ten actions now or very soon.
//!
//! The 40 patterns of follow-through.md §3.4 (ten verbs × families F1–F4) are matched by hand,
//! without a regular-expression engine, but with the exact semantics of a global, leftmost-first
//! regular expression: each pattern is searched left to right for successive non-overlapping
//! matches, each search resuming at the end of the previous (possibly rejected) match.
//!
//! # Verbs first
//!
//! Every match contains a verb form: F1–F3 end with `WS VERB \b`, F4 is `BOUNDARY PART TRAILER`.
//! The verb starts at the start of the text or right after a whitespace character (the `WS`, a
//! line feed, or an indent or bullet blank), and its first three letters pick the one verb stem it
//! can have (`stem_for`). So the classifier makes one left-to-right pass over the places where a
//! verb can start (`classify_action_claim`); verbs are rare in ordinary text. At each one it
//! checks the stem, looks at the characters right before the whitespace in front of it for the
//! end of a lead or of a BOUNDARY (`Text::verb_context`), checks the forms that start there
//! (`Text::surface_end`, `Text::participle_end`) and only then reads the leads and
//! boundaries back to their starts (`Text::claim_at`). A lead is a handful of fixed words
//! separated by `WS`, so reading it back touches only the lead itself.
//!
//! Why reading back finds exactly the matches of the forward patterns:
//! - Every `WS` of the patterns is followed by a non-whitespace character (a letter, or `-`/`*`
//!   after a sentence boundary) and preceded by one, so the greedy `WS` of a match is the whole
//!   whitespace run between two words, found as well from its end as from its start.
//! - At most one surface form can end at a word boundary at a given position: a form that is a
//!   prefix of a longer one (`merg`/`merge`, `rebas`/`rebase`, `push`/`pushes`) is then followed
//!   by a word character. The ten verbs differ within their first three letters, so at most one
//!   verb, one surface form and one participle start at a position.
//! - The word before the `WS` in front of a verb tells the leads apart (`ll`, `will`, `m`, `am`,
//!   `me`, `to`), and each lead is then fixed back to its start; only `to` has two readings (F1's
//!   `I'm going to`, F3's BOUNDARY `going to`), which are both checked. A BOUNDARY ends with an
//!   optional bullet after an indent; each of its three alternatives (start of the text, line feed
//!   before the indent, `.`/`!`/`?` before the whitespace) is checked on its own.
//! - No lead or boundary contains a verb stem after whitespace (the lead words start with `I`,
//!   `l`, `w`, `a`, `g`, `t`, and `me` is no stem), so the matches of a verb start after every
//!   earlier verb: taking the verbs in order and the matches of each verb by start visits all
//!   matches by start, as the forward patterns do.
//! - The `the` trailer takes 0 to 40 characters greedily and nothing follows it, so the longest
//!   allowed run is the match.
//!
//! The 40 searches run side by side in that pass, each pattern keeping its own resume position,
//! and the pass stops at the first match that survives §3.5, which has the smallest start of all
//! survivors (§3.6). Two patterns never match at one start (a lead starts at its `I` or `let`, a
//! BOUNDARY at its `.`, `!`, `?` or line feed, or at the start of the text when only blanks and a
//! bullet come before the verb or `going`/`about`), so the tie-break of §3.6 never has two
//! candidates.
//!
//! # Bytes
//!
//! The matcher works on the UTF-8 bytes: every character a pattern names literally is ASCII, and
//! an ASCII byte never occurs inside a multi-byte character, so literal comparisons, word
//! characters (`\b`) and positions are exact byte tests. Only the places where the spec counts
//! characters or names non-ASCII characters look further: `WS` outside ASCII (compared as bytes,
//! `wide_ws_len`), the typographic apostrophes and quotes, the two-character look-back (§3.5)
//! and the 40-character `the` trailer. Byte order is character order, so comparing starts is
//! unaffected.
//!
//! # Cost
//!
//! The policy runs under a fuel budget on up to 65 536 bytes (§3.8, policy-core.md §4.1), and fuel
//! counts WebAssembly instructions, so the work per byte is kept small and bounded. The pass reads
//! eight bytes at a time and finds verb initials after whitespace with a few word-wide operations
//! (`verb_candidates`); a candidate costs a table lookup and an 8-byte comparison of its stem
//! (`Lit`), and a verb one look at the bytes before it; only a verb after the end of a lead or
//! boundary is read further. Each lead or boundary is read once, backwards, from its verb, and no
//! two verbs share one. Nothing is allocated before the answer is known.
//!
//! The past-tense guard (§3.5 rule 2) reads the candidate's span as a string of its own: a past
//! form cut by the end of the 40-character `the` trailer (`fixed` of `fixedly`) is a whole word
//! there, as it is for a regular expression run on the matched text.

use crate::types::{ActionVerb, Claim};
use alloc::borrow::ToOwned;

/// The `the` trailer takes at most this many characters after `the` (follow-through.md §3.4).
const THE_TRAILER_MAX: usize = 40;

/// Byte flag: a word character, an ASCII letter or digit or `_` (follow-through.md §3.2). A byte
/// of a multi-byte character is never one, as letters outside ASCII are non-word characters.
const WORD: u8 = 1 << 0;
/// Byte flag: ASCII whitespace in the sense of `char::is_whitespace` (tab, line feed, vertical
/// tab, form feed, carriage return, space).
const SPACE: u8 = 1 << 1;
/// Byte flag: the first letter of a verb form, `r`, `d`, `p`, `m` or `f` in either case (§3.3).
/// It is [`WORD`] moved up two bits, so that `(f & WORD) << 2` masks it.
const VERB_INITIAL: u8 = WORD << 2;
/// Byte flag: a character that ends the `the` trailer, `.`, `!`, `?` or line feed (§3.4).
const TRAILER_STOP: u8 = 1 << 3;

/// The flags of byte `b` (see [`FLAGS`]).
const fn byte_flags(b: u8) -> u8 {
    let mut f = 0;
    if b.is_ascii_alphanumeric() || b == b'_' {
        f |= WORD;
    }
    if matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
        f |= SPACE;
    }
    if matches!(b.to_ascii_lowercase(), b'r' | b'd' | b'p' | b'm' | b'f') {
        f |= VERB_INITIAL;
    }
    if matches!(b, b'.' | b'!' | b'?' | b'\n') {
        f |= TRAILER_STOP;
    }
    f
}

/// [`byte_flags`] of every byte, so that each question about a byte is one lookup.
#[allow(clippy::indexing_slicing, reason = "constant indices below 256 into a [u8; 256]")]
static FLAGS: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = byte_flags(b as u8);
        b += 1;
    }
    table
};

/// The flags of byte `b` (see [`FLAGS`]).
#[inline(always)]
fn flags(b: u8) -> u8 {
    FLAGS.get(usize::from(b)).copied().unwrap_or(0)
}

/// A word character (see [`WORD`]).
#[inline(always)]
fn is_word(b: u8) -> bool {
    flags(b) & WORD != 0
}

/// `[ \t]`: the characters of an indent and of the gap after a bullet (follow-through.md §3.4).
#[inline(always)]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A bullet, `-` or `*` (follow-through.md §3.4).
#[inline(always)]
fn is_bullet(b: u8) -> bool {
    b == b'-' || b == b'*'
}

/// A character that marks a candidate as quoted (follow-through.md §3.5 rule 1).
fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '\u{201C}' | '\u{201D}' | '\u{2018}' | '\u{2019}' | '`')
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

/// The byte length of the whitespace character outside ASCII whose UTF-8 bytes start `b0 b1 b2`,
/// or 0: the characters for which `char::is_whitespace` holds outside ASCII (the Unicode
/// `White_Space` property) are U+0085, U+00A0 (C2 85, C2 A0), U+1680 (E1 9A 80), U+2000 to
/// U+200A, U+2028, U+2029, U+202F (E2 80 80 to 8A, A8, A9, AF), U+205F (E2 81 9F) and U+3000
/// (E3 80 80). Compared as bytes, without decoding; a test checks the list against
/// `char::is_whitespace` for every character.
#[inline(always)]
fn wide_ws_len(b0: u8, b1: u8, b2: u8) -> usize {
    match (b0, b1, b2) {
        (0xC2, 0x85 | 0xA0, _) => 2,
        (0xE1, 0x9A, 0x80)
        | (0xE2, 0x80, 0x80..=0x8A | 0xA8 | 0xA9 | 0xAF)
        | (0xE2, 0x81, 0x9F)
        | (0xE3, 0x80, 0x80) => 3,
        _ => 0,
    }
}

/// Whether the characters `c2 c1` (ASCII case-insensitive) right before a whitespace run can end
/// a lead (follow-through.md §3.4): the last two characters of `ll`/`will`, `m` (`I'm`, `Im`,
/// `I’m`, `I‘m`, `am`), `me` or `to`. A necessary condition only.
#[inline(always)]
fn could_end_lead(c2: u8, c1: u8) -> bool {
    match c1 | 0x20 {
        b'l' => c2 | 0x20 == b'l',
        b'm' => matches!(c2 | 0x20, b'i' | b'a') || matches!(c2, b'\'' | 0x98 | 0x99),
        b'e' => c2 | 0x20 == b'm',
        b'o' => c2 | 0x20 == b't',
        _ => false,
    }
}

/// Whether the character `c1` right before a whitespace run can end a BOUNDARY (with its
/// indent and bullet) that ends after the run (see [`Text::boundaries_before`]): a `.`, `!`, `?`
/// or bullet. (The start of the text and a line feed in the run are the other ways.)
#[inline(always)]
fn could_end_boundary(c1: u8) -> bool {
    matches!(c1, b'.' | b'!' | b'?' | b'-' | b'*')
}

/// `0x01` in every byte of a `u64`.
const LOW_BITS: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte of a `u64`.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// For eight bytes `w` (little-endian), the bytes whose bits outside `ignore` equal those of the
/// ASCII byte `c`, as the high bit of each such byte in the result; the high bit may also be set
/// in a byte right above such a byte (a borrow) whose bits outside `ignore` equal `c ^ 1`, never
/// elsewhere.
#[inline(always)]
fn bytes_like(w: u64, c: u8, ignore: u8) -> u64 {
    let t = (w ^ (LOW_BITS * u64::from(c))) & !(LOW_BITS * u64::from(ignore));
    t.wrapping_sub(LOW_BITS) & !t & HIGH_BITS
}

/// For eight bytes `w` (little-endian), the bytes below `0x21` (ASCII whitespace and controls),
/// as the high bit of each such byte; the high bit may also be set in a `!` right above such a
/// byte (a borrow), never elsewhere.
#[inline(always)]
fn bytes_below_0x21(w: u64) -> u64 {
    w.wrapping_sub(LOW_BITS * 0x21) & !w & HIGH_BITS
}

/// For eight bytes `w` (little-endian), as the high bit of each byte, a superset of the bytes that
/// can start a verb: a verb initial (`r`, `d`, `p`, `m`, `f`, either case: `| 0x20` folds case,
/// and `p`/`r` and `d`/`f` differ in one bit) right after a byte that can end a whitespace
/// character (below `0x21`, or any byte outside ASCII), and not right before one (a stem has at
/// least three letters). `before` has the high bit of byte 0 set when the byte before `w` can end
/// a whitespace character or `w` starts the text.
///
/// The comparisons also let through a few letters right after a letter found (see
/// [`bytes_like`]) and `!` after whitespace, which only adds candidates; and a byte flagged right
/// after a verb initial is never let through by a borrow, which would need the initial itself to
/// be below `0x21`.
#[inline(always)]
fn verb_candidates(w: u64, before: u64) -> u64 {
    let folded = w | (LOW_BITS * 0x20);
    let initials = bytes_like(folded, b'p', 0x02) | bytes_like(folded, b'd', 0x02) | bytes_like(folded, b'm', 0);
    if initials == 0 {
        return 0;
    }
    let space_like = bytes_below_0x21(w) | (w & HIGH_BITS);
    initials & ((space_like << 8) | before) & !(space_like >> 8)
}

/// An ASCII literal of at most eight bytes (lowercase letters and `-`), prepared so that one
/// comparison with eight bytes of text loaded at once ([`Text::load8`]) tells whether the text
/// starts with it, ASCII case-insensitively.
#[derive(Clone, Copy)]
struct Lit {
    /// The literal's bytes, little-endian (first byte lowest), zero past its end.
    bytes: u64,
    /// `0x20` at each letter of the literal: OR-ing it into the text folds case there, and only
    /// the two cases of a letter fold to it (`A`/`a` to `a`).
    fold: u64,
    /// `0xFF` at each byte of the literal: the bytes of text that take part.
    keep: u64,
    /// The length in bytes.
    len: usize,
}

impl Lit {
    /// Prepare `s`: lowercase ASCII letters and `-`, at most eight bytes (a longer literal fails to
    /// compile, as the shift overflows in constant evaluation).
    #[allow(clippy::indexing_slicing, reason = "constant evaluation, k < s.len()")]
    const fn new(s: &str) -> Lit {
        let s = s.as_bytes();
        let (mut bytes, mut fold, mut keep) = (0u64, 0u64, 0u64);
        let mut k = 0;
        while k < s.len() {
            let shift = 8 * k as u32;
            bytes |= (s[k] as u64) << shift;
            keep |= 0xFF << shift;
            if s[k].is_ascii_lowercase() {
                fold |= 0x20 << shift;
            }
            k += 1;
        }
        Lit { bytes, fold, keep, len: s.len() }
    }

    /// Whether the text whose next eight bytes are `w` (little-endian, zero past the end of the
    /// text) starts with this literal. A zero byte of padding never matches a literal byte.
    #[inline(always)]
    fn starts(self, w: u64) -> bool {
        (w & self.keep) | self.fold == self.bytes
    }
}

/// The lead words of F1–F3 (follow-through.md §3.4).
const LL: Lit = Lit::new("ll");
/// See [`LL`].
const WILL: Lit = Lit::new("will");
/// See [`LL`].
const AM: Lit = Lit::new("am");
/// See [`LL`].
const GOING: Lit = Lit::new("going");
/// See [`LL`].
const ABOUT: Lit = Lit::new("about");
/// See [`LL`].
const TO: Lit = Lit::new("to");
/// See [`LL`].
const LET: Lit = Lit::new("let");
/// See [`LL`].
const ME: Lit = Lit::new("me");
/// The TRAILER words (follow-through.md §3.4); all but `the` need only a word boundary after
/// them, `the` takes up to 40 more characters.
const NOW: Lit = Lit::new("now");
/// See [`NOW`].
const IT: Lit = Lit::new("it");
/// See [`NOW`].
const THIS: Lit = Lit::new("this");
/// See [`NOW`].
const THAT: Lit = Lit::new("that");
/// See [`NOW`].
const THE: Lit = Lit::new("the");
/// The ending of the `e` forms `merge` and `rebase`.
const E: Lit = Lit::new("e");

/// The forms of one verb, all built on one stem (follow-through.md §3.3). `rerun` has two stems,
/// `rerun` and `re-run`, so two entries.
struct Stem {
    /// The lemma.
    verb: ActionVerb,
    /// Its index in [`ActionVerb::ALL`] (contract order).
    index: usize,
    /// The stem, itself a surface form (`relaunch`, `merg`, `rebas`, `re-run`, …).
    stem: Lit,
    /// Stem + this is the participle, also a surface form (`ing`; `ning` for `rerun`).
    ing: Lit,
    /// Stem + this is the third person (`s` or `es`).
    third: Lit,
    /// Whether stem + `e` is a form too (`merge`, `rebase`).
    e_form: bool,
    /// The past form that vetoes a candidate (§3.5 rule 2), as two literals read one after the
    /// other (`relaunch` + `ed`, `reran` + nothing), each at most eight bytes.
    past: (Lit, Lit),
}

impl Stem {
    /// An entry of the verb table.
    const fn new(verb: ActionVerb, index: usize, stem: &str, ing: &str, third: &str, e_form: bool) -> Stem {
        let stem = Lit::new(stem);
        Stem { verb, index, stem, ing: Lit::new(ing), third: Lit::new(third), e_form, past: (stem, Lit::new("ed")) }
    }
}

/// The verb table (follow-through.md §3.3).
const RELAUNCH: Stem = Stem::new(ActionVerb::Relaunch, 0, "relaunch", "ing", "es", false);
/// See [`RELAUNCH`].
const RESTART: Stem = Stem::new(ActionVerb::Restart, 1, "restart", "ing", "s", false);
/// See [`RELAUNCH`].
const REDEPLOY: Stem = Stem::new(ActionVerb::Redeploy, 2, "redeploy", "ing", "s", false);
/// See [`RELAUNCH`].
const DEPLOY: Stem = Stem::new(ActionVerb::Deploy, 3, "deploy", "ing", "s", false);
/// See [`RELAUNCH`].
const PUSH: Stem = Stem::new(ActionVerb::Push, 4, "push", "ing", "es", false);
/// See [`RELAUNCH`].
const MERGE: Stem = Stem::new(ActionVerb::Merge, 5, "merg", "ing", "es", true);
/// See [`RELAUNCH`].
const REVERT: Stem = Stem::new(ActionVerb::Revert, 6, "revert", "ing", "s", false);
/// See [`RELAUNCH`].
const REBASE: Stem = Stem::new(ActionVerb::Rebase, 7, "rebas", "ing", "es", true);
/// See [`RELAUNCH`]; the past form is `reran`, not built on the stem.
const RERUN: Stem =
    Stem { past: (Lit::new("reran"), Lit::new("")), ..Stem::new(ActionVerb::Rerun, 8, "rerun", "ning", "s", false) };
/// See [`RELAUNCH`]; the past form is `re-ran`, not built on the stem.
const RE_RUN: Stem =
    Stem { past: (Lit::new("re-ran"), Lit::new("")), ..Stem::new(ActionVerb::Rerun, 8, "re-run", "ning", "s", false) };
/// See [`RELAUNCH`].
const FIX: Stem = Stem::new(ActionVerb::Fix, 9, "fix", "ing", "es", false);

/// The only stem that a verb form (surface, participle or past) starting with the eight bytes `w`
/// can have. The ten verbs differ within their first three characters (`rel`, `res`, `red`,
/// `rev`, `reb`, `rer`/`re-`, `d`, `p`, `m`, `f`). The pick is only a filter: the caller then
/// compares the whole stem.
#[inline(always)]
fn stem_for(w: u64) -> Option<&'static Stem> {
    let [b0, b1, b2, ..] = w.to_le_bytes();
    match b0 | 0x20 {
        b'd' => Some(&DEPLOY),
        b'p' => Some(&PUSH),
        b'm' => Some(&MERGE),
        b'f' => Some(&FIX),
        b'r' if b1 | 0x20 == b'e' => match b2 | 0x20 {
            b'l' => Some(&RELAUNCH),
            b's' => Some(&RESTART),
            b'd' => Some(&REDEPLOY),
            b'v' => Some(&REVERT),
            b'b' => Some(&REBASE),
            b'r' => Some(&RERUN),
            b'-' => Some(&RE_RUN),
            _ => None,
        },
        _ => None,
    }
}

/// Family indices, in evaluation order (follow-through.md §3.4).
const F1: usize = 0;
/// See [`F1`].
const F2: usize = 1;
/// See [`F1`].
const F3: usize = 2;
/// See [`F1`].
const F4: usize = 3;

/// The text, with the primitive matchers of follow-through.md §3.2. Positions are byte offsets
/// at character boundaries.
struct Text<'a> {
    text: &'a str,
    bytes: &'a [u8],
}

impl<'a> Text<'a> {
    fn new(text: &'a str) -> Self {
        Text { text, bytes: text.as_bytes() }
    }

    /// The byte at `i`, or NUL past the end (NUL has no flags and is no quote, so every test
    /// treats it like the end of the text).
    #[inline(always)]
    fn byte(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    /// The byte before `i`, or NUL at the start of the text.
    #[inline(always)]
    fn byte_before(&self, i: usize) -> u8 {
        i.checked_sub(1).map_or(0, |j| self.byte(j))
    }

    /// The eight bytes from `i` as a little-endian `u64`, zero past the end of the text.
    #[inline(always)]
    fn load8(&self, i: usize) -> u64 {
        match self.bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            Some(chunk) => u64::from_le_bytes(*chunk),
            None => self.load8_near_end(i),
        }
    }

    /// [`Text::load8`] within eight bytes of the end of the text.
    #[cold]
    #[inline(never)]
    fn load8_near_end(&self, i: usize) -> u64 {
        let rest = self.bytes.get(i..).unwrap_or_default();
        let mut chunk = [0; 8];
        chunk.iter_mut().zip(rest).for_each(|(to, &from)| *to = from);
        u64::from_le_bytes(chunk)
    }

    /// The eight bytes that end at `e`, as a little-endian `u64` (the byte before `e` highest),
    /// NUL before the start of the text.
    #[inline(always)]
    fn load8_before(&self, e: usize) -> u64 {
        match e.checked_sub(8) {
            Some(i) => self.load8(i),
            None => self.load8(0).checked_shl(8 * (8 - e) as u32).unwrap_or(0),
        }
    }

    /// The literal `lit` at `i` (ASCII case-insensitive); returns the position after it.
    #[inline(always)]
    fn lit(&self, i: usize, lit: Lit) -> Option<usize> {
        lit.starts(self.load8(i)).then_some(i + lit.len)
    }

    /// The literal `lit` ending at `e` (ASCII case-insensitive); returns its start.
    #[inline(always)]
    fn lit_before(&self, e: usize, lit: Lit) -> Option<usize> {
        let i = e.checked_sub(lit.len)?;
        lit.starts(self.load8(i)).then_some(i)
    }

    /// The character starting at byte `i`.
    fn char_at(&self, i: usize) -> Option<char> {
        self.text.get(i..)?.chars().next()
    }

    /// The character before byte position `i`, with its position.
    fn char_before(&self, i: usize) -> Option<(usize, char)> {
        let mut j = i.checked_sub(1)?;
        while j > 0 && self.byte(j) & 0xC0 == 0x80 {
            j -= 1;
        }
        Some((j, self.char_at(j)?))
    }

    #[inline(always)]
    fn word_at(&self, i: usize) -> bool {
        is_word(self.byte(i))
    }

    #[inline(always)]
    fn word_before(&self, i: usize) -> bool {
        is_word(self.byte_before(i))
    }

    /// The end of the run of whitespace characters (`char::is_whitespace`) that starts at `i`
    /// (`i` itself if there is none).
    fn ws_end(&self, i: usize) -> usize {
        let mut j = i;
        loop {
            let b = self.byte(j);
            if flags(b) & SPACE != 0 {
                j += 1;
            } else if b >= 0x80 {
                match wide_ws_len(b, self.byte(j + 1), self.byte(j + 2)) {
                    0 => return j,
                    n => j += n,
                }
            } else {
                return j;
            }
        }
    }

    /// The byte length of the whitespace character that ends at `e`, or 0.
    #[inline(always)]
    fn ws_len_before(&self, e: usize) -> usize {
        let b = self.byte_before(e);
        if b < 0x80 {
            return usize::from(flags(b) & SPACE != 0);
        }
        let (lead3, lead2) = (self.byte_before(e.saturating_sub(2)), self.byte_before(e - 1));
        if e >= 2 && lead2 == 0xC2 {
            // A two-byte character; `lead3` belongs to the one before.
            wide_ws_len(lead2, b, 0)
        } else if e >= 3 && wide_ws_len(lead3, lead2, b) == 3 {
            3
        } else {
            0
        }
    }

    /// The start of the run of whitespace characters that ends at `e` (`e` itself if there is
    /// none).
    #[inline(always)]
    fn ws_start(&self, e: usize) -> usize {
        let mut i = e;
        loop {
            match self.ws_len_before(i) {
                0 => return i,
                n => i -= n,
            }
        }
    }

    /// The start of the run of `[ \t]` that ends at `e`.
    fn blank_start(&self, e: usize) -> usize {
        let mut i = e;
        while is_blank(self.byte_before(i)) {
            i -= 1;
        }
        i
    }

    /// The byte length of the apostrophe (`'`, `‘`, `’`) that ends at `e`, or 0. U+2018 and
    /// U+2019 are the bytes E2 80 98 and E2 80 99.
    fn apos_len_before(&self, e: usize) -> usize {
        match self.byte_before(e) {
            b'\'' => 1,
            0x98 | 0x99 if e >= 3 && self.byte(e - 3) == 0xE2 && self.byte(e - 2) == 0x80 => 3,
            _ => 0,
        }
    }

    /// The stem of a verb at `p` (see [`stem_for`]), with the position after it.
    #[inline(always)]
    fn stem_at(&self, p: usize) -> Option<(&'static Stem, usize)> {
        let w = self.load8(p);
        let stem = stem_for(w)?;
        stem.stem.starts(w).then_some((stem, p + stem.stem.len))
    }

    /// The end of `VERB \b` whose stem `stem` ends at `e`: the one surface form that ends at a
    /// word boundary, if any. Every form is the stem plus nothing, the participle ending, the
    /// third-person ending or (`merge`, `rebase`) `e`.
    fn surface_end(&self, stem: &Stem, e: usize) -> Option<usize> {
        let w = self.load8(e);
        let [next, ..] = w.to_le_bytes();
        if !is_word(next) {
            return Some(e);
        }
        let ends = |lit: Lit| (lit.starts(w) && !self.word_at(e + lit.len)).then_some(e + lit.len);
        ends(stem.ing).or_else(|| ends(stem.third)).or_else(|| if stem.e_form { ends(E) } else { None })
    }

    /// The end of F4's `PART` whose stem `stem` ends at `e` (its TRAILER comes next).
    #[inline(always)]
    fn participle_end(&self, stem: &Stem, e: usize) -> Option<usize> {
        self.lit(e, stem.ing)
    }

    /// TRAILER at `i` (follow-through.md §3.4); returns the end of the match and where a past
    /// form can start in it (§3.5 rule 2): after `the`, in the 40 characters that follow it, and
    /// nowhere after `now`, `it`, `this` or `that` (the end). The words `now`, `it`, `this`,
    /// `that`, `the` differ in their first or third letter, so at most one of them starts at a
    /// position.
    fn trailer(&self, i: usize) -> Option<(usize, usize)> {
        let j = self.ws_end(i);
        if j == i {
            return None;
        }
        let w = self.load8(j);
        let [first, _, third, ..] = w.to_le_bytes();
        let (word, the) = match first | 0x20 {
            b'n' => (NOW, false),
            b'i' => (IT, false),
            b't' => match third | 0x20 {
                b'i' => (THIS, false),
                b'a' => (THAT, false),
                _ => (THE, true),
            },
            _ => return None,
        };
        let e = j + word.len;
        if !word.starts(w) || self.word_at(e) {
            return None;
        }
        if !the {
            return Some((e, e));
        }
        // Then 0 to 40 characters, none of them `.`, `!`, `?` or a line feed, greedily. Eight bytes
        // at a time: ASCII characters up to the first stop byte or byte outside ASCII (the lowest
        // byte that `bytes_like` flags is always a true one), then one character by hand.
        let mut k = e;
        let mut left = THE_TRAILER_MAX;
        while left > 0 && k < self.bytes.len() {
            let w = self.load8(k);
            let special = bytes_like(w, b'.', 0)
                | bytes_like(w, b'!', 0)
                | bytes_like(w, b'?', 0)
                | bytes_like(w, b'\n', 0)
                | (w & HIGH_BITS);
            let ascii = ((special.trailing_zeros() / 8) as usize).min(left).min(self.bytes.len() - k);
            k += ascii;
            left -= ascii;
            if ascii == 8 || left == 0 || k >= self.bytes.len() {
                continue;
            }
            let b = self.byte(k);
            if flags(b) & TRAILER_STOP != 0 {
                break;
            }
            k += utf8_len(b);
            left -= 1;
        }
        Some((k.min(self.bytes.len()), e))
    }

    /// The word before `WS`, ending at `e`: the start of the run of whitespace characters that
    /// ends at `e`, if the run is not empty.
    #[inline(always)]
    fn after_ws(&self, e: usize) -> Option<usize> {
        let i = self.ws_start(e);
        (i < e).then_some(i)
    }

    /// `\b I`, then `APOS?`, ending at `e`: the position of the `I`.
    fn i_apos_before(&self, e: usize) -> Option<usize> {
        let i = (e - self.apos_len_before(e)).checked_sub(1)?;
        (self.byte(i) | 0x20 == b'i' && !self.word_before(i)).then_some(i)
    }

    /// `\b I WS`, ending at `e`: the position of the `I`.
    fn i_ws_before(&self, e: usize) -> Option<usize> {
        let i = self.after_ws(e)?.checked_sub(1)?;
        (self.byte(i) | 0x20 == b'i' && !self.word_before(i)).then_some(i)
    }

    /// `\b I APOS? m` or `\b I WS am` (the leads of F2, and of F1 before `going`/`about`),
    /// ending at `e`: the position of the `I`.
    fn i_am_before(&self, e: usize) -> Option<usize> {
        if self.byte_before(e) | 0x20 != b'm' {
            return None;
        }
        self.i_apos_before(e - 1).or_else(|| self.i_ws_before(self.lit_before(e, AM)?))
    }

    /// The start of the F1 or F2 lead whose `WS` before the verb starts at `w0`, with its family
    /// (follow-through.md §3.4), but for the leads ending in `to` (see [`Text::claim_at`]): the
    /// word before the `WS` tells the leads apart.
    /// - `ll`: F1's `\b I APOS? ll`; `will`: F1's `\b I WS will`;
    /// - `m`, `am`: F2's `\b I APOS? m` and `\b I WS am`;
    /// - `me`: F1's `\b let WS me`.
    fn lead_before(&self, w0: usize) -> Option<(usize, usize)> {
        match self.byte_before(w0) | 0x20 {
            b'l' => {
                // `will` ends with `ll`, but then a `w` comes before the `i`, so at most one fits.
                let will = self.lit_before(w0, WILL).and_then(|will| self.i_ws_before(will));
                will.or_else(|| self.i_apos_before(self.lit_before(w0, LL)?)).map(|i| (i, F1))
            }
            b'm' => self.i_am_before(w0).map(|i| (i, F2)),
            b'e' => {
                let let_ = self.lit_before(self.after_ws(self.lit_before(w0, ME)?)?, LET)?;
                (!self.word_before(let_)).then_some((let_, F1))
            }
            _ => None,
        }
    }

    /// `going WS to` or `about WS to` ending at `w0` (where the `WS` before the verb starts): the
    /// position of `going`/`about`.
    fn going_or_about_before(&self, w0: usize) -> Option<usize> {
        let g = self.after_ws(self.lit_before(w0, TO)?)?;
        self.lit_before(g, GOING).or_else(|| self.lit_before(g, ABOUT))
    }

    /// The starts of the BOUNDARY alternatives (with their indent and optional bullet) that end
    /// at `q`, where F3's `going`/`about` or F4's participle starts (follow-through.md §3.4): the
    /// start of the text alone, or a `.`, `!`, `?` followed by `WS` and a line feed, by start.
    ///
    /// The indent `[ \t]*` and the bullet's gap `[ \t]+` are greedy, so the blanks right before
    /// `q` are the bullet's gap if a `-`/`*` comes before them, and the indent otherwise; before a
    /// bullet come the indent's blanks. A `.`/`!`/`?` takes all the whitespace after it as its
    /// `WS`, so the indent after it is empty and its `WS` ends at the bullet or at `q`; it may
    /// take a line feed that is a BOUNDARY of its own.
    #[inline(always)]
    fn boundaries_before(&self, q: usize) -> [Option<usize>; 2] {
        let gap = self.blank_start(q);
        let (x, indent) =
            if gap < q && is_bullet(self.byte_before(gap)) { (gap - 1, self.blank_start(gap - 1)) } else { (q, gap) };
        if indent == 0 {
            // Only blanks and a bullet before `q`: no `.` or line feed either.
            return [Some(0), None];
        }
        let b = self.byte(indent - 1);
        if b < 0x80 && flags(b) & SPACE == 0 {
            // A visible character before the indent: a `.`, `!`, `?` whose `WS` is the indent.
            return [(matches!(b, b'.' | b'!' | b'?') && indent < x).then_some(indent - 1), None];
        }
        [self.punct_ws_before(x), (b == b'\n').then_some(indent - 1)]
    }

    /// `.`, `!` or `?` followed by `WS` ending at `x`: the position of the punctuation.
    fn punct_ws_before(&self, x: usize) -> Option<usize> {
        let p = self.after_ws(x)?.checked_sub(1)?;
        matches!(self.byte(p), b'.' | b'!' | b'?').then_some(p)
    }

    /// The whitespace run `[w0, v)` before a verb at `v`, and whether a lead and whether a
    /// BOUNDARY (with its indent and bullet) can end with it; `None` if `v` neither starts the
    /// text nor follows whitespace. A lead ends with the last two characters of a few words right
    /// before the run ([`could_end_lead`]); a BOUNDARY with the start of the text, a line feed in the run, or a `.`, `!`, `?` or bullet
    /// right before it ([`could_end_boundary`]; see [`Text::boundaries_before`]). Most often the
    /// run is one ASCII whitespace character after a visible ASCII character, all read from one
    /// 8-byte load.
    #[inline(always)]
    fn verb_context(&self, v: usize) -> Option<(usize, bool, bool)> {
        let [.., c2, c1, c0] = self.load8_before(v).to_le_bytes();
        if v >= 2 && flags(c0) & SPACE != 0 && c1 < 0x80 && flags(c1) & SPACE == 0 {
            return Some((v - 1, could_end_lead(c2, c1), c0 == b'\n' || could_end_boundary(c1)));
        }
        let w0 = self.ws_start(v);
        if w0 == v && v > 0 {
            return None;
        }
        let [.., c2, c1] = self.load8_before(w0).to_le_bytes();
        let line_feed = self.bytes.get(w0..v).unwrap_or_default().contains(&b'\n');
        Some((w0, w0 < v && could_end_lead(c2, c1), w0 == 0 || line_feed || could_end_boundary(c1)))
    }

    /// The claim whose verb `stem` starts at `v`, after the whitespace run `[w0, v)`, if any,
    /// given the ends of its surface form (`VERB \b`) and of its participle, where they are
    /// there and can have a lead or BOUNDARY before them.
    ///
    /// The matches of the verb are F1/F2 by the lead before it, F3 by a BOUNDARY before
    /// `going/about WS to` and F4 by a BOUNDARY right before it (its TRAILER read only then), and
    /// come in that order by start: when several exist, F3's BOUNDARY and F4's line feed lie in
    /// the `WS` after the lead or `to`, and F4's `.`/`!`/`?` or start of the text rule out a lead.
    /// Each pattern resumes after its last match (`resume`, by family and verb), and a match
    /// survives only if neither quoted nor vetoed by a past form (§3.5).
    #[inline(never)]
    fn claim_at(
        &self,
        v: usize,
        w0: usize,
        stem: &Stem,
        surface: Option<usize>,
        part: Option<usize>,
        resume: &mut [[usize; 10]; 4],
    ) -> Option<Claim> {
        // Takes a match: skipped before its pattern's resume position, then rejected if quoted
        // or vetoed by a past form. Only F4 can contain a past form, after `the` in its trailer
        // (`guard_from`, see `Text::trailer`): the lead words, boundaries and bullets are none,
        // and no surface form or participle is one or has one inside (a word starts only at its
        // start, and each verb's past form differs from its other forms before either ends).
        let mut take = |start: usize, family: usize, end: usize, guard_from: usize| {
            let res = resume.get_mut(family)?.get_mut(stem.index)?;
            if start < *res {
                return None;
            }
            // Either way, this pattern's next search starts after this match.
            *res = end;
            if self.quoted(start) || self.past_tense(guard_from, end) {
                return None;
            }
            let matched = self.text.get(start..end)?.trim().to_owned();
            Some(Claim { verb: stem.verb, matched })
        };
        if let Some(end) = surface {
            if self.byte_before(w0) | 0x20 == b'o' {
                // `going/about WS to`: after F1's `I'm`/`I am`, or F3's BOUNDARY.
                if let Some(q) = self.going_or_about_before(w0) {
                    if let Some(i) = self.after_ws(q).and_then(|g| self.i_am_before(g))
                        && let Some(claim) = take(i, F1, end, end)
                    {
                        return Some(claim);
                    }
                    for start in self.boundaries_before(q).into_iter().flatten() {
                        if let Some(claim) = take(start, F3, end, end) {
                            return Some(claim);
                        }
                    }
                }
            } else if let Some((start, family)) = self.lead_before(w0)
                && let Some(claim) = take(start, family, end, end)
            {
                return Some(claim);
            }
        }
        if let Some(part) = part {
            let starts = self.boundaries_before(v);
            if starts.iter().any(Option::is_some) {
                let (end, guard_from) = self.trailer(part)?;
                for start in starts.into_iter().flatten() {
                    if let Some(claim) = take(start, F4, end, guard_from) {
                        return Some(claim);
                    }
                }
            }
        }
        None
    }

    /// §3.5 rule 1: the candidate starting at `i` is quoted. Looks at the characters at `i-1`
    /// and `i-2` only, passing over U+0020; the first other character decides.
    #[inline(always)]
    fn quoted(&self, i: usize) -> bool {
        let [.., c2, c1] = self.load8_before(i).to_le_bytes();
        let (c, at) = if c1 == b' ' { (c2, i - 1) } else { (c1, i) };
        match c {
            b'"' | b'\'' | b'`' => true,
            // A character outside ASCII is never a space.
            0x80.. => self.char_before(at).is_some_and(|(_, c)| is_quote(c)),
            // Anything else, including two spaces and the start of the text (NUL).
            _ => false,
        }
    }

    /// §3.5 rule 2: the span `[s, e)`, read as a string of its own, contains a whole past form.
    /// Each past form starts with its verb's first three letters, so [`stem_for`] picks the only
    /// form worth trying at a word start.
    fn past_tense(&self, s: usize, e: usize) -> bool {
        // Eight bytes at a time, the verb initials (compared as in `verb_candidates`), then
        // those that start a word of the span.
        let mut block = s;
        while block < e {
            let w = self.load8(block);
            let folded = w | (LOW_BITS * 0x20);
            let mut initials =
                bytes_like(folded, b'p', 0x02) | bytes_like(folded, b'd', 0x02) | bytes_like(folded, b'm', 0);
            if e - block < 8 {
                initials &= (1 << (8 * (e - block))) - 1;
            }
            while initials != 0 {
                let j = block + (initials.trailing_zeros() / 8) as usize;
                initials &= initials - 1;
                if flags(self.byte(j)) & VERB_INITIAL == 0 || (j > s && self.word_before(j)) {
                    continue;
                }
                let w = self.load8(j);
                let past = stem_for(w).map(|stem| stem.past).filter(|(head, _)| head.starts(w));
                if let Some((head, tail)) = past {
                    let end = self.lit(j + head.len, tail).filter(|&end| end <= e);
                    if end.is_some_and(|end| end == e || !self.word_at(end)) {
                        return true;
                    }
                }
            }
            block += 8;
        }
        false
    }
}

/// Classify `text` as an action claim (follow-through.md §3.1, §3.4–§3.6).
///
/// Evaluates the 40 patterns (the ten verbs of §3.3 in contract order × families F1–F4), keeps
/// each pattern's first match that survives the quote skip and the past-tense guard (§3.5), and
/// returns the survivor with the smallest start, ties going to the earlier pattern (§3.6).
/// `matched` is the winning span with surrounding whitespace removed (`str::trim`). Pure and
/// total: every input, including the empty string, gives an answer.
///
/// The 40 searches run side by side, verb by verb and, for each verb, match by start (see the
/// module documentation): each pattern keeps its own resume position (the end of its last match,
/// rejected or not, as a global regular expression does), and the first match that survives is
/// the survivor with the smallest start, so the search stops there.
pub fn classify_action_claim(text: &str) -> Option<Claim> {
    let t = Text::new(text);
    // Resume position of each pattern, by family then verb.
    let mut resume = [[0usize; 10]; 4];
    // The one pass: eight bytes at a time, with whether the byte before them may end a
    // whitespace character (or they start the text) as the high bit of byte 0.
    let mut block = 0;
    let mut before = 0x80;
    while block < t.bytes.len() {
        let w = t.load8(block);
        let mut candidates = verb_candidates(w, before);
        while candidates != 0 {
            let v = block + (candidates.trailing_zeros() / 8) as usize;
            candidates &= candidates - 1;
            // A verb stem, after whitespace (or at the start) that can end a lead or BOUNDARY,
            // then the forms that can follow them.
            if flags(t.byte(v)) & VERB_INITIAL == 0 {
                continue;
            }
            let Some((stem, e)) = t.stem_at(v) else { continue };
            let Some((w0, lead, boundary)) = t.verb_context(v) else { continue };
            let surface = if lead { t.surface_end(stem, e) } else { None };
            let part = if boundary { t.participle_end(stem, e) } else { None };
            if (surface.is_some() || part.is_some())
                && let Some(claim) = t.claim_at(v, w0, stem, surface, part, &mut resume)
            {
                return Some(claim);
            }
        }
        let [.., last] = w.to_le_bytes();
        before = if (0x21..0x80).contains(&last) { 0 } else { 0x80 };
        block += 8;
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
        let t = Text::new;
        assert!(t("x fixed").past_tense(0, 7));
        assert!(!t("x fixedly").past_tense(0, 9));
        assert!(t("x fixedly").past_tense(0, 7));
        assert!(!t("unfixed").past_tense(0, 7));
        assert!(t("unfixed").past_tense(2, 7));
        assert!(t("\u{e9}fixed").past_tense(0, 7));
        assert!(t("x RE-RAN").past_tense(0, 8));
    }

    /// A literal as text (lowercase).
    fn lit_text(lit: Lit) -> String {
        lit.bytes.to_le_bytes()[..lit.len].iter().map(|&b| char::from(b)).collect()
    }

    /// Every entry of the verb table.
    const STEMS: [&Stem; 11] =
        [&RELAUNCH, &RESTART, &REDEPLOY, &DEPLOY, &PUSH, &MERGE, &REVERT, &REBASE, &RERUN, &RE_RUN, &FIX];

    /// The forms a stem entry accepts: (surface forms, participles, past forms).
    fn forms(stem: &Stem) -> (Vec<String>, Vec<String>, Vec<String>) {
        let base = lit_text(stem.stem);
        let mut surface = vec![base.clone(), base.clone() + &lit_text(stem.ing), base.clone() + &lit_text(stem.third)];
        if stem.e_form {
            surface.push(base.clone() + "e");
        }
        let participle = vec![base + &lit_text(stem.ing)];
        let past = vec![lit_text(stem.past.0) + &lit_text(stem.past.1)];
        (surface, participle, past)
    }

    #[test]
    fn verb_table_is_the_closed_verb_set_of_the_spec() {
        // follow-through.md §3.3 and §3.5 rule 2, verbatim.
        /// A verb with its surface forms, participles and past forms.
        type Forms = (ActionVerb, &'static [&'static str], &'static [&'static str], &'static [&'static str]);
        let spec: [Forms; 10] = [
            (ActionVerb::Relaunch, &["relaunch", "relaunching", "relaunches"], &["relaunching"], &["relaunched"]),
            (ActionVerb::Restart, &["restart", "restarting", "restarts"], &["restarting"], &["restarted"]),
            (ActionVerb::Redeploy, &["redeploy", "redeploying", "redeploys"], &["redeploying"], &["redeployed"]),
            (ActionVerb::Deploy, &["deploy", "deploying", "deploys"], &["deploying"], &["deployed"]),
            (ActionVerb::Push, &["push", "pushing", "pushes"], &["pushing"], &["pushed"]),
            (ActionVerb::Merge, &["merg", "merge", "merging", "merges"], &["merging"], &["merged"]),
            (ActionVerb::Revert, &["revert", "reverting", "reverts"], &["reverting"], &["reverted"]),
            (ActionVerb::Rebase, &["rebas", "rebase", "rebasing", "rebases"], &["rebasing"], &["rebased"]),
            (
                ActionVerb::Rerun,
                &["rerun", "re-run", "rerunning", "re-running", "reruns", "re-runs"],
                &["rerunning", "re-running"],
                &["reran", "re-ran"],
            ),
            (ActionVerb::Fix, &["fix", "fixing", "fixes"], &["fixing"], &["fixed"]),
        ];
        for (index, (verb, surface, participle, past)) in spec.into_iter().enumerate() {
            assert_eq!(ActionVerb::ALL[index], verb);
            let entries: Vec<&Stem> = STEMS.into_iter().filter(|s| s.verb == verb).collect();
            assert!(!entries.is_empty(), "{verb:?}");
            let (mut got_surface, mut got_participle, mut got_past) = (Vec::new(), Vec::new(), Vec::new());
            for entry in &entries {
                assert_eq!(entry.index, index, "{verb:?}");
                let (s, p, x) = forms(entry);
                got_surface.extend(s);
                got_participle.extend(p);
                got_past.extend(x);
            }
            for (got, want) in [(got_surface, surface), (got_participle, participle), (got_past, past)] {
                let mut got = got;
                let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "{verb:?}");
            }
        }
    }

    #[test]
    fn stem_dispatch_reaches_every_form_in_any_case() {
        for stem in STEMS {
            let (surface, participle, past) = forms(stem);
            for form in surface.iter().chain(&participle).chain(&past) {
                for text in [form.clone(), form.to_ascii_uppercase()] {
                    let t = Text::new(&text);
                    let picked = stem_for(t.load8(0)).map(|s| lit_text(s.stem));
                    assert_eq!(picked, Some(lit_text(stem.stem)), "{text}");
                }
            }
        }
    }

    #[test]
    fn literals_compare_case_insensitively_and_exactly_otherwise() {
        let at = |text: &str, lit: Lit| Text::new(text).lit(0, lit);
        assert_eq!(at("relaunch", RELAUNCH.stem), Some(8));
        assert_eq!(at("ReLaUnChing", RELAUNCH.stem), Some(8));
        assert_eq!(at("relaunc", RELAUNCH.stem), None);
        assert_eq!(at("RE-RUN", RE_RUN.stem), Some(6));
        assert_eq!(at("re\rrun", RE_RUN.stem), None);
        assert_eq!(at("re\u{d}run", RE_RUN.stem), None);
        assert_eq!(at("r\u{c5}", Lit::new("re")), None);
        assert_eq!(at("re", Lit::new("")), Some(0));
        assert_eq!(at("", Lit::new("")), Some(0));
        assert_eq!(at("", LL), None);
        assert_eq!(at("l", LL), None);
        assert_eq!(at("l\0", LL), None);
        assert_eq!(at("lL", LL), Some(2));
    }

    #[test]
    fn byte_flags_match_their_definitions() {
        for b in 0..=255u8 {
            let c = char::from(b);
            assert_eq!(is_word(b), b.is_ascii_alphanumeric() || b == b'_', "{b:#x}");
            assert_eq!(flags(b) & SPACE != 0, b < 0x80 && c.is_whitespace(), "{b:#x}");
            assert_eq!(flags(b) & VERB_INITIAL != 0, b"rdpmfRDPMF".contains(&b), "{b:#x}");
            assert_eq!(is_blank(b), b == b' ' || b == b'\t', "{b:#x}");
        }
    }

    #[test]
    fn word_wide_comparisons_find_every_byte() {
        // Every candidate position the exact tests accept is found, for all bytes at every
        // position of a block, after and before every byte.
        let probe = [0u8, b' ', b'\t', b'\n', b'!', b'a', b'x', b'r', b'p', b'e', 0x80, 0xA0, 0xE3, 0xFF];
        for b in 0..=255u8 {
            for &other in &probe {
                for k in 0..8 {
                    for (before_k, after_k) in [(other, other), (b' ', other), (other, b'e')] {
                        let mut bytes = [b'e'; 8];
                        bytes[k] = b;
                        if k > 0 {
                            bytes[k - 1] = before_k;
                        }
                        if k < 7 {
                            bytes[k + 1] = after_k;
                        }
                        let w = u64::from_le_bytes(bytes);
                        for before in [0, 0x80] {
                            let found = verb_candidates(w, before) >> (8 * k) & 0x80 != 0;
                            let prev_ok =
                                if k == 0 { before != 0 } else { bytes[k - 1] < 0x21 || bytes[k - 1] >= 0x80 };
                            let next_ok = k == 7 || !(bytes[k + 1] < 0x21 || bytes[k + 1] >= 0x80);
                            if flags(b) & VERB_INITIAL != 0 && prev_ok && next_ok {
                                assert!(found, "{bytes:?} at {k}, before {before}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ws_is_char_is_whitespace() {
        // `wide_ws_len` against `char::is_whitespace`, for every character, forwards and
        // backwards, inside a text and at its ends.
        let mut s = String::new();
        for c in (0u32..=0x10_FFFF).filter_map(char::from_u32) {
            let (len, ws, u) = (c.len_utf8(), c.is_whitespace(), u32::from(c));
            s.clear();
            s.push('x');
            s.push(c);
            s.push('x');
            let t = Text::new(&s);
            assert_eq!(t.ws_end(1), if ws { 1 + len } else { 1 }, "U+{u:04X}");
            assert_eq!(t.ws_start(1 + len), if ws { 1 } else { 1 + len }, "U+{u:04X}");
            let alone = c.to_string();
            let t = Text::new(&alone);
            assert_eq!(t.ws_end(0), if ws { len } else { 0 }, "U+{u:04X}");
            assert_eq!(t.ws_start(len), if ws { 0 } else { len }, "U+{u:04X}");
        }
        let t = Text::new(" \u{3000}\t\u{a0}\n");
        assert_eq!((t.ws_end(0), t.ws_start(t.bytes.len())), (t.bytes.len(), 0));
    }

    #[test]
    fn lead_and_boundary_ends_let_every_lead_and_boundary_through() {
        let ends_lead = |s: &str| {
            let b = s.as_bytes();
            could_end_lead(b[b.len() - 2], b[b.len() - 1])
        };
        let leads = [
            "I'll",
            "I\u{2019}ll",
            "I\u{2018}ll",
            "Ill",
            "I will",
            "I'm",
            "I\u{2019}m",
            "I\u{2018}m",
            "Im",
            "I am",
            "let me",
            "going to",
            "about to",
        ];
        for lead in leads {
            for lead in [lead.to_owned(), lead.to_uppercase(), lead.to_lowercase()] {
                assert!(ends_lead(&lead), "{lead:?}");
            }
        }
        for not_lead in ["xl", "xm", "xe", "xo", "ok", "it", "the"] {
            assert!(!ends_lead(not_lead), "{not_lead:?}");
        }
        for c in [b'.', b'!', b'?', b'-', b'*'] {
            assert!(could_end_boundary(c));
        }
        // The context of a verb, for runs of one character and longer ones.
        let ctx = |s: &str| Text::new(s).verb_context(s.len() - 3);
        assert_eq!(ctx("I'll fix"), Some((4, true, false)));
        assert_eq!(ctx("I'll \u{3000} fix"), Some((4, true, false)));
        assert_eq!(ctx("ok.\nfix"), Some((3, false, true)));
        assert_eq!(ctx("ok \n fix"), Some((2, false, true)));
        assert_eq!(ctx("ok - fix"), Some((4, false, true)));
        assert_eq!(ctx("  fix"), Some((0, false, true)));
        assert_eq!(ctx("fix"), Some((0, false, true)));
        assert_eq!(ctx("ok fix"), Some((2, false, false)));
        assert_eq!(ctx("okfix"), None);
    }

    #[test]
    fn matches_of_one_verb_are_taken_by_start() {
        // F1 from `I` and F4 from the line feed, both on `restarting`: the lead starts first.
        assert_eq!(claim("I'll\nrestarting it now"), Some((ActionVerb::Restart, "I'll\nrestarting".into())));
        // The lead is quoted; the line feed's match is not (the look-back sees `l`).
        assert_eq!(claim("\"I'll\nrestarting it now"), Some((ActionVerb::Restart, "restarting it".into())));
        // F1 from `I'm` and F3 from the line feed before `going`.
        assert_eq!(claim("\"I'm\ngoing to merge"), Some((ActionVerb::Merge, "going to merge".into())));
        // A `.` and the line feed in its whitespace: the `.` starts first.
        assert_eq!(claim("ok. \nfixing it"), Some((ActionVerb::Fix, ". \nfixing it".into())));
        assert_eq!(claim("\"ok\". \nfixing it"), None);
    }

    #[test]
    fn quote_lookback_is_two_characters() {
        let t = Text::new;
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
            fill("Pushing the fixed. "),
            fill("Reviewed the diff. "),
            fill("- "),
            fill("\t\n"),
            fill("going to "),
            fill("let me "),
            fill("I will "),
            fill("\u{3000}"),
            format!("I{}", "\u{3000}".repeat((n - 1) / 3)),
            fill("ill "),
            fill("é"),
            fill("\u{2019}"),
            format!("Pushing the{}", "x".repeat(n - 11)),
            format!("{}I'll push", "a ".repeat((n - 9) / 2)),
            fill(" fix"),
            fill("\u{a0}fix"),
            fill(" am fix"),
            fill("\"Im fix"),
            fill("\"\nfixing it"),
            fill("fixing the fixed\n"),
            fill(". R"),
            format!("I{}fix", " ".repeat(n - 4)),
            format!("going to{}fix", "\n".repeat(n - 11)),
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
