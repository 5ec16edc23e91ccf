//! Checks that serving reproduces training: the model, fed by this crate's
//! features at the card's holdout cut-off, must reach the card's ROC AUC.

use chrono::{DateTime, NaiveDate, Utc};
use strata_domain::churn::FeatureVector;
use strata_domain::ids::CustomerId;
use strata_store::CustomerRecords;

use crate::model::{ChurnModel, ModelError};
use crate::scoring;

/// ROC AUC by ranks (Mann–Whitney U), ties sharing their mean rank.
pub fn roc_auc(scores: &[f64], churned: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[order[k]] = mean;
        }
        i = j + 1;
    }
    let positives = churned.iter().filter(|c| **c).count() as f64;
    let negatives = churned.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let rank_sum: f64 = ranks
        .iter()
        .zip(churned)
        .filter(|(_, c)| **c)
        .map(|(r, _)| r)
        .sum();
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// The holdout as serving sees it: features at the cut-off, the label after it.
pub fn holdout(
    customers: &[CustomerRecords],
    cutoff: DateTime<Utc>,
    horizon_days: u32,
) -> (Vec<(CustomerId, FeatureVector)>, Vec<bool>) {
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for customer in customers {
        let history = scoring::view(&customer.history);
        if let Some(features) = history.features(cutoff) {
            rows.push((customer.id, features));
            labels.push(history.churned_after(cutoff, horizon_days));
        }
    }
    (rows, labels)
}

/// The model's ROC AUC on its own holdout, recomputed through serving.
pub fn served_auc(
    model: &ChurnModel,
    customers: &[CustomerRecords],
) -> Result<Option<f64>, ModelError> {
    let card = model.card();
    let cutoff = NaiveDate::parse_from_str(&card.holdout.cutoff, "%Y-%m-%d")
        .map_err(|e| ModelError::CardFormat(format!("holdout.cutoff: {e}")))?
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let (rows, labels) = holdout(customers, cutoff, card.label.horizon_days);
    let features: Vec<FeatureVector> = rows.into_iter().map(|(_, f)| f).collect();
    let probabilities = model.probabilities(&features)?;
    Ok(roc_auc(&probabilities, &labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_pairs_ranked_right_and_halves_ties() {
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.1], &[false, true]), Some(0.0));
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        // 2 positives × 2 negatives: (0.8>0.3, 0.8>0.6, 0.4>0.3, 0.4<0.6) = 3/4
        assert_eq!(
            roc_auc(&[0.3, 0.8, 0.6, 0.4], &[false, true, false, true]),
            Some(0.75)
        );
        assert_eq!(roc_auc(&[0.3], &[true]), None);
    }
}
