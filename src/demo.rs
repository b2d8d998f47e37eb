//! `serve --demo`: a demo province loaded into an empty database, through the same services
//! as the API, so that a newcomer has something to look at.

use entity::agency;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::app::Context;
use crate::config::Config;
use crate::db::Db;
use crate::domain::Role;
use crate::govern::{Principal, keys, users};
use crate::org::{self, NewAgency, NewDesk};

pub const PROVINCE: (&str, &str) = ("KH", "Ủy ban nhân dân tỉnh Khánh Hòa");

/// Departments and provincial agencies: (code, name).
pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("KH.SNV", "Sở Nội vụ"),
    ("KH.STP", "Sở Tư pháp"),
    ("KH.STC", "Sở Tài chính"),
    ("KH.SXD", "Sở Xây dựng"),
    ("KH.SCT", "Sở Công Thương"),
    ("KH.SNNMT", "Sở Nông nghiệp và Môi trường"),
    ("KH.SGDDT", "Sở Giáo dục và Đào tạo"),
    ("KH.SYT", "Sở Y tế"),
    ("KH.SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch"),
    ("KH.SKHCN", "Sở Khoa học và Công nghệ"),
    ("KH.SDTTG", "Sở Dân tộc và Tôn giáo"),
    ("KH.SNGV", "Sở Ngoại vụ"),
    ("KH.TTR", "Thanh tra tỉnh"),
    ("KH.BQLKKT", "Ban Quản lý Khu kinh tế Vân Phong"),
    ("KH.CA", "Công an tỉnh"),
    ("KH.BHXH", "Bảo hiểm xã hội tỉnh"),
    ("KH.THUE", "Thuế tỉnh Khánh Hòa"),
    ("KH.TTPVHCC", "Trung tâm Phục vụ hành chính công tỉnh"),
    ("KH.VPUB", "Văn phòng Ủy ban nhân dân tỉnh"),
    ("KH.SDL", "Sở Du lịch"),
];

/// Communes, wards and the special zone: (code, name).
pub const COMMUNES: &[(&str, &str)] = &[
    ("KH.P.NHATRANG", "Phường Nha Trang"),
    ("KH.P.BACNHATRANG", "Phường Bắc Nha Trang"),
    ("KH.P.TAYNHATRANG", "Phường Tây Nha Trang"),
    ("KH.P.NAMNHATRANG", "Phường Nam Nha Trang"),
    ("KH.P.BACCAMRANH", "Phường Bắc Cam Ranh"),
    ("KH.P.CAMRANH", "Phường Cam Ranh"),
    ("KH.P.CAMLINH", "Phường Cam Linh"),
    ("KH.P.BANGOI", "Phường Ba Ngòi"),
    ("KH.P.NINHHOA", "Phường Ninh Hòa"),
    ("KH.P.DONGNINHHOA", "Phường Đông Ninh Hòa"),
    ("KH.P.HOATHANG", "Phường Hòa Thắng"),
    ("KH.X.CAMLAM", "Xã Cam Lâm"),
    ("KH.X.SUOIDAU", "Xã Suối Dầu"),
    ("KH.X.CAMHIEP", "Xã Cam Hiệp"),
    ("KH.X.CAMAN", "Xã Cam An"),
    ("KH.X.DIENKHANH", "Xã Diên Khánh"),
    ("KH.X.DIENLAC", "Xã Diên Lạc"),
    ("KH.X.DIENDIEN", "Xã Diên Điền"),
    ("KH.X.SUOIHIEP", "Xã Suối Hiệp"),
    ("KH.X.VANNINH", "Xã Vạn Ninh"),
    ("KH.X.TUBONG", "Xã Tu Bông"),
    ("KH.X.DAILANH", "Xã Đại Lãnh"),
    ("KH.X.VANTHANG", "Xã Vạn Thắng"),
    ("KH.X.VANHUNG", "Xã Vạn Hưng"),
    ("KH.X.KHANHVINH", "Xã Khánh Vĩnh"),
    ("KH.X.KHANHSON", "Xã Khánh Sơn"),
    ("KH.X.TAYKHANHSON", "Xã Tây Khánh Sơn"),
    ("KH.X.DONGKHANHSON", "Xã Đông Khánh Sơn"),
    ("KH.X.NINHPHUOC", "Xã Ninh Phước"),
    ("KH.DK.TRUONGSA", "Đặc khu Trường Sa"),
];

/// The district abolished on [`REFORM_DAY`] (the 2025 reform ended the district level).
pub const DISTRICT: (&str, &str) = ("KH.H.CAMLAM", "Huyện Cam Lâm");

