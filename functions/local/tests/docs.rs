//! Every `strata …` command the documentation shows in code (inline code
//! and fenced blocks of README.md, ARCHITECTURE.md and docs/*.md) exists:
//! `strata <command> --help` succeeds, and for the command groups (`churn`,
//! `tiering`) so does `strata <group> <command> --help`.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::repo_path;

/// The code in a Markdown text: fenced blocks and inline spans.
fn code(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            pieces.push(line.to_owned());
        } else {
            pieces.extend(line.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    pieces
}

fn strata_commands() -> BTreeSet<Vec<String>> {
    let mut files = vec![repo_path("README.md"), repo_path("ARCHITECTURE.md")];
    if let Ok(entries) = std::fs::read_dir(repo_path("docs")) {
        files.extend(
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "md")),
        );
    }
    let mut commands = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a document");
        for piece in code(&text) {
            let words: Vec<&str> = piece.split_whitespace().collect();
            for (at, word) in words.iter().enumerate() {
                let word = word.trim_start_matches("$(");
                if word != "strata" {
                    continue;
                }
                let args: Vec<String> = words[at + 1..]
                    .iter()
                    .take_while(|w| {
                        w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
                    })
                    .take(2)
                    .map(|w| (*w).to_owned())
                    .collect();
                if let Some(first) = args.first() {
                    let group = matches!(first.as_str(), "churn" | "tiering");
                    commands.insert(if group { args } else { vec![first.clone()] });
                }
            }
        }
    }
    commands
}

#[test]
fn every_strata_command_in_the_docs_exists() {
    let commands = strata_commands();
    assert!(
        commands.contains(&vec!["serve".to_owned()]),
        "the README shows `strata serve`: {commands:?}"
    );
    for command in commands {
        let output = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(&command)
            .arg("--help")
            .output()
            .expect("run strata");
        assert!(
            output.status.success(),
            "the docs show `strata {}`, which does not exist: {}",
            command.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
