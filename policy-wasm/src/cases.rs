//! Case tables: the policy's executable specification (policy-core.md §6).
//!
//! One runner serves all three ways the tables run: natively against this crate
//! (`cargo test`), through a component in the host's tests, and through
//! `tt policy test`. The caller supplies an [`Evaluator`]; this module parses
//! lines, tells each case's slot and function, calls the evaluator and compares.
//!
//! Line shape: `{"note": str, "input": …, "want": …, "slot"?: str, "function"?: str}`.
//! The slot comes from `"slot"` or from the file name (the slot name it starts with,
//! followed by `-` or `.`). Slots with several functions need `"function"`.
//! Comparison: objects in `want` are compared on the keys they give (so a claim's
//! `matched` and a verdict's `reason` may be left out); everything else must be equal.

use crate::types::{
    Claim, DeferralInput, ForeignLockFacts, HarnessInstance, LockDecision, MountFacts, MountVerdict, SelectionInput,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The four slot interfaces, in the order of policy-core.md §5.
pub const SLOTS: [&str; 4] = ["claims", "fairness", "supersession", "host-lock"];

/// The functions of each slot (WIT names).
pub fn functions_of(slot: &str) -> &'static [&'static str] {
    match slot {
        "claims" => &["classify-action-claim"],
        "fairness" => &["select-next-holder", "should-defer-idle-claim"],
        "supersession" => &["is-superseded"],
        "host-lock" => &["classify-mount-source", "decide-foreign-lock"],
        _ => &[],
    }
}

/// The slot a table's file name names (`claims-regressions.jsonl` → `claims`), if any.
pub fn slot_of_file_name(file_name: &str) -> Option<&'static str> {
    // Longest first so that no slot name shadows a longer one.
    let mut slots = SLOTS;
    slots.sort_by_key(|s| std::cmp::Reverse(s.len()));
    slots
        .into_iter()
        .find(|slot| file_name.strip_prefix(slot).is_some_and(|rest| rest.starts_with('-') || rest.starts_with('.')))
}

/// A call's failure as a one-line description: a trap, fuel exhaustion, an
/// `invalid-input` answer, or a slot the module does not implement.
pub type CallError = String;

/// Something that can answer the six policy functions: the native crate or a component.
pub trait Evaluator {
    /// Whether the module implements `slot`.
    fn implements(&self, slot: &str) -> bool;
    /// `claims.classify-action-claim`.
    fn classify_action_claim(&mut self, text: &str) -> Result<Option<Claim>, CallError>;
    /// `fairness.select-next-holder`.
    fn select_next_holder(&mut self, input: &SelectionInput) -> Result<Option<String>, CallError>;
    /// `fairness.should-defer-idle-claim`.
    fn should_defer_idle_claim(&mut self, input: &DeferralInput) -> Result<bool, CallError>;
    /// `supersession.is-superseded`.
    fn is_superseded(&mut self, existing: &HarnessInstance, incoming: &HarnessInstance) -> Result<bool, CallError>;
    /// `host-lock.classify-mount-source`.
    fn classify_mount_source(&mut self, facts: &MountFacts) -> Result<MountVerdict, CallError>;
    /// `host-lock.decide-foreign-lock`.
    fn decide_foreign_lock(&mut self, facts: &ForeignLockFacts) -> Result<LockDecision, CallError>;
    /// Fuel used by the last call, when the evaluator meters it.
    fn last_fuel(&self) -> Option<u64> {
        None
    }
}

/// The native crate as an [`Evaluator`] (implements every slot of this build).
pub struct Native;

impl Evaluator for Native {
    fn implements(&self, slot: &str) -> bool {
        crate::SLOTS.contains(&slot)
    }
    fn classify_action_claim(&mut self, text: &str) -> Result<Option<Claim>, CallError> {
        Ok(crate::claims::classify_action_claim(text))
    }
    fn select_next_holder(&mut self, input: &SelectionInput) -> Result<Option<String>, CallError> {
        crate::fairness::select_next_holder(input).map_err(|e| format!("returned {e}"))
    }
    fn should_defer_idle_claim(&mut self, input: &DeferralInput) -> Result<bool, CallError> {
        crate::fairness::should_defer_idle_claim(input).map_err(|e| format!("returned {e}"))
    }
    fn is_superseded(&mut self, existing: &HarnessInstance, incoming: &HarnessInstance) -> Result<bool, CallError> {
        Ok(crate::is_superseded(existing, incoming))
    }
    fn classify_mount_source(&mut self, facts: &MountFacts) -> Result<MountVerdict, CallError> {
        Ok(crate::host_lock::classify_mount_source(facts))
    }
    fn decide_foreign_lock(&mut self, facts: &ForeignLockFacts) -> Result<LockDecision, CallError> {
        Ok(crate::host_lock::decide_foreign_lock(facts))
    }
}

