//! Admin pages for agencies, desks and desk cards. They call the same services as the API
//! (`crate::org`, `crate::collect::links`), which check the role; every form carries the
//! session's CSRF token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use entity::desk;
use sea_orm::{EntityTrait, QueryOrder};

use super::AppState;
use super::error::Result;
use super::pages::shown;
use super::pages::{Chrome, Kept, Staff, StaffForm, refused, see_other};
use crate::collect::links;
use crate::domain::Role;
use crate::domain::text::fold;
use crate::org::{self, NewAgency, NewDesk, Rename};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/agencies", get(page).post(add_agency))
        .route("/admin/agencies/{code}", get(detail))
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
    /// Every agency of today's tree, for the parent choice of a new one.
    all: Vec<AgencyView>,
    /// Those the search finds (all without a search).
    agencies: Vec<AgencyView>,
    q: String,
    /// The new-agency form, when it was refused.
    kept: Kept,
}

#[derive(Template)]
#[template(path = "admin_agency.html")]
struct AgencyPage {
    chrome: Chrome,
    agency: AgencyView,
    parent: Option<(String, String)>,
    saved: bool,
    /// A refused form of the page: `rename`, `desk`, or `desk-{agency}-{code}`.
    kept: Kept,
}

#[derive(Debug, Default, Deserialize)]
pub struct AdminQuery {
    q: Option<String>,
    saved: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AdminQuery>,
) -> Response {
    let q = q.q.as_deref().unwrap_or("");
    shown(view(&state, &staff, q, Kept::default()).await)
}

/// Spaces showing a depth in the tree.
pub(super) fn indent(depth: usize) -> String {
    "\u{a0}\u{a0}\u{a0}".repeat(depth)
}

/// Today's tree, depth first, each agency with the desks it runs.
async fn tree_view(state: &AppState, staff: &Staff) -> Result<Vec<AgencyView>> {
    let by = &staff.signed_in.principal;
    by.require_role(&[Role::Admin])?;
    // Today's tree: an agency that merged or closed is shown in its successor's history.
    let agencies = state.context(by).agencies().await?;
    let desks = desk::Entity::find()
        .order_by_asc(desk::Column::Code)
        .all(&state.db.read)
        .await?;
    Ok(agencies
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
        .collect())
}

/// The list: every agency, or those whose name or code holds the search (without tones).
async fn view(state: &AppState, staff: &Staff, q: &str, kept: Kept) -> Result<AdminPage> {
    let all = tree_view(state, staff).await?;
    let wanted = fold(q.trim());
    let agencies = all
        .iter()
        .filter(|a| {
            wanted.is_empty() || fold(&a.name).contains(&wanted) || fold(&a.code).contains(&wanted)
        })
        .map(|a| AgencyView {
            code: a.code.clone(),
            name: a.name.clone(),
            indent: if wanted.is_empty() {
                a.indent.clone()
            } else {
                String::new()
            },
            desks: a.desks.clone(),
        })
        .collect();
    Ok(AdminPage {
        chrome: Chrome::of(&staff.signed_in),
        all,
        agencies,
        q: q.to_string(),
        kept,
    })
}

/// One agency: its name, its desks with their cards and kiosks, new desks.
async fn detail(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    Query(q): Query<AdminQuery>,
) -> Response {
    shown(detail_view(&state, &staff, &code, q.saved.is_some(), Kept::default()).await)
}

async fn detail_view(
    state: &AppState,
    staff: &Staff,
    code: &str,
    saved: bool,
    kept: Kept,
) -> Result<AgencyPage> {
    let code = org::code_of(code)?;
    let all = tree_view(state, staff).await?;
    let agencies = state.context(&staff.signed_in.principal).agencies().await?;
    let found = agencies.by_code(code.as_str())?;
    let parent = agencies
        .get_parent(found)
        .map(|p| (p.name.clone(), format!("/admin/agencies/{}", p.code)));
    let agency = all
        .into_iter()
        .find(|a| a.code == code.as_str())
        .ok_or_else(|| crate::Error::not_found("agency_not_found", "no such agency today"))?;
    Ok(AgencyPage {
        chrome: Chrome::of(&staff.signed_in),
        agency,
        parent,
        saved,
        kept,
    })
}

/// After a form of agency `code`'s page: back to it saying so, or the page again with
/// the form as typed and why it was refused.
async fn on_agency_page<T>(
    form: &StaffForm,
    code: &str,
    which: &str,
    done: crate::error::Result<T>,
) -> Response {
    match done {
        Ok(_) => see_other(Ok(back_to(code))),
        Err(e) => {
            let kept = Kept::of(which, &e, form);
            refused(
                e,
                detail_view(&form.state, &form.staff, code, false, kept).await,
            )
        }
    }
}

/// Where a form about agency `code` returns: its page, saying it was saved.
fn back_to(code: &str) -> String {
    format!("/admin/agencies/{code}?saved=1")
}

async fn add_agency(form: StaffForm) -> Response {
    let input = NewAgency {
        code: form.field("code"),
        name: form.field("name"),
        parent: form.optional("parent"),
        level: None,
    };
    match org::create_agency(&form.context(), input).await {
        Ok(a) => see_other(Ok(back_to(&a.code))),
        Err(e) => {
            let kept = Kept::of("agency", &e, &form);
            refused(e, view(&form.state, &form.staff, "", kept).await)
        }
    }
}

async fn rename_agency(Path(code): Path<String>, form: StaffForm) -> Response {
    let input = Rename {
        name: form.field("name"),
    };
    let done = async { org::rename_agency(&form.context(), &org::code_of(&code)?, input).await };
    on_agency_page(&form, &code, "rename", done.await).await
}

async fn add_desk(Path(code): Path<String>, form: StaffForm) -> Response {
    let input = NewDesk {
        code: form.field("code"),
        name: form.field("name"),
    };
    let done = async { org::create_desk(&form.context(), &org::code_of(&code)?, input).await };
    on_agency_page(&form, &code, "desk", done.await).await
}

async fn rename_desk(Path((code, desk_code)): Path<(String, String)>, form: StaffForm) -> Response {
    let input = Rename {
        name: form.field("name"),
    };
    let done = async {
        let code = org::code_of(&code)?;
        org::rename_desk(&form.context(), &code, &desk_code, input).await
    };
    let which = format!("desk-{code}-{desk_code}");
    on_agency_page(&form, &code, &which, done.await).await
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
