//! `cargo xtask package`: every function the SAM template names, built for
//! Lambda by cargo-lambda (zig links against Amazon Linux's glibc) into
//! `target/lambda/<binary>/bootstrap`, where the template's `CodeUri`s
//! point. A function whose environment names `ORT_DYLIB_PATH` also gets
//! ONNX Runtime's library for its architecture in `lib/` (the churn model
//! itself is built into the binary).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::ValueEnum;

use crate::python::Venv;

/// Tells the package check (functions/local/tests/packages.rs) where the packages are.
pub const PACKAGES_VAR: &str = "STRATA_TEST_PACKAGES";
const TEMPLATE: &str = "infra/template.yaml";
const CODE_URI_PREFIX: &str = "../target/lambda/";
const ORT_VERSION: &str = "1.31.1";
/// Where the template's `ORT_DYLIB_PATH` points inside a package.
const ORT_IN_PACKAGE: &str = "lib/libonnxruntime.so";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    Arm64,
    #[value(name = "x86_64")]
    X86_64,
}

impl Arch {
    pub fn host() -> anyhow::Result<Arch> {
        match std::env::consts::ARCH {
            "aarch64" => Ok(Arch::Arm64),
            "x86_64" => Ok(Arch::X86_64),
            other => bail!("Lambda runs arm64 or x86_64, not {other}"),
        }
    }

    fn triple(self) -> &'static str {
        match self {
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }

    /// pip's platform tag of the onnxruntime wheel (glibc 2.28: Amazon Linux 2023 has 2.34).
    fn wheel_platform(self) -> &'static str {
        match self {
            Arch::Arm64 => "manylinux_2_28_aarch64",
            Arch::X86_64 => "manylinux_2_28_x86_64",
        }
    }
}

/// One function of the template.
#[derive(Debug, Clone)]
pub struct Function {
    pub binary: String,
    pub needs_onnx_runtime: bool,
}

/// One built package and its sizes.
#[derive(Debug)]
pub struct Package {
    pub function: Function,
    pub bootstrap_bytes: u64,
    pub total_bytes: u64,
    pub zipped_bytes: u64,
}

/// The functions the template deploys, read from its `CodeUri` lines (each
/// resource block's `CodeUri: ../target/lambda/<binary>`).
pub fn template_functions(root: &Path) -> anyhow::Result<Vec<Function>> {
    let text = std::fs::read_to_string(root.join(TEMPLATE)).context("reading the template")?;
    let mut functions: Vec<Function> = Vec::new();
    for block in resource_blocks(&text) {
        let Some(uri) = block
            .iter()
            .find_map(|l| l.trim().strip_prefix("CodeUri:"))
            .map(str::trim)
        else {
            continue;
        };
        let binary = uri
            .strip_prefix(CODE_URI_PREFIX)
            .with_context(|| format!("CodeUri {uri} is not {CODE_URI_PREFIX}<binary>"))?
            .trim_end_matches('/')
            .to_owned();
        functions.push(Function {
            needs_onnx_runtime: block
                .iter()
                .any(|l| l.trim().starts_with("ORT_DYLIB_PATH:")),
            binary,
        });
    }
    if functions.is_empty() {
        bail!("{TEMPLATE} names no CodeUri");
    }
    Ok(functions)
}

/// The lines of each top-level entry (two-space indent) of the template.
fn resource_blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let top_level =
            line.starts_with("  ") && !line.starts_with("   ") && !line.trim().starts_with('#');
        match blocks.last_mut() {
            Some(block) if !top_level => block.push(line),
            _ => blocks.push(vec![line]),
        }
    }
    blocks
}

pub fn package(root: &Path, venv: &Venv, arch: Arch) -> anyhow::Result<Vec<Package>> {
    let functions = template_functions(root)?;
    let started = Instant::now();
    let mut build = Command::new("cargo");
    build
        .current_dir(root)
        .args(["lambda", "build", "--release", "--quiet", "--target"])
        .arg(arch.triple())
        // cargo-lambda and zig come from the venv.
        .env("PATH", path_with(&venv.dir.join("bin"))?);
    for function in &functions {
        build.args(["--bin", &function.binary]);
    }
    let status = build
        .status()
        .context("starting cargo lambda (is cargo-lambda in the venv? `cargo xtask setup`)")?;
    if !status.success() {
        bail!("cargo lambda build failed ({status})");
    }
    let built_in = started.elapsed();
    let library = if functions.iter().any(|f| f.needs_onnx_runtime) {
        Some(onnx_runtime(root, venv, arch)?)
    } else {
        None
    };
    let mut packages = Vec::new();
    for function in functions {
        let dir = root.join("target/lambda").join(&function.binary);
        let lib_dir = dir.join("lib");
        if lib_dir.exists() {
            std::fs::remove_dir_all(&lib_dir)?;
        }
        if function.needs_onnx_runtime {
            let library = library.as_ref().context("ONNX Runtime was fetched")?;
            std::fs::create_dir_all(&lib_dir)?;
            std::fs::copy(library, dir.join(ORT_IN_PACKAGE))
                .with_context(|| format!("copying {}", library.display()))?;
        }
        packages.push(measure(venv, function, dir)?);
    }
    print_sizes(&packages, arch, built_in);
    Ok(packages)
}

