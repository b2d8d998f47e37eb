//! A year's settings: the band thresholds and the minimum sample. Reports frozen before a
//! change keep the settings they were frozen with.

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use entity::year_setting;

use crate::app::Context;
use crate::domain::{Role, Year};
use crate::error::{Error, Result};
use crate::govern::audit;
use crate::score::Bands;

/// The band thresholds and the minimum sample of a year.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct YearSettings {
    pub year: i32,
    pub bands: Bands,
    pub min_responses: u64,
}

/// A change to a year's settings; absent fields keep their value.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearSettingsInput {
    pub outstanding: Option<f64>,
    pub good: Option<f64>,
    pub completed: Option<f64>,
    /// `null` returns to the deployment's default (`HAILONG_MIN_RESPONSES`).
    #[serde(default, with = "crate::domain::json::present")]
    pub min_responses: Option<Option<u64>>,
}

/// The settings of `year`: its stored thresholds and minimum, or the defaults.
pub async fn settings(
    conn: &impl ConnectionTrait,
    year: i32,
    default_min: u64,
) -> Result<YearSettings> {
    let stored = year_setting::Entity::find_by_id(year).one(conn).await?;
    Ok(match stored {
        Some(s) => YearSettings {
            year,
            bands: Bands {
                outstanding: s.outstanding,
                good: s.good,
                completed: s.completed,
            },
            min_responses: s
                .min_responses
                .and_then(|m| u64::try_from(m).ok())
                .unwrap_or(default_min),
        },
        None => YearSettings {
            year,
            bands: Bands::default(),
            min_responses: default_min,
        },
    })
}

/// The settings of a year, as stored or by default.
pub async fn get_settings(cx: &Context<'_>, year: Year) -> Result<YearSettings> {
    let Context { db, by, config, .. } = *cx;
    let default_min = config.min_responses;
    by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
    settings(&db.read, year.get(), default_min).await
}

/// Changes a year's band thresholds or minimum sample (administrators only). Reports
/// frozen before keep the settings they were frozen with.
pub async fn put_settings(
    cx: &Context<'_>,
    year: Year,
    input: YearSettingsInput,
) -> Result<YearSettings> {
    let Context { db, by, config, .. } = *cx;
    let default_min = config.min_responses;
    by.require_role(&[Role::Admin])?;
    // Settings may be made ahead for next year: the caller parses the year so.
    let year = year.get();
    let txn = db.begin_write().await?;
    let current = year_setting::Entity::find_by_id(year).one(&txn).await?;
    let old = settings(&txn, year, default_min).await?;
    let bands = Bands {
        outstanding: input.outstanding.unwrap_or(old.bands.outstanding),
        good: input.good.unwrap_or(old.bands.good),
        completed: input.completed.unwrap_or(old.bands.completed),
    };
    if !bands.is_valid() {
        return Err(Error::unprocessable(
            "invalid_bands",
            "thresholds must satisfy 0 ≤ completed ≤ good ≤ outstanding ≤ 100",
        ));
    }
    let stored_min = match input.min_responses {
        Some(Some(m)) => Some(i32::try_from(m).map_err(|_| {
            Error::unprocessable("invalid_min_responses", "min_responses is too large")
                .with_field("min_responses")
        })?),
        Some(None) => None,
        None => current.as_ref().and_then(|c| c.min_responses),
    };
    let model = year_setting::ActiveModel {
        year: Set(year),
        outstanding: Set(bands.outstanding),
        good: Set(bands.good),
        completed: Set(bands.completed),
        min_responses: Set(stored_min),
        updated_at: Set(crate::now()),
    };
    if current.is_some() {
        model.update(&txn).await?;
    } else {
        model.insert(&txn).await?;
    }
    let new = settings(&txn, year, default_min).await?;
    audit::commit(
        txn,
        &by.actor,
        "year_settings.update",
        &format!("year:{year}"),
        json!({"bands": bands, "min_responses": stored_min}),
    )
    .await?;
    Ok(new)
}
