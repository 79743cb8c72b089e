//! Collaboration instructions (protocol.md §19, cli.md §4.18): the bundled, user and
//! project layers with harness sections.
//!
//! Layers, in order: **bundled** ([`bundled_text`], compiled in), **user**
//! (`<data_dir>/instructions.md`, [`user_path`]) and **project**
//! (`<workspace_root>/.talking-stick/instructions.md`, [`project_path`]). Each layer is cut
//! down to the caller's harness ([`extract`], §19.2) and the pieces are joined
//! ([`join_layers`], §19.3). [`show`], [`edit`] and [`reset`] are the three subcommands; no
//! database is involved and `show` never creates the data directory (protocol.md §4.1.3).

use crate::env::Env;
use crate::error::{ErrorCode, TtError};
use serde::Serialize;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

/// The bundled layer (Markdown). Its wording is not normative (§19.5).
const BUNDLED: &str = include_str!("instructions/bundled.md");

/// The largest instructions file accepted, in bytes (§19.1, protocol.md §4.3 limits).
pub const MAX_FILE_BYTES: u64 = 262_144;

/// The bundled instructions text (§19.5): a shared preamble with the authority contract
/// (protocol.md §2.1) and the wait/act/handoff loop, then one `## <Harness>` section each
/// for Claude, Codex, Antigravity, Gemini, Grok and OpenCode.
pub fn bundled_text() -> &'static str {
    BUNDLED
}

/// `<data_dir>/instructions.md`: the user layer's file.
pub fn user_path(data_dir: &Path) -> PathBuf {
    data_dir.join("instructions.md")
}

/// `<workspace_root>/.talking-stick/instructions.md`: the project layer's file.
pub fn project_path(workspace_root: &Path) -> PathBuf {
    workspace_root.join(".talking-stick").join("instructions.md")
}

/// The harness an instructions text is cut down for (§19.2, §19.4). JSON: the lowercase
/// name (`"claude"`, …, `"all"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Harness {
    /// Claude Code (`claude`, alias `claude-code`).
    Claude,
    /// Codex (`codex`).
    Codex,
    /// Antigravity (`antigravity`, alias `agy`).
    Antigravity,
    /// Gemini CLI (`gemini`).
    Gemini,
    /// Grok Build (`grok`, alias `grok-build`).
    Grok,
    /// OpenCode (`opencode`).
    Opencode,
    /// Every section, text unchanged (`all`, alias `base`).
    All,
}

impl Harness {
    /// Every harness with a section key, in §19.2 order (excludes [`Harness::All`]).
    pub const SECTIONED: [Harness; 6] =
        [Harness::Claude, Harness::Codex, Harness::Antigravity, Harness::Gemini, Harness::Grok, Harness::Opencode];

    /// The canonical name, as in JSON and `--harness`.
    pub fn as_str(self) -> &'static str {
        match self {
            Harness::Claude => "claude",
            Harness::Codex => "codex",
            Harness::Antigravity => "antigravity",
            Harness::Gemini => "gemini",
            Harness::Grok => "grok",
            Harness::Opencode => "opencode",
            Harness::All => "all",
        }
    }

    /// The heading keys of §19.2: a `## ` heading whose trimmed, lowercased text starts
    /// with one of these belongs to this harness. Empty for [`Harness::All`].
    pub fn heading_keys(self) -> &'static [&'static str] {
        match self {
            Harness::Claude => &["claude"],
            Harness::Codex => &["codex"],
            Harness::Antigravity => &["antigravity", "agy"],
            Harness::Gemini => &["gemini"],
            Harness::Grok => &["grok"],
            Harness::Opencode => &["opencode"],
            Harness::All => &[],
        }
    }

    /// Parse a harness name with the §19.4 aliases (`claude-code` → claude, `agy` →
    /// antigravity, `grok-build` → grok, `base` → all). Matching is case-insensitive and
    /// treats runs of non-alphanumeric characters as one `-` (so the display name
    /// `Claude Code` names claude). `None` when it names no harness.
    pub fn from_name(name: &str) -> Option<Harness> {
        let mut key = String::with_capacity(name.len());
        for ch in name.trim().chars() {
            if ch.is_ascii_alphanumeric() {
                key.push(ch.to_ascii_lowercase());
            } else if !key.is_empty() && !key.ends_with('-') {
                key.push('-');
            }
        }
        match key.trim_end_matches('-') {
            "claude" | "claude-code" => Some(Harness::Claude),
            "codex" => Some(Harness::Codex),
            "antigravity" | "agy" => Some(Harness::Antigravity),
            "gemini" => Some(Harness::Gemini),
            "grok" | "grok-build" => Some(Harness::Grok),
            "opencode" => Some(Harness::Opencode),
            "all" | "base" => Some(Harness::All),
            _ => None,
        }
    }

    /// The harness a `## ` heading text belongs to (§19.2), if any.
    fn of_heading(text: &str) -> Option<Harness> {
        let t = text.trim().to_lowercase();
        Harness::SECTIONED.into_iter().find(|h| h.heading_keys().iter().any(|k| t.starts_with(k)))
    }
}

