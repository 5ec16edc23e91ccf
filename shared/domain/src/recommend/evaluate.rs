//! Offline evaluation by leave-last-order-out: each customer's last order
//! (with products) is held out, everything else trains the model, and the
//! top `k` recommendations are scored against the held-out products.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::ids::ProductId;
use crate::order::Order;

/// A customer's history split at the last order.
#[derive(Debug, Clone)]
pub struct LeaveLastOut {
    pub train: Vec<Order>,
    pub held_out: Order,
}

impl LeaveLastOut {
    /// `None` for a customer with fewer than two purchases with lines (no
    /// history left to recommend from).
    pub fn split(orders: &[Order]) -> Option<LeaveLastOut> {
        let mut purchases: Vec<&Order> = orders
            .iter()
            .filter(|o| o.status.is_purchase() && !o.lines.is_empty())
            .collect();
        if purchases.len() < 2 {
            return None;
        }
        purchases.sort_by(|a, b| a.placed_at.cmp(&b.placed_at).then_with(|| a.id.cmp(&b.id)));
        let held_out = purchases.pop()?.clone();
        Some(LeaveLastOut {
            train: purchases.into_iter().cloned().collect(),
            held_out,
        })
    }

    pub fn relevant(&self) -> BTreeSet<ProductId> {
        self.held_out
            .lines
            .iter()
            .map(|l| l.product_id.clone())
            .collect()
    }
}

/// Hit rate@k and NDCG@k (binary relevance) over customers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RankingMetrics {
    pub k: usize,
    pub customers: usize,
    pub hits: usize,
    ndcg_sum: f64,
}

impl RankingMetrics {
    pub fn new(k: usize) -> RankingMetrics {
        RankingMetrics {
            k,
            ..RankingMetrics::default()
        }
    }

    pub fn add(&mut self, ranked: &[ProductId], relevant: &BTreeSet<ProductId>) {
        self.customers += 1;
        let top = &ranked[..ranked.len().min(self.k)];
        let gains: Vec<usize> = top
            .iter()
            .enumerate()
            .filter(|(_, p)| relevant.contains(*p))
            .map(|(i, _)| i)
            .collect();
        if gains.is_empty() {
            return;
        }
        self.hits += 1;
        let discount = |i: usize| 1.0 / ((i + 2) as f64).log2();
        let dcg: f64 = gains.into_iter().map(discount).sum();
        let ideal: f64 = (0..relevant.len().min(self.k)).map(discount).sum();
        self.ndcg_sum += dcg / ideal;
    }

    pub fn hit_rate(&self) -> f64 {
        if self.customers == 0 {
            0.0
        } else {
            self.hits as f64 / self.customers as f64
        }
    }

    pub fn ndcg(&self) -> f64 {
        if self.customers == 0 {
            0.0
        } else {
            self.ndcg_sum / self.customers as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<ProductId> {
        names
            .iter()
            .map(|n| ProductId::parse("p", n).unwrap())
            .collect()
    }

    #[test]
    fn hit_rate_and_ndcg_by_hand() {
        let mut m = RankingMetrics::new(3);
        let relevant: BTreeSet<ProductId> = ids(&["b", "z"]).into_iter().collect();
        // A hit in position 2 of 3: DCG = 1/log2(3); ideal = 1 + 1/log2(3).
        m.add(&ids(&["a", "b", "c", "z"]), &relevant);
        // A miss (z is past k).
        m.add(&ids(&["a", "c", "d", "z"]), &relevant);
        assert_eq!((m.customers, m.hits), (2, 1));
        assert_eq!(m.hit_rate(), 0.5);
        let expected = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2()) / 2.0;
        assert!((m.ndcg() - expected).abs() < 1e-12);
    }
}
