//! Admin pages for agencies, desks and desk cards. They call the same services as the API
//! (`crate::org`, `crate::collect::links`), which check the role; every form carries the
//! session's CSRF token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use entity::desk;
use sea_orm::{EntityTrait, QueryOrder};

use super::AppState;
use super::error::Result;
use super::pages::shown;
use super::pages::{Chrome, Staff, StaffForm, see_other};
use crate::collect::links;
use crate::domain::Role;
use crate::org::{self, NewAgency, NewDesk, Rename};

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
        .route("/admin/agencies/{code}/desks/{desk}/rotate", post(rotate))
}

struct AgencyView {
    code: String,
    name: String,
    /// Spaces showing the depth in the tree.
    indent: String,
    /// The desks it runs (its own, and those of the agencies merged into it): the desk's
    /// agency, code and name.
    desks: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    agencies: Vec<AgencyView>,
}

async fn page(State(state): State<AppState>, staff: Staff) -> Response {
    shown(view(&state, &staff).await)
}

/// Spaces showing a depth in the tree.
pub(super) fn indent(depth: usize) -> String {
    "\u{a0}\u{a0}\u{a0}".repeat(depth)
}

async fn view(state: &AppState, staff: &Staff) -> Result<AdminPage> {
    let by = &staff.signed_in.principal;
    by.require_role(&[Role::Admin])?;
    // Today's tree: an agency that merged or closed is shown in its successor's history.
    let agencies = state.context(by).agencies().await?;
    let desks = desk::Entity::find()
        .order_by_asc(desk::Column::Code)
        .all(&state.db.read)
        .await?;
    Ok(AdminPage {
        chrome: Chrome::of(&staff.signed_in),
        agencies: agencies
            .depth_first()
            .into_iter()
            .filter_map(|(id, depth)| {
                let a = agencies.get(id)?;
                let own = agencies.tree.with_carried(id);
                Some(AgencyView {
                    code: a.code.clone(),
                    name: a.name.clone(),
                    indent: indent(depth),
                    desks: desks
                        .iter()
                        .filter(|d| own.contains(&d.agency_id))
                        .map(|d| {
                            let owner = agencies.get(d.agency_id).map(|o| o.code.clone());
                            (owner.unwrap_or_default(), d.code.clone(), d.name.clone())
                        })
                        .collect(),
                })
            })
            .collect(),
    })
}

const BACK: &str = "/admin/agencies";

async fn add_agency(form: StaffForm) -> Response {
    let input = NewAgency {
        code: form.field("code"),
        name: form.field("name"),
        parent: form.optional("parent"),
        level: None,
    };
    let done = org::create_agency(&form.context(), input).await;
    see_other(done.map(|_| BACK.into()))
}

async fn rename_agency(Path(code): Path<String>, form: StaffForm) -> Response {
    let input = Rename {
        name: form.field("name"),
    };
    let done = async { org::rename_agency(&form.context(), &org::code_of(&code)?, input).await };
    let done = done.await;
    see_other(done.map(|_| BACK.into()))
}

async fn add_desk(Path(code): Path<String>, form: StaffForm) -> Response {
    let input = NewDesk {
        code: form.field("code"),
        name: form.field("name"),
    };
    let done = async { org::create_desk(&form.context(), &org::code_of(&code)?, input).await };
    let done = done.await;
    see_other(done.map(|_| BACK.into()))
}

async fn rename_desk(Path((code, desk_code)): Path<(String, String)>, form: StaffForm) -> Response {
    let input = Rename {
        name: form.field("name"),
    };
    let done = async {
        let code = org::code_of(&code)?;
        org::rename_desk(&form.context(), &code, &desk_code, input).await
    };
    let done = done.await;
    see_other(done.map(|_| BACK.into()))
}

/// The desk's printable card, its permanent link made on first use.
async fn card(path: Path<(String, String)>, form: StaffForm) -> Response {
    desk_link(path, form).await
}

/// The desk's kiosk: its permanent kiosk link made on first use, opened on this device
/// after signing it out, so that no administrator stays signed in on a public tablet.
async fn kiosk(Path((code, desk_code)): Path<(String, String)>, form: StaffForm) -> Response {
    let token = async {
        let code = org::code_of(&code)?;
        links::desk_link(&form.context(), &code, &desk_code, true).await
    };
    match token.await {
        Ok(token) => super::pages::signed_out(&form, &format!("/r/{token}?kiosk=1&lang=vi")).await,
        Err(e) => super::pages::error_page(e),
    }
}

/// Withdraws the desk's QR code and kiosk link and opens the new card, ready to print.
async fn rotate(Path((code, desk_code)): Path<(String, String)>, form: StaffForm) -> Response {
    let link = async { links::rotate(&form.context(), &org::code_of(&code)?, &desk_code).await };
    let link = link.await;
    see_other(link.map(|link| format!("/r/{}/card", link.token)))
}

/// To the desk's printable card.
async fn desk_link(Path((code, desk_code)): Path<(String, String)>, form: StaffForm) -> Response {
    let token = async {
        let code = org::code_of(&code)?;
        links::desk_link(&form.context(), &code, &desk_code, false).await
    };
    see_other(token.await.map(|token| format!("/r/{token}/card")))
}