/// Harness selection (§19.4): `explicit` (`--harness`) if given; else `display_name` if
/// it names a harness; else the prefix of `agent_id` before the first `:` if it names
/// one; else [`Harness::All`].
///
/// Errors: `cli_error` "--harness must be one of claude, codex, antigravity, gemini,
/// grok, opencode, all (got x)." for an explicit value that names no harness.
pub fn select_harness(explicit: Option<&str>, display_name: Option<&str>, agent_id: &str) -> Result<Harness, TtError> {
    if let Some(x) = explicit {
        return Harness::from_name(x).ok_or_else(|| {
            TtError::usage(format!(
                "--harness must be one of claude, codex, antigravity, gemini, grok, opencode, all (got {x})."
            ))
        });
    }
    let prefix = agent_id.split(':').next();
    Ok(display_name
        .and_then(Harness::from_name)
        .or_else(|| prefix.and_then(Harness::from_name))
        .unwrap_or(Harness::All))
}

/// Which layers `show` reports (cli.md §4.18). JSON: lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// All three layers joined (§19.3); the default.
    Effective,
    /// The bundled layer alone.
    Bundled,
    /// The user layer alone.
    User,
    /// The project layer alone.
    Project,
}

impl Scope {
    /// Parse `--scope` (exact, lowercase). `None` → [`Scope::Effective`].
    ///
    /// Errors: `cli_error` "--scope must be one of effective, bundled, user, project (got x).".
    pub fn parse(value: Option<&str>) -> Result<Scope, TtError> {
        match value {
            None | Some("effective") => Ok(Scope::Effective),
            Some("bundled") => Ok(Scope::Bundled),
            Some("user") => Ok(Scope::User),
            Some("project") => Ok(Scope::Project),
            Some(x) => {
                Err(TtError::usage(format!("--scope must be one of effective, bundled, user, project (got {x}).")))
            }
        }
    }

    fn includes(self, layer: Layer) -> bool {
        match self {
            Scope::Effective => true,
            Scope::Bundled => layer == Layer::Bundled,
            Scope::User => layer == Layer::User,
            Scope::Project => layer == Layer::Project,
        }
    }
}

/// One layer (§19.1). JSON: `"bundled"`, `"user"`, `"project"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// Compiled into `tt`.
    Bundled,
    /// `<data_dir>/instructions.md`.
    User,
    /// `<workspace_root>/.talking-stick/instructions.md`.
    Project,
}

impl Layer {
    /// The lowercase name, as in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Bundled => "bundled",
            Layer::User => "user",
            Layer::Project => "project",
        }
    }
}

/// Choose the file layer from `--user` / `--project` (cli.md §4.18). Neither flag gives
/// the user layer unless `required` (as for `reset`).
///
/// Errors: `cli_error` "Pass only one of --user or --project." for both; with `required`
/// and neither, "Pass --user or --project to choose which instructions to reset.".
pub fn choose_layer(user: bool, project: bool, required: bool) -> Result<Layer, TtError> {
    match (user, project) {
        (true, true) => Err(TtError::usage("Pass only one of --user or --project.")),
        (false, true) => Ok(Layer::Project),
        (true, false) => Ok(Layer::User),
        (false, false) if required => {
            Err(TtError::usage("Pass --user or --project to choose which instructions to reset."))
        }
        (false, false) => Ok(Layer::User),
    }
}

