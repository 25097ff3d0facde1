//! The quickstart's axum app: the routes of `examples/policy.toml` behind one
//! [`AuthzLayer`], each handler answering JSON built from typed claims.

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use cognito_authz::Authorizer;
use cognito_authz_axum::{AuthzLayer, Claims};
use serde_json::Value;

use super::{AppClaims, admin_json, health_json, me_json, report_json};

/// `/health` (public), `/me` (authenticated), `/admin/{*rest}` (group admin, any method),
/// `GET /reports/{id}` (scope reports/read): the policy comes from the authorizer's route
/// table, the handlers only read claims.
pub fn router(authorizer: Authorizer) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/me", get(me))
        .route("/admin/{*rest}", axum::routing::any(admin))
        .route("/reports/{id}", get(report))
        .layer(AuthzLayer::new(authorizer))
}

async fn health(caller: Option<Claims<AppClaims>>) -> Json<Value> {
    Json(health_json(caller.as_deref()))
}

async fn me(Claims(claims): Claims<AppClaims>) -> Json<Value> {
    Json(me_json(&claims))
}

async fn admin(Path(rest): Path<String>, Claims(claims): Claims<AppClaims>) -> Json<Value> {
    Json(admin_json(&rest, &claims))
}

async fn report(Path(id): Path<String>, Claims(claims): Claims<AppClaims>) -> Json<Value> {
    Json(report_json(&id, &claims))
}