/// The district's former communes and town: (code, name, the commune they merged into on
/// [`REFORM_DAY`]). The communes they merged into are made by the reform.
pub const FORMER: &[(&str, &str, &str)] = &[
    ("KH.TT.CAMDUC", "Thị trấn Cam Đức", "KH.X.CAMLAM"),
    ("KH.X.CAMHAIDONG", "Xã Cam Hải Đông", "KH.X.CAMLAM"),
    ("KH.X.CAMHAITAY", "Xã Cam Hải Tây", "KH.X.CAMLAM"),
    ("KH.X.SUOITAN", "Xã Suối Tân", "KH.X.SUOIDAU"),
    ("KH.X.SUOICAT", "Xã Suối Cát", "KH.X.SUOIDAU"),
];

/// The day the demo province's reorganisation took effect.
pub const REFORM_DAY: &str = "2025-07-01";

pub const ADMIN: (&str, &str) = ("demo-admin", "hailong-demo-admin");
pub const MANAGER: (&str, &str) = ("demo-manager", "hailong-demo-manager");
/// The agency the demo manager runs.
pub const MANAGER_AGENCY: &str = "KH.STP";

/// Loads the demo province into an empty database and prints how to sign in. A database
/// that already holds agencies is left as it is.
pub async fn load(db: &Db, config: &Config) -> anyhow::Result<bool> {
    let existing = agency::Entity::find().count(&db.read).await?;
    if existing > 0 {
        eprintln!(
            "demo: the database already holds {existing} agencies; nothing loaded \
             (demo users: {} / {}, {} / {})",
            ADMIN.0, ADMIN.1, MANAGER.0, MANAGER.1
        );
        return Ok(false);
    }
    let by = Principal {
        actor: "demo".into(),
        ..Principal::cli()
    };
    let made_by_reform = |code: &str| FORMER.iter().any(|(_, _, into)| *into == code);
    let total = 1 + DEPARTMENTS.len() + COMMUNES.len() + 1 + FORMER.len();
    let fail = |e: crate::Error| anyhow::anyhow!("demo: {}", e.message);
    let mut done = 0;
    for (code, name, parent, level) in std::iter::once((PROVINCE.0, PROVINCE.1, None, "tỉnh"))
        .chain(
            DEPARTMENTS
                .iter()
                .map(|(c, n)| (*c, *n, Some(PROVINCE.0), "sở, ngành")),
        )
        .chain(
            COMMUNES
                .iter()
                .filter(|(c, _)| !made_by_reform(c))
                .map(|(c, n)| (*c, *n, Some(PROVINCE.0), "xã, phường")),
        )
        .chain(std::iter::once((
            DISTRICT.0,
            DISTRICT.1,
            Some(PROVINCE.0),
            "huyện",
        )))
        .chain(
            FORMER
                .iter()
                .map(|(c, n, _)| (*c, *n, Some(DISTRICT.0), "xã, phường")),
        )
    {
        org::create_agency(
            &Context::new(db, &by, config),
            NewAgency {
                code: code.into(),
                name: name.into(),
                parent: parent.map(Into::into),
                level: Some(level.into()),
            },
        )
        .await
        .map_err(fail)?;
        let desks: &[(&str, &str)] = if parent.is_none() || level == "huyện" {
            &[]
        } else if level == "sở, ngành" {
            &[("MC1", "Quầy một cửa số 1"), ("MC2", "Quầy một cửa số 2")]
        } else {
            &[("MC1", "Bộ phận một cửa")]
        };
        for (desk_code, desk_name) in desks {
            org::create_desk(
                &Context::new(db, &by, config),
                &org::code_of(code).map_err(fail)?,
                NewDesk {
                    code: (*desk_code).into(),
                    name: (*desk_name).into(),
                },
            )
            .await
            .map_err(fail)?;
        }
        done += 1;
        eprint!("\rdemo: agencies {done}/{total}");
    }
    reform(&Context::new(db, &by, config)).await.map_err(fail)?;
    eprintln!();
    users::add(db, &by, ADMIN.0, ADMIN.1, Role::Admin, None)
        .await
        .map_err(fail)?;
    users::add(
        db,
        &by,
        MANAGER.0,
        MANAGER.1,
        Role::Manager,
        Some(MANAGER_AGENCY),
    )
    .await
    .map_err(fail)?;
    let key = keys::create(db, &by, Role::Admin, None, Some("demo administrator key"))
        .await
        .map_err(fail)?;
    eprintln!(
        "demo: loaded {total} agencies.\n\
         demo: administrator {} / {}; manager of {MANAGER_AGENCY} {} / {}\n\
         demo: admin API key (shown once): {}\n\
         demo: try  curl -H 'Authorization: Bearer {}' {}/api/v1/agencies",
        ADMIN.0, ADMIN.1, MANAGER.0, MANAGER.1, key.secret, key.secret, config.public_url
    );
    Ok(true)
}

