//! The dashboard: an agency's figures, its children, its desks and its comments.

use super::figure::{self, ChartBlock};
use super::*;
use crate::collect::store::Channel;
use crate::domain::period::Span;
use crate::report::charts;
use crate::report::slice::{self, Slice};

/// The query of the dashboard.
#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    pub agency: Option<String>,
    /// A past year to show whole (default: this year to date).
    pub year: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    /// `ytd` (default), `month`, `last_month`, `quarter` or `custom` (with `from`, `to`).
    pub period: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Words the comments shown must hold, and their page (from 1).
    pub words: Option<String>,
    pub page: Option<String>,
    /// Only one desk's ratings (its code) and/or one channel's (`qr`, `paper`, …).
    pub desk: Option<String>,
    pub channel: Option<String>,
}

/// Comments on one page of the dashboard.
const COMMENTS_PER_PAGE: u64 = 20;

/// The period choices of the dashboard's control, in order.
const SPANS: [(&str, &str); 5] = [
    ("ytd", "Từ đầu năm đến nay"),
    ("month", "Tháng này"),
    ("last_month", "Tháng trước"),
    ("quarter", "Quý này"),
    ("custom", "Tùy chọn (từ ngày – đến ngày)"),
];

/// The span the query picks: the dates count with `period=custom`, or alone (a link).
fn span_of(q: &DashboardQuery) -> Result<(&'static str, Span), Error> {
    let date = |raw: &Option<String>, field: &str| {
        raw.as_deref()
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                crate::domain::period::parse_date(r.trim()).map_err(|e| Error::invalid(field, e))
            })
            .transpose()
    };
    let (from, to) = (date(&q.from, "from")?, date(&q.to, "to")?);
    Ok(
        match (q.period.as_deref().filter(|p| !p.is_empty()), from, to) {
            (Some("custom") | None, Some(a), Some(b)) => ("custom", Span::Custom(a, b)),
            (Some("custom"), _, _) => {
                return Err(Error::invalid(
                    "from",
                    crate::domain::Invalid::new("invalid_date", "a custom period needs both dates"),
                ));
            }
            (Some("month"), ..) => ("month", Span::ThisMonth),
            (Some("last_month"), ..) => ("last_month", Span::LastMonth),
            (Some("quarter"), ..) => ("quarter", Span::Quarter),
            _ => ("ytd", Span::YearToDate),
        },
    )
}

/// The slice of ratings the filters pick, and its words ("Quầy 1 · Phiếu giấy").
fn slice_of(q: &DashboardQuery, desks: &[desk::Model]) -> Result<(Slice, String), Error> {
    fn given(raw: &Option<String>) -> Option<&str> {
        raw.as_deref().map(str::trim).filter(|r| !r.is_empty())
    }
    let desk = given(&q.desk)
        .map(|code| {
            desks.iter().find(|d| d.code == code).ok_or_else(|| {
                Error::invalid(
                    "desk",
                    crate::domain::Invalid::new("unknown_desk", "no such desk at this agency"),
                )
            })
        })
        .transpose()?;
    let channel = given(&q.channel)
        .map(|raw| {
            Channel::parse(raw).ok_or_else(|| {
                Error::invalid(
                    "channel",
                    crate::domain::Invalid::new("unknown_channel", "no such channel"),
                )
            })
        })
        .transpose()?;
    let words: Vec<&str> = desk
        .map(|d| d.name.as_str())
        .into_iter()
        .chain(channel.map(Channel::name_vi))
        .collect();
    Ok((
        Slice {
            desk: desk.map(|d| d.id),
            channel,
        },
        words.join(" · "),
    ))
}

/// A change against the period before, in words: "+1,2 điểm so với kỳ trước".
fn change_text(now: Option<f64>, before: Option<f64>, unit: &str) -> Option<String> {
    let (now, before) = (now?, before?);
    let d = now - before;
    let sign = if d > 0.0 {
        "+"
    } else if d < 0.0 {
        "−"
    } else {
        "±"
    };
    Some(format!("{sign}{} {unit} so với kỳ trước", vn(d.abs())))
}

