//! Operations: `/healthz`, `/metrics` (Prometheus text) and `/api/openapi.json` (generated
//! from the handlers' annotations, never written by hand).

use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::error::Error;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/api/openapi.json", get(openapi_json))
}

/// The process-wide metrics recorder, installed on first use.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; the handle still renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// 200 when the database answers and takes writes, 503 otherwise. While the last write
/// failed, each call tries one real write, so health returns by itself once the fault
/// clears.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = super::error::ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, Error> {
    let unavailable = |code, message| {
        Err(Error::unavailable(code, message).with_retry_after(crate::collect::store::RETRY_AFTER))
    };
    if !state.db.ping().await {
        return unavailable("database_unavailable", "the database does not answer");
    }
    if state.db.health.failing() && !state.db.probe_write().await {
        return unavailable("writes_failing", "the database does not take writes");
    }
    Ok(Json(Health { status: "ok" }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let handle = metrics_handle();
    // Kept tallies of closed periods (`rollup::kept`): their bound in use.
    metrics::gauge!("hailong_kept_tallies").set(state.db.kept.len() as f64);
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    (StatusCode::OK, Json(ApiDoc::openapi()))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hailong",
        description = "Citizen-satisfaction surveys for one-stop administrative service desks. \
                       Errors have one shape: {\"error\": {\"code\", \"message\", \"field\"?, \"row\"?}}."
    ),
    paths(
        healthz,
        metrics_text,
        openapi_json,
        super::agencies::list_agencies,
        super::agencies::create_agency,
        super::agencies::get_agency,
        super::agencies::list_desks,
        super::agencies::create_desk,
        super::agencies::rename_agency,
        super::agencies::rename_desk,
        super::agencies::agency_history,
        super::agencies::reorganise,
        super::agencies::list_reorganisations,
        super::follow_api::list_cases,
        super::follow_api::reply,
        super::follow_api::get_calendar,
        super::follow_api::put_calendar,
        super::follow_api::put_dossiers,
        super::follow_api::import_dossiers,
        super::follow_api::create_webhook,
        super::follow_api::list_webhooks,
        super::follow_api::delete_webhook,
        super::follow_api::deliveries,
        super::links::create_link,
        super::links::revoke_link,
        super::links::rotate_desk,
        super::links::qr_png,
        super::links::qr_svg,
        super::responses::submit,
        super::responses::list,
        super::responses::import_responses,
        super::responses::exclude,
        super::reports::agency_report,
        super::reports::annual_report,
        super::reports::freeze,
        super::reports::verify,
        super::reports::canonical,
        super::reports::get_settings,
        super::reports::put_settings,
        super::charts::province_chart,
        super::charts::agency_chart,
        super::access::list_keys,
        super::access::create_key,
        super::access::revoke_key,
        super::access::list_users,
        super::access::add_user,
        super::access::disable_user,
        super::access::enable_user,
        super::review::get_rules,
        super::review::put_rules,
        super::review::held,
        super::review::release,
        super::review::release_many,
        super::review::exclude_many,
    ),
    components(schemas(super::error::ErrorBody, super::error::ErrorDetail)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, metrics and this document"),
        (name = "agencies", description = "The agency tree and its desks"),
        (name = "links", description = "Rating links and their QR codes"),
        (name = "responses", description = "Ratings"),
        (name = "reports", description = "Figures computed by the scoring method"),
        (name = "charts", description = "The figures drawn, PNG or SVG, Vietnamese text in the bundled font"),
        (name = "access", description = "API keys and web users: create, list, revoke, disable"),
        (name = "review", description = "Integrity rules, held ratings and decisions on them"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
