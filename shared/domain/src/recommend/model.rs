//! The precomputed model: co-purchase similarity, popularity, a candidate
//! list for every node of the category tree, and one profile per customer.
//! Built from a product catalogue and every customer's signals; what it
//! produces is what the online path reads (a profile and one list).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CustomerId, ProductId};
use crate::product::{CategoryPath, Product};

use super::grey::{GreyAssessment, GreyLevels, GreyScale};
use super::scope::CategoryScope;
use super::signals::{CustomerFeatures, CustomerSignals};

#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    /// A non-consumable bought this recently is not pushed again.
    pub just_bought_days: i64,
    /// Half-life of a customer's own signals (their taste moves slowly).
    pub half_life_days: f64,
    /// Half-life of recent popularity, "selling well lately" (what the
    /// shop sells moves faster than one customer's taste).
    pub trend_half_life_days: f64,
    /// Weight of browsing/inquiring about a product, against buying it (1).
    pub browse_weight: f64,
    /// Weight of a good review of a product.
    pub liked_weight: f64,
    /// Weight of a stated category preference.
    pub preference_weight: f64,
    /// Neighbours kept per product.
    pub neighbours_per_product: usize,
    /// Neighbours kept per customer profile.
    pub neighbours_per_customer: usize,
    /// Products per level in a candidate list.
    pub list_length: usize,
    /// Strong categories kept per level in a profile.
    pub categories_per_level: usize,
    /// Most recent distinct products per customer counted in co-purchase
    /// (bounds the pairs a heavy buyer adds).
    pub max_basket: usize,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            just_bought_days: 30,
            half_life_days: 180.0,
            trend_half_life_days: 30.0,
            browse_weight: 0.5,
            liked_weight: 0.5,
            preference_weight: 1.0,
            neighbours_per_product: 30,
            neighbours_per_customer: 24,
            list_length: 30,
            categories_per_level: 3,
            max_basket: 60,
        }
    }
}

impl ModelSettings {
    /// Weight of a signal at `at` seen from `as_of`: 1 now, ½ a half-life ago.
    pub fn decay(&self, as_of: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
        half_life(as_of, at, self.half_life_days)
    }

    /// Weight of a purchase in recent popularity.
    pub fn trend(&self, as_of: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
        half_life(as_of, at, self.trend_half_life_days)
    }
}

fn half_life(as_of: DateTime<Utc>, at: DateTime<Utc>, half_life_days: f64) -> f64 {
    let days = (as_of - at).num_seconds().max(0) as f64 / 86_400.0;
    0.5f64.powf(days / half_life_days)
}

/// The products, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    products: HashMap<ProductId, Product>,
}

impl Catalogue {
    pub fn new(products: impl IntoIterator<Item = Product>) -> Catalogue {
        Catalogue {
            products: products.into_iter().map(|p| (p.id.clone(), p)).collect(),
        }
    }

    pub fn get(&self, id: &ProductId) -> Option<&Product> {
        self.products.get(id)
    }

    pub fn len(&self) -> usize {
        self.products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    pub fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }
}

/// A product as the lists carry it: enough to rank and show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: ProductId,
    pub name: String,
    pub category: CategoryPath,
    /// Distinct customers who bought it.
    pub buyers: u32,
    /// Buyers weighted by how recently they bought (trend half-life).
    pub recent: f64,
}

/// The popular products of one node and of each of its ancestors, deepest
/// first, ending with the overall best sellers: all the fallback levels of
/// a request in one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateList {
    pub scope: CategoryScope,
    pub as_of: DateTime<Utc>,
    /// `levels[0]` is `scope`'s own list, the last the root's.
    pub levels: Vec<ScopedCandidates>,
    /// The catalogue's most buyers and most recent weight, so that scores
    /// from different lists compare.
    pub max_buyers: u32,
    pub max_recent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopedCandidates {
    pub scope: CategoryScope,
    pub products: Vec<Candidate>,
}

/// A product often bought by the same customers as one the customer has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub product: Candidate,
    /// Similarity averaged over the customer's seeds, weighted by the
    /// seeds' weights: how likely a customer with these seeds buys it, in
    /// [0, 1], comparable between customers and with popularity.
    pub score: f64,
    /// The seed that contributed most, named in the reason.
    pub because: String,
}

