//! The test binaries of the workspace, built once and then run several at a
//! time (`cargo test` runs them one after another, so a binary waiting on
//! moto or on a child process leaves the machine idle). Each binary runs as
//! `cargo test` would run it — from its package's directory, with its
//! package's `CARGO_*` variables — its output is printed whole when it ends,
//! and the run closes with one line totalling every binary's results.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// One test executable.
#[derive(Debug, Clone)]
pub struct TestBinary {
    /// `<package> <kind> <target>`, as a heading.
    pub name: String,
    pub executable: PathBuf,
    pub package_dir: PathBuf,
    pub package: String,
}

/// Binaries known to take longest start first, so the run does not end
/// waiting for one of them alone.
const LONGEST_FIRST: [&str; 6] = [
    "import_real_data",
    "tiering_invariance",
    "backup",
    "conformance",
    "import_on_moto",
    "evaluation",
];

/// Builds every test target (`cargo test --no-run` with `envs`) and lists
/// the executables.
pub fn build(envs: &[(&'static str, String)]) -> anyhow::Result<Vec<TestBinary>> {
    let mut child = Command::new("cargo")
        .args([
            "test",
            "--workspace",
            "--all-targets",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .envs(envs.iter().cloned())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo test --no-run")?;
    let mut binaries = Vec::new();
    let stdout = child.stdout.take().context("cargo's output")?;
    for line in BufReader::new(stdout).lines() {
        let message: serde_json::Value = match serde_json::from_str(&line?) {
            Ok(message) => message,
            Err(_) => continue,
        };
        // Test-harness builds, and benches (`harness = false`: cargo test
        // runs them too, in their quick mode); not the plain binaries built
        // for integration tests.
        let built_to_test = message["profile"]["test"].as_bool().unwrap_or(false)
            || message["target"]["kind"][0] == "bench";
        if message["reason"] != "compiler-artifact" || !built_to_test {
            continue;
        }
        let Some(executable) = message["executable"].as_str() else {
            continue;
        };
        let manifest = PathBuf::from(message["manifest_path"].as_str().unwrap_or_default());
        let package = message["package_id"]
            .as_str()
            .and_then(package_name)
            .unwrap_or_default()
            .to_owned();
        binaries.push(TestBinary {
            name: format!(
                "{package} {} {}",
                message["target"]["kind"][0].as_str().unwrap_or("test"),
                message["target"]["name"].as_str().unwrap_or_default()
            ),
            executable: PathBuf::from(executable),
            package_dir: manifest.parent().map(PathBuf::from).unwrap_or_default(),
            package,
        });
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("building the tests failed ({status})");
    }
    if binaries.is_empty() {
        bail!("cargo built no test binary");
    }
    Ok(binaries)
}

/// `path+file:///…/functions/ingest#strata-ingest@0.1.0` → `strata-ingest`.
fn package_name(id: &str) -> Option<&str> {
    let after = id.rsplit_once('#')?.1;
    Some(after.split_once('@').map_or(after, |(name, _)| name))
}

/// What the binaries counted.
#[derive(Debug, Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
    failed_binaries: Vec<String>,
    took: Vec<(Duration, String)>,
}

/// Runs every binary, one runner per entry of `runners` (each with its own
/// extra variables: its moto server), with `envs`; fails if any test failed.
pub fn run(
    binaries: Vec<TestBinary>,
    envs: &[(String, String)],
    runners: &[Vec<(String, String)>],
) -> anyhow::Result<()> {
    let mut queue: Vec<TestBinary> = binaries;
    queue.sort_by_key(|b| {
        LONGEST_FIRST
            .iter()
            .position(|slow| {
                b.executable
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&format!("{slow}-")))
            })
            .unwrap_or(LONGEST_FIRST.len())
    });
    let queue = Mutex::new(VecDeque::from(queue));
    let totals = Mutex::new(Totals::default());
    std::thread::scope(|scope| {
        for own in runners {
            let (queue, totals) = (&queue, &totals);
            scope.spawn(move || {
                let envs: Vec<(String, String)> = envs.iter().chain(own).cloned().collect();
                while let Some(binary) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    let outcome = run_one(&binary, &envs);
                    if let Ok(mut totals) = totals.lock() {
                        totals.add(&binary, outcome);
                    }
                }
            });
        }
    });
    let totals = totals
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a runner panicked"))?;
    let mut took = totals.took;
    took.sort_by_key(|t| std::cmp::Reverse(t.0));
    println!("\nslowest test binaries:");
    for (duration, name) in took.iter().take(8) {
        println!("  {:>6.1} s  {name}", duration.as_secs_f64());
    }
    println!(
        "\nxtask: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    if !totals.failed_binaries.is_empty() {
        bail!(
            "test binaries failed: {}",
            totals.failed_binaries.join(", ")
        );
    }
    if totals.passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}

struct Ran {
    output: String,
    success: bool,
    took: Duration,
}

fn run_one(binary: &TestBinary, envs: &[(String, String)]) -> anyhow::Result<Ran> {
    let started = Instant::now();
    let output = Command::new(&binary.executable)
        .current_dir(&binary.package_dir)
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("CARGO_MANIFEST_DIR", &binary.package_dir)
        .env("CARGO_PKG_NAME", &binary.package)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {}", binary.executable.display()))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(Ran {
        output: text,
        success: output.status.success(),
        took: started.elapsed(),
    })
}

impl Totals {
    fn add(&mut self, binary: &TestBinary, outcome: anyhow::Result<Ran>) {
        println!(
            "\n     Running {} ({})",
            binary.name,
            binary.executable.display()
        );
        match outcome {
            Ok(ran) => {
                print!("{}", ran.output);
                let mut counted = false;
                for counts in ran
                    .output
                    .lines()
                    .filter_map(|l| l.strip_prefix("test result: "))
                {
                    counted = true;
                    self.passed += count_before(counts, " passed");
                    self.failed += count_before(counts, " failed");
                    self.ignored += count_before(counts, " ignored");
                }
                if !ran.success {
                    // A binary that died before its summary failed too.
                    if !counted {
                        self.failed += 1;
                    }
                    self.failed_binaries.push(binary.name.clone());
                }
                self.took.push((ran.took, binary.name.clone()));
            }
            Err(error) => {
                println!("{error:#}");
                self.failed += 1;
                self.failed_binaries.push(binary.name.clone());
            }
        }
    }
}

/// `"ok. 14 passed; 0 failed"`, `" passed"` → 14.
fn count_before(counts: &str, label: &str) -> u64 {
    counts
        .split(';')
        .find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label.trim_start())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_package_names_and_counts() {
        assert_eq!(
            package_name("path+file:///w/functions/ingest#strata-ingest@0.1.0"),
            Some("strata-ingest")
        );
        assert_eq!(
            count_before("ok. 14 passed; 0 failed; 2 ignored", " passed"),
            14
        );
        assert_eq!(count_before("FAILED. 3 passed; 1 failed", " failed"), 1);
    }
}
