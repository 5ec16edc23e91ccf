//! A moto server on a free loopback port, for the tests' AWS adapters.
//! Stopped when dropped, so a failing test run does not leave it behind.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::python::Venv;

/// moto serving one request at a time, with item-level transaction rollback;
/// the script says why.
const SERVER_SCRIPT: &str = include_str!("moto_server.py");

/// What the script prints when its direct JSON answer differs from moto's own.
const DIFFERENCE_MARK: &str = "fast json differs";

/// How the server answers DynamoDB requests (see the script's point 4).
pub enum Answers {
    /// Written directly: benchmarks.
    Direct,
    /// Written directly and checked against moto's own serializer, which
    /// answers instead where they differ: the test run, so every operation
    /// the tests use proves the direct answers right.
    Checked,
}

pub struct Server {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Server {
    pub fn start(venv: &Venv, log_dir: &Path, answers: Answers) -> anyhow::Result<Server> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        std::fs::create_dir_all(log_dir)?;
        let log_path = log_dir.join("moto.log");
        let log = File::create(&log_path)?;
        let mut command = Command::new(venv.bin("python"));
        if let Answers::Checked = answers {
            command.env("STRATA_MOTO_VERIFY_FAST_JSON", "1");
        }
        let child = command
            .args(["-c", SERVER_SCRIPT, &port.to_string()])
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .context("starting the moto server")?;
        let mut server = Server {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            log: log_path,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Points a test run at this server with throwaway credentials.
    pub fn configure(&self, command: &mut Command) {
        command.envs(self.environment());
    }

    /// The variables `configure` sets.
    pub fn environment(&self) -> Vec<(String, String)> {
        [
            ("STRATA_TEST_AWS_ENDPOINT", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Stops the server; fails if a checked answer differed from moto's own.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.stop();
        let log = std::fs::read_to_string(&self.log)
            .with_context(|| format!("reading {}", self.log.display()))?;
        let differences = log.matches(DIFFERENCE_MARK).count();
        if differences > 0 {
            bail!(
                "moto's direct JSON answers differed from its serializer's {differences} times; \
                 see \"{DIFFERENCE_MARK}\" in {}",
                self.log.display()
            );
        }
        Ok(())
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "moto_server exited early ({status}); see {}",
                    self.log.display()
                );
            }
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "moto_server did not listen on {} within 60 s; see {}",
            self.address,
            self.log.display()
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
