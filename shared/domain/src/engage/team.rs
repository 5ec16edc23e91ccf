//! The sales team: salespeople (who follows customers up, in which team,
//! with which skills and languages, up to how many active customers) and
//! teams (a name and a lead). Admins keep them; a token's
//! `strata:salesperson_id` claim links it to a salesperson, and one who has
//! left is refused.

use serde::{Deserialize, Serialize};

use crate::contact::Email;
use crate::error::{Collector, FieldError, Invalid};
use crate::ids::{SalespersonId, TeamId};

const MAX_NAME: usize = 120;
const MAX_TAGS: usize = 20;
const MAX_TAG: usize = 40;
/// Active customers one salesperson may follow up at most.
pub const MAX_CAPACITY: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalespersonStatus {
    /// Takes new customers and tasks.
    Active,
    /// Away for a while: keeps nothing new; their customers are spread over
    /// the team.
    Away,
    /// Gone: refused at sign-in; their customers are spread over the team.
    Left,
}

impl SalespersonStatus {
    pub fn name(self) -> &'static str {
        match self {
            SalespersonStatus::Active => "active",
            SalespersonStatus::Away => "away",
            SalespersonStatus::Left => "left",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Salesperson {
    pub id: SalespersonId,
    pub name: String,
    pub email: Email,
    pub team: Option<TeamId>,
    pub skills: Vec<String>,
    /// BCP 47 tags, e.g. `zh-CN`.
    pub languages: Vec<String>,
    /// Active customers they may follow up at most.
    pub capacity: u32,
    pub status: SalespersonStatus,
}

/// What an admin sends for a salesperson (`PUT /v1/salespeople/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalespersonInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub team: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    pub capacity: Option<u32>,
    pub status: Option<SalespersonStatus>,
}

impl SalespersonInput {
    pub fn validate(self, id: SalespersonId) -> Result<Salesperson, Invalid> {
        let mut errors = Collector::default();
        let name = errors.take(required_text("name", self.name.as_deref()));
        let email = match self.email.as_deref() {
            Some(raw) => errors.take(Email::parse("email", raw)),
            None => {
                errors.push(FieldError::required("email"));
                None
            }
        };
        let team = self
            .team
            .as_deref()
            .and_then(|raw| errors.take(TeamId::parse("team", raw)));
        let skills = errors.take(tags("skills", self.skills)).unwrap_or_default();
        let languages = errors
            .take(tags("languages", self.languages))
            .unwrap_or_default();
        let capacity = match self.capacity {
            Some(c) if (1..=MAX_CAPACITY).contains(&c) => Some(c),
            Some(_) => {
                errors.push(FieldError::new(
                    "capacity",
                    "out_of_range",
                    format!("must be 1 to {MAX_CAPACITY} customers"),
                ));
                None
            }
            None => {
                errors.push(FieldError::required("capacity"));
                None
            }
        };
        errors.finish(|| Salesperson {
            id,
            name: name.expect("checked"),
            email: email.expect("checked"),
            team,
            skills,
            languages,
            capacity: capacity.expect("checked"),
            status: self.status.unwrap_or(SalespersonStatus::Active),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// Who overdue follow-ups escalate to.
    pub lead: Option<SalespersonId>,
}

/// What an admin sends for a team (`PUT /v1/teams/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub name: Option<String>,
    pub lead: Option<String>,
}

impl TeamInput {
    pub fn validate(self, id: TeamId) -> Result<Team, Invalid> {
        let mut errors = Collector::default();
        let name = errors.take(required_text("name", self.name.as_deref()));
        let lead = self
            .lead
            .as_deref()
            .and_then(|raw| errors.take(SalespersonId::parse("lead", raw)));
        errors.finish(|| Team {
            id,
            name: name.expect("checked"),
            lead,
        })
    }
}

fn required_text(field: &str, raw: Option<&str>) -> Result<String, FieldError> {
    match raw.map(str::trim) {
        None => Err(FieldError::required(field)),
        Some(text) if text.is_empty() || text.chars().count() > MAX_NAME => Err(FieldError::new(
            field,
            "invalid_text",
            format!("must be 1 to {MAX_NAME} characters"),
        )),
        Some(text) => Ok(text.to_owned()),
    }
}

/// Skills or languages: short, distinct, lower-cased tags.
fn tags(field: &str, raw: Vec<String>) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_TAGS {
        return Err(FieldError::new(
            field,
            "too_many",
            format!("at most {MAX_TAGS}"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, tag) in raw.iter().enumerate() {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() || tag.chars().count() > MAX_TAG || tag.chars().any(char::is_control) {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                "invalid_text",
                format!("must be 1 to {MAX_TAG} printable characters"),
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_salesperson_is_checked_field_by_field() {
        let id = SalespersonId::parse("id", "li-wei").unwrap();
        let ok = SalespersonInput {
            name: Some(" Li Wei ".into()),
            email: Some("Li.Wei@Shop.example".into()),
            team: Some("north".into()),
            skills: vec!["Win-back".into(), "win-back".into()],
            languages: vec!["zh-CN".into()],
            capacity: Some(200),
            status: None,
        }
        .validate(id.clone())
        .unwrap();
        assert_eq!(ok.name, "Li Wei");
        assert_eq!(ok.skills, ["win-back"]);
        assert_eq!(ok.status, SalespersonStatus::Active);
        let bad = SalespersonInput {
            email: Some("nope".into()),
            skills: vec!["".into()],
            capacity: Some(0),
            ..SalespersonInput::default()
        }
        .validate(id)
        .unwrap_err();
        let fields: Vec<&str> = bad.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "skills[0]", "capacity"]);
    }
}