/// libonnxruntime.so for the architecture: the venv's own for the host,
/// else extracted from the wheel pip downloads for that platform.
fn onnx_runtime(root: &Path, venv: &Venv, arch: Arch) -> anyhow::Result<PathBuf> {
    if arch == Arch::host()? {
        return crate::churn::ort_library(venv);
    }
    let cache = root.join("target/lambda-cache").join(arch.wheel_platform());
    let library = cache.join(format!("libonnxruntime.so.{ORT_VERSION}"));
    if library.is_file() {
        return Ok(library);
    }
    std::fs::create_dir_all(&cache)?;
    let status = Command::new(venv.bin("python"))
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("onnxruntime=={ORT_VERSION}"))
        .args(["--platform", arch.wheel_platform()])
        .args([
            "--python-version",
            "3.11",
            "--only-binary=:all:",
            "--no-deps",
            "--dest",
        ])
        .arg(&cache)
        .status()
        .context("starting pip download")?;
    if !status.success() {
        bail!("pip could not download the onnxruntime wheel for {arch:?}");
    }
    let status = Command::new(venv.bin("python"))
        .args([
            "-c",
            "import glob, sys, zipfile\n\
             wheel = glob.glob(sys.argv[1] + '/onnxruntime-*.whl')[0]\n\
             name = 'onnxruntime/capi/libonnxruntime.so.' + sys.argv[2]\n\
             open(sys.argv[3], 'wb').write(zipfile.ZipFile(wheel).read(name))",
        ])
        .arg(&cache)
        .arg(ORT_VERSION)
        .arg(&library)
        .status()?;
    if !status.success() {
        bail!("extracting libonnxruntime.so from the wheel failed");
    }
    Ok(library)
}

fn measure(venv: &Venv, function: Function, dir: PathBuf) -> anyhow::Result<Package> {
    let bootstrap = dir.join("bootstrap");
    let bootstrap_bytes = std::fs::metadata(&bootstrap)
        .with_context(|| format!("{} is missing", bootstrap.display()))?
        .len();
    let total_bytes = dir_bytes(&dir)?;
    // What Lambda's 50 MB direct-upload limit applies to: the zip SAM makes.
    let output = Command::new(venv.bin("python"))
        .args([
            "-c",
            "import io, os, sys, zipfile\n\
             buf = io.BytesIO()\n\
             with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   for base, _, files in os.walk(sys.argv[1]):\n\
             \x20       for f in files: p = os.path.join(base, f); z.write(p, os.path.relpath(p, sys.argv[1]))\n\
             print(len(buf.getvalue()))",
        ])
        .arg(&dir)
        .output()?;
    if !output.status.success() {
        bail!("zipping {} to measure it failed", dir.display());
    }
    let zipped_bytes = String::from_utf8(output.stdout)?.trim().parse()?;
    Ok(Package {
        function,
        bootstrap_bytes,
        total_bytes,
        zipped_bytes,
    })
}

fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            metadata.len()
        };
    }
    Ok(total)
}

fn print_sizes(packages: &[Package], arch: Arch, built_in: Duration) {
    let mb = |bytes: u64| bytes as f64 / 1_048_576.0;
    println!(
        "packages for {arch:?} (cargo lambda build {:.0} s):",
        built_in.as_secs_f64()
    );
    println!(
        "  {:<22} {:>10} {:>10} {:>10}",
        "function", "bootstrap", "unzipped", "zipped"
    );
    for package in packages {
        println!(
            "  {:<22} {:>7.1} MB {:>7.1} MB {:>7.1} MB{}",
            package.function.binary,
            mb(package.bootstrap_bytes),
            mb(package.total_bytes),
            mb(package.zipped_bytes),
            if package.function.needs_onnx_runtime {
                "  (+ ONNX Runtime)"
            } else {
                ""
            }
        );
    }
}

fn path_with(dir: &Path) -> anyhow::Result<std::ffi::OsString> {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    Ok(std::env::join_paths(paths)?)
}

