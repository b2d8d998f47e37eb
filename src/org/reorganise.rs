//! Reorganisations (API.md, "Reorganisation"): merges, moves, renames and closures with
//! an effective date, applied all or nothing in one transaction and audited. Nothing is
//! overwritten: an agency that merges or closes gets its last day (`valid_to`) and its
//! successor; a new name or parent is a new version from the effective day. The changes of
//! one request are checked in order against the tree of the effective day as the earlier
//! changes left it, so that a province's whole reform (move the communes, then close the
//! district) is one request.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use entity::{agency, agency_version, reorganisation};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::history::{History, end_effective, exists_on};
use crate::app::Context;
use crate::domain::json::parse_json;
use crate::domain::{Code, Invalid, Name, Role, csv_rows, text};
use crate::error::{Error, Result};
use crate::govern::audit;

/// The longest reason, in characters.
pub const MAX_REASON: usize = 1000;
/// The most changes one request may hold.
pub const MAX_CHANGES: usize = 10_000;

/// One change of a reorganisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Change {
    /// `from` end on the day before the effective date; `into` (existing, or new with
    /// `name` and `parent`) takes over their desks, links, children and history.
    Merge {
        from: Vec<String>,
        into: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(
            default,
            with = "crate::domain::json::present",
            skip_serializing_if = "Option::is_none"
        )]
        #[schema(value_type = Option<String>)]
        parent: Option<Option<String>>,
    },
    /// A new parent (`null`: the top of the tree).
    Move {
        agency: String,
        #[serde(default, with = "crate::domain::json::present")]
        #[schema(value_type = Option<String>)]
        parent: Option<Option<String>>,
    },
    Rename {
        agency: String,
        name: String,
    },
    /// The agency ends; its ratings stay with its parent.
    Close {
        agency: String,
    },
}

/// The body of `POST /api/v1/reorganisations`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReorganisation {
    /// The first day of the new organisation (YYYY-MM-DD).
    pub effective: String,
    #[serde(default)]
    pub reason: String,
    pub changes: Vec<Change>,
}

/// A reorganisation as applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reorganisation {
    pub id: i64,
    pub effective: NaiveDate,
    pub reason: String,
    pub changes: Vec<Change>,
}

/// The columns of the CSV form, in order.
pub const CSV_HEADER: [&str; 6] = ["kind", "agency", "from", "into", "name", "parent"];

/// Reads the JSON form.
pub fn parse_json_body(bytes: &[u8]) -> Result<NewReorganisation> {
    parse_json(bytes)
}

/// Reads the CSV form: `effective` and `reason` from the query, one change a row under
/// [`CSV_HEADER`] (`from` lists codes separated by `;`; an empty `parent` is the top of
/// the tree). A row that cannot be read is refused with its line number as `row`.
pub fn parse_csv_body(
    effective: Option<&str>,
    reason: Option<&str>,
    bytes: &[u8],
) -> Result<NewReorganisation> {
    let bytes = csv_rows::without_bom(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| bad_csv("the first line is not a readable CSV header", 1))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header != CSV_HEADER {
        return Err(bad_csv(
            format!("the header must be {}", CSV_HEADER.join(",")),
            1,
        ));
    }
    let mut changes = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        if changes.len() == MAX_CHANGES {
            return Err(too_many());
        }
        let record = record.map_err(|e| {
            bad_csv(csv_rows::problem(&e, CSV_HEADER.len()), line)
                .with_field(format!("changes[{i}]"))
        })?;
        let cell = |n: usize| record.get(n).unwrap_or("").trim().to_string();
        let given = |n: usize| Some(cell(n)).filter(|c| !c.is_empty());
        let field = |key: &str| format!("changes[{i}].{key}");
        let need = |n: usize, key: &str| {
            given(n).ok_or_else(|| {
                Error::unprocessable("required", format!("this change needs `{key}`"))
                    .with_field(field(key))
                    .with_row(line)
            })
        };
        let change = match cell(0).as_str() {
            "merge" => Change::Merge {
                from: cell(2)
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
                into: need(3, "into")?,
                name: given(4),
                parent: Some(given(5)),
            },
            "move" => Change::Move {
                agency: need(1, "agency")?,
                parent: Some(given(5)),
            },
            "rename" => Change::Rename {
                agency: need(1, "agency")?,
                name: need(4, "name")?,
            },
            "close" => Change::Close {
                agency: need(1, "agency")?,
            },
            other => {
                return Err(Error::unprocessable(
                    "invalid_change",
                    format!("`{other}` is not a kind of change (merge, move, rename, close)"),
                )
                .with_field(field("kind"))
                .with_row(line));
            }
        };
        changes.push(change);
    }
    let effective = effective.ok_or_else(|| {
        Error::unprocessable("required", "the query needs `effective`").with_field("effective")
    })?;
    Ok(NewReorganisation {
        effective: effective.to_string(),
        reason: reason.unwrap_or_default().to_string(),
        changes,
    })
}

