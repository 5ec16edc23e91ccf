//! Shared by the local crate's tests: the SAM template read with its
//! CloudFormation short-form tags, the OpenAPI document, and the fixtures.

#![allow(dead_code)] // each test binary uses a different part

pub mod template;

use std::path::PathBuf;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}
