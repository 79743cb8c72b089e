//! Room resolution for paths (protocol.md §9): canonicalisation, workspace roots, linked
//! worktrees and ancestor paths. No subprocess, no database: everything here is a
//! read-only look at the file system (`stat`, `realpath`, reading `.git` files).
//!
//! `$HOME` is always passed in (the library never reads the environment). It is compared
//! both as given (lexically normalised) and resolved (`realpath`), so a home reached
//! through a symbolic link (`/home` → `/usr/home`, macOS `/var` → `/private/var`) is
//! still recognised.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// A resolved `[path]` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// `canonicalize(p)` of the argument (reported as `requested_path`).
    pub requested_path: PathBuf,
    /// The effective context path (§9.3; equals `requested_path` outside linked worktrees).
    pub context_path: PathBuf,
    /// `workspace_root` of the effective context path (§9.2).
    pub workspace_root: PathBuf,
}

/// Resolve `path` (default: `cwd`) against `cwd`; `home` is `$HOME`.
///
/// Steps: `requested_path = canonicalize(path)` (§9.1); the workspace root (§9.2); inside a
/// linked worktree `W` of main checkout `M` the context path becomes `M` joined with the
/// requested path relative to `W` (§9.3) and the root is `M`. Never fails: unreadable
/// paths fall back to lexical normalisation, and a path that is not inside any workspace
/// is its own root.
pub fn resolve(path: Option<&str>, cwd: &Path, home: Option<&Path>) -> Resolved {
    let requested_path = match path {
        Some(p) => canonicalize(Path::new(p), cwd),
        None => canonicalize(cwd, cwd),
    };
    let root = workspace_root(&requested_path, home);
    let context_path = match &root.worktree {
        Some(wt) => wt.effective_path(&requested_path),
        None => requested_path.clone(),
    };
    Resolved { requested_path, context_path, workspace_root: root.root }
}

/// `canonicalize(p)` (§9.1): make `p` absolute against `cwd`; an existing non-directory
/// (a file) is replaced by its directory; symbolic links are resolved (`realpath`). A path
/// that does not exist (or cannot be resolved) is normalised lexically instead: `.`,
/// `..` and duplicate separators are removed and links are left alone.
///
/// The file case takes the directory of the path as given, then resolves links, in the
/// order §9.1 states them: a link `/a/f` → `/b/f` canonicalises to `/a`.
pub fn canonicalize(p: &Path, cwd: &Path) -> PathBuf {
    let abs = if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
    let dir = match fs::metadata(&abs) {
        Ok(meta) if !meta.is_dir() => abs.parent().map(Path::to_path_buf).unwrap_or_else(|| abs.clone()),
        _ => abs,
    };
    resolve_existing(&dir)
}

/// Lexical normalisation (§9.1, for paths that do not exist): drops `.` components and
/// duplicate separators and lets `..` remove the preceding normal component (`..` at the
/// root stays at the root; leading `..` of a relative path are kept). No file-system
/// access.
pub fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    let mut normals = 0usize;
    for comp in p.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir => {
                out.push(comp.as_os_str());
                normals = 0;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if normals > 0 {
                    out.pop();
                    normals -= 1;
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            Component::Normal(c) => {
                out.push(c);
                normals += 1;
            }
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A linked git worktree (§9.2, §9.3): its own top directory and the main checkout whose
/// rooms it shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worktree {
    /// `W`: the directory holding the worktree's `.git` file.
    pub top: PathBuf,
    /// `M`: the main checkout (the parent of the resolved common git directory).
    pub main_checkout: PathBuf,
}

impl Worktree {
    /// The effective context path of `c` (§9.3): `M` joined with `c` relative to `W`;
    /// `c` itself when it does not lie inside `W`.
    pub fn effective_path(&self, c: &Path) -> PathBuf {
        match c.strip_prefix(&self.top) {
            Ok(rel) if rel.as_os_str().is_empty() => self.main_checkout.clone(),
            Ok(rel) => self.main_checkout.join(rel),
            Err(_) => c.to_path_buf(),
        }
    }
}

/// The result of `workspace_root(c)` (§9.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceRoot {
    /// The workspace root: git root, else nearest marker directory, else `c`.
    pub root: PathBuf,
    /// Set when `c` lies inside a linked worktree; the root is then its main checkout.
    pub worktree: Option<Worktree>,
}

/// The files whose presence marks a workspace root when there is no git root (§9.2 step 2).
pub const WORKSPACE_MARKERS: [&str; 6] =
    ["CLAUDE.md", "AGENTS.md", "package.json", "pyproject.toml", "Cargo.toml", "go.mod"];