fn bad_csv(why: impl Into<String>, line: u64) -> Error {
    Error::unprocessable("invalid_csv", why).with_row(line)
}

fn too_many() -> Error {
    Error::unprocessable(
        "too_many_changes",
        format!("a reorganisation holds at most {MAX_CHANGES} changes"),
    )
    .with_field("changes")
}

/// An agency as the changes so far leave it on the effective day.
#[derive(Debug, Clone)]
struct Node {
    code: String,
    name: String,
    parent: Option<i64>,
    /// Exists on the effective day (and was not ended by an earlier change).
    alive: bool,
    /// Changed or ended on a later day, or begun after the effective day.
    later: bool,
}

/// The tree of the effective day, as the changes checked so far leave it.
struct Plan {
    day: NaiveDate,
    nodes: HashMap<i64, Node>,
    by_code: HashMap<String, i64>,
    /// Agencies whose name or parent changed, or that began or ended.
    touched: HashSet<i64>,
}

impl Plan {
    fn of(history: &History, day: NaiveDate) -> Self {
        let mut nodes = HashMap::new();
        let mut by_code = HashMap::new();
        for a in &history.agencies {
            let (name, parent) = history.version_on(a, day);
            let later = a.valid_from.is_some_and(|f| f > day)
                || a.valid_to.is_some_and(|t| t >= day)
                || history
                    .versions(a.id)
                    .iter()
                    .any(|v| v.valid_from.is_some_and(|f| f > day));
            by_code.insert(a.code.clone(), a.id);
            nodes.insert(
                a.id,
                Node {
                    code: a.code.clone(),
                    name,
                    parent,
                    alive: exists_on(a, day),
                    later,
                },
            );
        }
        Self {
            day,
            nodes,
            by_code,
            touched: HashSet::new(),
        }
    }

    /// The live agency `code` that change `i` names under `key`.
    fn live(&self, code: &str, i: usize, key: &str) -> Result<i64> {
        let field = format!("changes[{i}].{key}");
        let id = *self.by_code.get(code).ok_or_else(|| {
            Error::unprocessable("unknown_agency", format!("no agency has the code {code}"))
                .with_field(field.clone())
        })?;
        let node = &self.nodes[&id];
        if node.later {
            return Err(Error::unprocessable(
                "out_of_order",
                format!(
                    "{code} is changed by a reorganisation effective after {}; apply them in date order",
                    self.day
                ),
            )
            .with_field(field));
        }
        if !node.alive {
            return Err(Error::unprocessable(
                "agency_ended",
                format!("{code} no longer exists on {}", self.day),
            )
            .with_field(field));
        }
        Ok(id)
    }

    /// The parent change `i` names (required, `what` saying so; `null` is the top of the
    /// tree): live on the day, and not at or under any of `moving`.
    fn new_parent(
        &self,
        i: usize,
        parent: Option<Option<String>>,
        what: &str,
        moving: &[i64],
    ) -> Result<(Option<String>, Option<i64>)> {
        let parent = parent.ok_or_else(|| required(i, "parent", what))?;
        let id = match &parent {
            Some(code) => {
                let p = self.live(code, i, "parent")?;
                if moving.iter().any(|&m| self.is_above(m, p)) {
                    return Err(Error::unprocessable(
                        "cycle",
                        format!("{code} lies under an agency it would be the parent of"),
                    )
                    .with_field(format!("changes[{i}].parent")));
                }
                Some(p)
            }
            None => None,
        };
        Ok((parent, id))
    }

