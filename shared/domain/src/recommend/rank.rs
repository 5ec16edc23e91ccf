//! Serving: one profile and one candidate list in, a ranked list out.
//!
//! Every candidate is placed at the deepest of the customer's categories
//! holding it (level 3 → 2 → 1, else the shop's best sellers) and scored;
//! the `limit` best scores across levels make the answer, shown deepest
//! level first. A level thus serves what earns a place: a strong level-3
//! category fills the answer, a weak one gives way to wider levels rather
//! than pushing its least likely products ahead of likelier ones.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ids::ProductId;
use crate::product::CategoryPath;

use super::grey::GreyLevel;
use super::model::{Candidate, CandidateList, Profile};
use super::scope::CategoryScope;
use super::signals::brand_of;

/// Which level of the tree served an item, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Level3,
    Level2,
    Level1,
    BestSellers,
}

impl Level {
    fn of_depth(depth: usize) -> Level {
        match depth {
            3 => Level::Level3,
            2 => Level::Level2,
            1 => Level::Level1,
            _ => Level::BestSellers,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Level3 => "level3",
            Level::Level2 => "level2",
            Level::Level1 => "level1",
            Level::BestSellers => "best_sellers",
        }
    }
}

/// How candidates are ordered within a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// Co-purchase, affinity, popularity and recency, weighted by the
    /// customer's grey level; the best scores across levels.
    Full,
    /// The plain category fallback: every level-3 candidate before any
    /// level-2 one and so on, by popularity alone within a level.
    PopularityOnly,
}

/// The weights of the four signals; they add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    pub similarity: f64,
    pub affinity: f64,
    pub popularity: f64,
    pub recency: f64,
}

impl Weights {
    /// Highly graded customers are steered by what they themselves bought,
    /// low-graded ones by what sells.
    pub fn for_level(level: GreyLevel) -> Weights {
        match level {
            GreyLevel::High => Weights {
                similarity: 0.5,
                affinity: 0.2,
                popularity: 0.2,
                recency: 0.1,
            },
            GreyLevel::Medium => Weights {
                similarity: 0.4,
                affinity: 0.2,
                popularity: 0.25,
                recency: 0.15,
            },
            GreyLevel::Low => Weights {
                similarity: 0.25,
                affinity: 0.15,
                popularity: 0.4,
                recency: 0.2,
            },
        }
    }

    pub const POPULARITY_ONLY: Weights = Weights {
        similarity: 0.0,
        affinity: 0.0,
        popularity: 1.0,
        recency: 0.0,
    };
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub limit: usize,
    /// Only products inside this category; the fallback stops at its level.
    pub filter: Option<CategoryScope>,
    pub ranking: Ranking,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub product_id: ProductId,
    pub name: String,
    pub category: CategoryPath,
    pub level: Level,
    pub score: f64,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// At least one item.
    Served,
    /// Every level came up empty (after exclusions): recorded for analysis.
    Miss,
    /// Nothing is known about the customer yet: an empty list, not an error.
    NoHistory,
    /// The customer withdrew consent to personalisation: an empty list.
    NoConsent,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendations {
    pub outcome: Outcome,
    /// The most specific level that served an item.
    pub served_by: Option<Level>,
    pub items: Vec<Recommendation>,
}

impl Recommendations {
    pub fn no_history() -> Recommendations {
        Recommendations {
            outcome: Outcome::NoHistory,
            served_by: None,
            items: Vec::new(),
        }
    }
}

/// A request that no level could serve, kept so the data is re-analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Miss {
    pub customer_id: crate::ids::CustomerId,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The category filter of the request, if any.
    pub filter: Option<CategoryScope>,
    /// The node whose list was read.
    pub scope: CategoryScope,
    /// Products excluded for this customer (bought lately, disliked).
    pub excluded: usize,
}

struct Scored<'a> {
    candidate: &'a Candidate,
    level: Level,
    /// The scope that placed it at its level (the root for best sellers).
    scope: CategoryScope,
    similarity: f64,
    because: Option<&'a str>,
    affinity: f64,
}

