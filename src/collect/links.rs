//! Rating links: permanent per desk, or single use per dossier (idempotent by its
//! `reference`), with or without expiry. The token is the citizen's only authority: 128
//! random bits from the OS.

use chrono::{DateTime, Utc};
use entity::{agency, desk, rating_link, service};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::questionnaire::{self, ONE_STOP_5};
use crate::app::Context;
use crate::db::{Db, is_unique_violation};
use crate::domain::{AgencyCode, Code, Role};
use crate::error::{Error, Result};
use crate::govern::{audit, secrets};

/// The body of `POST /api/v1/links`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    pub agency: String,
    #[serde(default)]
    pub desk: Option<String>,
    /// The national procedure code; registered on first use.
    #[serde(default)]
    pub service: Option<String>,
    /// `one-stop-5` (default) or `kiosk-3`.
    #[serde(default)]
    pub questionnaire: Option<String>,
    #[serde(default)]
    pub single_use: bool,
    /// The dossier code; one link per dossier.
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Open the form in kiosk mode.
    #[serde(default)]
    pub kiosk: bool,
}

/// A link as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkDto {
    pub token: String,
    pub url: String,
    pub qr_png: String,
    pub qr_svg: String,
    pub single_use: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub agency: String,
    pub desk: Option<String>,
    pub questionnaire: String,
    pub reference: Option<String>,
    pub kiosk: bool,
}

/// The token of a desk's permanent link: for its printed card (`kiosk` false) or for the
/// tablet at its counter (`kiosk` true, the three-smiley `kiosk-3` questionnaire). The
/// oldest such link of that desk without a service, or a new one.
pub async fn desk_link(
    cx: &Context<'_>,
    agency_code: &AgencyCode,
    desk_code: &str,
    kiosk: bool,
) -> Result<String> {
    let Context { db, by, .. } = *cx;
    // Managers too: they print their own desks' cards and open their kiosks.
    by.require_role(&[Role::Admin, Role::Integrator, Role::Manager])?;
    let (owner, _) = cx.in_scope(agency_code).await?;
    let found = crate::org::desk_by_code(&db.read, &owner, desk_code).await?;
    let existing = rating_link::Entity::find()
        .filter(rating_link::Column::AgencyId.eq(owner.id))
        .filter(rating_link::Column::DeskId.eq(found.id))
        .filter(rating_link::Column::SingleUse.eq(false))
        .filter(rating_link::Column::Kiosk.eq(kiosk))
        .filter(rating_link::Column::ExpiresAt.is_null())
        .filter(rating_link::Column::ServiceId.is_null())
        .filter(rating_link::Column::RevokedAt.is_null())
        .order_by_asc(rating_link::Column::Id)
        .one(&db.read)
        .await?;
    if let Some(link) = existing {
        return Ok(link.token);
    }
    let input = NewLink {
        agency: owner.code,
        desk: Some(found.code),
        kiosk,
        questionnaire: kiosk.then(|| questionnaire::KIOSK_3.to_string()),
        ..Default::default()
    };
    Ok(match create_link(cx, input).await? {
        Created::New(dto) | Created::Existing(dto) => dto.token,
    })
}

/// A withdrawn link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Revoked {
    pub token: String,
    pub revoked_at: DateTime<Utc>,
}

/// Withdraws the link of `token` (administrators; integrators within their scope): from
/// now on it answers 410 `link_revoked`. Revoking a revoked link changes nothing.
pub async fn revoke(cx: &Context<'_>, token: &str) -> Result<Revoked> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin, Role::Integrator])?;
    let link = by_token(&db.read, token)
        .await?
        .ok_or_else(|| Error::not_found("link_not_found", "there is no link with this token"))?;
    let agencies = cx.agencies().await?;
    let owner = agencies
        .get(link.agency_id)
        .ok_or_else(|| Error::internal("a link's agency vanished"))?;
    agencies.in_scope(by, &owner.code)?;
    if let Some(at) = link.revoked_at {
        return Ok(Revoked {
            token: link.token,
            revoked_at: at,
        });
    }
    let now = crate::now();
    let txn = db.begin_write().await?;
    revoke_ids(&txn, &[link.id], now).await?;
    audit::commit(
        txn,
        &by.actor,
        "link.revoke",
        &format!("link:{}", &link.token[..6]),
        json!({"agency": owner.code}),
    )
    .await?;
    Ok(Revoked {
        token: link.token,
        revoked_at: now,
    })
}

