//! Admin pages for taking access back: `/admin/users` and `/admin/keys` (one page, two
//! sections). They call the same services as the API and the CLI (`crate::govern::access`),
//! which check the role; every form carries the session's CSRF token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use entity::agency;
use sea_orm::{EntityTrait, QueryOrder};

use super::AppState;
use super::error::Result;
use super::pages::shown;
use super::pages::{Chrome, Kept, Staff, StaffForm, refused, see_other};
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
    /// What the last form did, or the refused form as typed.
    saved: Option<&'static str>,
    kept: Kept,
}

/// The query of the page: what was just done.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    saved: Option<String>,
}

/// What each form did, in words.
fn saved_text(what: &str) -> Option<&'static str> {
    Some(match what {
        "user" => "Đã thêm người dùng.",
        "password" => "Đã đặt mật khẩu mới; các phiên đăng nhập khác của người đó đã kết thúc.",
        "disabled" => "Đã khóa tài khoản; mọi phiên đăng nhập của tài khoản đã kết thúc.",
        "enabled" => "Đã mở khóa tài khoản.",
        "revoked" => "Đã thu hồi khóa API.",
        _ => return None,
    })
}

const ROLES: [(&str, &str); 4] = [
    ("manager", "Lãnh đạo cơ quan (manager)"),
    ("viewer", "Người xem (viewer)"),
    ("integrator", "Hệ thống kết nối (integrator)"),
    ("admin", "Quản trị viên (admin)"),
];

/// The page: with a key just made, a confirmation, or a refused form.
#[derive(Default)]
struct Shown {
    new_key: Option<String>,
    saved: Option<&'static str>,
    kept: Kept,
}

async fn view(state: &AppState, staff: &Staff, shown: Shown) -> Result<AccessPage> {
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
        new_key: shown.new_key,
        saved: shown.saved,
        kept: shown.kept,
    })
}

async fn users_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(done): Query<Done>,
) -> Response {
    let saved = done.saved.as_deref().and_then(saved_text);
    let page = Shown {
        saved,
        ..Shown::default()
    };
    shown(view(&state, &staff, page).await)
}

async fn keys_page(state: State<AppState>, staff: Staff, done: Query<Done>) -> Response {
    users_page(state, staff, done).await
}

/// After a form: to the page saying what was done (`saved`, `anchor`), or the page again
/// with form `which` as typed and why it was refused.
async fn after<T>(
    form: &StaffForm,
    which: &str,
    done: crate::error::Result<T>,
    (saved, anchor): (&str, &str),
) -> Response {
    match done {
        Ok(_) => see_other(Ok(format!("/admin/users?saved={saved}#{anchor}"))),
        Err(e) => {
            let page = Shown {
                kept: Kept::of(which, &e, form),
                ..Shown::default()
            };
            refused(e, view(&form.state, &form.staff, page).await)
        }
    }
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
    after(&form, "user", done.await, ("user", "users")).await
}

async fn disable(name: Path<String>, form: StaffForm) -> Response {
    set_active(name, form, false).await
}

async fn enable(name: Path<String>, form: StaffForm) -> Response {
    set_active(name, form, true).await
}

async fn set_active(Path(name): Path<String>, form: StaffForm, active: bool) -> Response {
    let done = access::set_active(&form.context(), &name, active).await;
    let saved = if active { "enabled" } else { "disabled" };
    after(&form, "active", done, (saved, "users")).await
}

async fn password(Path(name): Path<String>, form: StaffForm) -> Response {
    // Changing one's own password keeps this session and ends the others.
    let staff = &form.staff;
    let keep = (staff.signed_in.user.username == name).then_some(staff.token.as_str());
    let password = form.field("password");
    let done = access::set_password(&form.context(), &name, &password, keep).await;
    after(&form, &format!("pw-{name}"), done, ("password", "users")).await
}

async fn revoke(Path(id): Path<i64>, form: StaffForm) -> Response {
    let done = access::revoke_key(&form.context(), id).await;
    after(&form, "revoke", done, ("revoked", "keys")).await
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
            let page = Shown {
                new_key: Some(key.0),
                ..Shown::default()
            };
            let mut res = shown(view(&form.state, &form.staff, page).await);
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            res
        }
        Err(e) => after(&form, "key", Err::<(), _>(e), ("", "keys")).await,
    }
}
