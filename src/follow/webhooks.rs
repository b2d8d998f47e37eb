//! Webhooks (API.md, "Closing the loop"): an event is written as a delivery row in the
//! same transaction as what caused it (a rating, a reply), so none is lost by a crash or a
//! restart. Each server's sender posts the deliveries that are due, signed with the
//! webhook's secret (`X-Hailong-Signature: sha256=HEX`, HMAC-SHA-256 of the body), and
//! retries one that fails (no answer in 10 s, or a status other than 2xx) after growing
//! delays: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h (nine attempts over about 16
//! hours). Delivery is at least once: receivers deduplicate by `X-Hailong-Delivery`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{webhook, webhook_delivery};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::app::Context;
use crate::db::Db;
use crate::domain::{Invalid, Role};
use crate::error::{Error, Result};
use crate::govern::{audit, secrets};

/// The events a webhook may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    CaseOpened,
    CaseOverdue,
    CaseAnswered,
    RatingHeld,
}

impl Event {
    pub const ALL: [Event; 4] = [
        Event::CaseOpened,
        Event::CaseOverdue,
        Event::CaseAnswered,
        Event::RatingHeld,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::CaseOpened => "case.opened",
            Event::CaseOverdue => "case.overdue",
            Event::CaseAnswered => "case.answered",
            Event::RatingHeld => "rating.held",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw)
    }
}

/// The delays before each retry.
pub const RETRIES: [Duration; 8] = [
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(7200),
    Duration::from_secs(14_400),
    Duration::from_secs(28_800),
];

/// How long the sender waits for a receiver's answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The live webhooks that subscribe to `event` (one read: callers skip building events
/// nobody asked for).
pub async fn subscribed(
    conn: &impl ConnectionTrait,
    event: Event,
) -> Result<Vec<webhook::Model>, DbErr> {
    Ok(webhook::Entity::find()
        .filter(webhook::Column::DeletedAt.is_null())
        .all(conn)
        .await?
        .into_iter()
        .filter(|h| h.events.split(',').any(|e| e == event.as_str()))
        .collect())
}

/// Queues `event` for every live webhook that subscribes to it and covers `agency`.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    event: Event,
    agency: i64,
    data: &serde_json::Value,
) -> Result<(), DbErr> {
    let hooks = subscribed(conn, event).await?;
    enqueue_to(conn, &hooks, event, &[(agency, data.clone())]).await
}