struct ChildRow {
    code: String,
    name: String,
    href: String,
    responses: String,
    pct: String,
    ci: String,
    mean: String,
    index: String,
    sort_key: (Option<f64>, u64),
}

struct Header {
    label: &'static str,
    href: String,
    aria_sort: Option<&'static str>,
    numeric: bool,
}

struct DeskRow {
    /// The desk's agency and code, for its card and kiosk forms.
    agency: String,
    code: String,
    name: String,
    responses: String,
    pct: String,
    ci: String,
    mean: String,
}

struct CommentRow {
    when: String,
    place: String,
    desk: String,
    overall: i16,
    low: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    name: String,
    agency: String,
    year: i32,
    period: String,
    /// The period before, in words, for the changes.
    before: String,
    spans: Vec<(&'static str, &'static str, bool)>,
    from: String,
    to: String,
    /// The ended agencies whose ratings the figures include, by name (API.md,
    /// "Reorganisation").
    restated: Vec<String>,
    parent: Option<(String, String)>,
    figures: Vec<(String, String, String)>,
    links: Vec<(String, String)>,
    trend: ChartBlock,
    distribution: ChartBlock,
    /// The children's ranking and their months, when there are children.
    ranking: Option<ChartBlock>,
    heatmap: Option<ChartBlock>,
    interval: &'static str,
    headers: Vec<Header>,
    children: Vec<ChildRow>,
    desks: Vec<DeskRow>,
    comments: Vec<CommentRow>,
    /// Integrators may not read citizens' comments: the section is left out.
    show_comments: bool,
    words: String,
    comments_previous: Option<String>,
    comments_next: Option<String>,
    /// Administrators and managers print their desks' QR cards and open their kiosks.
    desk_links: bool,
    /// The filters' choices (value, label, chosen), the slice shown in words, and why a
    /// slice was not applied.
    desk_choices: Vec<(String, String, bool)>,
    channel_choices: Vec<(&'static str, &'static str, bool)>,
    sliced: String,
    unsliced_why: Option<String>,
    all_href: String,
}

/// The agency a dashboard shows by default: the user's own, or for an administrator the
/// first top-level agency.
fn home(tree_roots: &[entity::agency::Model], by: &SignedIn) -> Option<i64> {
    by.user.agency_id.or_else(|| {
        tree_roots
            .iter()
            .find(|a| a.parent_id.is_none() && a.valid_to.is_none())
            .map(|a| a.id)
    })
}

pub(super) async fn dashboard(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<DashboardQuery>,
) -> Response {
    shown(dashboard_page(&state, &staff, q).await)
}