    fn children(&self, id: i64) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.alive && n.parent == Some(id))
            .map(|(&c, _)| c)
            .collect();
        out.sort_unstable();
        out
    }

    /// Whether `ancestor` is `id` or above it.
    fn is_above(&self, ancestor: i64, id: i64) -> bool {
        let mut current = Some(id);
        for _ in 0..=self.nodes.len() {
            match current {
                Some(c) if c == ancestor => return true,
                Some(c) => current = self.nodes.get(&c).and_then(|n| n.parent),
                None => return false,
            }
        }
        true
    }
}

fn required(i: usize, key: &str, what: &str) -> Error {
    Error::unprocessable("required", what.to_string()).with_field(format!("changes[{i}].{key}"))
}

/// Checks and applies a reorganisation (administrators only): all or nothing.
pub async fn reorganise(cx: &Context<'_>, input: NewReorganisation) -> Result<Reorganisation> {
    let (txn, plan, done) = check_and_write(cx, input).await?;
    drop(plan);
    audit::commit(
        txn,
        &cx.by.actor,
        "reorganisation",
        &format!("reorganisation:{}", done.id),
        json!(done),
    )
    .await?;
    Ok(done)
}

/// What a reorganisation would change, agency by agency, without changing anything: it is
/// checked and written as [`reorganise`] would, read back, and rolled back.
pub async fn preview(cx: &Context<'_>, input: NewReorganisation) -> Result<Preview> {
    let (txn, plan, done) = check_and_write(cx, input).await?;
    let before_day = done.effective.pred_opt().unwrap_or(done.effective);
    let after = History::load(&txn).await?.on(done.effective);
    txn.rollback().await?;
    let before = History::load(&cx.db.read).await?.on(before_day);
    let describe = |agencies: &super::Agencies, id: i64| -> Option<String> {
        let a = agencies.get(id)?;
        if !agencies.exists(id) {
            return None;
        }
        let parent = agencies
            .get_parent(a)
            .map_or("cấp cao nhất".to_string(), |p| p.name.clone());
        Some(format!("{} — trực thuộc {parent}", a.name))
    };
    let mut lines: Vec<PreviewLine> = plan
        .touched
        .iter()
        .filter_map(|&id| {
            let a = after.get(id)?;
            let now = describe(&after, id).unwrap_or_else(|| {
                let carrier = after
                    .all
                    .iter()
                    .find(|c| after.tree.carried_by(c.id).contains(&id))
                    .map(|c| c.name.clone());
                match carrier {
                    Some(name) if a.successor_id.is_some() => {
                        format!("Sáp nhập vào {name}; số liệu trước đây tính cho {name}")
                    }
                    Some(name) => format!("Giải thể; số liệu trước đây tính cho {name}"),
                    None => "Giải thể".to_string(),
                }
            });
            Some(PreviewLine {
                code: a.code.clone(),
                before: describe(&before, id),
                after: now,
            })
        })
        .collect();
    lines.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Preview {
        effective: done.effective,
        reason: done.reason,
        lines,
        tree_before: drawn(&before, &plan.touched),
        tree_after: drawn(&after, &plan.touched),
    })
}

/// One line of a drawn tree: an agency at its depth, and whether the reorganisation
/// changes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeLine {
    pub depth: usize,
    pub code: String,
    pub name: String,
    pub touched: bool,
}

/// The part of a day's tree that a preview draws, depth first: the agencies the
/// reorganisation changes, every agency above them, and their children.
fn drawn(agencies: &super::Agencies, touched: &HashSet<i64>) -> Vec<TreeLine> {
    let mut keep = HashSet::new();
    for &id in touched.iter().filter(|&&id| agencies.exists(id)) {
        keep.extend(agencies.tree.children(id).iter().copied());
        let mut current = Some(id);
        while let Some(c) = current.filter(|&c| keep.insert(c) || c == id) {
            current = agencies.get(c).and_then(|a| a.parent_id);
        }
    }
    agencies
        .depth_first()
        .into_iter()
        .filter(|(id, _)| keep.contains(id))
        .filter_map(|(id, depth)| {
            let a = agencies.get(id)?;
            Some(TreeLine {
                depth,
                code: a.code.clone(),
                name: a.name.clone(),
                touched: touched.contains(&id),
            })
        })
        .collect()
}