/// Extraction of one layer for `harness` (§19.2).
///
/// Lines beginning with `## ` are headings. Text before the first harness heading is
/// shared and kept (including non-harness `##` headings there). From the first harness
/// heading on, only sections under a heading for `harness` are kept, heading line
/// included, up to the next `##` heading; an unrecognised `##` heading after the first
/// harness heading ends the section and its content is dropped (#38). For
/// [`Harness::All`] the text is returned unchanged. Lines are rejoined with `\n`.
pub fn extract(text: &str, harness: Harness) -> String {
    if harness == Harness::All {
        return text.to_string();
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut seen_harness_heading = false;
    let mut keeping = true;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            match Harness::of_heading(heading) {
                Some(h) => {
                    seen_harness_heading = true;
                    keeping = h == harness;
                }
                None => keeping = !seen_harness_heading,
            }
        }
        if keeping {
            kept.push(line);
        }
    }
    kept.join("\n")
}

/// The effective text (§19.3): each part trimmed of surrounding whitespace, empty parts
/// dropped, the rest joined with one blank line (`"\n\n"`).
pub fn join_layers<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n")
}

/// Read a layer file: `Ok(None)` when it does not exist.
///
/// Errors: `instructions_too_large` "<layer> instructions file is too large (<n> bytes,
/// max 262144): <path>" (details `path`, `size`, `max`) for a file over
/// [`MAX_FILE_BYTES`]; `storage_error` when it exists but cannot be read. Invalid UTF-8 is
/// replaced with U+FFFD.
pub fn read_layer(layer: Layer, path: &Path) -> Result<Option<String>, TtError> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => return Ok(None),
        Err(e) => return Err(io_error("cannot read", layer, path, &e)),
    };
    let too_large = |size: u64| {
        TtError::new(
            ErrorCode::InstructionsTooLarge,
            format!(
                "{} instructions file is too large ({size} bytes, max {MAX_FILE_BYTES}): {}",
                layer.as_str(),
                path.display()
            ),
        )
        .with("path", path.display().to_string())
        .with("size", size)
        .with("max", MAX_FILE_BYTES)
    };
    let size = file.metadata().map_err(|e| io_error("cannot read", layer, path, &e))?.len();
    if size > MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("cannot read", layer, path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn io_error(what: &str, layer: Layer, path: &Path, e: &std::io::Error) -> TtError {
    TtError::storage(format!("{what} the {} instructions file `{}`: {e}", layer.as_str(), path.display()))
        .with("path", path.display().to_string())
}

/// A layer that contributed to `show` (cli.md §4.18). JSON: `{scope, path|null}` (the
/// bundled layer has path null).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The layer.
    pub scope: Layer,
    /// Its file; `None` (JSON `null`) for the bundled layer.
    pub path: Option<String>,
}

/// The user and project file paths, whether or not they exist. JSON: `{user, project}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Paths {
    /// `<data_dir>/instructions.md`.
    pub user: String,
    /// `<workspace_root>/.talking-stick/instructions.md`.
    pub project: String,
}

/// `tt instructions show` (cli.md §4.18). JSON: `{harness, scope, text, sources: [{scope,
/// path|null}], paths: {user, project}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShowResult {
    /// The harness the text was cut down for.
    pub harness: Harness,
    /// The requested scope.
    pub scope: Scope,
    /// The instructions text (§19.3), possibly empty.
    pub text: String,
    /// The layers in scope whose file exists (the bundled layer always exists), in layer
    /// order.
    pub sources: Vec<Source>,
    /// Both file paths.
    pub paths: Paths,
}

