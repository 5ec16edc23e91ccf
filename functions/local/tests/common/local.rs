//! The local host on a fresh data directory, its router behind the local
//! token guard, and tokens for any principal.

use std::sync::Arc;

use axum::Router;
use chrono::Duration;
use strata_auth::{Authenticator, LocalIssuer};
use strata_domain::ReadOptions;
use strata_domain::access::{Principal, Role};
use strata_domain::ids::{CustomerId, SalespersonId};
use strata_local::host::Host;

pub struct LocalApi {
    pub dir: tempfile::TempDir,
    pub host: Host,
    pub router: Router,
    pub issuer: Arc<LocalIssuer>,
}

impl LocalApi {
    /// Tokens are signed with a key of 32 bytes of `secret`.
    pub async fn open(secret: u8) -> LocalApi {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = Host::open(dir.path(), ReadOptions::default())
            .await
            .expect("the local host (ONNX Runtime via ORT_DYLIB_PATH; run `cargo xtask test`)");
        let issuer = Arc::new(LocalIssuer::from_secret(&[secret; 32]));
        let router = host.router(Authenticator::Local(issuer.clone()));
        LocalApi {
            dir,
            host,
            router,
            issuer,
        }
    }

    pub fn token(
        &self,
        role: Role,
        customer: Option<CustomerId>,
        salesperson: Option<&str>,
    ) -> String {
        let salesperson = salesperson.map(|s| SalespersonId::parse("s", s).expect("salesperson"));
        let subject = format!("{}-1", role.name());
        let principal = Principal::new(subject, role, customer, salesperson).expect("principal");
        self.issuer
            .mint(&principal, Duration::minutes(10))
            .expect("token")
    }

    pub fn admin(&self) -> String {
        self.token(Role::Admin, None, None)
    }
}