/// `workspace_root(c)` (§9.2) for a canonical path `c` (see [`canonicalize`]):
/// 1. git: the first directory from `c` upwards containing `.git`. A `.git` directory →
///    that directory; a `.git` file `gitdir: <g>` with `<g>/commondir` → a linked worktree
///    whose root is the main checkout (parent of the resolved common directory when its
///    last component is `.git`); any other `.git` file (a submodule) → the directory
///    holding it. A git root equal to `$HOME` is ignored when `c` is strictly inside
///    `$HOME`.
/// 2. else the nearest directory from `c` upwards holding one of [`WORKSPACE_MARKERS`];
///    when `c` is strictly inside `$HOME` the search stops before `$HOME`.
/// 3. else `c`.
///
/// A worktree whose common directory does not end in `.git` (a bare repository has no
/// main checkout) is treated like a submodule: the worktree top is the root and no path
/// mapping applies.
pub fn workspace_root(c: &Path, home: Option<&Path>) -> WorkspaceRoot {
    let home = Home::new(home);
    let inside_home = home.strictly_contains(c);
    if let Some(found) = git_root(c)
        && !(inside_home && home.is(&found.root))
    {
        return found;
    }
    for dir in c.ancestors() {
        if inside_home && home.is(dir) {
            break;
        }
        if WORKSPACE_MARKERS.iter().any(|m| dir.join(m).exists()) {
            return WorkspaceRoot { root: dir.to_path_buf(), worktree: None };
        }
    }
    WorkspaceRoot { root: c.to_path_buf(), worktree: None }
}

/// The git part of §9.2: the first `.git` from `c` upwards, classified. `None` when no
/// ancestor holds a `.git` entry.
fn git_root(c: &Path) -> Option<WorkspaceRoot> {
    for dir in c.ancestors() {
        let dot_git = dir.join(".git");
        let Ok(meta) = fs::metadata(&dot_git) else { continue };
        if meta.is_dir() {
            return Some(WorkspaceRoot { root: dir.to_path_buf(), worktree: None });
        }
        let main = fs::read_to_string(&dot_git).ok().and_then(|text| main_checkout_of(dir, &text));
        return Some(match main {
            Some(main_checkout) => WorkspaceRoot {
                root: main_checkout.clone(),
                worktree: Some(Worktree { top: dir.to_path_buf(), main_checkout }),
            },
            None => WorkspaceRoot { root: dir.to_path_buf(), worktree: None },
        });
    }
    None
}

/// For a `.git` file in `dir` with contents `text`: the main checkout when it describes a
/// linked worktree (`gitdir: <g>` and `<g>/commondir` naming a directory called `.git`).
/// Relative `gitdir` values resolve against `dir`, relative `commondir` values against `<g>`.
fn main_checkout_of(dir: &Path, text: &str) -> Option<PathBuf> {
    let g = text.lines().find_map(|l| l.trim().strip_prefix("gitdir:")).map(str::trim).filter(|g| !g.is_empty())?;
    let g = resolve_existing(&dir.join(g));
    let common = fs::read_to_string(g.join("commondir")).ok()?;
    let common = common.lines().next().map(str::trim).filter(|s| !s.is_empty())?;
    let common = resolve_existing(&g.join(common));
    if common.file_name().is_some_and(|n| n == ".git") { common.parent().map(Path::to_path_buf) } else { None }
}

/// `realpath(p)`, or its lexical normalisation when that fails.
fn resolve_existing(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|_| lexical_normalize(p))
}

/// `ancestor_paths(c)` (§9.4): `c`, then each parent, deepest first, stopping before
/// `$HOME` and `/` (neither included unless `c` is that directory).
///
/// Example: with `$HOME=/home/u`, `/home/u/p/s` → `[/home/u/p/s, /home/u/p]`;
/// `/home/u` → `[/home/u, /home]` (the stop applies to parents); `/srv/x` → `[/srv/x, /srv]`.
pub fn ancestor_paths(c: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    let home = Home::new(home);
    let mut out = vec![c.to_path_buf()];
    let mut cur = c.parent();
    while let Some(dir) = cur {
        if dir.parent().is_none() || home.is(dir) {
            break;
        }
        out.push(dir.to_path_buf());
        cur = dir.parent();
    }
    out
}

/// `$HOME` in its spellings: lexically normalised as given, and resolved. A relative or
/// empty value is ignored.
struct Home(Vec<PathBuf>);

impl Home {
    fn new(home: Option<&Path>) -> Self {
        let mut forms = Vec::new();
        if let Some(h) = home.filter(|h| h.is_absolute()) {
            let lexical = lexical_normalize(h);
            if let Ok(real) = fs::canonicalize(&lexical)
                && real != lexical
            {
                forms.push(real);
            }
            forms.push(lexical);
        }
        Home(forms)
    }