/// A product's most similar products: the share of its buyers who also
/// bought each, P(other | product) over distinct buyers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarList {
    pub product_id: ProductId,
    pub similar: Vec<(ProductId, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeWeight {
    pub scope: CategoryScope,
    pub weight: f64,
}

/// What serving needs about one customer, precomputed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub customer_id: CustomerId,
    pub as_of: DateTime<Utc>,
    pub grey: GreyAssessment,
    /// Strongest categories, level 3 first, strongest first within a level.
    pub categories: Vec<ScopeWeight>,
    /// Co-purchase neighbours of what the customer bought, best first.
    pub neighbours: Vec<Neighbour>,
    pub exclude: BTreeSet<ProductId>,
    pub disliked_brands: BTreeSet<String>,
    /// False when the customer refused personalisation.
    pub personalised: bool,
}

impl Profile {
    /// The node whose candidate list serves a request: the customer's
    /// strongest category inside `filter` (deepest first), else `filter`,
    /// else the root.
    pub fn primary_scope(&self, filter: Option<&CategoryScope>) -> CategoryScope {
        let root = CategoryScope::root();
        let within = filter.unwrap_or(&root);
        self.categories
            .iter()
            .filter(|c| c.scope.is_within(within))
            .max_by(|a, b| {
                a.scope
                    .depth()
                    .cmp(&b.scope.depth())
                    .then(a.weight.total_cmp(&b.weight))
                    .then(b.scope.cmp(&a.scope))
            })
            .map_or_else(|| within.clone(), |c| c.scope.clone())
    }
}

/// Co-purchase and popularity counts, added up customer by customer; one
/// per scan segment, merged at the end.
#[derive(Debug, Clone, Default)]
pub struct CoPurchase {
    index: HashMap<ProductId, u32>,
    ids: Vec<ProductId>,
    buyers: Vec<u32>,
    recent: Vec<f64>,
    pairs: HashMap<(u32, u32), u32>,
}

impl CoPurchase {
    fn intern(&mut self, id: &ProductId) -> u32 {
        if let Some(n) = self.index.get(id) {
            return *n;
        }
        let n = self.ids.len() as u32;
        self.index.insert(id.clone(), n);
        self.ids.push(id.clone());
        self.buyers.push(0);
        self.recent.push(0.0);
        n
    }

    /// Counts one customer's distinct bought products (the most recent
    /// `max_basket` of them).
    pub fn add(
        &mut self,
        signals: &CustomerSignals,
        settings: &ModelSettings,
        as_of: DateTime<Utc>,
    ) {
        let mut basket: Vec<(DateTime<Utc>, &ProductId)> = signals
            .last_bought
            .iter()
            .copied()
            .zip(&signals.bought)
            .collect();
        basket.sort_by(|a, b| b.cmp(a));
        basket.truncate(settings.max_basket);
        let mut interned: Vec<u32> = Vec::with_capacity(basket.len());
        for (at, id) in basket {
            let n = self.intern(id);
            self.buyers[n as usize] += 1;
            self.recent[n as usize] += settings.trend(as_of, at);
            interned.push(n);
        }
        interned.sort_unstable();
        for (i, a) in interned.iter().enumerate() {
            for b in &interned[i + 1..] {
                *self.pairs.entry((*a, *b)).or_default() += 1;
            }
        }
    }

    pub fn merge(&mut self, other: CoPurchase) {
        let map: Vec<u32> = other.ids.iter().map(|id| self.intern(id)).collect();
        for (n, count) in other.buyers.iter().enumerate() {
            self.buyers[map[n] as usize] += count;
            self.recent[map[n] as usize] += other.recent[n];
        }
        for ((a, b), count) in other.pairs {
            let (x, y) = (map[a as usize], map[b as usize]);
            *self.pairs.entry((x.min(y), x.max(y))).or_default() += count;
        }
    }
}

/// The model one run builds.
pub struct Model {
    pub settings: ModelSettings,
    pub as_of: DateTime<Utc>,
    catalogue: Catalogue,
    buyers: HashMap<ProductId, (u32, f64)>,
    similar: HashMap<ProductId, Vec<(ProductId, f64)>>,
    lists: BTreeMap<CategoryScope, Vec<Candidate>>,
    max_buyers: u32,
    max_recent: f64,
    scale: Option<(GreyScale, GreyLevels)>,
}