/// Ranks the profile's neighbours and the list's popular products.
/// `list` should be the candidate list of `profile.primary_scope(filter)`;
/// `None` (no such list) leaves only the neighbours.
pub fn recommend(
    profile: &Profile,
    list: Option<&CandidateList>,
    request: &Request,
) -> Recommendations {
    let root = CategoryScope::root();
    let filter = request.filter.as_ref().unwrap_or(&root);
    // Scopes that count as "the customer's": their strong categories and the
    // chain of the list's node (which is their strongest, or the filter).
    let mut served: HashMap<&CategoryScope, f64> = HashMap::new();
    let mut strongest = [0.0f64; 4];
    for c in &profile.categories {
        served.insert(&c.scope, c.weight);
        strongest[c.scope.depth()] = strongest[c.scope.depth()].max(c.weight);
    }
    let chain: Vec<CategoryScope> = list.map(|l| l.scope.chain()).unwrap_or_default();
    for scope in &chain {
        served.entry(scope).or_insert(0.0);
    }
    let best_sellers: std::collections::HashSet<&ProductId> = list
        .and_then(|l| l.levels.last())
        .filter(|l| l.scope.depth() == 0)
        .map(|l| l.products.iter().map(|c| &c.id).collect())
        .unwrap_or_default();
    let place = |candidate: &Candidate| -> Option<(Level, CategoryScope, f64)> {
        if !filter.contains(&candidate.category) {
            return None;
        }
        for depth in (filter.depth().max(1)..=3).rev() {
            let scope = CategoryScope::of(&candidate.category, depth);
            if let Some(weight) = served.get(&scope) {
                let affinity = if strongest[depth] > 0.0 {
                    weight / strongest[depth] * depth_share(depth)
                } else {
                    0.0
                };
                return Some((Level::of_depth(depth), scope, affinity));
            }
        }
        (filter.depth() == 0 && best_sellers.contains(&candidate.id))
            .then(|| (Level::BestSellers, CategoryScope::root(), 0.0))
    };
    let excluded = |candidate: &Candidate| {
        profile.exclude.contains(&candidate.id)
            || profile.disliked_brands.contains(&brand_of(&candidate.name))
    };
    let mut pool: HashMap<&ProductId, Scored<'_>> = HashMap::new();
    for neighbour in &profile.neighbours {
        let candidate = &neighbour.product;
        if excluded(candidate) {
            continue;
        }
        if let Some((level, scope, affinity)) = place(candidate) {
            pool.insert(
                &candidate.id,
                Scored {
                    candidate,
                    level,
                    scope,
                    similarity: neighbour.score.clamp(0.0, 1.0),
                    because: Some(&neighbour.because),
                    affinity,
                },
            );
        }
    }
    for candidate in list
        .iter()
        .flat_map(|l| &l.levels)
        .flat_map(|l| &l.products)
    {
        if pool.contains_key(&candidate.id) || excluded(candidate) {
            continue;
        }
        if let Some((level, scope, affinity)) = place(candidate) {
            pool.insert(
                &candidate.id,
                Scored {
                    candidate,
                    level,
                    scope,
                    similarity: 0.0,
                    because: None,
                    affinity,
                },
            );
        }
    }
    let weights = match request.ranking {
        Ranking::Full => Weights::for_level(profile.grey.level),
        Ranking::PopularityOnly => Weights::POPULARITY_ONLY,
    };
    let (max_buyers, max_recent) = list.map_or((0, 0.0), |l| (l.max_buyers, l.max_recent));
    let mut ranked: Vec<(Level, f64, Recommendation)> = pool
        .into_values()
        .map(|s| {
            let popularity = ratio(f64::from(s.candidate.buyers), f64::from(max_buyers));
            let recency = ratio(s.candidate.recent, max_recent);
            let parts = [
                (weights.similarity * s.similarity, Signal::CoPurchase),
                (weights.affinity * s.affinity, Signal::Affinity),
                (weights.popularity * popularity, Signal::Popular),
                (weights.recency * recency, Signal::Recent),
            ];
            let score: f64 = parts.iter().map(|p| p.0).sum();
            let lead = parts
                .iter()
                .filter(|p| p.0 > 0.0)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or(Signal::Popular, |p| p.1);
            let recommendation = Recommendation {
                product_id: s.candidate.id.clone(),
                name: s.candidate.name.clone(),
                category: s.candidate.category.clone(),
                level: s.level,
                score: (score * 1e4).round() / 1e4,
                reason: reason(lead, s.level, &s.scope, s.because),
            };
            (s.level, score, recommendation)
        })
        .collect();
    let by_id = |a: &Recommendation, b: &Recommendation| a.product_id.cmp(&b.product_id);
    if request.ranking == Ranking::Full {
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| by_id(&a.2, &b.2)));
        ranked.truncate(request.limit);
    }
    ranked.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.total_cmp(&a.1))
            .then_with(|| by_id(&a.2, &b.2))
    });
    ranked.truncate(request.limit);
    let items: Vec<Recommendation> = ranked.into_iter().map(|r| r.2).collect();
    Recommendations {
        outcome: if items.is_empty() {
            Outcome::Miss
        } else {
            Outcome::Served
        },
        served_by: items.first().map(|i| i.level),
        items,
    }
}

/// How much a match at `depth` says about the customer: a level-3 match
/// (their exact kind of product) counts fully, level 2 two thirds, level 1
/// one third, so that scores compare across levels.
fn depth_share(depth: usize) -> f64 {
    depth.min(3) as f64 / 3.0
}

fn ratio(value: f64, max: f64) -> f64 {
    if max > 0.0 { value / max } else { 0.0 }
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    CoPurchase,
    Affinity,
    Popular,
    Recent,
}

