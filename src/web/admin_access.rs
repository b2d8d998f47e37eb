//! Admin pages for taking access back: `/admin/users` and `/admin/keys` (one page, two
//! sections). They call the same services as the API and the CLI (`crate::govern::access`),
//! which check the role; every form carries the session's CSRF token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use entity::agency;
use sea_orm::{EntityTrait, QueryOrder};

use super::AppState;
use super::admin::{act, field};
use super::error::Result;
use super::form::render;
use super::pages::{Chrome, Staff, check_csrf, error_page, forbidden_page, form_fields};
use crate::domain::Role;
use crate::govern::access::{self, UserDto};
use crate::govern::{keys, users};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users_page).post(add_user))
        .route("/admin/users/{name}/disable", post(disable))
        .route("/admin/users/{name}/enable", post(enable))
        .route("/admin/users/{name}/password", post(password))
        .route("/admin/keys", get(keys_page).post(create_key))
        .route("/admin/keys/{id}/revoke", post(revoke))
}

struct KeyRow {
    id: i64,
    prefix: String,
    name: String,
    role: String,
    agency: Option<String>,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "admin_access.html")]
struct AccessPage {
    chrome: Chrome,
    users: Vec<UserDto>,
    keys: Vec<KeyRow>,
    roles: Vec<(&'static str, &'static str)>,
    agencies: Vec<(String, String)>,
    /// A key just created: shown this once.
    new_key: Option<String>,
}

const ROLES: [(&str, &str); 4] = [
    ("manager", "Lãnh đạo cơ quan (manager)"),
    ("viewer", "Người xem (viewer)"),
    ("integrator", "Hệ thống kết nối (integrator)"),
    ("admin", "Quản trị viên (admin)"),
];

async fn view(state: &AppState, staff: &Staff, new_key: Option<String>) -> Result<AccessPage> {
    let by = &staff.signed_in.principal;
    by.require_role(&[Role::Admin])?;
    let users = access::list_users(&state.context(by)).await?;
    let keys = access::list_keys(&state.context(by))
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            prefix: k.prefix,
            name: k.name,
            role: k.role,
            agency: k.agency,
            last_used: k.last_used_at.map_or("chưa dùng".to_string(), |t| {
                t.with_timezone(&state.config.timezone)
                    .format("%d/%m/%Y %H:%M")
                    .to_string()
            }),
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    let agencies = agency::Entity::find()
        .order_by_asc(agency::Column::Code)
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(|a| (a.code, a.name))
        .collect();
    Ok(AccessPage {
        chrome: Chrome::of(&staff.signed_in),
        users,
        keys,
        roles: ROLES.to_vec(),
        agencies,
        new_key,
    })
}

async fn show(state: &AppState, staff: &Staff, new_key: Option<String>) -> Response {
    match view(state, staff, new_key).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(e),
    }
}

async fn users_page(State(state): State<AppState>, staff: Staff) -> Response {
    show(&state, &staff, None).await
}

async fn keys_page(State(state): State<AppState>, staff: Staff) -> Response {
    show(&state, &staff, None).await
}

fn role_of(raw: &str) -> Result<Role> {
    raw.parse()
        .map_err(|e| super::error::Error::invalid("role", e))
}

fn agency_of(f: &std::collections::HashMap<String, String>) -> Option<String> {
    Some(field(f, "agency")).filter(|a| !a.is_empty())
}

async fn add_user(State(state): State<AppState>, staff: Staff, form: RawForm) -> Response {
    let by = staff.signed_in.principal.clone();
    act(&staff, &form, |f| async move {
        let role = role_of(&field(&f, "role"))?;
        users::add(
            &state.db,
            &by,
            &field(&f, "username"),
            &field(&f, "password"),
            role,
            agency_of(&f).as_deref(),
        )
        .await?;
        Ok("/admin/users#users".to_string())
    })
    .await
}

async fn disable(
    state: State<AppState>,
    staff: Staff,
    name: Path<String>,
    form: RawForm,
) -> Response {
    set_active(state, staff, name, form, false).await
}

async fn enable(
    state: State<AppState>,
    staff: Staff,
    name: Path<String>,
    form: RawForm,
) -> Response {
    set_active(state, staff, name, form, true).await
}

async fn set_active(
    State(state): State<AppState>,
    staff: Staff,
    Path(name): Path<String>,
    form: RawForm,
    active: bool,
) -> Response {
    let by = staff.signed_in.principal.clone();
    act(&staff, &form, |_| async move {
        access::set_active(&state.context(&by), &name, active).await?;
        Ok("/admin/users#users".to_string())
    })
    .await
}

async fn password(
    State(state): State<AppState>,
    staff: Staff,
    Path(name): Path<String>,
    form: RawForm,
) -> Response {
    let by = staff.signed_in.principal.clone();
    // Changing one's own password keeps this session and ends the others.
    let keep = (staff.signed_in.user.username == name).then(|| staff.token.clone());
    act(&staff, &form, |f| async move {
        access::set_password(
            &state.context(&by),
            &name,
            &field(&f, "password"),
            keep.as_deref(),
        )
        .await?;
        Ok("/admin/users#users".to_string())
    })
    .await
}

async fn revoke(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    form: RawForm,
) -> Response {
    let by = staff.signed_in.principal.clone();
    act(&staff, &form, |_| async move {
        access::revoke_key(&state.context(&by), id).await?;
        Ok("/admin/keys#keys".to_string())
    })
    .await
}

/// Creates a key and shows it on the page this once (never in a redirect's address).
async fn create_key(State(state): State<AppState>, staff: Staff, form: RawForm) -> Response {
    let fields = form_fields(&form);
    if !check_csrf(&staff, &fields) {
        return forbidden_page();
    }
    let by = staff.signed_in.principal.clone();
    let created = async {
        let role = role_of(&field(&fields, "role"))?;
        let name = Some(field(&fields, "name")).filter(|n| !n.trim().is_empty());
        keys::create(
            &state.db,
            &by,
            role,
            agency_of(&fields).as_deref(),
            name.as_deref(),
        )
        .await
    }
    .await;
    match created {
        Ok(key) => {
            let mut res = show(&state, &staff, Some(key.secret)).await;
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            res
        }
        Err(e) => error_page(e),
    }
}
