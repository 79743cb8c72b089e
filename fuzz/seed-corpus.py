#!/usr/bin/env python3
"""Seed fuzz/corpus/<target>/ from the tests (docs/RELIABILITY.md, "Fuzzing").

  cli_args    argument lists written as `&["wait", "--timeout", "5x"]` in host/tests/it/*.rs
              and host/src/argv/*.rs, one NUL-separated file each
  handoff     the JSON text of every `json!({"status": ...})`-like handoff string in the
              tests, plus the handoffs of protocol.md S3 and the limits of §10.3
  hook_input  the Stop-hook payloads and JSONL transcripts of tests/fixtures/claude-code/
  claims      the input text of every row of policies/cases/claims.jsonl

Each file is named by the SHA-1 of its content (as libFuzzer names its own), so running
the script again changes nothing. The seeds are committed; what a run adds goes to
fuzz/work/ (ignored). Run from anywhere: python3 fuzz/seed-corpus.py
"""

import hashlib
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"

# A Rust string literal without raw-string syntax: "…" with escapes.
STR = r'"(?:[^"\\]|\\.)*"'
ARRAY = re.compile(r"&\[\s*(" + STR + r"(?:\s*,\s*" + STR + r")*)\s*,?\s*\]")


def unescape(lit):
    """The value of a simple Rust string literal (the escapes the tests use)."""
    body = lit[1:-1]
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n == "u":
            end = body.index("}", i)
            out.append(chr(int(body[i + 3 : end], 16)))
            i = end + 1
            continue
        out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}.get(n, n))
        i += 2
    return "".join(out)


def write(target, blobs, limit):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    seen = set()
    for blob in blobs:
        if blob in seen:
            continue
        seen.add(blob)
        (d / hashlib.sha1(blob).hexdigest()).write_bytes(blob)
        if len(seen) >= limit:
            break
    return len(seen)


def rust_sources():
    for path in sorted((ROOT / "host" / "tests" / "it").glob("*.rs")):
        yield path.read_text()
    for path in sorted((ROOT / "host" / "src" / "argv").glob("*.rs")):
        yield path.read_text()


def cli_args():
    for text in rust_sources():
        for m in ARRAY.finditer(text):
            args = [unescape(s) for s in re.findall(STR, m.group(1))]
            yield "\0".join(args).encode()


def handoffs():
    yield b'{"status":"s","next_action":"n"}'
    yield b'{"status":"  ","next_action":"x"}'
    yield b'{"status":"s","next_action":"n","artifacts":{}}'
    yield b'{"status":"s","next_action":"n","extra":[1,2]}'
    yield b"not json"
    yield json.dumps(
        {
            "status": "What I did:\nWhat I learned:\nOpen risks:",
            "next_action": "What the next agent should do next.",
            "artifacts": [{"path": "src/a.rs", "lines": [1, 9], "role": "edit", "note": "n"}],
            "open_questions": ["q"],
            "do_not": ["d"],
        }
    ).encode()
    yield json.dumps({"status": "s", "next_action": "n", "pad": "x" * 65_500}).encode()
    for text in rust_sources():
        values = [unescape(lit) for lit in re.findall(STR, text)]
        values += re.findall(r'r#"(.*?)"#', text, re.S)
        for value in values:
            if value.lstrip().startswith(("{", "[")) and "status" in value:
                yield value.encode()


def hook_inputs():
    for path in sorted((ROOT / "tests" / "fixtures" / "claude-code").iterdir()):
        yield path.read_bytes()


def claim_texts():
    for line in (ROOT / "policies" / "cases" / "claims.jsonl").read_text().splitlines():
        if line.strip():
            text = json.loads(line)["input"]["text"]
            yield (text or "").encode()


if __name__ == "__main__":
    for target, blobs, limit in [
        ("cli_args", cli_args(), 400),
        ("handoff", handoffs(), 100),
        ("hook_input", hook_inputs(), 50),
        ("claims", claim_texts(), 200),
    ]:
        print(f"{target}: {write(target, blobs, limit)} seeds")
