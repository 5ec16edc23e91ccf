//! A marketing strategy per segment: how the shop reaches the customers of
//! one segment — by which channels, with which offer, how soon and how often
//! a salesperson follows up, by which team and skills, at what priority, and
//! whether a salesperson is assigned at all. Follow-ups stop when the
//! customer buys, leaves the segment or withdraws consent to marketing.

use serde::{Deserialize, Serialize};

use crate::channel::Channel;
use crate::error::{Collector, FieldError, Invalid};
use crate::ids::TeamId;

/// Days within which the first contact is due, at most.
pub const MAX_FIRST_CONTACT_DAYS: u32 = 90;
/// Days between follow-ups, at most.
pub const MAX_EVERY_DAYS: u32 = 365;
const MAX_SKILLS: usize = 20;
const MAX_SKILL: usize = 40;

/// What a follow-up task asks the salesperson to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Call,
    Message,
    Visit,
    Offer,
}

/// How soon and how often the customer is followed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cadence {
    /// The first contact is due within this many days of entering.
    pub first_contact_days: u32,
    /// Then again every this many days (`None`: once).
    pub every_days: Option<u32>,
    pub task: TaskKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// How the shop reaches these customers, preferred first.
    pub channels: Vec<Channel>,
    /// A coupon template offered to them, if any.
    #[serde(default)]
    pub offer: Option<String>,
    /// Follow-ups; `None`: the segment gets no follow-up tasks.
    #[serde(default)]
    pub cadence: Option<Cadence>,
    /// Whether a salesperson is assigned to each customer who enters.
    pub assign: bool,
    /// The team that follows them up (`None`: anyone).
    #[serde(default)]
    pub team: Option<TeamId>,
    /// Skills the salesperson should have (lower-case tags).
    #[serde(default)]
    pub skills: Vec<String>,
    /// 1 (most urgent) to 5.
    pub priority: u8,
}

impl Strategy {
    /// Checks a strategy an admin sent, naming every bad field. Whether the
    /// team and the offer's template exist is the store's to check.
    pub fn validate(mut self) -> Result<Strategy, Invalid> {
        let mut errors = Collector::default();
        if self.channels.is_empty() {
            errors.push(FieldError::new(
                "channels",
                "required",
                "name at least one channel",
            ));
        }
        let mut channels = Vec::new();
        for channel in self.channels {
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        self.channels = channels;
        if let Some(cadence) = &self.cadence {
            if cadence.first_contact_days > MAX_FIRST_CONTACT_DAYS {
                errors.push(FieldError::new(
                    "cadence.first_contact_days",
                    "out_of_range",
                    format!("must be 0 to {MAX_FIRST_CONTACT_DAYS} days"),
                ));
            }
            if cadence
                .every_days
                .is_some_and(|d| !(1..=MAX_EVERY_DAYS).contains(&d))
            {
                errors.push(FieldError::new(
                    "cadence.every_days",
                    "out_of_range",
                    format!("must be 1 to {MAX_EVERY_DAYS} days"),
                ));
            }
        }
        if self.cadence.is_some() && !self.assign && self.team.is_none() {
            errors.push(FieldError::new(
                "assign",
                "no_one_to_follow_up",
                "follow-ups need an assigned salesperson or a team whose queue takes them",
            ));
        }
        if !(1..=5).contains(&self.priority) {
            errors.push(FieldError::new(
                "priority",
                "out_of_range",
                "must be 1 (most urgent) to 5",
            ));
        }
        if self.skills.len() > MAX_SKILLS {
            errors.push(FieldError::new(
                "skills",
                "too_many",
                format!("at most {MAX_SKILLS}"),
            ));
        }
        let mut skills: Vec<String> = Vec::new();
        for (i, skill) in self.skills.iter().enumerate() {
            let skill = skill.trim().to_lowercase();
            if skill.is_empty() || skill.chars().count() > MAX_SKILL {
                errors.push(FieldError::new(
                    format!("skills[{i}]"),
                    "invalid_text",
                    format!("must be 1 to {MAX_SKILL} characters"),
                ));
            } else if !skills.contains(&skill) {
                skills.push(skill);
            }
        }
        self.skills = skills;
        if let Some(offer) = &self.offer
            && (offer.is_empty() || offer.len() > 64)
        {
            errors.push(FieldError::new(
                "offer",
                "invalid_id",
                "must be a coupon template id",
            ));
        }
        errors.finish(|| self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy() -> Strategy {
        Strategy {
            channels: vec![Channel::Phone, Channel::Wechat, Channel::Phone],
            offer: Some("win-back-20".into()),
            cadence: Some(Cadence {
                first_contact_days: 2,
                every_days: Some(14),
                task: TaskKind::Call,
            }),
            assign: true,
            team: None,
            skills: vec!["Win-back".into(), "win-back".into()],
            priority: 1,
        }
    }

    #[test]
    fn a_strategy_is_normalised() {
        let ok = strategy().validate().unwrap();
        assert_eq!(ok.channels, [Channel::Phone, Channel::Wechat]);
        assert_eq!(ok.skills, ["win-back"]);
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = Strategy {
            channels: Vec::new(),
            cadence: Some(Cadence {
                first_contact_days: 400,
                every_days: Some(0),
                task: TaskKind::Call,
            }),
            assign: false,
            priority: 9,
            skills: vec![" ".into()],
            ..strategy()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = bad.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "channels",
                "cadence.first_contact_days",
                "cadence.every_days",
                "assign",
                "priority",
                "skills[0]"
            ]
        );
    }
}