/// `tt instructions show` (cli.md §4.18, protocol.md §19).
///
/// `scope`: `--scope` (default `effective`); `harness`: `--harness`, else selected from
/// `display_name` and `agent_id` ([`select_harness`]). Only the layers in scope are read;
/// each is cut down with [`extract`] and the results joined with [`join_layers`]. Reads
/// only: the data directory is never created.
///
/// Errors: `cli_error` for an invalid scope or harness (scope checked first),
/// `instructions_too_large`, `storage_error` (see [`read_layer`]).
pub fn show(
    data_dir: &Path,
    workspace_root: &Path,
    harness: Option<&str>,
    scope: Option<&str>,
    display_name: Option<&str>,
    agent_id: &str,
) -> Result<ShowResult, TtError> {
    let scope = Scope::parse(scope)?;
    let harness = select_harness(harness, display_name, agent_id)?;
    let user = user_path(data_dir);
    let project = project_path(workspace_root);
    let mut sources = Vec::new();
    let mut parts = Vec::new();
    if scope.includes(Layer::Bundled) {
        sources.push(Source { scope: Layer::Bundled, path: None });
        parts.push(extract(BUNDLED, harness));
    }
    for (layer, path) in [(Layer::User, &user), (Layer::Project, &project)] {
        if !scope.includes(layer) {
            continue;
        }
        if let Some(text) = read_layer(layer, path)? {
            sources.push(Source { scope: layer, path: Some(path.display().to_string()) });
            parts.push(extract(&text, harness));
        }
    }
    Ok(ShowResult {
        harness,
        scope,
        text: join_layers(parts.iter().map(String::as_str)),
        sources,
        paths: Paths { user: user.display().to_string(), project: project.display().to_string() },
    })
}

/// The text a new user or project file starts with: a short comment explaining the
/// layering, so that an untouched file changes nothing but a few lines of guidance.
pub fn override_template(layer: Layer) -> String {
    let (who, reset) = match layer {
        Layer::Project => ("everyone working in this workspace", "--project"),
        _ => ("you, in every workspace", "--user"),
    };
    format!(
        "<!--\n\
         Talking Stick collaboration instructions: {layer} layer, read by {who}.\n\
         This text is added after the bundled instructions (see `tt instructions show --scope bundled`).\n\
         Text before the first harness heading applies to every agent. A heading such as\n\
         \"## Claude\", \"## Codex\", \"## Antigravity\", \"## Gemini\", \"## Grok\" or \"## OpenCode\" starts\n\
         a section only that harness sees; any other \"## \" heading after one of them ends it.\n\
         Delete this file with `tt instructions reset {reset}`.\n\
         -->\n",
        layer = layer.as_str(),
    )
}

/// `tt instructions edit` (cli.md §4.18). JSON: `{scope, path, created, opened,
/// editor|null}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EditResult {
    /// `user` or `project`.
    pub scope: Layer,
    /// The file edited.
    pub path: String,
    /// Whether the file was created from [`override_template`].
    pub created: bool,
    /// Whether an editor was run (and exited successfully).
    pub opened: bool,
    /// The editor command run (`$VISUAL`, `$EDITOR`, `open -t` or `xdg-open`); `None`
    /// (JSON `null`) when none is available.
    pub editor: Option<String>,
}

/// `tt instructions edit [--user|--project]` (cli.md §4.18): make sure the layer's file
/// exists (creating it, and `.talking-stick/` or the data directory with mode 0700, from
/// [`override_template`]), then open it in the editor chosen by [`choose_editor`] and
/// wait for the editor to exit. `project` selects the project layer, else the user layer
/// (the CLI rejects both flags with [`choose_layer`]).
///
/// Errors: `storage_error` when the file cannot be created, or the editor cannot be
/// started or exits unsuccessfully (the file stays in place).
pub fn edit(data_dir: &Path, workspace_root: &Path, project: bool, env: &Env) -> Result<EditResult, TtError> {
    let (layer, path) =
        if project { (Layer::Project, project_path(workspace_root)) } else { (Layer::User, user_path(data_dir)) };
    let created = ensure_file(layer, &path, data_dir)?;
    let editor = choose_editor(env);
    if let Some(cmd) = &editor {
        run_editor(cmd, &path)?;
    }
    Ok(EditResult { scope: layer, path: path.display().to_string(), created, opened: editor.is_some(), editor })
}

/// Create `path` from the template unless it exists. Returns whether it was created.
fn ensure_file(layer: Layer, path: &Path, data_dir: &Path) -> Result<bool, TtError> {
    if path.exists() {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let made = if layer == Layer::User { crate::paths::ensure_private_dir(data_dir) } else { fs::create_dir_all(dir) };
    made.map_err(|e| io_error("cannot create the directory of", layer, path, &e))?;
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    if layer == Layer::User {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(override_template(layer).as_bytes()).map_err(|e| io_error("cannot write", layer, path, &e))?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_error("cannot create", layer, path, &e)),
    }
}

