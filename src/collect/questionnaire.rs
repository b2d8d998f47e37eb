//! Questionnaires: the built-in `one-stop-5` and `kiosk-3`, and the versioned copies stored
//! in the database. A stored version never changes; links and responses point at the exact
//! version they used.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use entity::{question, questionnaire};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::error::{Error, Result};

/// An answer option and its labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: i16,
    pub vi: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// One of the choices.
    Scale,
    /// Free text (the comment).
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub key: String,
    pub kind: Kind,
    pub required: bool,
    pub text_vi: String,
    pub text_en: String,
    pub choices: Vec<Choice>,
    pub max_length: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Questionnaire {
    pub id: i64,
    pub key: String,
    pub version: i32,
    pub name_vi: String,
    pub name_en: String,
    /// 5 or 3 levels.
    pub scale: i32,
    pub questions: Vec<Question>,
}

impl Questionnaire {
    pub fn question(&self, key: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.key == key)
    }

    pub fn scale_questions(&self) -> impl Iterator<Item = &Question> {
        self.questions.iter().filter(|q| q.kind == Kind::Scale)
    }

    pub fn comment(&self) -> Option<&Question> {
        self.questions.iter().find(|q| q.kind == Kind::Text)
    }
}

pub const ONE_STOP_5: &str = "one-stop-5";
pub const KIOSK_3: &str = "kiosk-3";
pub const COMMENT_MAX_CHARS: usize = 1000;

const FIVE: [(i16, &str, &str); 5] = [
    (1, "Rất không hài lòng", "Very dissatisfied"),
    (2, "Không hài lòng", "Dissatisfied"),
    (3, "Bình thường", "Neutral"),
    (4, "Hài lòng", "Satisfied"),
    (5, "Rất hài lòng", "Very satisfied"),
];

const THREE: [(i16, &str, &str); 3] = [
    (1, "Không hài lòng", "Dissatisfied"),
    (4, "Hài lòng", "Satisfied"),
    (5, "Rất hài lòng", "Very satisfied"),
];

/// The element questions of the SIPAS model, worded for a one-stop desk.
const ONE_STOP_QUESTIONS: [(&str, bool, &str, &str); 6] = [
    (
        "overall",
        true,
        "Nhìn chung, Ông/Bà hài lòng như thế nào với việc giải quyết thủ tục hành chính hôm nay?",
        "Overall, how satisfied are you with how your procedure was handled today?",
    ),
    (
        "access",
        false,
        "Tiếp cận dịch vụ: nơi tiếp nhận dễ tìm, đủ chỗ ngồi và trang thiết bị",
        "Access: the desk was easy to find, with enough seats and equipment",
    ),
    (
        "procedure",
        false,
        "Thủ tục hành chính: được niêm yết công khai; hồ sơ, phí và thời hạn đúng quy định",
        "Procedure: publicly posted; documents, fees and deadlines as prescribed",
    ),
    (
        "staff",
        false,
        "Công chức: lịch sự, tận tình, hướng dẫn dễ hiểu",
        "Civil servant: courteous, helpful, clear guidance",
    ),
    (
        "result",
        false,
        "Kết quả: đúng hẹn, đầy đủ, chính xác",
        "Result: on time, complete and correct",
    ),
    (
        "feedback",
        false,
        "Việc tiếp nhận và xử lý góp ý, phản ánh, kiến nghị",
        "How your suggestions and complaints were received and handled",
    ),
];

fn choices(levels: &[(i16, &str, &str)]) -> Vec<Choice> {
    levels
        .iter()
        .map(|(value, vi, en)| Choice {
            value: *value,
            vi: (*vi).into(),
            en: (*en).into(),
        })
        .collect()
}

fn comment_question() -> Question {
    Question {
        key: "comment".into(),
        kind: Kind::Text,
        required: false,
        text_vi: "Ý kiến khác (không bắt buộc)".into(),
        text_en: "Other comments (optional)".into(),
        choices: Vec::new(),
        max_length: Some(COMMENT_MAX_CHARS),
    }
}

/// The built-in questionnaires as the code defines them (`id` and `version` unset).
pub fn builtins() -> Vec<Questionnaire> {
    let one_stop = ONE_STOP_QUESTIONS
        .iter()
        .map(|(key, required, vi, en)| Question {
            key: (*key).into(),
            kind: Kind::Scale,
            required: *required,
            text_vi: (*vi).into(),
            text_en: (*en).into(),
            choices: choices(&FIVE),
            max_length: None,
        })
        .chain(std::iter::once(comment_question()))
        .collect();
    let (_, _, overall_vi, overall_en) = ONE_STOP_QUESTIONS[0];
    vec![
        Questionnaire {
            id: 0,
            key: ONE_STOP_5.into(),
            version: 0,
            name_vi: "Phiếu đánh giá mức độ hài lòng tại Bộ phận Một cửa".into(),
            name_en: "One-stop desk satisfaction survey".into(),
            scale: 5,
            questions: one_stop,
        },
        Questionnaire {
            id: 0,
            key: KIOSK_3.into(),
            version: 0,
            name_vi: "Đánh giá nhanh tại quầy".into(),
            name_en: "Quick rating at the desk".into(),
            scale: 3,
            questions: vec![
                Question {
                    key: "overall".into(),
                    kind: Kind::Scale,
                    required: true,
                    text_vi: overall_vi.into(),
                    text_en: overall_en.into(),
                    choices: choices(&THREE),
                    max_length: None,
                },
                comment_question(),
            ],
        },
    ]
}

