//! `cargo xtask test`: every check, in the order that builds least.
//!
//! - One compilation serves clippy and the tests: the test build runs with
//!   `clippy-driver` as the workspace's rustc wrapper and `-D warnings`, as
//!   `cargo clippy` does, but with code generation, so the lints and the test
//!   binaries come from the same pass (and the same artifacts a warm re-run
//!   reuses). The template checks run beside it (Python, mostly one core).
//! - The package start check runs the debug binaries the test build made,
//!   laid out as Lambda packages; one release `cargo lambda build` of the
//!   smallest function proves the cross-linking toolchain (full packaging for
//!   deployment is `cargo xtask package`).
//! - Every test on both backends against one moto server; then the API
//!   contract (schemathesis against `strata serve`).
//!
//! Each step is timed and the run closes with the table.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{churn, contract, datasets, infra, moto, package, python, testbins};

/// Test binaries run at once: more than the cores, as many wait on moto
/// or on child processes.
const TEST_JOBS: usize = 3;
/// moto servers, one per test job: each serves one request at a time (its
/// conditional writes must be atomic), and a binary sharing one waited for
/// the other's requests (the tiering-invariance test: 17 s alone, two
/// minutes beside the moto import). Every binary makes its own tables and
/// buckets, so any binary may use any server.
const MOTO_SERVERS: usize = 3;
/// Makes an AWS case that would skip for want of moto fail instead.
const REQUIRE_AWS_VAR: &str = "STRATA_TEST_REQUIRE_AWS";

/// The rustc wrapper `cargo clippy` sets, and how it passes lint flags.
const CLIPPY_WRAPPER: &str = "RUSTC_WORKSPACE_WRAPPER";
const CLIPPY_ARGS: &str = "CLIPPY_ARGS";
const CLIPPY_ARGS_SEPARATOR: &str = "__CLIPPY_HACKERY__";

/// The steps' durations, printed as a table at the end (also on failure).
#[derive(Default)]
struct Timings {
    steps: Vec<(String, Duration)>,
    started: Option<Instant>,
}

impl Timings {
    fn step<T>(
        &mut self,
        name: &str,
        work: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        println!("\n== xtask: {name}");
        self.started.get_or_insert_with(Instant::now);
        let started = Instant::now();
        let outcome = work();
        self.steps.push((name.to_owned(), started.elapsed()));
        outcome
    }

