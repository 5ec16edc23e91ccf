//! Shared by the local crate's tests: the SAM template read with its
//! CloudFormation short-form tags, the OpenAPI document, the fixtures, the
//! local host behind its token guard (`local`), and the plaintext canary's
//! seed and search (`canary`).

#![allow(dead_code)] // each test binary uses a different part

pub mod canary;
pub mod local;
pub mod template;

use std::path::PathBuf;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// The header and first rows of the real Superstore export (`lines` lines
/// in all), which `cargo xtask test` installs and names.
pub fn superstore_head(lines: usize) -> String {
    let path = std::env::var("STRATA_SUPERSTORE_PATH").expect(
        "STRATA_SUPERSTORE_PATH is not set: these tests read the Superstore export that `cargo xtask test` installs",
    );
    let text = std::fs::read_to_string(path).expect("Superstore orders");
    text.split_inclusive('\n').take(lines).collect()
}

/// `superstore_head` written to `<dir>/superstore.csv`.
pub fn superstore_head_file(dir: &std::path::Path, lines: usize) -> PathBuf {
    let export = dir.join("superstore.csv");
    std::fs::write(&export, superstore_head(lines)).expect("write the export");
    export
}