/// One agency in a [`preview`]: how it stands the day before and from the effective day.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewLine {
    pub code: String,
    /// `None`: it did not exist the day before.
    pub before: Option<String>,
    pub after: String,
}

/// What a reorganisation would change ([`preview`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub effective: NaiveDate,
    pub reason: String,
    pub lines: Vec<PreviewLine>,
    /// The part of the tree that changes, the day before and from the effective day.
    pub tree_before: Vec<TreeLine>,
    pub tree_after: Vec<TreeLine>,
}

/// Checks `input` and writes it inside a transaction left open for the caller to commit
/// (with its audit row) or roll back.
async fn check_and_write(
    cx: &Context<'_>,
    input: NewReorganisation,
) -> Result<(DatabaseTransaction, Plan, Reorganisation)> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let effective = crate::domain::period::parse_date(&input.effective)
        .map_err(|e| Error::invalid("effective", e))?;
    if !(2000..=2100).contains(&chrono::Datelike::year(&effective)) {
        return Err(Error::invalid(
            "effective",
            Invalid::new(
                "invalid_date",
                "the effective date lies between 2000 and 2100",
            ),
        ));
    }
    let reason = text::clean(&input.reason, MAX_REASON)
        .map_err(|e| Error::invalid("reason", e))?
        .unwrap_or_default();
    if input.changes.is_empty() {
        return Err(
            Error::unprocessable("no_changes", "the reorganisation changes nothing")
                .with_field("changes"),
        );
    }
    if input.changes.len() > MAX_CHANGES {
        return Err(too_many());
    }
    let today = cx.today();
    let txn = db.begin_write().await?;
    let history = History::load(&txn).await?;
    let mut plan = Plan::of(&history, effective);
    let mut changes = Vec::with_capacity(input.changes.len());
    for (i, change) in input.changes.into_iter().enumerate() {
        changes.push(apply(&txn, &mut plan, i, change).await?);
    }
    settle(&txn, &plan, today).await?;
    let stored = reorganisation::ActiveModel {
        effective: Set(effective),
        reason: Set(reason.clone()),
        changes: Set(serde_json::to_string(&changes).map_err(Error::internal)?),
        created_by: Set(by.actor.clone()),
        created_at: Set(crate::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let done = Reorganisation {
        id: stored.id,
        effective,
        reason,
        changes,
    };
    Ok((txn, plan, done))
}

/// Checks change `i` against the plan, writes it, and returns it as stored (codes and
/// names cleaned).
async fn apply(
    txn: &DatabaseTransaction,
    plan: &mut Plan,
    i: usize,
    change: Change,
) -> Result<Change> {
    let day = plan.day;
    let name_of = |raw: &str, key: &str| {
        Name::parse(raw)
            .map(Name::into_string)
            .map_err(|e| Error::invalid(&format!("changes[{i}].{key}"), e))
    };
    match change {
        Change::Rename { agency, name } => {
            let id = plan.live(&agency, i, "agency")?;
            let name = name_of(&name, "name")?;
            set_version(txn, plan, id, Some(name.clone()), None).await?;
            Ok(Change::Rename { agency, name })
        }
        Change::Move { agency, parent } => {
            let id = plan.live(&agency, i, "agency")?;
            let (parent, parent_id) = plan.new_parent(
                i,
                parent,
                "a move needs `parent` (null for the top of the tree)",
                &[id],
            )?;
            set_version(txn, plan, id, None, Some(parent_id)).await?;
            Ok(Change::Move {
                agency,
                parent: Some(parent),
            })
        }
        Change::Close { agency } => {
            let id = plan.live(&agency, i, "agency")?;
            if let Some(&child) = plan.children(id).first() {
                return Err(Error::unprocessable(
                    "children_left",
                    format!(
                        "{agency} still has {} under it on {day}: move or merge its children in the same reorganisation",
                        plan.nodes[&child].code
                    ),
                )
                .with_field(format!("changes[{i}].agency")));
            }
            end(txn, plan, id, None).await?;
            Ok(Change::Close { agency })
        }
        Change::Merge {
            from,
            into,
            name,
            parent,
        } => {
            if from.is_empty() {
                return Err(required(i, "from", "a merge needs the agencies in `from`"));
            }
            let mut from_ids = Vec::with_capacity(from.len());
            for (j, code) in from.iter().enumerate() {
                if *code == into {
                    return Err(Error::unprocessable(
                        "merge_into_itself",
                        format!("{code} cannot merge into itself"),
                    )
                    .with_field(format!("changes[{i}].from")));
                }
                let id = plan.live(code, i, "from")?;
                if from_ids.contains(&id) {
                    return Err(Error::unprocessable(
                        "duplicate_agency",
                        format!("{code} is listed twice in `from`"),
                    )
                    .with_field(format!("changes[{i}].from[{j}]")));
                }
                from_ids.push(id);
            }
            let (into_id, name, parent) = if plan.by_code.contains_key(&into) {
                let id = plan.live(&into, i, "into")?;
                if from_ids.iter().any(|&f| plan.is_above(f, id)) {
                    return Err(Error::unprocessable(
                        "cycle",
                        format!("{into} lies under an agency that merges into it"),
                    )
                    .with_field(format!("changes[{i}].into")));
                }
                (id, None, None)
            } else {
                let code = Code::parse(&into)
                    .map_err(|e| Error::invalid(&format!("changes[{i}].into"), e))?;
                let name = name_of(
                    &name.ok_or_else(|| {
                        required(i, "name", "a merge into a new agency needs its `name`")
                    })?,
                    "name",
                )?;
                let (parent, parent_id) = plan.new_parent(
                    i,
                    parent,
                    "a merge into a new agency needs its `parent` (null for the top)",
                    &from_ids,
                )?;
                let id = begin(txn, plan, code.as_str(), &name, parent_id).await?;
                (id, Some(name), Some(parent))
            };
            for &f in &from_ids {
                for child in plan.children(f) {
                    // A child moves with its parent on the day: it too must have no later
                    // change (its later parent could be the agency that ends here).
                    let code = plan.nodes[&child].code.clone();
                    plan.live(&code, i, "from")?;
                    set_version(txn, plan, child, None, Some(Some(into_id))).await?;
                }
                end(txn, plan, f, Some(into_id)).await?;
            }
            Ok(Change::Merge {
                from,
                into,
                name,
                parent,
            })
        }
    }
}

/// A new version of agency `id` from the plan's day: a new name, a new parent, or both.
async fn set_version(
    txn: &DatabaseTransaction,
    plan: &mut Plan,
    id: i64,
    name: Option<String>,
    parent: Option<Option<i64>>,
) -> Result<()> {
    let day = plan.day;
    let Some(node) = plan.nodes.get_mut(&id) else {
        return Ok(());
    };
    if let Some(name) = name {
        node.name = name;
    }
    if let Some(parent) = parent {
        node.parent = parent;
    }
    agency_version::ActiveModel {
        agency_id: Set(id),
        valid_from: Set(Some(day)),
        name: Set(node.name.clone()),
        parent_id: Set(node.parent),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    plan.touched.insert(id);
    Ok(())
}

/// Ends agency `id` on the day before the plan's day, merged into `successor` or closed.
async fn end(
    txn: &DatabaseTransaction,
    plan: &mut Plan,
    id: i64,
    successor: Option<i64>,
) -> Result<()> {
    let last = plan
        .day
        .checked_sub_days(Days::new(1))
        .ok_or_else(|| Error::internal("no day before the effective day"))?;
    agency::Entity::update_many()
        .col_expr(agency::Column::ValidTo, last.into())
        .col_expr(agency::Column::SuccessorId, successor.into())
        .col_expr(agency::Column::UpdatedAt, crate::now().into())
        .filter(agency::Column::Id.eq(id))
        .exec(txn)
        .await?;
    if let Some(node) = plan.nodes.get_mut(&id) {
        node.alive = false;
    }
    plan.touched.insert(id);
    Ok(())
}

/// A new agency from the plan's day.
async fn begin(
    txn: &DatabaseTransaction,
    plan: &mut Plan,
    code: &str,
    name: &str,
    parent: Option<i64>,
) -> Result<i64> {
    let stored =
        super::agencies::insert_agency(txn, code, name, parent, None, Some(plan.day)).await?;
    plan.by_code.insert(code.to_string(), stored.id);
    plan.nodes.insert(
        stored.id,
        Node {
            code: code.to_string(),
            name: name.to_string(),
            parent,
            alive: true,
            later: false,
        },
    );
    plan.touched.insert(stored.id);
    Ok(stored.id)
}

/// Keeps each touched agency's own `name` and `parent_id` columns at their values of
/// `today` (what the tables show to a plain read; history reads the versions).
async fn settle(txn: &DatabaseTransaction, plan: &Plan, today: NaiveDate) -> Result<()> {
    if plan.touched.is_empty() {
        return Ok(());
    }
    let history = History::load(txn).await?;
    for a in history
        .agencies
        .iter()
        .filter(|a| plan.touched.contains(&a.id))
    {
        let (name, parent) = history.version_on(a, today);
        if name != a.name || parent != a.parent_id {
            agency::Entity::update_many()
                .col_expr(agency::Column::Name, name.into())
                .col_expr(agency::Column::ParentId, parent.into())
                .filter(agency::Column::Id.eq(a.id))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// A name or parent over the days it held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NameSpan {
    pub name: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ParentSpan {
    pub parent: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Succession {
    pub agency: String,
    pub effective: Option<NaiveDate>,
}

/// `GET /api/v1/agencies/{code}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgencyHistory {
    pub code: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub names: Vec<NameSpan>,
    pub parents: Vec<ParentSpan>,
    pub predecessors: Vec<Succession>,
    pub successor: Option<Succession>,
}

/// The spans of one value over an agency's versions: consecutive versions with the same
/// value are one span, which ends the day before the next begins (or when the agency
/// ended).
fn spans<T: PartialEq + Clone>(
    versions: &[(Option<NaiveDate>, T)],
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
) -> Vec<(T, Option<NaiveDate>, Option<NaiveDate>)> {
    let mut out: Vec<(T, Option<NaiveDate>, Option<NaiveDate>)> = Vec::new();
    for (from, value) in versions {
        let from = from.or(first);
        if let Some(prev) = out.last_mut() {
            if prev.1 == from {
                // Two changes of one day: the later one holds.
                prev.0 = value.clone();
                continue;
            }
            if prev.0 == *value {
                continue;
            }
            prev.2 = from.and_then(|f| f.checked_sub_days(Days::new(1)));
        }
        out.push((value.clone(), from, last));
    }
    out.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.2 = later.2;
        }
        same
    });
    out
}

/// Agency `code`'s names, parents, predecessors and successor.
pub async fn history(cx: &Context<'_>, code: &crate::domain::AgencyCode) -> Result<AgencyHistory> {
    let (found, agencies) = cx.in_scope(code).await?;
    let history = History::load(&cx.db.read).await?;
    let versions = history.versions(found.id);
    let code_of = |id: Option<i64>| id.and_then(|p| agencies.get(p)).map(|a| a.code.clone());
    let names: Vec<(Option<NaiveDate>, String)> = versions
        .iter()
        .map(|v| (v.valid_from, v.name.clone()))
        .collect();
    let parents: Vec<(Option<NaiveDate>, Option<String>)> = versions
        .iter()
        .map(|v| (v.valid_from, code_of(v.parent_id)))
        .collect();
    let mut predecessors: Vec<Succession> = history
        .agencies
        .iter()
        .filter(|a| a.successor_id == Some(found.id))
        .map(|a| Succession {
            agency: a.code.clone(),
            effective: end_effective(a),
        })
        .collect();
    predecessors.sort_by(|a, b| (a.effective, &a.agency).cmp(&(b.effective, &b.agency)));
    Ok(AgencyHistory {
        names: spans(&names, found.valid_from, found.valid_to)
            .into_iter()
            .map(|(name, from, to)| NameSpan { name, from, to })
            .collect(),
        parents: spans(&parents, found.valid_from, found.valid_to)
            .into_iter()
            .map(|(parent, from, to)| ParentSpan { parent, from, to })
            .collect(),
        predecessors,
        successor: found.successor_id.map(|s| Succession {
            agency: code_of(Some(s)).unwrap_or_default(),
            effective: end_effective(&found),
        }),
        code: found.code,
        valid_from: found.valid_from,
        valid_to: found.valid_to,
    })
}

/// The reorganisations applied, newest first.
pub async fn list(cx: &Context<'_>) -> Result<Vec<Reorganisation>> {
    use sea_orm::QueryOrder;
    cx.by
        .require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
    reorganisation::Entity::find()
        .order_by_desc(reorganisation::Column::Effective)
        .order_by_desc(reorganisation::Column::Id)
        .all(&cx.db.read)
        .await?
        .into_iter()
        .map(|r| {
            Ok(Reorganisation {
                id: r.id,
                effective: r.effective,
                reason: r.reason,
                changes: serde_json::from_str(&r.changes).map_err(Error::internal)?,
            })
        })
        .collect()
}

/// Records a version of agency `id` from `day` (a rename through `PATCH`, effective
/// today; a new agency, since it began).
pub async fn record_version(
    conn: &impl ConnectionTrait,
    a: &agency::Model,
    day: Option<NaiveDate>,
) -> Result<(), sea_orm::DbErr> {
    agency_version::ActiveModel {
        agency_id: Set(a.id),
        valid_from: Set(day),
        name: Set(a.name.clone()),
        parent_id: Set(a.parent_id),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn spans_join_equal_values_and_end_before_the_next() {
        let v = [
            (None, "A"),
            (d("2025-07-01"), "A"),
            (d("2026-01-01"), "B"),
            (d("2026-01-01"), "C"),
        ];
        assert_eq!(
            spans(&v, None, d("2026-12-31")),
            [
                ("A", None, d("2025-12-31")),
                ("C", d("2026-01-01"), d("2026-12-31")),
            ]
        );
        assert!(spans::<&str>(&[], None, None).is_empty());
    }

    #[test]
    fn the_csv_form_reads_each_kind_and_names_the_bad_row() {
        let body = "kind,agency,from,into,name,parent\n\
                    merge,,X1;X2,X9,Xã Mới,H1\n\
                    move,X3,,,,\n\
                    rename,X4,,,Tên mới,\n\
                    close,H2,,,,\n";
        let r = parse_csv_body(Some("2025-07-01"), Some("NQ 1"), body.as_bytes()).unwrap();
        assert_eq!(r.changes.len(), 4);
        assert_eq!(
            r.changes[0],
            Change::Merge {
                from: vec!["X1".into(), "X2".into()],
                into: "X9".into(),
                name: Some("Xã Mới".into()),
                parent: Some(Some("H1".into())),
            }
        );
        assert_eq!(
            r.changes[1],
            Change::Move {
                agency: "X3".into(),
                parent: Some(None)
            }
        );
        let bad = "kind,agency,from,into,name,parent\nmove,X3,,,,\nsplit,X1,,,,\n";
        let err = parse_csv_body(Some("2025-07-01"), None, bad.as_bytes()).unwrap_err();
        assert_eq!(
            (err.code, err.row, err.field.as_deref()),
            ("invalid_change", Some(3), Some("changes[1].kind"))
        );
        let short = "kind,agency,from,into,name,parent\nmove,X3\n";
        let err = parse_csv_body(Some("2025-07-01"), None, short.as_bytes()).unwrap_err();
        assert_eq!((err.code, err.row), ("invalid_csv", Some(2)));
        let header = "kind,agency\nmove,X3\n";
        let err = parse_csv_body(Some("2025-07-01"), None, header.as_bytes()).unwrap_err();
        assert_eq!((err.code, err.row), ("invalid_csv", Some(1)));
    }

    #[test]
    fn the_json_form_tells_a_missing_parent_from_a_null_one() {
        let r = parse_json_body(
            br#"{"effective":"2025-07-01","reason":"r","changes":[{"kind":"move","agency":"A","parent":null},{"kind":"move","agency":"B"}]}"#,
        )
        .unwrap();
        assert_eq!(
            r.changes,
            [
                Change::Move {
                    agency: "A".into(),
                    parent: Some(None)
                },
                Change::Move {
                    agency: "B".into(),
                    parent: None
                }
            ]
        );
        let err = parse_json_body(
            br#"{"effective":"2025-07-01","changes":[{"kind":"close","agency":"A","extra":1}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_body");
    }
}
