//! The quickstart's actix-web app: the routes of `examples/policy.toml` behind one
//! [`CognitoAuth`] middleware, each handler answering JSON built from typed claims (the same
//! JSON as the axum app).

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpResponse, web};
use cognito_authz::Authorizer;
use cognito_authz_actix::{Claims, CognitoAuth, OptionalClaims};

use super::{AppClaims, admin_json, health_json, me_json, report_json};

/// The whole app: [`configure`]'s routes wrapped in [`middleware`].
pub fn app(
    authorizer: Authorizer,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<EitherBody<BoxBody>>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new().wrap(middleware(authorizer)).configure(configure)
}

/// The middleware that applies the authorizer's route table (the policy file) to every
/// request; wrap the `App` with it.
pub fn middleware(authorizer: Authorizer) -> CognitoAuth {
    CognitoAuth::new(authorizer)
}

/// `/health` (public), `/me` (authenticated), `/admin/{*rest}` (group admin, any method),
/// `GET /reports/{id}` (scope reports/read): the policy comes from the authorizer's route
/// table, the handlers only read claims. (`{rest:.+}` is actix's spelling of axum's
/// `{*rest}`: one or more characters, slashes included. Resources, not `route(path, …)`, so
/// another method gets 405 as in axum rather than 404.)
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/health").route(web::get().to(health)))
        .service(web::resource("/me").route(web::get().to(me)))
        .service(web::resource("/admin/{rest:.+}").route(web::route().to(admin)))
        .service(web::resource("/reports/{id}").route(web::get().to(report)));
}

async fn health(OptionalClaims(caller): OptionalClaims<AppClaims>) -> HttpResponse {
    HttpResponse::Ok().json(health_json(caller.as_deref()))
}

async fn me(Claims(claims): Claims<AppClaims>) -> HttpResponse {
    HttpResponse::Ok().json(me_json(&claims))
}

async fn admin(rest: web::Path<String>, Claims(claims): Claims<AppClaims>) -> HttpResponse {
    HttpResponse::Ok().json(admin_json(&rest, &claims))
}

async fn report(id: web::Path<String>, Claims(claims): Claims<AppClaims>) -> HttpResponse {
    HttpResponse::Ok().json(report_json(&id, &claims))
}
