//! The guard on a toy router: a route without an access rule is refused to
//! everyone (after sign-in), and the principal reaches the handler.

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Request, StatusCode, header};
use strata_auth::{Authenticator, Guard, LocalIssuer};
use strata_domain::access::{Principal, Role};
use strata_domain::ports::table::Table;
use tower::ServiceExt;

async fn guarded() -> (tempfile::TempDir, Router, Arc<LocalIssuer>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = strata_embedded::EmbeddedBackend::open(dir.path()).expect("store");
    let table: Arc<dyn Table> = Arc::new(backend.table);
    let issuer = Arc::new(LocalIssuer::from_secret(&[9; 32]));
    let router = Router::new()
        .route("/v1/unlisted", get(|| async { "secret" }))
        .route(
            "/v1/churn/model",
            get(|Extension(p): Extension<Principal>| async move { p.subject }),
        );
    let guard = Guard::new(
        Authenticator::Local(issuer.clone()),
        table,
        chrono::Duration::days(1),
    );
    (dir, guard.protect(router), issuer)
}

async fn get_with(router: &Router, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn unlisted_routes_are_refused_and_listed_ones_see_the_principal() {
    let (_dir, router, issuer) = guarded().await;
    let admin = Principal::new("root-ish", Role::Admin, None, None).expect("principal");
    let token = issuer
        .mint(&admin, chrono::Duration::minutes(1))
        .expect("token");
    assert_eq!(
        get_with(&router, "/v1/unlisted", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = get_with(&router, "/v1/unlisted", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.contains("secret"));
    assert_eq!(
        get_with(&router, "/v1/churn/model", Some(&token)).await,
        (StatusCode::OK, "root-ish".to_owned())
    );
    let (status, _) = get_with(&router, "/v1/churn/model", Some("Bearer-less junk")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
