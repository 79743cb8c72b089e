//! The command line of `tt` (cli.md §2.1–§2.6): `stick::argv::parse_line` on an argument
//! list made from the input (NUL-separated, lossily decoded as `tt` decodes `argv`), plus
//! the value rules that `dispatch` applies to each value (integers, durations, topics,
//! commitment ids, reasons).
//!
//! Checked: nothing panics (clap's debug assertions included); help text has the shape
//! of cli.md §2.6; every parse error is a `cli_error` (exit 2) that prints on one line
//! in JSON and in text mode, whatever input it echoes; the integer and
//! duration rules accept exactly `^\d+$` (fitting in i64) and `^\d+(ms|s|m|h)?$`
//! (without overflow); topic, id and reason errors are `invalid_input` (exit 1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stick::ErrorCode;
use stick::argv::parse::{duration, integer, prescan};
use stick::argv::{Line, Parsed, clap_error, clap_parse_args, parse_line};
use stick::service::commitments::{parse_commitment_id, validate_reason, validate_topic};

/// An error prints as one JSON line, or one `Error:` line (two with a hint), whatever
/// user input its message echoes (cli.md §2.9).
fn prints_on_one_line(e: &stick::TtError) {
    assert!(!e.message.is_empty(), "{e:?}");
    assert!(!e.to_json().to_string().contains('\n'), "{e:?}");
    assert_eq!(e.to_text().lines().count(), 1 + usize::from(e.hint.is_some()), "{e:?}");
}

fn one_line_usage(e: &stick::TtError) {
    assert_eq!(e.code, ErrorCode::CliError, "{e:?}");
    assert_eq!(e.code.exit_code(), 2);
    prints_on_one_line(e);
}

fn check_value_rules(a: &str) {
    let digits = !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit());
    match integer("after", Some(a)) {
        Ok(n) => assert!(digits && n == a.parse::<i64>().ok(), "{a:?} accepted as {n:?}"),
        Err(e) => {
            assert!(!digits || a.parse::<i64>().is_err(), "{a:?} rejected");
            assert_eq!(e.message, "--after must be an integer.");
            one_line_usage(&e);
        }
    }
    let n: String = a.chars().take_while(char::is_ascii_digit).collect();
    let unit = &a[n.len()..];
    let shape = !n.is_empty() && matches!(unit, "" | "ms" | "s" | "m" | "h");
    match duration(Some(a)) {
        Ok(Some(d)) => {
            assert!(shape, "{a:?} accepted as {d:?}");
            let n: u128 = n.parse().unwrap_or(u128::MAX);
            let per = match unit {
                "ms" => 1,
                "" | "s" => 1_000,
                "m" => 60_000,
                _ => 3_600_000,
            };
            assert_eq!(d.as_millis(), n * per, "{a:?}");
        }
        Ok(None) => panic!("a value gave no duration"),
        Err(e) => {
            // Rejected only for the wrong shape or a value that overflows u64 milliseconds.
            let overflow = n.parse::<u64>().ok().and_then(|n| {
                n.checked_mul(match unit {
                    "ms" => 1,
                    "" | "s" => 1_000,
                    "m" => 60_000,
                    _ => 3_600_000,
                })
            });
            assert!(!shape || overflow.is_none(), "{a:?} rejected");
            one_line_usage(&e);
        }
    }
    for r in [validate_topic(a).err(), parse_commitment_id(a).err(), validate_reason(Some(a)).err()] {
        if let Some(e) = r {
            assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
            prints_on_one_line(&e);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let args: Vec<String> = data.split(|b| *b == 0).take(48).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    // An empty input is `tt` with no arguments; otherwise every chunk is one argument.
    let args = if data.is_empty() { Vec::new() } else { args };
    for a in &args {
        check_value_rules(a);
    }
    let line = Line::new(args);
    match parse_line(&line) {
        Ok(Parsed::Help(text)) => {
            assert!(text.starts_with("Usage: tt "), "{text}");
            assert!(text.contains("--help, -h"), "{text}");
        }
        Ok(Parsed::Hook) => {
            // Hook mode parses the same way itself and reports errors as one line.
            if prescan(&line.args).is_ok() {
                if let Err(e) = clap_parse_args(&line.args, false) {
                    one_line_usage(&clap_error(&e, &line.words));
                }
            }
        }
        Ok(Parsed::Command(_)) => {}
        Err(e) => one_line_usage(&e),
    }
});