/// Lays out the debug binaries the test build made as Lambda packages
/// (`<dir>/<binary>/bootstrap`, ONNX Runtime in `lib/` where the template
/// points `ORT_DYLIB_PATH`), for the package start check. Returns the dir.
pub fn lay_out_debug(root: &Path, ort_library: &Path) -> anyhow::Result<PathBuf> {
    let packages = root.join("target/lambda-debug");
    for function in template_functions(root)? {
        let binary = root.join("target/debug").join(&function.binary);
        if !binary.is_file() {
            bail!(
                "{} is missing: the test build makes every binary",
                binary.display()
            );
        }
        let dir = packages.join(&function.binary);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        link_or_copy(&binary, &dir.join("bootstrap"))?;
        if function.needs_onnx_runtime {
            std::fs::create_dir_all(dir.join("lib"))?;
            link_or_copy(ort_library, &dir.join(ORT_IN_PACKAGE))?;
        }
    }
    println!("packages of the debug binaries in {}", packages.display());
    Ok(packages)
}

fn link_or_copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// The function the test run builds for Lambda to prove the toolchain:
/// cargo-lambda, zig linking against Amazon Linux's glibc, the release
/// profile. Any function proves it; this one links the fewest crates.
pub const TOOLCHAIN_PROBE: &str = "recommend-api";

/// The release `cargo lambda build` of the probe, running in the background.
pub struct ToolchainProbe {
    child: std::process::Child,
    started: Instant,
    log: PathBuf,
}

/// Starts one `cargo lambda build --release` for this machine's
/// architecture at the lowest CPU priority, logging to `target/`. Its target
/// directory is the machine's, outside the work tree (`$XDG_CACHE_HOME` or
/// `~/.cache`, `strata/lambda-probe-target`), as the cargo registry and
/// pip's wheels are: later runs on a machine, from any clone, compile only
/// what changed; it never waits for the test build's lock. It proves the
/// toolchain: cargo-lambda, zig compiling the C dependencies and linking
/// against Amazon Linux's glibc, the release profile's panic and strip
/// settings. Optimisation, thin LTO and a single codegen unit are turned off
/// here: they are rustc's own passes, add about ten minutes on two cores and
/// prove nothing about cross-linking; `cargo xtask package` (the deployable
/// build) runs them.
pub fn start_toolchain_probe(root: &Path, venv: &Venv) -> anyhow::Result<ToolchainProbe> {
    let arch = Arch::host()?;
    let log = root.join("target/lambda-probe.log");
    std::fs::create_dir_all(root.join("target"))?;
    let output = std::fs::File::create(&log)?;
    let child = Command::new("nice")
        .current_dir(root)
        .args([
            "-n",
            "19",
            "cargo",
            "lambda",
            "build",
            "--release",
            "--target",
        ])
        .arg(arch.triple())
        .args(["--bin", TOOLCHAIN_PROBE, "--lambda-dir"])
        .arg(root.join("target/lambda-probe"))
        .env("CARGO_TARGET_DIR", probe_target_dir(root))
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
        .env("PATH", path_with(&venv.dir.join("bin"))?)
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .context("starting cargo lambda (is cargo-lambda in the venv? `cargo xtask setup`)")?;
    Ok(ToolchainProbe {
        child,
        started: Instant::now(),
        log,
    })
}

/// The probe's target directory: the machine's cache, else `target/probe`.
fn probe_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map_or_else(
            || root.join("target/probe"),
            |cache| cache.join("strata/lambda-probe-target"),
        )
}

/// A run that fails before waiting for the probe stops it.
impl Drop for ToolchainProbe {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl ToolchainProbe {
    /// Waits for the build and checks its bootstrap.
    pub fn finish(&mut self, root: &Path) -> anyhow::Result<()> {
        let status = self.child.wait()?;
        if !status.success() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            bail!(
                "cargo lambda build --release --bin {TOOLCHAIN_PROBE} failed ({status}):\n{}",
                log.lines()
                    .rev()
                    .take(40)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        let bootstrap = root
            .join("target/lambda-probe")
            .join(TOOLCHAIN_PROBE)
            .join("bootstrap");
        let bytes = std::fs::metadata(&bootstrap)
            .with_context(|| format!("{} is missing", bootstrap.display()))?
            .len();
        println!(
            "{TOOLCHAIN_PROBE}: {:.1} MB bootstrap for {:?} (release profile, unoptimised), built in {:.0} s beside the tests",
            bytes as f64 / 1_048_576.0,
            Arch::host()?,
            self.started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