impl Model {
    /// Similarity, popularity and the per-node lists from the counts;
    /// products bought but missing from the catalogue are left out (their
    /// category is unknown).
    ///
    /// Similarity of `b` seen from `a` is P(b | a) = buyers of both /
    /// buyers of `a`: "customers who bought a also bought b". Unlike cosine
    /// it does not divide by √(buyers of b), so a product with one chance
    /// co-buyer is not as similar as one most buyers of `a` take too; and
    /// it is a probability, so it adds up with popularity on one scale.
    pub fn build(
        catalogue: Catalogue,
        counts: CoPurchase,
        settings: ModelSettings,
        as_of: DateTime<Utc>,
    ) -> Model {
        let known = |n: u32| catalogue.get(&counts.ids[n as usize]).is_some();
        let mut neighbours: HashMap<u32, Vec<(u32, f64)>> = HashMap::new();
        for (&(a, b), &together) in &counts.pairs {
            if !known(a) || !known(b) {
                continue;
            }
            let together = f64::from(together);
            let given = |n: u32| together / f64::from(counts.buyers[n as usize]);
            neighbours.entry(a).or_default().push((b, given(a)));
            neighbours.entry(b).or_default().push((a, given(b)));
        }
        let similar = neighbours
            .into_iter()
            .map(|(product, mut list)| {
                list.sort_by(|x, y| {
                    y.1.total_cmp(&x.1)
                        .then_with(|| counts.ids[x.0 as usize].cmp(&counts.ids[y.0 as usize]))
                });
                list.truncate(settings.neighbours_per_product);
                let list = list
                    .into_iter()
                    .map(|(n, s)| (counts.ids[n as usize].clone(), s))
                    .collect();
                (counts.ids[product as usize].clone(), list)
            })
            .collect();
        let buyers: HashMap<ProductId, (u32, f64)> = counts
            .ids
            .iter()
            .enumerate()
            .filter(|(_, id)| catalogue.get(id).is_some())
            .map(|(n, id)| (id.clone(), (counts.buyers[n], counts.recent[n])))
            .collect();
        let max_buyers = buyers.values().map(|b| b.0).max().unwrap_or(0);
        let max_recent = buyers.values().map(|b| b.1).fold(0.0, f64::max);
        let mut model = Model {
            settings,
            as_of,
            catalogue,
            buyers,
            similar,
            lists: BTreeMap::new(),
            max_buyers,
            max_recent,
            scale: None,
        };
        model.lists = model.popular_lists();
        model
    }

    fn candidate(&self, product: &Product) -> Candidate {
        let (buyers, recent) = self.buyers.get(&product.id).copied().unwrap_or((0, 0.0));
        Candidate {
            id: product.id.clone(),
            name: product.name.clone(),
            category: product.category.clone(),
            buyers,
            recent,
        }
    }

    /// Every node's best sellers (products bought at least once), most
    /// buyers first, then most recent, then id.
    fn popular_lists(&self) -> BTreeMap<CategoryScope, Vec<Candidate>> {
        let mut lists: BTreeMap<CategoryScope, Vec<Candidate>> = BTreeMap::new();
        for product in self.catalogue.products() {
            let candidate = self.candidate(product);
            for depth in 0..=3 {
                let list = lists
                    .entry(CategoryScope::of(&product.category, depth))
                    .or_default();
                if candidate.buyers > 0 {
                    list.push(candidate.clone());
                }
            }
        }
        for list in lists.values_mut() {
            list.sort_by(|a, b| {
                b.buyers
                    .cmp(&a.buyers)
                    .then(b.recent.total_cmp(&a.recent))
                    .then_with(|| a.id.cmp(&b.id))
            });
            list.truncate(self.settings.list_length);
        }
        lists
    }

    /// Every node of the tree that has products, the root included.
    pub fn scopes(&self) -> impl Iterator<Item = &CategoryScope> {
        self.lists.keys()
    }