/// The demo province's 2025 reform: the district's communes merge into two new communes
/// under the province, and the district, left empty, closes.
async fn reform(cx: &Context<'_>) -> crate::Result<()> {
    use crate::org::reorganise::{Change, NewReorganisation, reorganise};
    let mut changes: Vec<Change> = Vec::new();
    for (code, name) in COMMUNES {
        let from: Vec<String> = FORMER
            .iter()
            .filter(|(_, _, into)| into == code)
            .map(|(c, _, _)| (*c).to_string())
            .collect();
        if !from.is_empty() {
            changes.push(Change::Merge {
                from,
                into: (*code).to_string(),
                name: Some((*name).to_string()),
                parent: Some(Some(PROVINCE.0.to_string())),
            });
        }
    }
    changes.push(Change::Close {
        agency: DISTRICT.0.to_string(),
    });
    reorganise(
        cx,
        NewReorganisation {
            effective: REFORM_DAY.to_string(),
            reason: "Nghị quyết sắp xếp đơn vị hành chính cấp xã năm 2025 (dữ liệu mẫu)"
                .to_string(),
            changes,
        },
    )
    .await
    .map(|_| ())
}

/// Ratings for `serve --demo`: last year in full (its ranking frozen, so that the public
/// page has something to show) and this year to date.
pub async fn year_of_ratings(db: &Db, config: &Config) -> anyhow::Result<()> {
    use chrono::Datelike;
    let tz = config.timezone;
    let today = crate::now().with_timezone(&tz).date_naive();
    let this_year = today.year();
    for (year, count) in [(this_year - 1, 60_000), (this_year, 50_000)] {
        let spec = crate::generate::Spec {
            year,
            count,
            seed: u64::try_from(year).unwrap_or(0),
            until: Some(today),
            comments: true,
        };
        let stored = crate::generate::ratings(db, tz, &spec, |n| {
            eprint!("\rdemo: ratings for {year}: {n}");
        })
        .await?;
        eprintln!("\rdemo: {stored} ratings for {year}");
    }
    answer_old_cases(db, today).await?;
    let by = Principal {
        actor: "demo".into(),
        ..Principal::cli()
    };
    let last = crate::domain::Year::stored(this_year - 1);
    let province = org::code_of(PROVINCE.0).map_err(|e| anyhow::anyhow!("demo: {e:#}"))?;
    crate::report::annual::freeze(&Context::new(db, &by, config), last, Some(&province))
        .await
        .map_err(|e| anyhow::anyhow!("demo: {e:#}"))?;
    eprintln!(
        "demo: the {last} ranking is frozen: {}/public/annual/{last}?parent={}",
        config.public_url, PROVINCE.0
    );
    Ok(())
}

/// Answers the demo's cases older than a week, two days after they opened, so that the
/// inbox holds the recent ones and the follow-up figures have something to show.
async fn answer_old_cases(db: &Db, today: chrono::NaiveDate) -> anyhow::Result<()> {
    use entity::case;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    let week_ago = today - chrono::Days::new(7);
    let answered = case::Entity::update_many()
        .col_expr(
            case::Column::Reply,
            Expr::value("Cơ quan đã tiếp thu ý kiến, nhắc nhở bộ phận một cửa và bổ sung người tiếp nhận vào giờ cao điểm. Xin cảm ơn Ông/Bà."),
        )
        .col_expr(case::Column::RepliedAt, Expr::col(case::Column::OpenedAt))
        .col_expr(case::Column::RepliedOn, Expr::col(case::Column::OpenedOn))
        .col_expr(case::Column::RepliedBy, Expr::value("demo"))
        .filter(case::Column::OpenedOn.lt(week_ago))
        .filter(case::Column::Reply.is_null())
        .exec(&db.write)
        .await?;
    eprintln!("demo: {} older cases answered", answered.rows_affected);
    Ok(())
}

/// Adds generated communes under the province until it has `total` direct children (for
/// benches at the scale of a large province). Returns how many were added.
pub async fn grow(db: &Db, config: &Config, total: usize) -> anyhow::Result<usize> {
    let by = Principal {
        actor: "demo".into(),
        ..Principal::cli()
    };
    let fail = |e: crate::Error| anyhow::anyhow!("demo: {}", e.message);
    let province = org::agency_by_code(&db.read, PROVINCE.0)
        .await
        .map_err(fail)?;
    let cx = Context::new(db, &by, config);
    let tree = cx.agencies().await.map_err(fail)?.tree.clone();
    let have = tree.children(province.id).len();
    let mut added = 0;
    for i in have..total {
        let code = format!("KH.X.MAU{:04}", i + 1);
        org::create_agency(
            &Context::new(db, &by, config),
            NewAgency {
                code: code.clone(),
                name: format!("Xã Mẫu số {}", i + 1),
                parent: Some(PROVINCE.0.into()),
                level: Some("xã, phường".into()),
            },
        )
        .await
        .map_err(fail)?;
        org::create_desk(
            &Context::new(db, &by, config),
            &org::code_of(&code).map_err(fail)?,
            NewDesk {
                code: "MC1".into(),
                name: "Bộ phận một cửa".into(),
            },
        )
        .await
        .map_err(fail)?;
        added += 1;
        if added % 50 == 0 {
            eprint!("\rdemo: added {added} communes");
        }
    }
    if added > 0 {
        eprintln!();
    }
    Ok(added)
}