    /// Whether `p` is `$HOME`.
    fn is(&self, p: &Path) -> bool {
        self.0.iter().any(|h| h == p)
    }

    /// Whether `c` lies strictly inside `$HOME`.
    fn strictly_contains(&self, c: &Path) -> bool {
        self.0.iter().any(|h| c != h && c.starts_with(h))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A temp dir resolved through `realpath` (so `/tmp` links do not disturb equality).
    fn tmp() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let p = fs::canonicalize(t.path()).unwrap();
        (t, p)
    }

    fn mkdir(p: &Path) {
        fs::create_dir_all(p).unwrap();
    }

    fn touch(p: &Path) {
        fs::write(p, "").unwrap();
    }

    #[test]
    fn lexical_normalisation() {
        assert_eq!(lexical_normalize(Path::new("/a/./b//c/../d")), PathBuf::from("/a/b/d"));
        assert_eq!(lexical_normalize(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(lexical_normalize(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(lexical_normalize(Path::new("/a/b/")), PathBuf::from("/a/b"));
        assert_eq!(lexical_normalize(Path::new("/")), PathBuf::from("/"));
    }

    #[test]
    fn canonicalize_relative_file_symlink_and_missing() {
        let (_t, root) = tmp();
        mkdir(&root.join("real/sub"));
        touch(&root.join("real/sub/file.txt"));
        symlink(root.join("real"), root.join("link")).unwrap();

        // Relative against cwd; `.`/`..` handled.
        assert_eq!(canonicalize(Path::new("real/./sub/.."), &root), root.join("real"));
        // An existing file → its directory.
        assert_eq!(canonicalize(Path::new("real/sub/file.txt"), &root), root.join("real/sub"));
        // Links are resolved.
        assert_eq!(canonicalize(&root.join("link/sub"), Path::new("/")), root.join("real/sub"));
        assert_eq!(canonicalize(&root.join("link/sub/file.txt"), Path::new("/")), root.join("real/sub"));
        // Missing path: lexical only, the link is left alone.
        assert_eq!(canonicalize(&root.join("link/missing/../x//y"), Path::new("/")), root.join("link/x/y"));
    }

    #[test]
    fn plain_git_checkout() {
        let (_t, root) = tmp();
        let repo = root.join("repo");
        mkdir(&repo.join(".git"));
        mkdir(&repo.join("a/b"));
        touch(&repo.join("a/package.json"));
        // Git wins over a nearer marker.
        let r = resolve(Some("a/b"), &repo, None);
        assert_eq!(r.requested_path, repo.join("a/b"));
        assert_eq!(r.context_path, repo.join("a/b"));
        assert_eq!(r.workspace_root, repo);
        // A missing path inside the checkout still finds the root.
        let r = resolve(Some("a/nope/deeper"), &repo, None);
        assert_eq!(r.requested_path, repo.join("a/nope/deeper"));
        assert_eq!(r.workspace_root, repo);
    }

    /// Build a linked worktree by hand, as `git worktree add ../wt` lays it out.
    fn linked_worktree(root: &Path) -> (PathBuf, PathBuf) {
        let main = root.join("main");
        let wt = root.join("wt");
        let admin = main.join(".git/worktrees/wt");
        mkdir(&admin);
        mkdir(&wt.join("src/deep"));
        fs::write(wt.join(".git"), format!("gitdir: {}\n", admin.display())).unwrap();
        fs::write(admin.join("commondir"), "../..\n").unwrap();
        fs::write(admin.join("gitdir"), format!("{}\n", wt.join(".git").display())).unwrap();
        (main, wt)
    }

    #[test]
    fn linked_worktree_maps_to_main_checkout() {
        let (_t, root) = tmp();
        let (main, wt) = linked_worktree(&root);
        let r = resolve(Some("src/deep"), &wt, None);
        assert_eq!(r.requested_path, wt.join("src/deep"));
        assert_eq!(r.context_path, main.join("src/deep"));
        assert_eq!(r.workspace_root, main);
        // The worktree top itself maps to the main checkout.
        let r = resolve(None, &wt, None);
        assert_eq!(r.context_path, main);
        assert_eq!(r.workspace_root, main);
        let w = workspace_root(&wt.join("src"), None);
        assert_eq!(w.worktree, Some(Worktree { top: wt.clone(), main_checkout: main.clone() }));
    }

    #[test]
    fn linked_worktree_with_relative_gitdir() {
        let (_t, root) = tmp();
        let (main, wt) = linked_worktree(&root);
        fs::write(wt.join(".git"), "gitdir: ../main/.git/worktrees/wt\n").unwrap();
        let r = resolve(Some("src"), &wt, None);
        assert_eq!(r.context_path, main.join("src"));
        assert_eq!(r.workspace_root, main);
    }

    #[test]
    fn bare_common_dir_has_no_main_checkout() {
        let (_t, root) = tmp();
        let bare = root.join("proj.git");
        let admin = bare.join("worktrees/wt");
        mkdir(&admin);
        fs::write(admin.join("commondir"), "../..\n").unwrap();
        let wt = root.join("wt");
        mkdir(&wt.join("src"));
        fs::write(wt.join(".git"), format!("gitdir: {}\n", admin.display())).unwrap();
        let r = resolve(Some("src"), &wt, None);
        assert_eq!(r.context_path, wt.join("src"));
        assert_eq!(r.workspace_root, wt);
    }

    #[test]
    fn submodule_is_its_own_root() {
        let (_t, root) = tmp();
        let sup = root.join("super");
        mkdir(&sup.join(".git/modules/sub"));
        let sub = sup.join("sub");
        mkdir(&sub.join("lib"));
        fs::write(sub.join(".git"), "gitdir: ../.git/modules/sub\n").unwrap();
        let r = resolve(Some("lib"), &sub, None);
        assert_eq!(r.context_path, sub.join("lib"));
        assert_eq!(r.workspace_root, sub);
    }

    #[test]
    fn markers_then_self() {
        let (_t, root) = tmp();
        mkdir(&root.join("proj/a/b"));
        touch(&root.join("proj/go.mod"));
        assert_eq!(resolve(Some("proj/a/b"), &root, None).workspace_root, root.join("proj"));
        // The nearest marker wins.
        touch(&root.join("proj/a/AGENTS.md"));
        assert_eq!(resolve(Some("proj/a/b"), &root, None).workspace_root, root.join("proj/a"));
        // No git, no marker below $HOME (the temp root): `c` itself.
        mkdir(&root.join("bare/x"));
        let home = root.clone();
        assert_eq!(resolve(Some("bare/x"), &root, Some(&home)).workspace_root, root.join("bare/x"));
    }

    #[test]
    fn home_rules() {
        let (_t, root) = tmp();
        let home = root.join("home");
        mkdir(&home.join(".git"));
        touch(&home.join("CLAUDE.md"));
        mkdir(&home.join("notes/today"));
        // A dotfiles repo at $HOME is ignored strictly inside $HOME, and so is the marker.
        let r = resolve(Some("notes/today"), &home, Some(&home));
        assert_eq!(r.workspace_root, home.join("notes/today"));
        // Explicitly resolving $HOME gives $HOME.
        assert_eq!(resolve(None, &home, Some(&home)).workspace_root, home);
        // A project inside $HOME still has its own root.
        mkdir(&home.join("code/p/src"));
        touch(&home.join("code/p/Cargo.toml"));
        assert_eq!(resolve(Some("code/p/src"), &home, Some(&home)).workspace_root, home.join("code/p"));
        // $HOME given through a symlink is recognised.
        symlink(&home, root.join("homelink")).unwrap();
        let r = resolve(Some("notes/today"), &home, Some(&root.join("homelink")));
        assert_eq!(r.workspace_root, home.join("notes/today"));
    }

    #[test]
    fn ancestors_stop_before_home_and_root() {
        let home = Path::new("/home/u");
        assert_eq!(
            ancestor_paths(Path::new("/home/u/p/s"), Some(home)),
            vec![PathBuf::from("/home/u/p/s"), PathBuf::from("/home/u/p")]
        );
        // `c` = $HOME: only the walk from below stops at $HOME; its parents (short of `/`) follow.
        assert_eq!(
            ancestor_paths(Path::new("/home/u"), Some(home)),
            vec![PathBuf::from("/home/u"), PathBuf::from("/home")]
        );
        assert_eq!(ancestor_paths(Path::new("/"), Some(home)), vec![PathBuf::from("/")]);
        assert_eq!(
            ancestor_paths(Path::new("/srv/x/y"), Some(home)),
            vec![PathBuf::from("/srv/x/y"), PathBuf::from("/srv/x"), PathBuf::from("/srv")]
        );
        // Above $HOME: no $HOME to stop at, only `/`.
        assert_eq!(ancestor_paths(Path::new("/home"), Some(home)), vec![PathBuf::from("/home")]);
        assert_eq!(ancestor_paths(Path::new("/a/b"), None), vec![PathBuf::from("/a/b"), PathBuf::from("/a")]);
    }
}