/// The editor command for `edit` (cli.md §4.18): `$VISUAL`, else `$EDITOR` (non-blank),
/// else `open -t` on macOS, else `xdg-open` when `DISPLAY` or `WAYLAND_DISPLAY` is set,
/// else `None`.
pub fn choose_editor(env: &Env) -> Option<String> {
    if let Some(cmd) = env.non_blank("VISUAL").or_else(|| env.non_blank("EDITOR")) {
        return Some(cmd.trim().to_string());
    }
    if cfg!(target_os = "macos") {
        return Some("open -t".to_string());
    }
    if env.non_blank("DISPLAY").is_some() || env.non_blank("WAYLAND_DISPLAY").is_some() {
        return Some("xdg-open".to_string());
    }
    None
}

/// Run `cmd` (split on whitespace; no shell) with `path` appended, inheriting stdio,
/// and wait for it.
fn run_editor(cmd: &str, path: &Path) -> Result<(), TtError> {
    let mut words = cmd.split_whitespace();
    let Some(program) = words.next() else { return Ok(()) };
    let status = std::process::Command::new(program)
        .args(words)
        .arg(path)
        .status()
        .map_err(|e| TtError::storage(format!("cannot run the editor `{cmd}`: {e}")).with("editor", cmd))?;
    if status.success() {
        Ok(())
    } else {
        Err(TtError::storage(format!("the editor `{cmd}` exited with {status}"))
            .with("editor", cmd)
            .with("path", path.display().to_string()))
    }
}

/// `tt instructions reset` (cli.md §4.18). JSON: `{scope, path, removed}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResetResult {
    /// `user` or `project`.
    pub scope: Layer,
    /// The file.
    pub path: String,
    /// Whether a file was deleted (`false` when there was none).
    pub removed: bool,
}