    /// The candidate list of a node (with its ancestors' lists), or `None`
    /// for a node with no products.
    pub fn candidate_list(&self, scope: &CategoryScope) -> Option<CandidateList> {
        self.lists.get(scope)?;
        Some(CandidateList {
            scope: scope.clone(),
            as_of: self.as_of,
            levels: scope
                .chain()
                .into_iter()
                .map(|s| ScopedCandidates {
                    products: self.lists.get(&s).cloned().unwrap_or_default(),
                    scope: s,
                })
                .collect(),
            max_buyers: self.max_buyers,
            max_recent: self.max_recent,
        })
    }

    /// Each product's similar products, for the similarity items.
    pub fn similar_lists(&self) -> impl Iterator<Item = SimilarList> + '_ {
        self.similar.iter().map(|(id, similar)| SimilarList {
            product_id: id.clone(),
            similar: similar.clone(),
        })
    }

    /// Fits the grey relational normalisation and levels on the customer base.
    pub fn grade_customers(&mut self, customers: &[CustomerFeatures]) {
        let scale = GreyScale::fit(customers);
        let grades: Vec<f64> = customers.iter().map(|c| scale.grade(c)).collect();
        let levels = GreyLevels::from_grades(&grades);
        self.scale = Some((scale, levels));
    }

    /// A customer's profile; `None` for a customer with nothing to go on.
    /// Call `grade_customers` first (else every customer grades 1, high).
    pub fn profile(&self, signals: &CustomerSignals) -> Option<Profile> {
        if !signals.has_history() {
            return None;
        }
        let grey = match &self.scale {
            Some((scale, levels)) => levels.assess(scale, &signals.features),
            None => GreyLevels {
                high_from: 0.0,
                medium_from: 0.0,
            }
            .assess(&GreyScale::fit(&[signals.features]), &signals.features),
        };
        let mut profile = Profile {
            customer_id: signals.customer_id,
            as_of: self.as_of,
            grey,
            categories: Vec::new(),
            neighbours: Vec::new(),
            exclude: signals.exclude.clone(),
            disliked_brands: signals.disliked_brands.clone(),
            personalised: signals.personalised,
        };
        if signals.personalised {
            profile.categories = self.category_weights(signals);
            profile.neighbours = self.neighbours(signals);
        }
        Some(profile)
    }

    /// Seed weights summed up the tree, plus stated preferences; the
    /// strongest few per level.
    fn category_weights(&self, signals: &CustomerSignals) -> Vec<ScopeWeight> {
        let mut weights: BTreeMap<CategoryScope, f64> = BTreeMap::new();
        for (product, weight) in &signals.seeds {
            if let Some(product) = self.catalogue.get(product) {
                for depth in 1..=3 {
                    *weights
                        .entry(CategoryScope::of(&product.category, depth))
                        .or_default() += weight;
                }
            }
        }
        for scope in &signals.preferences {
            for ancestor in scope.chain().into_iter().filter(|s| s.depth() > 0) {
                *weights.entry(ancestor).or_default() += self.settings.preference_weight;
            }
        }
        let mut strongest = Vec::new();
        for depth in (1..=3).rev() {
            let mut level: Vec<ScopeWeight> = weights
                .iter()
                .filter(|(s, w)| s.depth() == depth && **w > 0.0)
                .map(|(scope, weight)| ScopeWeight {
                    scope: scope.clone(),
                    weight: *weight,
                })
                .collect();
            level.sort_by(|a, b| {
                b.weight
                    .total_cmp(&a.weight)
                    .then_with(|| a.scope.cmp(&b.scope))
            });
            level.truncate(self.settings.categories_per_level);
            strongest.extend(level);
        }
        strongest
    }

    /// Similar products of the seeds, each scored by the seed-weighted mean
    /// of its similarity to every seed (0 to a seed it is not similar to);
    /// excluded products and disliked brands left out.
    fn neighbours(&self, signals: &CustomerSignals) -> Vec<Neighbour> {
        let seed_weights: f64 = signals.seeds.values().sum();
        if seed_weights <= 0.0 {
            return Vec::new();
        }
        let mut scores: HashMap<&ProductId, (f64, &ProductId, f64)> = HashMap::new();
        for (seed, weight) in &signals.seeds {
            for (other, similarity) in self.similar.get(seed).into_iter().flatten() {
                let contribution = weight * similarity;
                let entry = scores.entry(other).or_insert((0.0, seed, 0.0));
                entry.0 += contribution;
                if contribution > entry.2 {
                    (entry.1, entry.2) = (seed, contribution);
                }
            }
        }
        let mut neighbours: Vec<Neighbour> = scores
            .into_iter()
            .filter(|(id, _)| !signals.exclude.contains(*id))
            .filter_map(|(id, (score, because, _))| {
                let product = self.catalogue.get(id)?;
                if signals
                    .disliked_brands
                    .contains(&super::brand_of(&product.name))
                {
                    return None;
                }
                let because = self
                    .catalogue
                    .get(because)
                    .map_or_else(|| because.to_string(), |p| p.name.clone());
                Some(Neighbour {
                    product: self.candidate(product),
                    score: score / seed_weights,
                    because,
                })
            })
            .collect();
        neighbours.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.product.id.cmp(&b.product.id))
        });
        neighbours.truncate(self.settings.neighbours_per_customer);
        neighbours
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn product(id: &str) -> Product {
        Product {
            id: ProductId::parse("p", id).unwrap(),
            name: format!("{id} thing"),
            category: CategoryPath::parse("c", "L1", "L2", "L3").unwrap(),
            price: None,
            consumable: false,
        }
    }

    fn customer(bought: &[&str], at: DateTime<Utc>) -> CustomerSignals {
        let ids: Vec<ProductId> = bought.iter().map(|b| product(b).id).collect();
        CustomerSignals {
            customer_id: CustomerId::generate(),
            last_bought: vec![at; ids.len()],
            seeds: ids.iter().map(|id| (id.clone(), 1.0)).collect(),
            exclude: ids.iter().cloned().collect(),
            bought: ids,
            disliked_brands: BTreeSet::new(),
            preferences: Vec::new(),
            features: CustomerFeatures {
                recency_days: Some(1.0),
                orders: 1.0,
                spend: 0.0,
                breadth: 1.0,
                interactions: 0.0,
                rating: None,
            },
            personalised: true,
        }
    }

    /// a: 3 buyers, b: 3, c: 1; a and b bought together twice, a and c once.
    fn model() -> Model {
        let as_of = Utc::now();
        let settings = ModelSettings::default();
        let mut counts = CoPurchase::default();
        for basket in [&["a", "b"][..], &["a", "b"], &["a", "c"], &["b"]] {
            counts.add(&customer(basket, as_of), &settings, as_of);
        }
        Model::build(
            Catalogue::new(["a", "b", "c"].map(product)),
            counts,
            settings,
            as_of,
        )
    }

    fn similarity(model: &Model, from: &str, to: &str) -> f64 {
        model
            .similar_lists()
            .find(|l| l.product_id.as_str() == from)
            .and_then(|l| l.similar.into_iter().find(|(id, _)| id.as_str() == to))
            .map_or(0.0, |(_, s)| s)
    }

    #[test]
    fn similarity_is_the_share_of_a_products_buyers_who_bought_the_other() {
        let model = model();
        assert!((similarity(&model, "a", "b") - 2.0 / 3.0).abs() < 1e-12);
        // One chance co-buyer of a rarely bought product: cosine would make
        // c 1/√3 ≈ 0.58 similar to a; only a third of a's buyers took c.
        assert!((similarity(&model, "a", "c") - 1.0 / 3.0).abs() < 1e-12);
        assert!((similarity(&model, "c", "a") - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_neighbour_scores_the_seed_weighted_mean_similarity() {
        let model = model();
        let profile = model
            .profile(&customer(&["a", "c"], model.as_of))
            .expect("a profile");
        let b = profile
            .neighbours
            .iter()
            .find(|n| n.product.id.as_str() == "b")
            .expect("b is a neighbour");
        // P(b | a) = 2/3, P(b | c) = 0, seeds weighing 1 each.
        assert!((b.score - 1.0 / 3.0).abs() < 1e-12, "{}", b.score);
        assert_eq!(b.because, "a thing");
    }

    #[test]
    fn recent_popularity_moves_faster_than_a_customers_taste() {
        let settings = ModelSettings::default();
        let now = Utc::now();
        let month_ago = now - Duration::days(30);
        assert!((settings.trend(now, month_ago) - 0.5).abs() < 1e-9);
        assert!((settings.decay(now, month_ago) - 0.5f64.powf(30.0 / 180.0)).abs() < 1e-9);
    }
}
