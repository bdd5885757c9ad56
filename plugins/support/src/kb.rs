//! Loading the knowledge base: every supported file under the docs folder,
//! read and chunked.
//!
//! | file | read as |
//! |---|---|
//! | `*.md`, `*.markdown` | Markdown, chunked by heading and paragraph |
//! | `*.txt`, `*.text` | plain text, chunked by paragraph |
//! | `*faq*.md`, `*faq*.txt` | `Q:`/`A:` pairs, one chunk per answer (see [`crate::faq`]); as an ordinary document if it has no `Q:`/`A:` lines |
//! | `*.toml` | `[[faq]]` tables with `q` and `a` |
//!
//! Subfolders are read too; hidden files and folders (`.git`) are not. A file
//! that cannot be used — not UTF-8, unreadable, too big, empty, malformed
//! TOML, another type — is skipped with a warning and listed in
//! [`KnowledgeBase::skipped`]; only a docs folder that cannot be read at all is
//! an error.

use std::fs;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::chunk::{self, Chunk};
use crate::faq;

/// Files larger than this are skipped (a knowledge base is prose, not data).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How deep subfolders are followed.
const MAX_DEPTH: usize = 8;

/// The docs folder could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the docs folder {}: {source}", path.display())]
pub struct LoadError {
    /// The folder.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// A file that was left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Its path relative to the docs folder.
    pub file: String,
    /// Why, for people maintaining the docs.
    pub reason: String,
}

/// The chunks of every file in the docs folder.
#[derive(Clone, Debug, Default)]
pub struct KnowledgeBase {
    /// Every chunk, file by file (files in name order).
    pub chunks: Vec<Chunk>,
    /// How many files gave at least one chunk.
    pub files: usize,
    /// Files left out.
    pub skipped: Vec<Skipped>,
    /// Entries of FAQ files left out (`faq.md line 7: …`).
    pub problems: Vec<String>,
}

/// Loads every supported file under `dir`, chunks of at most `max_chars` characters.
pub fn load(dir: &Path, max_chars: usize) -> Result<KnowledgeBase, LoadError> {
    let error = |source| LoadError {
        path: dir.to_owned(),
        source,
    };
    let metadata = fs::metadata(dir).map_err(error)?;
    if !metadata.is_dir() {
        return Err(error(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder",
        )));
    }
    // Reading the folder itself must work; subfolders are best effort.
    fs::read_dir(dir).map_err(error)?;

    let mut files = Vec::new();
    let mut kb = KnowledgeBase::default();
    walk(dir, dir, 0, &mut files, &mut kb.skipped);
    files.sort();
    for path in files {
        let name = relative(dir, &path);
        match load_file(&path, &name, max_chars) {
            Ok((chunks, problems)) => {
                for problem in problems {
                    warn!(file = %name, %problem, "FAQ entry skipped");
                    kb.problems.push(format!("{name} {problem}"));
                }
                if chunks.is_empty() {
                    kb.skipped.push(Skipped {
                        file: name,
                        reason: "no text in it".to_owned(),
                    });
                } else {
                    kb.files += 1;
                    kb.chunks.extend(chunks);
                }
            }
            Err(reason) => kb.skipped.push(Skipped { file: name, reason }),
        }
    }
    for skipped in &kb.skipped {
        warn!(file = %skipped.file, reason = %skipped.reason, "knowledge base file skipped");
    }
    info!(
        folder = %dir.display(),
        files = kb.files,
        chunks = kb.chunks.len(),
        skipped = kb.skipped.len(),
        "knowledge base loaded"
    );
    Ok(kb)
}

/// Collects the files under `folder`; unreadable subfolders are skipped.
fn walk(
    root: &Path,
    folder: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    skipped: &mut Vec<Skipped>,
) {
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) => {
            skipped.push(Skipped {
                file: relative(root, folder),
                reason: format!("cannot read the folder: {error}"),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Follows symlinks; the depth limit stops loops.
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if depth + 1 < MAX_DEPTH {
                    walk(root, &path, depth + 1, files, skipped);
                } else {
                    skipped.push(Skipped {
                        file: relative(root, &path),
                        reason: format!("folders nested more than {MAX_DEPTH} deep are not read"),
                    });
                }
            }
            Ok(_) => files.push(path),
            Err(error) => skipped.push(Skipped {
                file: relative(root, &path),
                reason: format!("cannot read it: {error}"),
            }),
        }
    }
}

/// `path` relative to `root`, with `/` separators.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// The kinds of file the knowledge base reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Markdown,
    Text,
    Toml,
}

fn kind(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "md" | "markdown" => Some(Kind::Markdown),
        "txt" | "text" => Some(Kind::Text),
        "toml" => Some(Kind::Toml),
        _ => None,
    }
}

