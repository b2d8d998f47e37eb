//! Admin pages for reorganisations: a form (the kind of change, the agencies, the
//! successor, the date, the reason), a preview of each agency before and after (checked
//! and written as the real thing would be, then rolled back), a confirmation, and each
//! agency's history. They call `crate::org::reorganise` like the API.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::AppState;
use super::error::Result;
use super::form::render;
use super::pages::shown;
use super::pages::{Chrome, Staff, StaffForm, error_page, see_other};
use crate::domain::Role;
use crate::org::reorganise::{
    self, AgencyHistory, Change, NewReorganisation, PreviewLine, TreeLine,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/reorganisations", get(page).post(confirm))
        .route("/admin/reorganisations/preview", post(preview))
        .route("/admin/agencies/{code}/history", get(history_page))
}

/// The form's fields, as sent: kept when the form is shown again.
#[derive(Debug, Clone, Default)]
struct Fields {
    kind: String,
    effective: String,
    reason: String,
    from: Vec<String>,
    agency: String,
    into: String,
    new_code: String,
    new_name: String,
    parent: String,
}

impl Fields {
    fn of(form: &StaffForm) -> Self {
        Self {
            kind: form.field("kind"),
            effective: form.field("effective"),
            reason: form.field("reason"),
            from: form.all("from"),
            agency: form.field("agency"),
            into: form.field("into"),
            new_code: form.field("new_code").trim().to_string(),
            new_name: form.field("new_name"),
            parent: form.field("parent"),
        }
    }

    /// The one change the form describes.
    fn change(&self) -> Change {
        let parent = Some(Some(self.parent.clone()).filter(|p| !p.is_empty()));
        match self.kind.as_str() {
            "merge" => {
                let new = self.into.is_empty();
                Change::Merge {
                    from: self.from.clone(),
                    into: if new {
                        self.new_code.clone()
                    } else {
                        self.into.clone()
                    },
                    name: Some(self.new_name.clone()).filter(|n| new && !n.is_empty()),
                    parent: parent.filter(|_| new),
                }
            }
            "move" => Change::Move {
                agency: self.agency.clone(),
                parent,
            },
            "rename" => Change::Rename {
                agency: self.agency.clone(),
                name: self.new_name.clone(),
            },
            _ => Change::Close {
                agency: self.agency.clone(),
            },
        }
    }

    fn input(&self) -> NewReorganisation {
        NewReorganisation {
            effective: self.effective.clone(),
            reason: self.reason.clone(),
            changes: vec![self.change()],
        }
    }
}

/// A live agency to pick.
struct Choice {
    code: String,
    name: String,
    indent: String,
}

struct Applied {
    effective: String,
    reason: String,
    changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "reorganise.html")]
struct ReorganisePage {
    chrome: Chrome,
    agencies: Vec<Choice>,
    fields: Fields,
    error: Option<String>,
    applied: Vec<Applied>,
}

#[derive(Template)]
#[template(path = "reorganise_preview.html")]
struct PreviewPage {
    chrome: Chrome,
    fields: Fields,
    effective: String,
    reason: String,
    lines: Vec<PreviewLine>,
    /// The part of the tree that changes: the day before, and from the effective day.
    trees: [(&'static str, Vec<TreeLine>); 2],
}

#[derive(Template)]
#[template(path = "agency_history.html")]
struct HistoryPage {
    chrome: Chrome,
    name: String,
    history: AgencyHistory,
}

/// One change in words.
fn describe(change: &Change) -> String {
    match change {
        Change::Merge { from, into, .. } => format!("Sáp nhập {} vào {into}", from.join(", ")),
        Change::Move { agency, parent } => format!(
            "Chuyển {agency} về trực thuộc {}",
            parent
                .clone()
                .flatten()
                .unwrap_or_else(|| "cấp cao nhất".into())
        ),
        Change::Rename { agency, name } => format!("Đổi tên {agency} thành “{name}”"),
        Change::Close { agency } => format!("Giải thể {agency}"),
    }
}

async fn form_page(
    state: &AppState,
    staff: &Staff,
    fields: Fields,
    error: Option<String>,
) -> Result<ReorganisePage> {
    let by = &staff.signed_in.principal;
    by.require_role(&[Role::Admin])?;
    let cx = state.context(by);
    let agencies = cx.agencies().await?;
    let agencies_list = agencies
        .depth_first()
        .into_iter()
        .filter_map(|(id, depth)| {
            let a = agencies.get(id)?;
            Some(Choice {
                code: a.code.clone(),
                name: a.name.clone(),
                indent: super::admin::indent(depth),
            })
        })
        .collect();
    let applied = reorganise::list(&cx)
        .await?
        .into_iter()
        .map(|r| Applied {
            effective: r.effective.format("%d/%m/%Y").to_string(),
            reason: r.reason,
            changes: r.changes.iter().map(describe).collect(),
        })
        .collect();
    Ok(ReorganisePage {
        chrome: Chrome::of(&staff.signed_in),
        agencies: agencies_list,
        fields,
        error,
        applied,
    })
}

async fn page(State(state): State<AppState>, staff: Staff) -> Response {
    let fields = Fields {
        kind: "merge".into(),
        ..Fields::default()
    };
    shown(form_page(&state, &staff, fields, None).await)
}

/// The form again, its input kept, with what is wrong (422).
async fn again(form: &StaffForm, fields: Fields, e: crate::Error) -> Response {
    if e.kind != crate::error::Kind::Unprocessable {
        return error_page(e);
    }
    match form_page(
        &form.state,
        &form.staff,
        fields,
        Some(super::pages::message_vi(&e)),
    )
    .await
    {
        Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
        Err(e) => error_page(e),
    }
}

async fn preview(form: StaffForm) -> Response {
    let fields = Fields::of(&form);
    match reorganise::preview(&form.context(), fields.input()).await {
        Ok(p) => render(
            StatusCode::OK,
            &PreviewPage {
                chrome: Chrome::of(&form.staff.signed_in),
                effective: p.effective.format("%d/%m/%Y").to_string(),
                reason: p.reason,
                lines: p.lines,
                trees: [
                    ("Ngày trước hiệu lực", p.tree_before),
                    ("Từ ngày hiệu lực", p.tree_after),
                ],
                fields,
            },
        ),
        Err(e) => again(&form, fields, e).await,
    }
}

async fn confirm(form: StaffForm) -> Response {
    let fields = Fields::of(&form);
    match reorganise::reorganise(&form.context(), fields.input()).await {
        Ok(done) => {
            let to = done
                .changes
                .first()
                .map(|c| match c {
                    Change::Merge { into, .. } => into.clone(),
                    Change::Move { agency, .. }
                    | Change::Rename { agency, .. }
                    | Change::Close { agency } => agency.clone(),
                })
                .map_or("/admin/reorganisations".to_string(), |code| {
                    format!("/admin/agencies/{code}/history")
                });
            see_other(Ok(to))
        }
        Err(e) => again(&form, fields, e).await,
    }
}

async fn history_page(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
) -> Response {
    let done = async {
        let cx = state.context(&staff.signed_in.principal);
        let code = crate::org::code_of(&code)?;
        let history = reorganise::history(&cx, &code).await?;
        let (found, _) = cx.in_scope(&code).await?;
        Ok::<_, crate::Error>(HistoryPage {
            chrome: Chrome::of(&staff.signed_in),
            name: found.name,
            history,
        })
    };
    shown(done.await)
}