/// `tt instructions reset (--user|--project)` (cli.md §4.18): delete the layer's file.
///
/// Errors: `cli_error` for neither or both flags ([`choose_layer`]); `storage_error`
/// when an existing file cannot be removed.
pub fn reset(data_dir: &Path, workspace_root: &Path, user: bool, project: bool) -> Result<ResetResult, TtError> {
    let layer = choose_layer(user, project, true)?;
    let path = if layer == Layer::Project { project_path(workspace_root) } else { user_path(data_dir) };
    let removed = match fs::remove_file(&path) {
        Ok(()) => true,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => false,
        Err(e) => return Err(io_error("cannot remove", layer, &path, &e)),
    };
    Ok(ResetResult { scope: layer, path: path.display().to_string(), removed })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    const DOC: &str = "# Title\nshared\n## Notes\nshared notes\n## Claude\nclaude text\n### sub\nclaude sub\n\
                       ## Extra\nexcluded\n## Codex CLI\ncodex text\n## agy\nagy text\n## Claude again\nmore claude\n";

    #[test]
    fn extraction_rules() {
        assert_eq!(
            extract(DOC, Harness::Claude),
            "# Title\nshared\n## Notes\nshared notes\n## Claude\nclaude text\n### sub\nclaude sub\n\
             ## Claude again\nmore claude"
        );
        assert_eq!(extract(DOC, Harness::Codex), "# Title\nshared\n## Notes\nshared notes\n## Codex CLI\ncodex text");
        assert_eq!(extract(DOC, Harness::Antigravity), "# Title\nshared\n## Notes\nshared notes\n## agy\nagy text");
        assert_eq!(extract(DOC, Harness::Gemini), "# Title\nshared\n## Notes\nshared notes");
        assert_eq!(extract(DOC, Harness::All), DOC);
        // `##` without a space, and deeper headings, are not headings.
        assert_eq!(extract("a\n## Codex\nx\n##Claude\ny", Harness::Claude), "a");
        // Heading keys are matched trimmed and lowercased.
        assert_eq!(extract("## GROK build\ng\n## Gemini\nm", Harness::Grok), "## GROK build\ng");
        // CRLF input.
        assert_eq!(extract("s\r\n## Codex\r\nc\r\n## Claude\r\nk\r\n", Harness::Claude), "s\n## Claude\nk");
    }

    #[test]
    fn joining() {
        assert_eq!(join_layers(["  a \n", "", "\n\n", "b"]), "a\n\nb");
        assert_eq!(join_layers(Vec::<&str>::new()), "");
    }

    #[test]
    fn bundled_text_meets_19_5() {
        let t = bundled_text();
        for needle in ["your_turn", "guardian_pid", "tt wait", "tt release", "tt pass", "## Claude", "## Codex"] {
            assert!(t.contains(needle), "{needle}");
        }
        // Every sectioned harness has its own section, and no shared heading is taken
        // for a harness heading.
        for h in Harness::SECTIONED {
            let ex = extract(t, h);
            assert!(ex.contains("## "), "{h:?}");
            for other in Harness::SECTIONED.into_iter().filter(|o| *o != h) {
                let heading = format!("\n## {}", section_title(other));
                assert!(!ex.contains(&heading), "{h:?} leaks {other:?}");
            }
        }
        let shared = extract(t, Harness::Claude);
        assert!(shared.contains("## The loop"));
    }

    fn section_title(h: Harness) -> &'static str {
        match h {
            Harness::Claude => "Claude",
            Harness::Codex => "Codex",
            Harness::Antigravity => "Antigravity",
            Harness::Gemini => "Gemini",
            Harness::Grok => "Grok",
            Harness::Opencode => "OpenCode",
            Harness::All => "",
        }
    }

    #[test]
    fn harness_selection() {
        let sel = |x, d, a| select_harness(x, d, a).unwrap();
        assert_eq!(sel(Some("codex"), Some("Claude Code"), "claude:1"), Harness::Codex);
        assert_eq!(sel(Some("claude-code"), None, "x"), Harness::Claude);
        assert_eq!(sel(Some("base"), None, "claude:1"), Harness::All);
        assert_eq!(sel(Some("agy"), None, "x"), Harness::Antigravity);
        assert_eq!(sel(Some("grok-build"), None, "x"), Harness::Grok);
        assert_eq!(sel(None, Some("Claude Code"), "codex:1"), Harness::Claude);
        assert_eq!(sel(None, Some("alice"), "codex:ba4f8daf"), Harness::Codex);
        assert_eq!(sel(None, None, "opencode:abc"), Harness::Opencode);
        assert_eq!(sel(None, Some("alice"), "human:alice"), Harness::All);
        assert_eq!(sel(None, None, "nocolon"), Harness::All);
        let err = select_harness(Some("vim"), None, "x").unwrap_err();
        assert_eq!(err.code, ErrorCode::CliError);
        assert_eq!(
            err.message,
            "--harness must be one of claude, codex, antigravity, gemini, grok, opencode, all (got vim)."
        );
        let err = Scope::parse(Some("global")).unwrap_err();
        assert_eq!(err.message, "--scope must be one of effective, bundled, user, project (got global).");
    }

    #[test]
    fn layering_and_sources() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        let ws = t.path().join("ws");
        fs::create_dir_all(&ws).unwrap();

        // Nothing but the bundled layer; the data dir is not created.
        let r = show(&data, &ws, Some("claude"), None, None, "x").unwrap();
        assert_eq!(r.text, join_layers([extract(bundled_text(), Harness::Claude).as_str()]));
        assert_eq!(r.sources, vec![Source { scope: Layer::Bundled, path: None }]);
        assert!(!data.exists());
        let r = show(&data, &ws, None, Some("user"), None, "x").unwrap();
        assert_eq!((r.text.as_str(), r.sources.len()), ("", 0));

        fs::create_dir_all(&data).unwrap();
        fs::write(user_path(&data), "\nuser shared\n## Codex\nuser codex\n").unwrap();
        fs::create_dir_all(ws.join(".talking-stick")).unwrap();
        fs::write(project_path(&ws), "## Claude\nproject claude\n").unwrap();

        let r = show(&data, &ws, None, Some("effective"), None, "codex:1").unwrap();
        assert_eq!(r.harness, Harness::Codex);
        assert!(r.text.ends_with("\n\nuser shared\n## Codex\nuser codex"), "{}", r.text);
        assert_eq!(r.sources.len(), 3, "an existing layer is a source even when its extraction is empty");

        let r = show(&data, &ws, Some("claude"), Some("project"), None, "x").unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({
                "harness": "claude", "scope": "project", "text": "## Claude\nproject claude",
                "sources": [{"scope": "project", "path": project_path(&ws).display().to_string()}],
                "paths": {"user": user_path(&data).display().to_string(),
                          "project": project_path(&ws).display().to_string()}
            })
        );
        let r = show(&data, &ws, Some("all"), Some("user"), None, "x").unwrap();
        assert_eq!(r.text, "user shared\n## Codex\nuser codex");
    }

    #[test]
    fn size_limit() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().to_path_buf();
        let ws = t.path().join("ws");
        fs::write(user_path(&data), vec![b'a'; MAX_FILE_BYTES as usize]).unwrap();
        assert!(show(&data, &ws, None, None, None, "x").is_ok());
        fs::write(user_path(&data), vec![b'a'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let err = show(&data, &ws, None, None, None, "x").unwrap_err();
        assert_eq!(err.code, ErrorCode::InstructionsTooLarge);
        let p = user_path(&data).display().to_string();
        assert_eq!(err.message, format!("user instructions file is too large (262145 bytes, max 262144): {p}"));
        assert_eq!(err.details.get("size"), Some(&json!(262_145)));
        assert_eq!(err.details.get("max"), Some(&json!(262_144)));
        assert_eq!(err.details.get("path"), Some(&json!(p)));
        // Out of scope, the big file is not read.
        assert!(show(&data, &ws, None, Some("bundled"), None, "x").is_ok());
    }

    #[test]
    fn edit_creates_and_opens() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        let ws = t.path().join("ws");
        fs::create_dir_all(&ws).unwrap();

        let none = Env::default();
        let r = edit(&data, &ws, true, &none).unwrap();
        assert_eq!(r.scope, Layer::Project);
        assert!(r.created);
        if !cfg!(target_os = "macos") {
            assert_eq!((r.opened, r.editor.clone()), (false, None));
        }
        let text = fs::read_to_string(project_path(&ws)).unwrap();
        assert_eq!(text, override_template(Layer::Project));
        // The template adds no harness section and hides nothing of the bundled text.
        assert_eq!(extract(&text, Harness::Claude), text.trim_end());

        let env = Env::from_pairs([("EDITOR".to_string(), "true --ignored".to_string())]);
        let r = edit(&data, &ws, false, &env).unwrap();
        assert_eq!(r.scope, Layer::User);
        assert_eq!((r.created, r.opened, r.editor.as_deref()), (true, true, Some("true --ignored")));
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
            assert_eq!(fs::metadata(user_path(&data)).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let again = edit(&data, &ws, false, &env).unwrap();
        assert!(!again.created);

        let visual =
            Env::from_pairs([("VISUAL".to_string(), "false".to_string()), ("EDITOR".to_string(), "true".into())]);
        let err = edit(&data, &ws, false, &visual).unwrap_err();
        assert_eq!(err.code, ErrorCode::StorageError);
        let display = Env::from_pairs([("WAYLAND_DISPLAY".to_string(), "wayland-0".to_string())]);
        if !cfg!(target_os = "macos") {
            assert_eq!(choose_editor(&display).as_deref(), Some("xdg-open"));
        }
    }

    #[test]
    fn reset_rules() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        let ws = t.path().join("ws");
        let err = reset(&data, &ws, false, false).unwrap_err();
        assert_eq!(err.message, "Pass --user or --project to choose which instructions to reset.");
        assert_eq!(err.code.exit_code(), 2);
        let err = reset(&data, &ws, true, true).unwrap_err();
        assert_eq!(err.message, "Pass only one of --user or --project.");

        let r = reset(&data, &ws, true, false).unwrap();
        assert_eq!((r.scope, r.removed), (Layer::User, false));
        assert!(!data.exists());

        fs::create_dir_all(ws.join(".talking-stick")).unwrap();
        fs::write(project_path(&ws), "x").unwrap();
        let r = reset(&data, &ws, false, true).unwrap();
        assert!(r.removed);
        assert!(!project_path(&ws).exists());
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"scope": "project", "path": project_path(&ws).display().to_string(), "removed": true})
        );
        assert_eq!(choose_layer(false, false, false).unwrap(), Layer::User);
    }
}