/// Reads and chunks one file: its chunks and FAQ problems, or why it was skipped.
fn load_file(
    path: &Path,
    name: &str,
    max_chars: usize,
) -> Result<(Vec<Chunk>, Vec<String>), String> {
    let kind = kind(path).ok_or_else(|| {
        "not a supported file type (.md, .markdown, .txt, .text, .toml)".to_owned()
    })?;
    let size = fs::metadata(path)
        .map_err(|e| format!("cannot read it: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "too big ({size} bytes; the limit is {MAX_FILE_BYTES})"
        ));
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    chunk_text(kind, name, text, max_chars)
}

fn chunk_text(
    kind: Kind,
    name: &str,
    text: &str,
    max_chars: usize,
) -> Result<(Vec<Chunk>, Vec<String>), String> {
    let is_faq = name
        .rsplit('/')
        .next()
        .is_some_and(|file| file.to_ascii_lowercase().contains("faq"));
    let parsed = match kind {
        Kind::Toml => Some(faq::parse_toml(text).map_err(|e| e.to_string())?),
        Kind::Markdown | Kind::Text if is_faq => {
            Some(faq::parse_qa(text)).filter(|p| !p.is_empty())
        }
        _ => None,
    };
    if let Some(parsed) = parsed {
        let chunks = parsed
            .entries
            .iter()
            .flat_map(|entry| chunk::titled(name, &entry.question, &entry.answer, max_chars))
            .collect();
        return Ok((chunks, parsed.problems));
    }
    let chunks = match kind {
        Kind::Text => chunk::plain(name, text, max_chars),
        _ => chunk::markdown(name, text, max_chars),
    };
    Ok((chunks, Vec::new()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn write(dir: &Path, name: &str, content: &[u8]) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, content).unwrap();
    }

    #[test]
    fn loads_every_kind_and_skips_what_it_cannot_use() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "shipping.md",
            b"# Shipping\n\nWe ship in 3 days.\n\n## Costs\n\nFree over 50.",
        );
        write(
            root,
            "warranty.txt",
            b"Two years on everything.\n\nKeep the receipt.",
        );
        write(root, "billing-FAQ.md", b"Q: Invoice?\nA: Yes.\nQ: Broken\n");
        write(root, "faq-prose.md", b"# FAQ\n\nNo markers, just prose.");
        write(
            root,
            "more.toml",
            b"[[faq]]\nq = \"Hours?\"\na = \"9-5.\"\n",
        );
        write(root, "policies/returns.md", b"# Returns\n\n30 days.");
        write(root, "empty.md", b"");
        write(root, "latin1.txt", b"Caf\xe9 cr\xe8me\n");
        write(root, "bad.toml", b"[[faq]\n");
        write(root, "logo.png", b"\x89PNG");
        write(root, ".hidden.md", b"# Secret");
        write(root, ".git/config.md", b"# Not docs");

        let kb = load(root, 500).unwrap();
        let titles: Vec<String> = kb.chunks.iter().map(Chunk::title).collect();
        assert_eq!(
            titles,
            [
                "billing-FAQ.md — Invoice?",
                "faq-prose.md — FAQ",
                "more.toml — Hours?",
                "policies/returns.md — Returns",
                "shipping.md — Shipping",
                "shipping.md — Shipping › Costs",
                "warranty.txt",
            ]
        );
        assert_eq!(kb.files, 6);
        let skipped: Vec<&str> = kb.skipped.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(skipped, ["bad.toml", "empty.md", "latin1.txt", "logo.png"]);
        let reason = |file: &str| {
            kb.skipped
                .iter()
                .find(|s| s.file == file)
                .map(|s| s.reason.clone())
                .unwrap()
        };
        assert!(
            reason("latin1.txt").contains("not UTF-8"),
            "{}",
            reason("latin1.txt")
        );
        assert!(reason("bad.toml").contains("not a FAQ file"));
        assert!(reason("logo.png").contains("not a supported file type"));
        assert_eq!(
            kb.problems,
            ["billing-FAQ.md line 3: a question without an answer (A:)"]
        );
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bom.md", "\u{feff}# Title\n\nText.".as_bytes());
        let kb = load(dir.path(), 500).unwrap();
        assert_eq!(kb.chunks[0].heading.as_deref(), Some("Title"));
    }

    #[test]
    fn a_missing_folder_or_a_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let error = load(&missing, 500).unwrap_err();
        assert!(
            error.to_string().contains(&missing.display().to_string()),
            "{error}"
        );
        let file = dir.path().join("file.md");
        fs::write(&file, "# x").unwrap();
        let error = load(&file, 500).unwrap_err();
        assert!(error.to_string().contains("file.md"), "{error}");
        assert!(error.to_string().contains("not a folder"), "{error}");
    }

    #[test]
    fn an_empty_folder_is_an_empty_knowledge_base() {
        let dir = tempfile::tempdir().unwrap();
        let kb = load(dir.path(), 500).unwrap();
        assert!(kb.chunks.is_empty());
        assert_eq!(kb.files, 0);
    }
}