    fn print(&self) {
        println!("\n== xtask: timings");
        for (name, took) in &self.steps {
            println!("  {name:<46} {:>7.1} s", took.as_secs_f64());
        }
        if let Some(started) = self.started {
            println!(
                "  {:<46} {:>7.1} s",
                "total",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

pub fn test(root: &Path, no_lint: bool) -> anyhow::Result<()> {
    let mut timings = Timings::default();
    let outcome = run_all(root, no_lint, &mut timings);
    timings.print();
    outcome
}

fn run_all(root: &Path, no_lint: bool, timings: &mut Timings) -> anyhow::Result<()> {
    let venv = timings.step("python tools", || python::ensure_venv(root))?;
    let ort = churn::ort_library(&venv)?;
    if !no_lint {
        timings.step("format", || {
            crate::run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))
        })?;
    }
    let datasets = timings.step("datasets", || datasets::environment(root, &venv))?;
    let lints = lint_flags(no_lint);
    let binaries = timings.step(
        if no_lint {
            "build tests + templates"
        } else {
            "build tests with clippy + templates"
        },
        || {
            // The Python checks run while the tests build (one core each at
            // most); their output is printed once both are done.
            let (side, built) = std::thread::scope(|scope| {
                let side = scope.spawn(|| python_checks(root, &venv));
                let built = testbins::build(&lints);
                (side.join(), built)
            });
            let side = side.map_err(|_| anyhow::anyhow!("the Python checks panicked"))?;
            print!("{}", side.output);
            for (name, took) in &side.took {
                println!("{name}: {:.1} s (beside the build)", took.as_secs_f64());
            }
            let binaries = built?;
            side.outcome.map(|()| binaries)
        },
    )?;
    let packages = timings.step("lay out debug packages", || {
        package::lay_out_debug(root, &ort)
    })?;
    // The release build of one function runs beside the tests, at the
    // lowest priority; the table shows how long the run then waited for it.
    let mut probe = package::start_toolchain_probe(root, &venv)?;
    let servers = timings.step("start moto", || {
        (0..MOTO_SERVERS)
            .map(|n| {
                let log_dir = root.join("target").join(format!("moto-{n}"));
                moto::Server::start(&venv, &log_dir, moto::Answers::Checked)
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    for server in &servers {
        println!("moto listening on {}", server.endpoint());
    }
    let scratch = ScratchDir::create()?;
    timings.step("run tests (both backends)", || {
        // An AWS case that would skip fails instead.
        let mut envs = vec![(REQUIRE_AWS_VAR.to_owned(), "1".to_owned())];
        envs.push(("TMPDIR".to_owned(), scratch.path.display().to_string()));
        envs.extend(
            datasets
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.display().to_string())),
        );
        envs.push((churn::ORT_DYLIB_VAR.to_owned(), ort.display().to_string()));
        envs.push((
            package::PACKAGES_VAR.to_owned(),
            packages.display().to_string(),
        ));
        let runners: Vec<_> = (0..TEST_JOBS)
            .map(|n| servers[n % servers.len()].environment())
            .collect();
        testbins::run(binaries, &envs, &runners)
    })?;
    timings.step("moto answers checked", || {
        servers.into_iter().try_for_each(moto::Server::finish)
    })?;
    timings.step("release build of one function (the rest)", || {
        probe.finish(root)
    })?;
    timings.step("api contract (schemathesis)", || {
        contract::run(root, &venv, &ort)
    })
}

/// Where the tests' temporary files go: a directory in RAM when the machine
/// has one (`/dev/shm`), removed at the end. The embedded store's files are
/// temporary in every test; on disk their commits wait on the device (the
/// real-data import spent a quarter of its time in the kernel's write-back),
/// and no test is about the disk itself.
struct ScratchDir {
    path: std::path::PathBuf,
    owned: bool,
}

impl ScratchDir {
    fn create() -> anyhow::Result<Self> {
        let shm = Path::new("/dev/shm");
        if !shm.is_dir() {
            return Ok(Self {
                path: std::env::temp_dir(),
                owned: false,
            });
        }
        let path = shm.join(format!("strata-test-{}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path, owned: true })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// What the checks beside the build printed, took and found.
struct SideChecks {
    output: String,
    took: Vec<(&'static str, Duration)>,
    outcome: anyhow::Result<()>,
}

/// The template checks (cfn-lint, checkov) and train.py's tests.
fn python_checks(root: &Path, venv: &python::Venv) -> SideChecks {
    let mut output = String::new();
    let mut took = Vec::new();
    let started = Instant::now();
    let templates = infra::lint_captured(root, venv, &mut output);
    took.push(("templates (cfn-lint, checkov)", started.elapsed()));
    let started = Instant::now();
    let trainer = churn::trainer_tests(root).and_then(|mut command| {
        let done = command.output().context("starting train.py's tests")?;
        output.push_str(&String::from_utf8_lossy(&done.stdout));
        output.push_str(&String::from_utf8_lossy(&done.stderr));
        if !done.status.success() {
            bail!("train.py's tests failed ({})", done.status);
        }
        Ok(())
    });
    took.push(("train.py tests (with the training venv)", started.elapsed()));
    SideChecks {
        output,
        took,
        outcome: templates.and(trainer),
    }
}

/// The environment that makes a cargo build lint the workspace as
/// `cargo clippy -- -D warnings` does (dependencies are built plainly).
fn lint_flags(no_lint: bool) -> Vec<(&'static str, String)> {
    if no_lint {
        return Vec::new();
    }
    vec![
        (CLIPPY_WRAPPER, "clippy-driver".to_owned()),
        (CLIPPY_ARGS, ["-D", "warnings"].join(CLIPPY_ARGS_SEPARATOR)),
    ]
}
