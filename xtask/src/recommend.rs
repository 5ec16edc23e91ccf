//! `cargo xtask eval-recommend`: the recommendation method's offline
//! evaluation on Superstore (leave-last-order-out; full method, most
//! popular, plain fallback), printed by the evaluation test that asserts it.

use std::path::Path;
use std::process::Command;

use crate::datasets;

pub fn evaluate(root: &Path) -> anyhow::Result<()> {
    let superstore = datasets::superstore(root)?;
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
            .env("STRATA_SUPERSTORE_PATH", superstore),
    )
}