async fn dashboard_page(
    state: &AppState,
    staff: &Staff,
    q: DashboardQuery,
) -> Result<DashboardPage, Error> {
    let by = &staff.signed_in.principal;
    let tz = state.config.timezone;
    let db = &state.db;
    // One read of the agencies serves the page, its report and its standing.
    let cx = state.context(by);
    let agencies = cx.agencies().await?;
    let all = &agencies.all;
    let code = match q.agency.clone().filter(|c| !c.is_empty()) {
        Some(code) => code,
        None => {
            let id = home(all, &staff.signed_in)
                .ok_or_else(|| Error::not_found("agency_not_found", "chưa có cơ quan nào"))?;
            all.iter()
                .find(|a| a.id == id)
                .map(|a| a.code.clone())
                .unwrap_or_default()
        }
    };
    let code = crate::org::code_of(&code)?;
    let (agency, _) = cx.in_scope(&code).await?;
    let tree = &agencies.tree;
    let now = crate::now().with_timezone(&tz).date_naive();
    let year = year_or_this(q.year.as_deref(), tz)?;
    let (span_key, span) = span_of(&q)?;
    // The days shown, and the stretch before them that the changes compare with.
    let ((first, today), (before_first, before_last)) = span.days(year.get(), now);
    let today = today.min(now);
    let period = Period {
        from: Some(first),
        to: Some(today),
    };
    let earlier = Period {
        from: Some(before_first),
        to: Some(before_last),
    };
    // The period, the one before, and the rank and band among the siblings (without the
    // siblings' figures), read side by side.
    let ((mut r, whole), mut b, standing) = tokio::try_join!(
        crate::report::agency::report_and_tally(&cx, &code, period, None),
        report(&cx, &code, earlier, None),
        annual::standing(&cx, year, &code),
    )?;
    let desk_models = desk::Entity::find()
        .filter(desk::Column::AgencyId.eq(agency.id))
        .order_by_asc(desk::Column::Code)
        .all(&db.read)
        .await?;
    let (mut slice, mut sliced) = slice_of(&q, &desk_models)?;
    let subtree = tree.subtree(agency.id);
    let instants = |from, to: chrono::NaiveDate| {
        (
            crate::domain::period::start_of(tz, from),
            crate::domain::period::start_of(tz, to + chrono::Days::new(1)),
        )
    };
    let (since, until) = instants(first, today);
    // A slice is counted from the raw ratings: only over a bounded number of them.
    let mut unsliced_why = None;
    let mut slice_tally = None;
    // Each desk's tally of the period, from the daily roll-up (for the desk table too).
    let by_desk = desk_tallies(&db.read, agency.id, first, today).await?;
    if let (Some(desk), None) = (slice.desk, slice.channel) {
        // One desk alone: the daily roll-up keeps desks, so any period will do.
        let before = desk_tallies(&db.read, agency.id, before_first, before_last).await?;
        let now_t = by_desk.get(&desk).cloned().unwrap_or_default();
        r.set_figures(score::summarize(&now_t));
        b.set_figures(score::summarize(
            &before.get(&desk).cloned().unwrap_or_default(),
        ));
        slice_tally = Some(now_t);
    } else if !slice.is_all() {
        if Slice::fits(r.ratings()) && Slice::fits(b.ratings()) {
            let now_t = slice::tally(&db.read, &subtree, (since, until), slice).await?;
            let before_t = slice::tally(
                &db.read,
                &subtree,
                instants(before_first, before_last),
                slice,
            )
            .await?;
            r.set_figures(score::summarize(&now_t));
            b.set_figures(score::summarize(&before_t));
            slice_tally = Some(now_t);
        } else {
            unsliced_why = Some(format!(
                "Bộ lọc chưa được áp dụng: kỳ này có hơn {} phiếu. Hãy chọn kỳ ngắn hơn hoặc \
                 một đơn vị nhỏ hơn.",
                vn_count(slice::MAX_RATINGS)
            ));
            slice = Slice::default();
            sliced.clear();
        }
    }
    let mut keep = match span {
        Span::Custom(..) => format!("&period=custom&from={first}&to={today}"),
        _ => format!("&period={span_key}"),
    };
    let all_href = format!("/dashboard?agency={}&year={year}{keep}", agency.code);
    // Links to other agencies keep the period and the channel; this agency's own links
    // keep its desk too.
    if let Some(c) = slice.channel {
        keep.push_str(&format!("&channel={}", c.as_str()));
    }
    let mut keep_here = keep.clone();
    if let Some(d) = desk_models.iter().find(|d| Some(d.id) == slice.desk) {
        keep_here.push_str(&format!("&desk={}", d.code));
    }

    let rank_text = match standing.rank {
        Some(rank) => format!("{rank} / {}", standing.of),
        None => "chưa xếp hạng".into(),
    };
    let band = standing.band;
    let mut figures = vec![
        (
            "Tỷ lệ hài lòng".to_string(),
            r.satisfaction_pct
                .map_or("–".into(), |p| format!("{} %", vn(p))),
            match change_text(r.satisfaction_pct, b.satisfaction_pct, "điểm") {
                Some(change) => format!("{change} · KTC 95%: {}", ci_text(r.ci95)),
                None => format!("KTC 95%: {}", ci_text(r.ci95)),
            },
        ),
        (
            "Số phiếu".to_string(),
            vn_count(r.responses),
            format!(
                "{} phiếu bị loại · kỳ trước {}",
                vn_count(r.excluded),
                vn_count(b.responses)
            ),
        ),
        (
            "Điểm trung bình".to_string(),
            mean_text(r.mean),
            "trên thang 1–5".to_string(),
        ),
        (
            "Chỉ số hài lòng".to_string(),
            pct_text(r.index),
            "trung bình 5 nội dung".to_string(),
        ),
        (
            "Xếp loại".to_string(),
            band.name_vi().to_string(),
            format!("tối thiểu {} phiếu", standing.min_responses),
        ),
    ];
    figures.push((
        "Hạng trong cùng cấp".to_string(),
        rank_text,
        "năm đến nay".to_string(),
    ));
    figures.push((
        "Phiếu chờ xem xét".to_string(),
        vn_count(r.held),
        "chưa tính vào số liệu cho đến khi được duyệt".to_string(),
    ));
    figures.push((
        "Phiếu có người hỗ trợ".to_string(),
        vn_count(r.assisted),
        "người dân được giúp điền phiếu".to_string(),
    ));
    // Decision 766: feedback answered on time, and satisfaction with how it was handled.
    if let Some(f) = &r.loop_figures.follow_up {
        let waiting = f.cases - f.answered;
        figures.push((
            "Phản ánh cần trả lời".to_string(),
            vn_count(waiting),
            format!(
                "{} quá hạn · {} phản ánh trong kỳ",
                vn_count(f.overdue_open),
                vn_count(f.cases)
            ),
        ));
        figures.push((
            "Trả lời đúng hạn".to_string(),
            f.on_time_pct.map_or("–".into(), |p| format!("{} %", vn(p))),
            format!(
                "hài lòng với cách giải quyết: {}",
                pct_text(f.handling_satisfaction_pct)
            ),
        ));
    }
    if let Some(d) = r.loop_figures.dossiers {
        figures.push((
            "Hài lòng theo hồ sơ".to_string(),
            pct_text(r.loop_figures.dossier_satisfaction_pct),
            format!("{} hồ sơ đã giải quyết (QĐ 766)", vn_count(d)),
        ));
    }

    // Children, sortable by any column without JavaScript.
    let sort = q.sort.as_deref().unwrap_or("pct");
    let descending = q.dir.as_deref() != Some("asc");
    let mut children: Vec<ChildRow> = r
        .children
        .iter()
        .map(|c| ChildRow {
            href: format!("/dashboard?agency={}&year={year}{keep}", c.agency),
            code: c.agency.clone(),
            name: c.name.clone(),
            responses: vn_count(c.responses),
            pct: pct_text(c.satisfaction_pct),
            ci: ci_text(c.ci95),
            mean: mean_text(c.mean),
            index: pct_text(c.index),
            sort_key: (
                match sort {
                    "mean" => c.mean,
                    "index" => c.index,
                    "responses" => Some(c.responses as f64),
                    _ => c.satisfaction_pct,
                },
                c.responses,
            ),
        })
        .collect();
    if sort == "name" {
        children.sort_by_cached_key(|c| crate::domain::text::vi_sort_key(&c.name));
    } else {
        children.sort_by(|a, b| {
            let key = |x: &ChildRow| x.sort_key.0.unwrap_or(f64::NEG_INFINITY);
            key(a).total_cmp(&key(b)).then(a.code.cmp(&b.code))
        });
    }
    if descending {
        children.reverse();
    }
    let headers = [
        ("name", "Đơn vị", false),
        ("responses", "Số phiếu", true),
        ("pct", "Tỷ lệ hài lòng (%)", true),
        ("ci", "KTC 95%", true),
        ("mean", "Điểm TB", true),
        ("index", "Chỉ số", true),
    ]
    .into_iter()
    .map(|(key, label, numeric)| {
        let key = if key == "ci" { "pct" } else { key };
        let active = key == sort && label != "KTC 95%";
        let next = if active && descending { "asc" } else { "desc" };
        Header {
            label,
            href: format!(
                "/dashboard?agency={}&year={year}{keep_here}&sort={key}&dir={next}",
                agency.code
            ),
            aria_sort: active.then_some(if descending {
                "descending"
            } else {
                "ascending"
            }),
            numeric,
        }
    })
    .collect();

    // Desks of this agency.
    let desks = desk_models
        .iter()
        .map(|d| {
            let f = score::figures(&by_desk.get(&d.id).map(|t| t.overall()).unwrap_or_default());
            DeskRow {
                agency: agency.code.clone(),
                code: d.code.clone(),
                name: d.name.clone(),
                responses: vn_count(f.n),
                pct: pct_text(f.satisfaction_pct),
                ci: ci_text(f.ci95),
                mean: mean_text(f.mean),
            }
        })
        .collect();

    let may_read_comments = Role::READ_RESPONSES.contains(&by.role);
    let words = q.words.as_deref().map(str::trim).filter(|w| !w.is_empty());
    let page = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| (1..=10_000).contains(p))
        .unwrap_or(1);
    let mut comments = if may_read_comments {
        let wanted = crate::report::CommentQuery {
            since,
            until,
            search: words,
            offset: (page - 1) * COMMENTS_PER_PAGE,
            // One more than a page says whether there is a next one.
            limit: COMMENTS_PER_PAGE + 1,
            slice,
        };
        recent_comments(&db.read, &subtree, &wanted).await?
    } else {
        Vec::new()
    };
    let more = comments.len() as u64 > COMMENTS_PER_PAGE;
    comments.truncate(COMMENTS_PER_PAGE as usize);
    let desk_names: std::collections::HashMap<i64, String> = desk::Entity::find()
        .filter(desk::Column::Id.is_in(comments.iter().filter_map(|c| c.desk_id)))
        .all(&db.read)
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let comments_link = |n: u64| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        url.append_pair("agency", &agency.code);
        url.append_pair("year", &year.to_string());
        if let Some(w) = words {
            url.append_pair("words", w);
        }
        url.append_pair("page", &n.to_string());
        format!("/dashboard?{}{keep_here}#comments", url.finish())
    };
    let comments_previous = (page > 1).then(|| comments_link(page - 1));
    let comments_next = more.then(|| comments_link(page + 1));
    let comments: Vec<CommentRow> = comments
        .into_iter()
        .map(|c| CommentRow {
            when: c
                .submitted_at
                .with_timezone(&tz)
                .format("%d/%m/%Y %H:%M")
                .to_string(),
            place: agencies
                .get(c.agency_id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            desk: c
                .desk_id
                .and_then(|d| desk_names.get(&d).cloned())
                .unwrap_or_default(),
            overall: c.overall,
            low: c.overall <= 2,
            text: c.text,
        })
        .collect();

    let period_q = format!("from={first}&to={today}");
    let mut links = vec![
        (
            "Báo cáo CSV".to_string(),
            format!(
                "/api/v1/reports/agencies/{}?{period_q}&format=csv",
                agency.code
            ),
        ),
        (
            "Báo cáo Excel".to_string(),
            format!(
                "/api/v1/reports/agencies/{}?{period_q}&format=xlsx",
                agency.code
            ),
        ),
    ];
    if by.role == Role::Admin {
        links.push((
            "Cơ quan, quầy và phiếu QR".to_string(),
            "/admin/agencies".to_string(),
        ));
        links.push((
            "Người dùng và khóa API".to_string(),
            "/admin/users".to_string(),
        ));
        links.push((
            format!("Phiếu chờ xem xét ({})", vn_count(r.held)),
            "/admin/review".to_string(),
        ));
        links.push((
            format!("Việc cuối năm {}", year.previous()),
            format!("/admin/year-end?year={}", year.previous()),
        ));
    }
    if matches!(by.role, Role::Admin | Role::Manager | Role::Viewer) {
        links.push((
            "Phản ánh cần trả lời".to_string(),
            format!("/cases?agency={}", agency.code),
        ));
    }
    if Role::READ_RESPONSES.contains(&by.role) {
        links.push((
            "Danh sách phiếu đánh giá".to_string(),
            format!(
                "/admin/responses?agency={}&from={first}&to={today}",
                agency.code
            ),
        ));
        links.push((
            "Phiếu đánh giá (CSV)".to_string(),
            format!(
                "/api/v1/responses?agency={}&{period_q}&format=csv",
                agency.code
            ),
        ));
    }
    if !r.children.is_empty() {
        links.push((
            format!("Xếp hạng năm {}", year.previous()),
            format!(
                "/reports/annual?year={}&parent={}",
                year.previous(),
                agency.code
            ),
        ));
        links.push((
            format!("Xếp hạng năm {year}"),
            format!("/reports/annual?year={year}&parent={}", agency.code),
        ));
    }
    // The charts, drawn into the page with their tables, read side by side; a ranking and
    // heat map of many children are linked instead, for the browser to fetch.
    let trend = async {
        let chart = charts::trend(&cx, &code, year).await?;
        let src = format!("/charts/agencies/{}/trend", agency.code);
        figure::block(state, chart, (src, format!("year={year}"))).await
    };
    let distribution = async {
        let chart = match &slice_tally {
            Some(t) => {
                let whose = format!("{}, {sliced}", agency.name);
                charts::distribution_of(&whose, (first, today), t)
            }
            None => charts::distribution_of(&agency.name, (first, today), &whole),
        };
        let src = format!("/charts/agencies/{}/distribution", agency.code);
        figure::block(state, chart, (src, period_q.clone())).await
    };
    let children_charts = async {
        let query = format!("year={year}&parent={}", agency.code);
        let at = |name: &str| (format!("/charts/{name}"), query.clone());
        if r.children.is_empty() {
            return Ok::<_, Error>((None, None));
        }
        if r.children.len() > figure::INLINE_ROWS {
            let whose = &agency.name;
            return Ok((
                Some(figure::linked(
                    at("ranking"),
                    format!("Biểu đồ xếp hạng năm {year} các đơn vị trực thuộc {whose}"),
                )),
                Some(figure::linked(
                    at("heatmap"),
                    format!("Bản đồ nhiệt theo tháng năm {year} các đơn vị trực thuộc {whose}"),
                )),
            ));
        }
        let ranking = async {
            let chart = charts::ranking(&cx, year, Some(&code)).await?;
            figure::block(state, chart, at("ranking")).await
        };
        let heatmap = async {
            let chart = charts::heatmap(&cx, year, Some(&code)).await?;
            figure::block(state, chart, at("heatmap")).await
        };
        let (ranking, heatmap) = tokio::try_join!(ranking, heatmap)?;
        Ok((Some(ranking), Some(heatmap)))
    };
    let (trend, distribution, (ranking, heatmap)) =
        tokio::try_join!(trend, distribution, children_charts)?;
    let parent = agency
        .parent_id
        .filter(|p| by.covers(tree, *p))
        .and_then(|p| agencies.get(p))
        .map(|p| {
            (
                p.name.clone(),
                format!("/dashboard?agency={}&year={year}{keep}", p.code),
            )
        });
    Ok(DashboardPage {
        chrome: Chrome::of(&staff.signed_in),
        name: agency.name.clone(),
        agency: agency.code.clone(),
        year: year.get(),
        period: format!(
            "{} đến {}",
            first.format("%d/%m/%Y"),
            today.format("%d/%m/%Y")
        ),
        before: format!(
            "{} đến {}",
            before_first.format("%d/%m/%Y"),
            before_last.format("%d/%m/%Y")
        ),
        spans: SPANS
            .iter()
            .map(|&(key, label)| (key, label, key == span_key))
            .collect(),
        from: first.to_string(),
        to: today.to_string(),
        restated: r
            .restated_from
            .iter()
            .filter_map(|c| agencies.by_code(c).ok())
            .map(|a| a.name.clone())
            .collect(),
        parent,
        figures,
        links,
        trend,
        distribution,
        ranking,
        heatmap,
        interval: figure::INTERVAL,
        headers,
        children,
        desks,
        comments,
        show_comments: may_read_comments,
        words: words.unwrap_or("").to_string(),
        comments_previous,
        comments_next,
        desk_links: matches!(by.role, Role::Admin | Role::Manager),
        desk_choices: desk_models
            .iter()
            .map(|d| (d.code.clone(), d.name.clone(), Some(d.id) == slice.desk))
            .collect(),
        channel_choices: Channel::ALL
            .iter()
            .map(|c| (c.as_str(), c.name_vi(), Some(*c) == slice.channel))
            .collect(),
        sliced,
        unsliced_why,
        all_href,
    })
}
