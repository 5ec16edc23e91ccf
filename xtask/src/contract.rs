//! The API contract run: `strata serve` on an empty embedded store on a
//! free loopback port, and schemathesis sending generated requests for
//! every operation of `infra/openapi.yaml` with an admin token from
//! `strata token`: no response may be a 5xx, each must match the document
//! (status, content type, schema), and none may ignore a missing token.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::python::Venv;

const DOCUMENT: &str = "infra/openapi.yaml";
/// `ignored_auth`: requests without the token (or with a bad one) must be refused.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth";
/// Examples per operation: enough to reach the validation paths of every
/// body field, small enough to keep the run under a minute or two.
const EXAMPLES: &str = "30";

/// The local host, stopped when dropped.
struct LocalHost {
    child: Child,
}

impl Drop for LocalHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `strata` must have been built (the test build builds it).
pub fn run(root: &Path, venv: &Venv, ort_library: &Path) -> anyhow::Result<()> {
    let strata = root.join("target/debug/strata");
    if !strata.is_file() {
        bail!(
            "{} is missing; build the workspace's tests first",
            strata.display()
        );
    }
    let work = root.join("target/api-contract");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    // Every route wants a token signed with the data directory's key.
    let token = admin_token(&strata, &work.join("data"))?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = std::fs::File::create(work.join("strata-serve.log"))?;
    let child = Command::new(&strata)
        .args([
            "serve",
            "--churn-every",
            "0",
            "--backup-every",
            "0",
            "--recommend-every",
            "0",
            "--tiering-every",
            "0",
            "--port",
        ])
        .arg(port.to_string())
        .arg("--data-dir")
        .arg(work.join("data"))
        .env(crate::churn::ORT_DYLIB_VAR, ort_library)
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .context("starting strata serve")?;
    let mut host = LocalHost { child };
    wait_for(&mut host, SocketAddr::from(([127, 0, 0, 1], port)))?;
    let status = Command::new(venv.bin("st"))
        .current_dir(&work)
        .arg("run")
        .arg(root.join(DOCUMENT))
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            CHECKS,
            "--max-examples",
            EXAMPLES,
            "--seed",
            "8",
        ])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--report", "junit", "--report-dir"])
        .arg(&work)
        .status()
        .context("starting schemathesis")?;
    drop(host);
    if !status.success() {
        bail!(
            "schemathesis found responses that break {DOCUMENT} ({status}); server log: target/api-contract/strata-serve.log"
        );
    }
    Ok(())
}

/// `strata token --role admin` for the run's data directory.
fn admin_token(strata: &Path, data_dir: &Path) -> anyhow::Result<String> {
    let output = Command::new(strata)
        .args(["token", "--role", "admin", "--minutes", "120", "--data-dir"])
        .arg(data_dir)
        .stderr(Stdio::inherit())
        .output()
        .context("starting strata token")?;
    if !output.status.success() {
        bail!("strata token failed ({})", output.status);
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

fn wait_for(host: &mut LocalHost, address: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = host.child.try_wait()? {
            bail!("strata serve exited early ({status}); see target/api-contract/strata-serve.log");
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("strata serve did not listen on {address} within 60 s")
}
