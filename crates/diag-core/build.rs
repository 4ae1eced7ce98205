//! Embeds the repository's `rules/` tree so the binaries work standalone.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let rules = manifest.join("../../rules");
    println!("cargo:rerun-if-changed={}", rules.display());
    let mut files = Vec::new();
    collect(&rules, &rules, &mut files);
    files.sort();
    let mut out = String::from(
        "/// The shipped rules: `(path inside rules/, YAML text)`.\npub(crate) static BUILTIN: &[(&str, &str)] = &[\n",
    );
    for (name, path) in &files {
        let _ = writeln!(out, "    ({name:?}, include_str!({path:?})),");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin_rules.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
    bases(&manifest.join("../../fixtures"));
}

/// The fixture bundles `diag_core::testing` ships as bases for rule cases: `(base, files)`.
const BASES: [&str; 4] = [
    "minimal",
    "diag-fPrz0RnDxRn",
    "diag-lili-fNTnz5MGhr6",
    "slowlog",
];

fn bases(fixtures: &Path) {
    let mut out = String::from(
        "/// The shipped base bundles: `(name, [(bundle-relative path, content)])`.\npub(crate) static BASE_FILES: &[(&str, BaseFiles)] = &[\n",
    );
    for base in BASES {
        let root = fixtures.join(base);
        println!("cargo:rerun-if-changed={}", root.display());
        let mut files = Vec::new();
        collect_all(&root, &root, &mut files);
        files.sort();
        let _ = writeln!(out, "    ({base:?}, &[");
        for (name, path) in &files {
            let _ = writeln!(out, "        ({name:?}, include_bytes!({path:?})),");
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin_bases.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}

/// Every file below `dir`, except report directories a check of the fixture left in it.
fn collect_all(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if dir == root && name.starts_with("report-") {
                continue;
            }
            println!("cargo:rerun-if-changed={}", path.display());
            collect_all(root, &path, out);
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let abs = path.canonicalize().unwrap_or(path.clone());
        out.push((rel, abs.to_string_lossy().into_owned()));
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, out);
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_rule =
            (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.contains(".cases.");
        if is_rule {
            println!("cargo:rerun-if-changed={}", path.display());
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let abs = path.canonicalize().unwrap_or(path.clone());
            out.push((rel, abs.to_string_lossy().into_owned()));
        }
    }
}