/// Stores each built-in questionnaire whose latest stored version differs from the code's
/// (or that is not stored yet) as a new version. Safe to run at every start.
pub async fn ensure_builtins(db: &Db) -> Result<()> {
    for builtin in builtins() {
        let txn = db.begin_write().await?;
        let latest = latest(&txn, &builtin.key).await?;
        let same = latest.as_ref().is_some_and(|stored| {
            Questionnaire {
                id: 0,
                version: 0,
                ..stored.clone()
            } == builtin
        });
        if !same {
            let version = latest.map(|q| q.version + 1).unwrap_or(1);
            insert(&txn, &builtin, version, true).await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

async fn insert(
    conn: &impl ConnectionTrait,
    q: &Questionnaire,
    version: i32,
    builtin: bool,
) -> Result<i64> {
    let stored = questionnaire::ActiveModel {
        key: Set(q.key.clone()),
        version: Set(version),
        name_vi: Set(q.name_vi.clone()),
        name_en: Set(q.name_en.clone()),
        scale: Set(q.scale),
        builtin: Set(builtin),
        created_at: Set(crate::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    for (position, question) in q.questions.iter().enumerate() {
        question::ActiveModel {
            questionnaire_id: Set(stored.id),
            key: Set(question.key.clone()),
            position: Set(position as i32),
            kind: Set(match question.kind {
                Kind::Scale => "scale".into(),
                Kind::Text => "text".into(),
            }),
            required: Set(question.required),
            element: Set((question.kind == Kind::Scale && question.key != "overall")
                .then(|| question.key.clone())),
            text_vi: Set(question.text_vi.clone()),
            text_en: Set(question.text_en.clone()),
            options: Set(serde_json::to_string(&question.choices).map_err(Error::internal)?),
            max_length: Set(question.max_length.map(|m| m as i32)),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(stored.id)
}

/// The latest stored version of `key`.
pub async fn latest(conn: &impl ConnectionTrait, key: &str) -> Result<Option<Questionnaire>> {
    let found = questionnaire::Entity::find()
        .filter(questionnaire::Column::Key.eq(key))
        .order_by_desc(questionnaire::Column::Version)
        .one(conn)
        .await?;
    match found {
        Some(q) => Ok(Some(assemble(conn, q).await?)),
        None => Ok(None),
    }
}

async fn assemble(conn: &impl ConnectionTrait, q: questionnaire::Model) -> Result<Questionnaire> {
    let rows = question::Entity::find()
        .filter(question::Column::QuestionnaireId.eq(q.id))
        .order_by_asc(question::Column::Position)
        .all(conn)
        .await?;
    let mut questions = Vec::with_capacity(rows.len());
    for row in rows {
        questions.push(Question {
            kind: if row.kind == "text" {
                Kind::Text
            } else {
                Kind::Scale
            },
            choices: serde_json::from_str(&row.options).map_err(Error::internal)?,
            max_length: row.max_length.map(|m| m.max(0) as usize),
            key: row.key,
            required: row.required,
            text_vi: row.text_vi,
            text_en: row.text_en,
        });
    }
    Ok(Questionnaire {
        id: q.id,
        key: q.key,
        version: q.version,
        name_vi: q.name_vi,
        name_en: q.name_en,
        scale: q.scale,
        questions,
    })
}

/// Stored versions never change, so they are cached for the life of the process.
#[derive(Default, Clone)]
pub struct Cache(Arc<RwLock<HashMap<i64, Arc<Questionnaire>>>>);

impl Cache {
    pub async fn get(&self, conn: &impl ConnectionTrait, id: i64) -> Result<Arc<Questionnaire>> {
        if let Some(found) = self.0.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(found);
        }
        let row = questionnaire::Entity::find_by_id(id)
            .one(conn)
            .await?
            .ok_or_else(|| Error::internal(format!("questionnaire {id} is missing")))?;
        let q = Arc::new(assemble(conn, row).await?);
        if let Ok(mut map) = self.0.write() {
            map.insert(id, q.clone());
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_match_the_spec() {
        let all = builtins();
        let one_stop = &all[0];
        let keys: Vec<&str> = one_stop.questions.iter().map(|q| q.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "overall",
                "access",
                "procedure",
                "staff",
                "result",
                "feedback",
                "comment"
            ]
        );
        assert!(one_stop.question("overall").unwrap().required);
        assert!(!one_stop.question("staff").unwrap().required);
        for q in one_stop.scale_questions() {
            let values: Vec<i16> = q.choices.iter().map(|c| c.value).collect();
            assert_eq!(values, [1, 2, 3, 4, 5], "{}", q.key);
            assert!(!q.text_vi.is_empty() && !q.text_en.is_empty());
        }
        let kiosk = &all[1];
        let values: Vec<i16> = kiosk
            .question("overall")
            .unwrap()
            .choices
            .iter()
            .map(|c| c.value)
            .collect();
        assert_eq!(values, [1, 4, 5]);
        assert_eq!(kiosk.question("overall").unwrap().choices[1].vi, "Hài lòng");
        assert_eq!(one_stop.comment().unwrap().max_length, Some(1000));
    }
}
