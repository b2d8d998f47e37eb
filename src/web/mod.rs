//! HTTP: the router, shared state, middleware (trace span, metrics, body limit, panic
//! catching) and the handlers, grouped by resource.

pub mod access;
pub mod admin;
pub mod admin_access;
pub mod admin_reorganise;
pub mod agencies;
mod auth;
pub mod charts;
pub mod client;
pub mod cookies;
pub mod edge;
pub mod error;
pub mod extract;
pub mod follow;
pub mod follow_api;
pub mod form;
pub mod inbox;
pub mod links;
pub mod ops;
pub mod pages;
pub mod reports;
pub mod responses;
pub mod review;
pub mod server;
pub mod year_end;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::collect::questionnaire;
use crate::config::Config;
use crate::db::Db;
use error::Error;

/// Request bodies above this get 413 (the import endpoint has its own, larger limit).
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub intake: crate::collect::intake::Intake,
    pub questionnaires: questionnaire::Cache,
    pub places: crate::org::Places,
    pub charts: crate::chart::Cache,
    pub login: Arc<crate::govern::login::LoginGuard>,
    /// Listings streamed at once ([`EXPORTS_AT_ONCE`]), so that readers never take the
    /// connections that ratings and `/healthz` need.
    pub exports: Arc<tokio::sync::Semaphore>,
}

/// How many response listings may stream at once; a further one waits a few seconds,
/// then gets 503 with `Retry-After`.
pub const EXPORTS_AT_ONCE: usize = 2;

impl AppState {
    /// The context of a use case called by `by`.
    pub fn context<'a>(&'a self, by: &'a crate::govern::Principal) -> crate::app::Context<'a> {
        crate::app::Context::new(&self.db, by, &self.config)
    }

    /// Starts the intake of ratings (and its writer) on the current runtime.
    pub fn new(db: Db, config: Config) -> Self {
        Self {
            intake: crate::collect::intake::Intake::start(
                db.clone(),
                config.timezone,
                config.rate_limit,
                config.follow_up_days,
            ),
            login: Arc::new(crate::govern::login::LoginGuard::new(config.login_limit)),
            exports: Arc::new(tokio::sync::Semaphore::new(EXPORTS_AT_ONCE)),
            db,
            config: Arc::new(config),
            questionnaires: questionnaire::Cache::default(),
            places: crate::org::Places::default(),
            charts: crate::chart::Cache::default(),
        }
    }
}

impl AppState {
    /// A place among the listings that stream at once, after a short wait at most.
    pub async fn export_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        let wait = std::time::Duration::from_secs(5);
        match tokio::time::timeout(wait, self.exports.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Error::unavailable(
                "exports_busy",
                "other exports are running; please try again in a minute",
            )
            .with_retry_after(std::time::Duration::from_secs(30))),
        }
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    layered(
        Router::new()
            .merge(ops::router())
            .merge(access::router())
            .merge(agencies::router())
            .merge(links::router())
            .merge(responses::router())
            .merge(review::router())
            .merge(reports::router())
            .merge(charts::router())
            .merge(pages::router())
            .merge(admin::router())
            .merge(admin_access::router())
            .merge(year_end::router())
            .merge(admin_reorganise::router())
            .merge(form::router())
            .merge(follow::router())
            .merge(follow_api::router())
            .merge(inbox::router())
            .route("/favicon.ico", axum::routing::get(favicon))
            .route("/favicon.svg", axum::routing::get(favicon)),
        state,
    )
}

/// `routes` wrapped in the middleware every route gets.
pub fn layered(routes: Router<AppState>, state: AppState) -> Router {
    // Install the recorder before the first request, so that no request goes uncounted.
    ops::metrics_handle();
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyTimeoutLayer::new(server::BODY_STALL))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                // The panic message goes to the log through the panic hook, never to the client.
                Error::internal("a handler panicked").into_response()
            },
        ))
        .layer(middleware::from_fn(error::log_failures))
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn(edge::refuse_nul))
        .layer(middleware::from_fn(edge::shape_answers))
        .layer(CompressionLayer::new().gzip(true))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // Never the query string, and never a rating token.
                    tracing::info_span!("http", method = %req.method(),
                        path = %edge::loggable_path(req.uri().path()))
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// Nothing here: a Vietnamese page for a browser (it asks for `text/html`) outside the API,
/// the JSON error for the rest.
async fn not_found(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    let e = Error::not_found("not_found", "there is nothing at this address");
    let browser = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if browser && !uri.path().starts_with("/api/") {
        pages::error_page(e)
    } else {
        e.into_response()
    }
}

/// The icon browsers ask for: the product's mark, drawn (an SVG, kept a day).
async fn favicon() -> Response {
    const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">\
<rect width=\"32\" height=\"32\" rx=\"6\" fill=\"#0b3d6e\"/>\
<circle cx=\"16\" cy=\"16\" r=\"10\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.5\"/>\
<circle cx=\"12.5\" cy=\"13.5\" r=\"1.6\" fill=\"#fff\"/><circle cx=\"19.5\" cy=\"13.5\" r=\"1.6\" fill=\"#fff\"/>\
<path d=\"M11 18.5q5 5 10 0\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.2\" stroke-linecap=\"round\"/></svg>";
    (
        [
            (axum::http::header::CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
        .into_response()
}

async fn method_not_allowed() -> Error {
    Error::new(
        error::Kind::MethodNotAllowed,
        "method_not_allowed",
        "this address does not answer that method",
    )
}

/// Counts requests and their latency per route pattern (never per raw path, which would
/// put tokens into metric labels).
async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("hailong_http_requests_total", &labels).increment(1);
    metrics::histogram!("hailong_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
