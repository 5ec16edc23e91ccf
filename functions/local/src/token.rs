//! `strata token`: a bearer token for `strata serve`, signed with the data
//! directory's local key and carrying the claims an identity provider would
//! (role in `cognito:groups`, `strata:customer_id`, `strata:salesperson_id`).

use std::path::PathBuf;

use anyhow::Context;
use strata_auth::LocalIssuer;
use strata_domain::access::{Principal, Role};
use strata_domain::ids::{CustomerId, SalespersonId};

#[derive(clap::Args)]
pub struct TokenArgs {
    /// The data directory `strata serve` uses (its key is in `auth/`).
    #[arg(long, default_value = ".strata/demo")]
    data_dir: PathBuf,
    /// admin, ops, sales or customer.
    #[arg(long)]
    role: String,
    /// For `--role customer`: the customer id the token belongs to.
    #[arg(long)]
    customer: Option<String>,
    /// For `--role sales`: the salesperson customers are assigned to.
    #[arg(long)]
    salesperson: Option<String>,
    /// The token's subject; `local-<role>` if not given.
    #[arg(long)]
    subject: Option<String>,
    /// Minutes the token is valid.
    #[arg(long, default_value_t = 720)]
    minutes: i64,
}

/// Prints the token alone, for `TOKEN=$(strata token --role admin)`.
pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let role = Role::from_name(&args.role)
        .with_context(|| format!("--role {}: use admin, ops, sales or customer", args.role))?;
    let customer = args
        .customer
        .as_deref()
        .map(|raw| CustomerId::parse("--customer", raw))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let salesperson = args
        .salesperson
        .as_deref()
        .map(|raw| SalespersonId::parse("--salesperson", raw))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let subject = args
        .subject
        .unwrap_or_else(|| format!("local-{}", role.name()));
    let principal = Principal::new(subject, role, customer, salesperson)
        .context("--customer is needed for customers, --salesperson for sales")?;
    let issuer = LocalIssuer::open(&args.data_dir)?;
    println!(
        "{}",
        issuer.mint(&principal, chrono::Duration::minutes(args.minutes))?
    );
    Ok(())
}
