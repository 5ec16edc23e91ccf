//! Checks of the SAM templates: cfn-lint with the serverless rules, and
//! checkov's policies, both offline; and openapi-spec-validator on the
//! HTTP API's document. A finding fails the run; a deliberate
//! exception is skipped inline in the template's resource `Metadata`, with
//! its reason.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::python::Venv;

pub const TEMPLATES: [&str; 2] = ["infra/template.yaml", "infra/archive.yaml"];

/// The checks, their output kept (to print after work running beside them).
pub fn lint_captured(root: &Path, venv: &Venv, output: &mut String) -> anyhow::Result<()> {
    let mut cfn_lint = Command::new(venv.bin("cfn-lint"));
    cfn_lint
        .current_dir(root)
        .args(["--append-rules", "cfn_lint_serverless.rules", "--"])
        .args(TEMPLATES)
        // The SAM transform wants a region; nothing is called.
        .env("AWS_DEFAULT_REGION", "us-east-1");
    run(&mut cfn_lint, "cfn-lint", output)?;
    let mut checkov = Command::new(venv.bin("checkov"));
    checkov.current_dir(root);
    for template in TEMPLATES {
        checkov.args(["-f", template]);
    }
    checkov
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "--compact",
            "--quiet",
        ])
        // No telemetry, no update check: the machines are offline.
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false");
    run(&mut checkov, "checkov", output)?;
    let mut openapi = Command::new(venv.bin("openapi-spec-validator"));
    openapi.current_dir(root).arg("infra/openapi.yaml");
    run(&mut openapi, "openapi-spec-validator", output)?;
    output.push_str(
        "templates: cfn-lint (with serverless rules) and checkov found nothing; infra/openapi.yaml is valid OpenAPI\n",
    );
    Ok(())
}

fn run(command: &mut Command, what: &str, output: &mut String) -> anyhow::Result<()> {
    let done = command
        .output()
        .with_context(|| format!("starting {what}"))?;
    output.push_str(&String::from_utf8_lossy(&done.stdout));
    output.push_str(&String::from_utf8_lossy(&done.stderr));
    let status = done.status;
    if !status.success() {
        bail!(
            "{what} found problems in the templates ({status}); fix them or skip inline with a reason"
        );
    }
    Ok(())
}
