//! The churn model's automation: the training export, training the
//! committed model, retraining a challenger from a store (the retraining
//! job's service with the local trainer), and the benchmark.
//!
//! The data path is always the same: CDNOW (from the PyPI package
//! `lifetimes`) is loaded into an embedded store by the demo loader, the
//! churn tool exports features from the store with the Rust definitions,
//! Python trains on that export, and the churn tool checks that serving
//! reproduces the training metrics.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::python::Venv;

/// Where `ort` (load-dynamic) finds ONNX Runtime.
pub const ORT_DYLIB_VAR: &str = "ORT_DYLIB_PATH";
const TRAIN_REQUIREMENTS: &str = "functions/churn/training/requirements.txt";
const TRAIN_VENV: &str = ".venv-train";
const MODEL_DIR: &str = "functions/churn/model";
const TRAIN_SCRIPT: &str = "functions/churn/training/train.py";
const BENCH_SCRIPT: &str = "functions/churn/training/bench_ort.py";
const WORK_DIR: &str = "target/churn";
const STAMP: &str = ".strata-requirements.sha256";

/// The ONNX Runtime library inside the venv's `onnxruntime` wheel.
pub fn ort_library(venv: &Venv) -> anyhow::Result<PathBuf> {
    venv.package_file("onnxruntime", "capi/libonnxruntime.so.1.31.1")
}

fn cdnow(venv: &Venv) -> anyhow::Result<PathBuf> {
    venv.package_file("lifetimes", "datasets/CDNOW_master.txt")
}

/// The training venv, apart from the test venv (its pins differ).
fn ensure_train_venv(root: &Path) -> anyhow::Result<Venv> {
    let venv = Venv {
        dir: root.join(TRAIN_VENV),
    };
    let requirements = std::fs::read(root.join(TRAIN_REQUIREMENTS))
        .with_context(|| format!("reading {TRAIN_REQUIREMENTS}"))?;
    let wanted = hex::encode(Sha256::digest(&requirements));
    let stamp = venv.dir.join(STAMP);
    if std::fs::read_to_string(&stamp).is_ok_and(|have| have.trim() == wanted)
        && venv.bin("python").exists()
    {
        return Ok(venv);
    }
    println!(
        "== xtask: installing the training tools into {}",
        venv.dir.display()
    );
    if !venv.bin("python").exists() {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(Command::new(&python).args(["-m", "venv"]).arg(&venv.dir))?;
    }
    run(Command::new(venv.bin("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(root.join(TRAIN_REQUIREMENTS)))?;
    std::fs::write(&stamp, wanted)?;
    Ok(venv)
}

/// Where train.py's tests are (stdlib unittest on synthetic exports).
const TRAINER_TESTS: &str = "functions/churn/training";

/// train.py's tests, run by the training venv's Python (made or brought up
/// to date as `cargo xtask train` does it).
pub fn trainer_tests(root: &Path) -> anyhow::Result<Command> {
    let mut command = Command::new(ensure_train_venv(root)?.bin("python"));
    command
        .current_dir(root)
        .args(["-m", "unittest", "discover", "-s"])
        .arg(root.join(TRAINER_TESTS))
        .args(["-p", "test_*.py"]);
    Ok(command)
}

fn churn_tool(venv: &Venv) -> anyhow::Result<Command> {
    let mut command = Command::new("cargo");
    command
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "strata-local",
            "--bin",
            "strata",
            "--",
            "churn",
        ])
        .env(ORT_DYLIB_VAR, ort_library(venv)?);
    Ok(command)
}

/// Loads CDNOW into `target/churn/cdnow` (idempotent) and exports features.
pub fn features(root: &Path, venv: &Venv) -> anyhow::Result<(PathBuf, PathBuf)> {
    let work = root.join(WORK_DIR);
    std::fs::create_dir_all(&work)?;
    let store = work.join("cdnow");
    run(Command::new("cargo")
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "strata-local",
            "--bin",
            "strata",
            "--",
            "demo",
        ])
        .arg("--cdnow")
        .arg(cdnow(venv)?)
        .arg("--data-dir")
        .arg(&store))?;
    let csv = work.join("features.csv");
    run(churn_tool(venv)?
        .args(["export-features", "--data-dir"])
        .arg(&store)
        .arg("--out")
        .arg(&csv))?;
    Ok((store, csv))
}

/// Trains the committed model from CDNOW and checks it through serving.
pub fn train(root: &Path, venv: &Venv) -> anyhow::Result<()> {
    let (store, csv) = features(root, venv)?;
    let trainer = ensure_train_venv(root)?;
    let source = cdnow(venv)?;
    let digest = hex::encode(Sha256::digest(std::fs::read(&source)?));
    run(Command::new(trainer.bin("python"))
        .arg(root.join(TRAIN_SCRIPT))
        .arg("--features")
        .arg(&csv)
        .arg("--out")
        .arg(root.join(MODEL_DIR))
        .arg("--source")
        .arg(format!(
            "CDNOW_master.txt from PyPI lifetimes 0.11.3 (sha256 {digest})"
        )))?;
    run(churn_tool(venv)?
        .args(["check-model", "--data-dir"])
        .arg(&store)
        .arg("--model-dir")
        .arg(root.join(MODEL_DIR)))
}

/// The retraining job on a store, forced, with the local trainer: the same
/// service the `churn-retrain` Lambda runs (export with the Rust features,
/// train, check the candidate in Rust, promote it only if not worse).
pub fn retrain(root: &Path, venv: &Venv, data_dir: &Path) -> anyhow::Result<()> {
    let trainer = ensure_train_venv(root)?;
    run(churn_tool(venv)?
        .args(["retrain", "--force", "--data-dir"])
        .arg(data_dir)
        .arg("--python")
        .arg(trainer.bin("python"))
        .arg("--work-dir")
        .arg(root.join(WORK_DIR).join("retrain"))
        .arg("--script")
        .arg(root.join(TRAIN_SCRIPT)))
}

/// Rust figures (release build) and Python onnxruntime's on the same model.
pub fn bench(root: &Path, venv: &Venv) -> anyhow::Result<()> {
    let (store, csv) = features(root, venv)?;
    run(churn_tool(venv)?.args(["bench", "--data-dir"]).arg(&store))?;
    run(Command::new(venv.bin("python"))
        .arg(root.join(BENCH_SCRIPT))
        .arg("--model-dir")
        .arg(root.join(MODEL_DIR))
        .arg("--features")
        .arg(&csv))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}
