//! `cargo xtask eval-recommend`: the recommendation method's offline
//! evaluation on Superstore and MovieLens-100k (leave-last-order-out; full
//! method, most popular, plain fallback), printed by the evaluation tests
//! that assert it.

use std::path::Path;
use std::process::Command;

use crate::{datasets, python};

pub fn evaluate(root: &Path) -> anyhow::Result<()> {
    let superstore = datasets::superstore(root)?;
    let movielens = datasets::movielens(&python::ensure_venv(root)?)?;
    crate::run(
        Command::new("cargo")
            .args([
                "test",
                "--quiet",
                "--package",
                "strata-recommend",
                "--test",
                "evaluation",
                "--",
                "--nocapture",
            ])
            .env("STRATA_SUPERSTORE_PATH", superstore)
            .env("STRATA_MOVIELENS_DIR", movielens),
    )
}