/// The outcome of one case line.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseResult {
    /// 1-based line number in the table.
    pub line: usize,
    /// The case's note (empty when the line has none).
    pub note: String,
    /// The case's input as written (null when the line could not be read).
    pub input: Value,
    /// The wanted output as written.
    pub want: Value,
    /// The output the module gave, or `{"error": "<one line>"}`.
    pub got: Value,
    /// Whether `got` matches `want`.
    pub passed: bool,
    /// Fuel used by the call, when metered.
    pub fuel: Option<u64>,
}

/// The outcome of one table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableResult {
    /// The slot the file name names (None when it names none).
    pub slot: Option<&'static str>,
    /// Every case line, in order.
    pub cases: Vec<CaseResult>,
}

impl TableResult {
    /// Number of passed cases.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }
    /// Number of failed cases.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

/// Run every non-blank line of a table. `file_name` names the slot unless a line says.
pub fn run_table(file_name: &str, text: &str, eval: &mut dyn Evaluator) -> TableResult {
    let file_slot = slot_of_file_name(file_name);
    let cases = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| run_line(i + 1, l, file_slot, eval))
        .collect();
    TableResult { slot: file_slot, cases }
}

fn error_value(msg: impl Into<String>) -> Value {
    json!({ "error": msg.into() })
}

fn run_line(line: usize, text: &str, file_slot: Option<&'static str>, eval: &mut dyn Evaluator) -> CaseResult {
    let mut result = CaseResult {
        line,
        note: String::new(),
        input: Value::Null,
        want: Value::Null,
        got: Value::Null,
        passed: false,
        fuel: None,
    };
    let obj: Map<String, Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            result.got = error_value("the line is not a JSON object");
            return result;
        }
        Err(e) => {
            result.got = error_value(format!("the line is not JSON: {e}"));
            return result;
        }
    };
    result.note = obj.get("note").and_then(Value::as_str).unwrap_or_default().to_string();
    result.input = obj.get("input").cloned().unwrap_or(Value::Null);
    result.want = obj.get("want").cloned().unwrap_or(Value::Null);
    let slot = match obj.get("slot") {
        Some(Value::String(s)) => SLOTS.iter().copied().find(|k| k == s),
        Some(_) => None,
        None => file_slot,
    };
    let Some(slot) = slot else {
        result.got = error_value("the case's slot cannot be told from its file name or a \"slot\" field");
        return result;
    };
    if !obj.contains_key("want") {
        result.got = error_value("the case has no \"want\"");
        return result;
    }
    let functions = functions_of(slot);
    let function = match (obj.get("function").and_then(Value::as_str), functions) {
        (Some(f), _) => f,
        (None, [only]) => only,
        (None, _) => {
            result.got = error_value(format!("a `{slot}` case needs a \"function\" field"));
            return result;
        }
    };
    if !functions.contains(&function) {
        result.got = error_value(format!("`{function}` is not a function of slot `{slot}`"));
        return result;
    }
    if !eval.implements(slot) {
        result.got = error_value(format!("the module does not implement slot `{slot}`"));
        return result;
    }
    result.got = match call(function, &result.input, eval) {
        Ok(v) => v,
        Err(e) => error_value(e),
    };
    result.fuel = eval.last_fuel();
    result.passed = matches(&result.want, &result.got);
    result
}

fn parse<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<T, CallError> {
    T::deserialize(v).map_err(|e| format!("the case's input does not fit: {e}"))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, CallError> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

/// Input of a claims case: `{"text": str | null}`; null classifies as the empty string.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsInput {
    text: Option<String>,
}

/// Input of a supersession case: the two harness instances.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SupersessionInput {
    existing: HarnessInstance,
    incoming: HarnessInstance,
}

/// Call `function` with a case's JSON input; the answer as JSON.
pub fn call(function: &str, input: &Value, eval: &mut dyn Evaluator) -> Result<Value, CallError> {
    match function {
        "classify-action-claim" => {
            let i: ClaimsInput = parse(input)?;
            to_value(&eval.classify_action_claim(i.text.as_deref().unwrap_or(""))?)
        }
        "select-next-holder" => to_value(&eval.select_next_holder(&parse(input)?)?),
        "should-defer-idle-claim" => to_value(&eval.should_defer_idle_claim(&parse(input)?)?),
        "is-superseded" => {
            let i: SupersessionInput = parse(input)?;
            to_value(&eval.is_superseded(&i.existing, &i.incoming)?)
        }
        "classify-mount-source" => to_value(&eval.classify_mount_source(&parse(input)?)?),
        "decide-foreign-lock" => to_value(&eval.decide_foreign_lock(&parse(input)?)?),
        other => Err(format!("unknown function `{other}`")),
    }
}

/// `want` matches `got`: objects on the keys `want` gives, everything else by equality.
pub fn matches(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) if !g.contains_key("error") || w.contains_key("error") => {
            w.iter().all(|(k, wv)| g.get(k).is_some_and(|gv| matches(wv, gv)))
        }
        _ => want == got,
    }
}
