//! Admin pages for taking access back: `/admin/users` and `/admin/keys` (one page, two
//! sections). They call the same services as the API and the CLI (`crate::govern::access`),
//! which check the role; every form carries the session's CSRF token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use entity::agency;
use sea_orm::{EntityTrait, QueryOrder};

use super::AppState;
use super::error::Result;
use super::pages::shown;
use super::pages::{Chrome, Staff, StaffForm, error_page, see_other};
use crate::domain::Role;
use crate::govern::access::{self, UserDto};

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
    shown(view(state, staff, new_key).await)
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

async fn add_user(form: StaffForm) -> Response {
    let done = async {
        let role = role_of(&form.field("role"))?;
        access::add_user(
            &form.context(),
            &form.field("username"),
            &form.field("password"),
            role,
            form.optional("agency").as_deref(),
        )
        .await
    };
    see_other(done.await.map(|_| USERS.into()))
}

const USERS: &str = "/admin/users#users";

async fn disable(name: Path<String>, form: StaffForm) -> Response {
    set_active(name, form, false).await
}

async fn enable(name: Path<String>, form: StaffForm) -> Response {
    set_active(name, form, true).await
}

async fn set_active(Path(name): Path<String>, form: StaffForm, active: bool) -> Response {
    let done = access::set_active(&form.context(), &name, active).await;
    see_other(done.map(|_| USERS.into()))
}

async fn password(Path(name): Path<String>, form: StaffForm) -> Response {
    // Changing one's own password keeps this session and ends the others.
    let staff = &form.staff;
    let keep = (staff.signed_in.user.username == name).then_some(staff.token.as_str());
    let password = form.field("password");
    let done = access::set_password(&form.context(), &name, &password, keep).await;
    see_other(done.map(|_| USERS.into()))
}

async fn revoke(Path(id): Path<i64>, form: StaffForm) -> Response {
    let done = access::revoke_key(&form.context(), id).await;
    see_other(done.map(|_| "/admin/keys#keys".into()))
}

/// Creates a key and shows it on the page this once (never in a redirect's address).
async fn create_key(form: StaffForm) -> Response {
    let created = async {
        let role = role_of(&form.field("role"))?;
        let name = form.optional("name").filter(|n| !n.trim().is_empty());
        access::create_key(
            &form.context(),
            role,
            form.optional("agency").as_deref(),
            name.as_deref(),
        )
        .await
    }
    .await;
    match created {
        Ok(key) => {
            let mut res = show(&form.state, &form.staff, Some(key.0)).await;
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            res
        }
        Err(e) => error_page(e),
    }
}