/// Gives a desk a new permanent link for its printed card and withdraws its previous
/// permanent links (card and kiosk): what to do when a desk's QR code has leaked.
/// Administrators only.
pub async fn rotate(
    cx: &Context<'_>,
    agency_code: &AgencyCode,
    desk_code: &str,
) -> Result<LinkDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let (owner, _) = cx.in_scope(agency_code).await?;
    let found = crate::org::desk_by_code(&db.read, &owner, desk_code).await?;
    let input = NewLink {
        agency: owner.code.clone(),
        desk: Some(found.code.clone()),
        ..Default::default()
    };
    let new = match create(cx, input).await? {
        Created::New(dto) | Created::Existing(dto) => dto,
    };
    let txn = db.begin_write().await?;
    let previous: Vec<i64> = rating_link::Entity::find()
        .filter(rating_link::Column::DeskId.eq(found.id))
        .filter(rating_link::Column::SingleUse.eq(false))
        .filter(rating_link::Column::ExpiresAt.is_null())
        .filter(rating_link::Column::RevokedAt.is_null())
        .filter(rating_link::Column::Token.ne(new.token.as_str()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| l.id)
        .collect();
    revoke_ids(&txn, &previous, crate::now()).await?;
    audit::commit(
        txn,
        &by.actor,
        "desk.rotate",
        &format!("desk:{}/{}", owner.code, found.code),
        json!({"revoked": previous.len(), "new": &new.token[..6]}),
    )
    .await?;
    Ok(new)
}

async fn revoke_ids(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    at: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    rating_link::Entity::update_many()
        .col_expr(
            rating_link::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(at),
        )
        .filter(rating_link::Column::Id.is_in(ids.iter().copied()))
        .filter(rating_link::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

async fn by_token(conn: &impl ConnectionTrait, token: &str) -> Result<Option<rating_link::Model>> {
    Ok(rating_link::Entity::find()
        .filter(rating_link::Column::Token.eq(token))
        .one(conn)
        .await?)
}

/// Whether a link was made now (201) or found by its reference (200).
pub enum Created {
    New(LinkDto),
    Existing(LinkDto),
}

const MAX_REFERENCE: usize = 100;

/// How far ahead a link's expiry may lie.
pub const MAX_EXPIRY_YEARS: i64 = 10;

pub async fn create(cx: &Context<'_>, input: NewLink) -> Result<Created> {
    cx.by.require_role(&[Role::Admin, Role::Integrator])?;
    create_link(cx, input).await
}

/// [`create`] for a caller whose role the use case has checked (a manager's own desk link
/// through [`desk_link`]); the agency scope is checked here.
async fn create_link(cx: &Context<'_>, input: NewLink) -> Result<Created> {
    let Context { db, by, config, .. } = *cx;
    let public_url = config.public_url.as_str();
    let reference = match input.reference.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) if r.chars().count() > MAX_REFERENCE || r.chars().any(char::is_control) => {
            return Err(Error::unprocessable(
                "invalid_reference",
                format!("a reference has at most {MAX_REFERENCE} characters"),
            )
            .with_field("reference"));
        }
        Some(r) => Some(r.to_string()),
    };
    if reference.is_some() && !input.single_use {
        return Err(Error::unprocessable(
            "reference_needs_single_use",
            "a reference (dossier code) belongs to a single-use link",
        )
        .with_field("reference"));
    }
    if let Some(at) = input.expires_at {
        if at <= Utc::now() {
            return Err(Error::unprocessable("expired", "expires_at is in the past")
                .with_field("expires_at"));
        }
        if at > Utc::now() + chrono::Duration::days(366 * MAX_EXPIRY_YEARS) {
            return Err(Error::unprocessable(
                "invalid_expiry",
                format!("expires_at is at most {MAX_EXPIRY_YEARS} years ahead; leave it out for a link that does not expire"),
            )
            .with_field("expires_at"));
        }
    }
    let (owner, _) = cx.in_scope(&crate::org::code_of(&input.agency)?).await?;
    let q_key = input.questionnaire.as_deref().unwrap_or(ONE_STOP_5);
    let q = questionnaire::latest(&db.read, q_key)
        .await?
        .ok_or_else(|| {
            Error::unprocessable(
                "unknown_questionnaire",
                format!("there is no questionnaire {q_key}"),
            )
            .with_field("questionnaire")
        })?;

    if let Some(reference) = &reference
        && let Some(existing) = by_reference(&db.read, reference).await?
    {
        return existing_for(db, public_url, &owner, existing)
            .await
            .map(Created::Existing);
    }

    let txn = db.begin_write().await?;
    let desk = match input.desk.as_deref() {
        None => None,
        Some(code) => Some(
            desk::Entity::find()
                .filter(desk::Column::AgencyId.eq(owner.id))
                .filter(desk::Column::Code.eq(code))
                .one(&txn)
                .await?
                .ok_or_else(|| {
                    Error::not_found(
                        "desk_not_found",
                        format!("the agency {} has no desk {code}", owner.code),
                    )
                    .with_field("desk")
                })?,
        ),
    };
    let service_id = match input.service.as_deref() {
        None => None,
        Some(code) => Some(service_id(&txn, code).await?),
    };
    let token = secrets::random_token(16).map_err(Error::internal)?;
    let stored = rating_link::ActiveModel {
        token: Set(token),
        agency_id: Set(owner.id),
        desk_id: Set(desk.as_ref().map(|d| d.id)),
        service_id: Set(service_id),
        questionnaire_id: Set(q.id),
        single_use: Set(input.single_use),
        reference: Set(reference.clone()),
        kiosk: Set(input.kiosk),
        expires_at: Set(input.expires_at.map(truncate)),
        created_at: Set(crate::now()),
        created_by: Set(by.actor.clone()),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let stored = match stored {
        Ok(s) => s,
        // Another request made the link for this reference first: return that one.
        Err(e) if is_unique_violation(&e) && reference.is_some() => {
            drop(txn);
            let existing = by_reference(&db.read, reference.as_deref().unwrap_or_default())
                .await?
                .ok_or_else(|| Error::internal(e))?;
            return existing_for(db, public_url, &owner, existing)
                .await
                .map(Created::Existing);
        }
        Err(e) => return Err(e.into()),
    };
    audit::commit(
        txn,
        &by.actor,
        "link.create",
        &format!("link:{}", &stored.token[..6]),
        json!({"agency": owner.code, "desk": desk.as_ref().map(|d| &d.code),
               "single_use": stored.single_use, "reference": stored.reference}),
    )
    .await?;
    Ok(Created::New(dto(
        public_url,
        stored,
        owner.code,
        desk.map(|d| d.code),
        q.key,
    )))
}

fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound;
    at.duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(at)
}