/// Queues `event` for each `(agency, data)` to those of `hooks` that cover the agency.
pub async fn enqueue_to(
    conn: &impl ConnectionTrait,
    hooks: &[webhook::Model],
    event: Event,
    items: &[(i64, serde_json::Value)],
) -> Result<(), DbErr> {
    if hooks.is_empty() || items.is_empty() {
        return Ok(());
    }
    let tree = if hooks.iter().any(|h| h.agency_id.is_some()) {
        let day = crate::now().date_naive();
        Some(
            crate::org::History::load(conn)
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .on(day)
                .tree,
        )
    } else {
        None
    };
    let now = crate::now();
    let targets: Vec<(&i64, &serde_json::Value, &webhook::Model)> = items
        .iter()
        .flat_map(|(agency, data)| hooks.iter().map(move |h| (agency, data, h)))
        .filter(|(agency, _, h)| match (h.agency_id, &tree) {
            (Some(root), Some(tree)) => tree.is_within(**agency, root),
            _ => true,
        })
        .collect();
    for (_, data, h) in targets {
        let delivery = secrets::random_hex(16);
        let body = serde_json::json!({
            "event": event.as_str(),
            "id": delivery,
            "at": now,
            "data": data,
        })
        .to_string();
        webhook_delivery::ActiveModel {
            webhook_id: Set(h.id),
            delivery: Set(delivery),
            event: Set(event.as_str().to_string()),
            body: Set(body),
            attempts: Set(0),
            next_attempt_at: Set(Some(now)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// The body of `POST /api/v1/webhooks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub agency: Option<String>,
}

/// A webhook as listed (its secret is shown once, when it is made).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDto {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub agency: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A new webhook's id and secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    pub id: i64,
    pub secret: String,
}

/// One delivery, for the log of a webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryDto {
    pub id: String,
    pub event: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
    pub delivered_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

fn check_url(raw: &str) -> Result<String> {
    let bad = || {
        Error::invalid(
            "url",
            Invalid::new(
                "invalid_url",
                "the URL must be http:// or https:// with a host",
            ),
        )
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || raw.len() > 2000 {
        return Err(bad());
    }
    Ok(url.to_string())
}

/// Registers a webhook (administrators).
pub async fn create(cx: &Context<'_>, input: NewWebhook) -> Result<CreatedWebhook> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let url = check_url(&input.url)?;
    if input.events.is_empty() {
        return Err(Error::invalid(
            "events",
            Invalid::new("invalid_event", "name at least one event"),
        ));
    }
    let mut events = Vec::new();
    for (i, raw) in input.events.iter().enumerate() {
        let e = Event::parse(raw).ok_or_else(|| {
            Error::invalid(
                &format!("events[{i}]"),
                Invalid::new(
                    "invalid_event",
                    format!(
                        "{raw:?} is not an event: {}",
                        Event::ALL.map(Event::as_str).join(", ")
                    ),
                ),
            )
        })?;
        if !events.contains(&e.as_str()) {
            events.push(e.as_str());
        }
    }
    let agency = match input.agency.as_deref().filter(|a| !a.is_empty()) {
        Some(code) => Some(
            cx.agencies()
                .await?
                .by_code(code)
                .map_err(|_| {
                    Error::unprocessable("unknown_agency", format!("no agency has the code {code}"))
                        .with_field("agency")
                })?
                .id,
        ),
        None => None,
    };
    let secret = secrets::random_token(32).map_err(Error::internal)?;
    let txn = db.begin_write().await?;
    let stored = webhook::ActiveModel {
        url: Set(url.clone()),
        events: Set(events.join(",")),
        agency_id: Set(agency),
        secret: Set(secret.clone()),
        created_at: Set(crate::now()),
        created_by: Set(by.actor.clone()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::commit(
        txn,
        &by.actor,
        "webhook.create",
        &format!("webhook:{}", stored.id),
        serde_json::json!({"url": url, "events": events}),
    )
    .await?;
    Ok(CreatedWebhook {
        id: stored.id,
        secret,
    })
}

/// The live webhooks (administrators).
pub async fn list(cx: &Context<'_>) -> Result<Vec<WebhookDto>> {
    cx.by.require_role(&[Role::Admin])?;
    let agencies = cx.agencies().await?;
    Ok(webhook::Entity::find()
        .filter(webhook::Column::DeletedAt.is_null())
        .order_by_asc(webhook::Column::Id)
        .all(&cx.db.read)
        .await?
        .into_iter()
        .map(|h| WebhookDto {
            id: h.id,
            url: h.url,
            events: h.events.split(',').map(String::from).collect(),
            agency: h
                .agency_id
                .and_then(|a| agencies.get(a))
                .map(|a| a.code.clone()),
            created_at: h.created_at,
        })
        .collect())
}

async fn live(conn: &impl ConnectionTrait, id: i64) -> Result<webhook::Model> {
    webhook::Entity::find_by_id(id)
        .filter(webhook::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("webhook_not_found", "there is no such webhook"))
}

/// Deletes a webhook (administrators): nothing more is sent to it.
pub async fn delete(cx: &Context<'_>, id: i64) -> Result<()> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let txn = db.begin_write().await?;
    live(&txn, id).await?;
    let now = crate::now();
    webhook::Entity::update_many()
        .col_expr(webhook::Column::DeletedAt, Expr::value(now))
        .filter(webhook::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .filter(webhook_delivery::Column::DeliveredAt.is_null())
        .exec(&txn)
        .await?;
    audit::commit(
        txn,
        &by.actor,
        "webhook.delete",
        &format!("webhook:{id}"),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// The most recent deliveries of a webhook (administrators), newest first.
pub async fn deliveries(cx: &Context<'_>, id: i64) -> Result<Vec<DeliveryDto>> {
    cx.by.require_role(&[Role::Admin])?;
    live(&cx.db.read, id).await?;
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(1000)
        .all(&cx.db.read)
        .await?
        .into_iter()
        .map(|d| DeliveryDto {
            id: d.delivery,
            event: d.event,
            created_at: d.created_at,
            attempts: d.attempts,
            delivered_at: d.delivered_at,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
        })
        .collect())
}

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends the deliveries that are due (at most 50), once each; returns how many were
/// delivered. Each is claimed first (its next attempt moved on), so that two servers do
/// not send it at the same moment.
pub async fn deliver_due(db: &Db, client: &reqwest::Client) -> Result<usize> {
    let now = crate::now();
    let due = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(webhook_delivery::Column::DeliveredAt.is_null())
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .limit(50)
        .all(&db.read)
        .await?;
    let mut delivered = 0;
    for d in due {
        let claimed = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(now + chrono::Duration::seconds(60)),
            )
            .filter(webhook_delivery::Column::Id.eq(d.id))
            .filter(webhook_delivery::Column::NextAttemptAt.eq(d.next_attempt_at))
            .exec(&db.write)
            .await?;
        if claimed.rows_affected == 0 {
            continue;
        }
        let Some(hook) = webhook::Entity::find_by_id(d.webhook_id)
            .one(&db.read)
            .await?
        else {
            continue;
        };
        let sent = client
            .post(&hook.url)
            .timeout(TIMEOUT)
            .header("content-type", "application/json")
            .header("x-hailong-event", &d.event)
            .header("x-hailong-delivery", &d.delivery)
            .header("x-hailong-signature", signature(&hook.secret, &d.body))
            .body(d.body.clone())
            .send()
            .await;
        let (ok, status, error) = match sent {
            Ok(res) => {
                let status = res.status();
                (
                    status.is_success(),
                    Some(i32::from(status.as_u16())),
                    (!status.is_success()).then(|| format!("status {}", status.as_u16())),
                )
            }
            Err(e) => (
                false,
                None,
                Some(if e.is_timeout() {
                    "no answer in 10 s".to_string()
                } else {
                    "could not connect".to_string()
                }),
            ),
        };
        let attempts = d.attempts + 1;
        let next = if ok {
            None
        } else {
            usize::try_from(d.attempts)
                .ok()
                .and_then(|i| RETRIES.get(i))
                .and_then(|wait| chrono::Duration::from_std(*wait).ok())
                .map(|wait| crate::now() + wait)
        };
        webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
            .col_expr(
                webhook_delivery::Column::DeliveredAt,
                Expr::value(ok.then(crate::now)),
            )
            .col_expr(webhook_delivery::Column::LastStatus, Expr::value(status))
            .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
            .filter(webhook_delivery::Column::Id.eq(d.id))
            .exec(&db.write)
            .await?;
        if ok {
            delivered += 1;
        }
    }
    Ok(delivered)
}

/// The HTTP client of the sender: no redirects followed (a webhook's address is what the
/// administrator gave).
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("hailong-webhooks")
        .build()
        .map_err(Error::internal)
}

/// The server's background work for the loop: deliveries every 2 seconds, overdue cases
/// every minute. Failures are logged and tried again on the next round.
pub async fn run(db: Db, tz: chrono_tz::Tz) {
    let Ok(client) = client() else {
        tracing::error!("the webhook sender could not start");
        return;
    };
    let mut round: u64 = 0;
    loop {
        if round.is_multiple_of(30)
            && let Err(e) = super::cases::send_overdue(&db, tz).await
        {
            tracing::warn!(error = %e.chain(), "checking overdue cases failed");
        }
        if let Err(e) = deliver_due(&db, &client).await {
            tracing::warn!(error = %e.chain(), "sending webhooks failed");
        }
        round += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_grow_and_last_over_an_hour() {
        assert!(RETRIES[0] <= Duration::from_secs(60));
        assert!(RETRIES.windows(2).all(|w| w[0] < w[1]));
        assert!(RETRIES.len() >= 6);
        assert!(RETRIES.iter().sum::<Duration>() >= Duration::from_secs(3600));
    }
}