/// "often bought with Xerox 1881; from Paper, where you shop most".
fn reason(lead: Signal, level: Level, scope: &CategoryScope, because: Option<&str>) -> String {
    let name = scope.leaf().unwrap_or_default();
    let why = match (lead, because) {
        (Signal::CoPurchase, Some(seed)) => format!("often bought with {seed}"),
        (Signal::Recent, _) => "selling well lately".to_owned(),
        (Signal::Affinity, _) => "matches what you buy".to_owned(),
        _ => "a best seller".to_owned(),
    };
    let place = match level {
        Level::Level3 => format!("in {name}, a category you buy from most"),
        Level::Level2 => format!("in {name}, around what you buy"),
        Level::Level1 => format!("in {name}, the wider department"),
        Level::BestSellers => "across the shop".to_owned(),
    };
    format!("{why} {place}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::Utc;

    use super::*;
    use crate::ids::CustomerId;
    use crate::recommend::grey::GreyAssessment;
    use crate::recommend::model::{ScopeWeight, ScopedCandidates};

    fn candidate(id: &str, path: [&str; 3], buyers: u32) -> Candidate {
        Candidate {
            id: ProductId::parse("p", id).unwrap(),
            name: format!("{id} thing"),
            category: CategoryPath::parse("c", path[0], path[1], path[2]).unwrap(),
            buyers,
            recent: f64::from(buyers),
        }
    }

    fn scope(raw: &str) -> CategoryScope {
        CategoryScope::parse("c", raw).unwrap()
    }

    /// A customer of A > B > C: a rarely bought product there, a best
    /// seller of its level 2 next door, and a best seller elsewhere.
    fn setting() -> (Profile, CandidateList) {
        let deep = candidate("deep", ["A", "B", "C"], 1);
        let wide = candidate("wide", ["A", "B", "D"], 100);
        let other = candidate("other", ["Q", "R", "S"], 100);
        let profile = Profile {
            customer_id: CustomerId::generate(),
            as_of: Utc::now(),
            grey: GreyAssessment {
                grade: 1.0,
                level: GreyLevel::High,
                normalised: Vec::new(),
            },
            categories: ["A > B > C", "A > B", "A"]
                .map(|s| ScopeWeight {
                    scope: scope(s),
                    weight: 1.0,
                })
                .to_vec(),
            neighbours: Vec::new(),
            exclude: BTreeSet::new(),
            disliked_brands: BTreeSet::new(),
            personalised: true,
        };
        let level = |s: &str, products: Vec<Candidate>| ScopedCandidates {
            scope: CategoryScope::parse("c", s).unwrap_or_else(|_| CategoryScope::root()),
            products,
        };
        let list = CandidateList {
            scope: scope("A > B > C"),
            as_of: Utc::now(),
            levels: vec![
                level("A > B > C", vec![deep]),
                level("A > B", vec![wide.clone()]),
                level("A", vec![wide.clone()]),
                level("", vec![wide, other]),
            ],
            max_buyers: 100,
            max_recent: 100.0,
        };
        (profile, list)
    }

    fn ids(answer: &Recommendations) -> Vec<(&str, Level)> {
        answer
            .items
            .iter()
            .map(|i| (i.product_id.as_str(), i.level))
            .collect()
    }

    fn request(limit: usize, ranking: Ranking) -> Request {
        Request {
            limit,
            filter: None,
            ranking,
        }
    }

    #[test]
    fn a_likelier_product_of_a_wider_level_displaces_a_weak_deep_one() {
        let (profile, list) = setting();
        // Full: "wide" scores 0.2·⅔ + 0.2 + 0.1 against "deep"'s 0.2 + 0.003.
        let one = recommend(&profile, Some(&list), &request(1, Ranking::Full));
        assert_eq!(ids(&one), [("wide", Level::Level2)]);
        assert_eq!(one.served_by, Some(Level::Level2));
        // The plain fallback keeps every level-3 product first.
        let plain = recommend(&profile, Some(&list), &request(1, Ranking::PopularityOnly));
        assert_eq!(ids(&plain), [("deep", Level::Level3)]);
    }

    #[test]
    fn the_answer_shows_deeper_levels_first() {
        let (profile, list) = setting();
        let all = recommend(&profile, Some(&list), &request(3, Ranking::Full));
        assert_eq!(
            ids(&all),
            [
                ("deep", Level::Level3),
                ("wide", Level::Level2),
                ("other", Level::BestSellers)
            ]
        );
        assert!(all.items[0].score < all.items[1].score);
    }

    #[test]
    fn a_match_counts_less_the_wider_its_level() {
        assert_eq!(depth_share(3), 1.0);
        assert!((depth_share(2) - 2.0 / 3.0).abs() < 1e-12);
        assert!((depth_share(1) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(depth_share(0), 0.0);
    }
}