async fn by_reference(
    conn: &impl ConnectionTrait,
    reference: &str,
) -> Result<Option<rating_link::Model>> {
    Ok(rating_link::Entity::find()
        .filter(rating_link::Column::Reference.eq(reference))
        .one(conn)
        .await?)
}

/// The link already made for a reference, if it belongs to the same agency.
async fn existing_for(
    db: &Db,
    public_url: &str,
    owner: &agency::Model,
    existing: rating_link::Model,
) -> Result<LinkDto> {
    if existing.agency_id != owner.id {
        return Err(Error::conflict(
            "reference_taken",
            "this reference already has a link for another agency",
        )
        .with_field("reference"));
    }
    to_dto(db, public_url, existing).await
}

/// The link as the API shows it, looking up its desk and questionnaire.
pub async fn to_dto(db: &Db, public_url: &str, link: rating_link::Model) -> Result<LinkDto> {
    let agency = agency::Entity::find_by_id(link.agency_id)
        .one(&db.read)
        .await?
        .map(|a| a.code)
        .unwrap_or_default();
    let desk = match link.desk_id {
        Some(id) => desk::Entity::find_by_id(id)
            .one(&db.read)
            .await?
            .map(|d| d.code),
        None => None,
    };
    let q = entity::questionnaire::Entity::find_by_id(link.questionnaire_id)
        .one(&db.read)
        .await?
        .map(|q| q.key)
        .unwrap_or_default();
    Ok(dto(public_url, link, agency, desk, q))
}

fn dto(
    public_url: &str,
    link: rating_link::Model,
    agency: String,
    desk: Option<String>,
    questionnaire: String,
) -> LinkDto {
    let url = link_url(public_url, &link.token);
    LinkDto {
        qr_png: format!("{url}/qr.png"),
        qr_svg: format!("{url}/qr.svg"),
        url,
        token: link.token,
        single_use: link.single_use,
        expires_at: link.expires_at,
        agency,
        desk,
        questionnaire,
        reference: link.reference,
        kiosk: link.kiosk,
    }
}

pub fn link_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/r/{token}")
}

async fn service_id(conn: &impl ConnectionTrait, code: &str) -> Result<i64> {
    let code = Code::parse(code).map_err(|e| Error::invalid("service", e))?;
    if let Some(found) = service::Entity::find()
        .filter(service::Column::Code.eq(code.as_str()))
        .one(conn)
        .await?
    {
        return Ok(found.id);
    }
    let stored = service::ActiveModel {
        code: Set(code.as_str().to_string()),
        name: Set(code.as_str().to_string()),
        created_at: Set(crate::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(stored.id)
}

/// Why a token cannot take a rating now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Unknown,
    Expired,
    Used,
    /// Withdrawn by an administrator (a leaked code, a rotated desk card).
    Revoked,
}

/// The link behind `token`, if it can take a rating now.
pub async fn usable(
    conn: &impl ConnectionTrait,
    token: &str,
) -> Result<Result<rating_link::Model, Unusable>> {
    // Tokens are URL-safe base64; anything else cannot be one (and is not worth a query).
    if token.is_empty()
        || token.len() > 64
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Ok(Err(Unusable::Unknown));
    }
    let Some(link) = rating_link::Entity::find()
        .filter(rating_link::Column::Token.eq(token))
        .one(conn)
        .await?
    else {
        return Ok(Err(Unusable::Unknown));
    };
    if link.revoked_at.is_some() {
        return Ok(Err(Unusable::Revoked));
    }
    if link.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Ok(Err(Unusable::Expired));
    }
    if link.single_use && link.used_at.is_some() {
        return Ok(Err(Unusable::Used));
    }
    Ok(Ok(link))
}
