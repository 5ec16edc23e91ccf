//! The documentation names only commands and binaries that exist: every
//! `cargo xtask <command>` in README.md and docs/ is one of this tool's,
//! and every Lambda binary named (`<function>-<trigger>`) is a `[[bin]]` of
//! a workspace crate. (`strata <command>` lines are checked against the
//! CLI itself by functions/local/tests/docs.rs.)

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use clap::CommandFactory;

    fn root() -> PathBuf {
        crate::workspace_root()
    }

    /// README.md, ARCHITECTURE.md and every Markdown file under docs/.
    fn documents() -> Vec<(PathBuf, String)> {
        let root = root();
        let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
        if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
            files.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "md")),
            );
        }
        files
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                (path, text)
            })
            .collect()
    }

    fn words_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.match_indices(prefix)
            .filter_map(|(at, _)| {
                let rest = &text[at + prefix.len()..];
                let word: &str = rest
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .next()?;
                (!word.is_empty()).then_some(word)
            })
            .collect()
    }

    #[test]
    fn every_xtask_command_in_the_docs_exists() {
        let known: BTreeSet<String> = crate::Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        let mut named = 0;
        for (path, text) in documents() {
            for command in words_after(&text, "cargo xtask ") {
                named += 1;
                assert!(
                    known.contains(command),
                    "{} names `cargo xtask {command}`, which does not exist (commands: {known:?})",
                    path.display()
                );
            }
        }
        assert!(named > 0, "the README names the two commands at least");
    }

    /// `[[bin]]` names of every crate under functions/ and shared/.
    fn binaries(root: &Path) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for group in ["functions", "shared"] {
            for entry in std::fs::read_dir(root.join(group)).expect("crate folders") {
                let manifest = entry.expect("entry").path().join("Cargo.toml");
                let Ok(text) = std::fs::read_to_string(&manifest) else {
                    continue;
                };
                for block in text.split("[[bin]]").skip(1) {
                    let name = block
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("name = "))
                        .expect("a [[bin]] has a name");
                    names.insert(name.trim_matches('"').to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn every_lambda_binary_in_the_docs_exists() {
        let root = root();
        let known = binaries(&root);
        assert!(known.contains("strata") && known.contains("ingest-api"));
        // Lambda binaries are named `<function>-<trigger>`.
        let triggers = ["-api", "-import", "-batch", "-retrain", "-job"];
        for (path, text) in documents() {
            for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                let function = ["ingest", "churn", "recommend", "tiering", "backup"]
                    .iter()
                    .any(|f| word.starts_with(&format!("{f}-")));
                if function && triggers.iter().any(|t| word.ends_with(t)) {
                    assert!(
                        known.contains(word),
                        "{} names the binary `{word}`, which no crate builds (binaries: {known:?})",
                        path.display()
                    );
                }
            }
        }
    }
}
