//! Admin pages for agencies, desks and desk cards. They call the same services as the API
//! (`crate::org`, `crate::collect::links`), which check the role; every form carries the
//! session's CSRF token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use entity::{agency, desk};
use sea_orm::{EntityTrait, QueryOrder};

use super::AppState;
use super::error::Result;
use super::form::render;
use super::pages::{Chrome, Staff, check_csrf, error_page, forbidden_page, form_fields};
use crate::collect::links;
use crate::domain::Role;
use crate::org::{self, NewAgency, NewDesk, Rename, Tree};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/agencies", get(page).post(add_agency))
        .route("/admin/agencies/{code}/rename", post(rename_agency))
        .route("/admin/agencies/{code}/desks", post(add_desk))
        .route(
            "/admin/agencies/{code}/desks/{desk}/rename",
            post(rename_desk),
        )
        .route("/admin/agencies/{code}/desks/{desk}/card", post(card))
        .route("/admin/agencies/{code}/desks/{desk}/kiosk", post(kiosk))
}

struct AgencyView {
    code: String,
    name: String,
    /// Spaces showing the depth in the tree.
    indent: String,
    desks: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    agencies: Vec<AgencyView>,
}

async fn page(State(state): State<AppState>, staff: Staff) -> Response {
    match view(&state, &staff).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(e),
    }
}

async fn view(state: &AppState, staff: &Staff) -> Result<AdminPage> {
    staff.signed_in.principal.require_role(&[Role::Admin])?;
    let all = agency::Entity::find()
        .order_by_asc(agency::Column::Code)
        .all(&state.db.read)
        .await?;
    let desks = desk::Entity::find()
        .order_by_asc(desk::Column::Code)
        .all(&state.db.read)
        .await?;
    let tree = Tree::from_edges(all.iter().map(|a| (a.id, a.parent_id)));
    let by_id: std::collections::HashMap<i64, &agency::Model> =
        all.iter().map(|a| (a.id, a)).collect();
    // Parents before children, depth first.
    let mut order: Vec<(i64, usize)> = Vec::new();
    let mut stack: Vec<(i64, usize)> = all
        .iter()
        .filter(|a| a.parent_id.is_none())
        .rev()
        .map(|a| (a.id, 0))
        .collect();
    while let Some((id, depth)) = stack.pop() {
        order.push((id, depth));
        for child in tree.children(id).iter().rev() {
            stack.push((*child, depth + 1));
        }
    }
    Ok(AdminPage {
        chrome: Chrome::of(&staff.signed_in),
        agencies: order
            .into_iter()
            .filter_map(|(id, depth)| {
                let a = by_id.get(&id)?;
                Some(AgencyView {
                    code: a.code.clone(),
                    name: a.name.clone(),
                    indent: "\u{a0}\u{a0}\u{a0}".repeat(depth),
                    desks: desks
                        .iter()
                        .filter(|d| d.agency_id == id)
                        .map(|d| (d.code.clone(), d.name.clone()))
                        .collect(),
                })
            })
            .collect(),
    })
}

/// Runs a form's action after its CSRF check; back to the admin page when it worked.
pub(super) async fn act<F, Fut>(staff: &Staff, form: &RawForm, action: F) -> Response
where
    F: FnOnce(std::collections::HashMap<String, String>) -> Fut,
    Fut: std::future::Future<Output = Result<String>>,
{
    let fields = form_fields(form);
    if !check_csrf(staff, &fields) {
        return forbidden_page();
    }
    match action(fields).await {
        Ok(to) => {
            let mut res = Redirect::to(&to).into_response();
            *res.status_mut() = StatusCode::SEE_OTHER;
            res
        }
        Err(e) => error_page(e),
    }
}

pub(super) fn field(fields: &std::collections::HashMap<String, String>, key: &str) -> String {
    fields.get(key).cloned().unwrap_or_default()
}

const BACK: &str = "/admin/agencies";

async fn add_agency(State(state): State<AppState>, staff: Staff, form: RawForm) -> Response {
    let by = staff.signed_in.principal.clone();
    act(&staff, &form, |f| async move {
        let input = NewAgency {
            code: field(&f, "code"),
            name: field(&f, "name"),
            parent: Some(field(&f, "parent")).filter(|p| !p.is_empty()),
            level: None,
        };
        org::create_agency(&state.context(&by), input).await?;
        Ok(BACK.to_string())
    })
    .await
}

async fn rename_agency(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    form: RawForm,
) -> Response {
    let by = staff.signed_in.principal.clone();
    act(&staff, &form, |f| async move {
        let input = Rename {
            name: field(&f, "name"),
        };
        org::rename_agency(&state.context(&by), &code, input).await?;
        Ok(BACK.to_string())
    })
    .await
}

async fn add_desk(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    form: RawForm,
) -> Response {
    let by = staff.signed_in.principal.clone();
    act(&staff, &form, |f| async move {
        let input = NewDesk {
            code: field(&f, "code"),
            name: field(&f, "name"),
        };
        org::create_desk(&state.context(&by), &code, input).await?;
        Ok(BACK.to_string())
    })
    .await
}

async fn rename_desk(
    State(state): State<AppState>,
    staff: Staff,
    Path((code, desk_code)): Path<(String, String)>,
    form: RawForm,
) -> Response {
    let by = staff.signed_in.principal.clone();
    act(&staff, &form, |f| async move {
        let input = Rename {
            name: field(&f, "name"),
        };
        org::rename_desk(&state.context(&by), &code, &desk_code, input).await?;
        Ok(BACK.to_string())
    })
    .await
}

/// The desk's printable card, its permanent link made on first use.
async fn card(
    State(state): State<AppState>,
    staff: Staff,
    Path((code, desk_code)): Path<(String, String)>,
    form: RawForm,
) -> Response {
    desk_link(state, staff, code, desk_code, form, false).await
}

/// The desk's kiosk: its permanent kiosk link made on first use, opened on this device.
async fn kiosk(
    State(state): State<AppState>,
    staff: Staff,
    Path((code, desk_code)): Path<(String, String)>,
    form: RawForm,
) -> Response {
    desk_link(state, staff, code, desk_code, form, true).await
}

/// To the desk's card, or to its kiosk form.
async fn desk_link(
    state: AppState,
    staff: Staff,
    code: String,
    desk_code: String,
    form: RawForm,
    kiosk: bool,
) -> Response {
    let by = staff.signed_in.principal.clone();
    act(&staff, &form, |_| async move {
        let token = links::desk_link(&state.context(&by), &code, &desk_code, kiosk).await?;
        Ok(if kiosk {
            format!("/r/{token}")
        } else {
            format!("/r/{token}/card")
        })
    })
    .await
}
