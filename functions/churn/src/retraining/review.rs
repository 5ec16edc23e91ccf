//! Judging a candidate: is it the model its card describes, trained on this
//! run's export, and how do it and the champion rank the run's holdout rows
//! when ONNX Runtime scores them here. Both are measured on the same rows
//! by the same code, so the comparison does not trust the trainer's numbers.

use strata_domain::churn::ModelCard;

use crate::evaluate::roc_auc;
use crate::model::{ChurnModel, ModelError};
use crate::registry::{MODEL_NAME, version_of};

/// The card's ROC AUC and the one measured here may differ by this much
/// (float32 inference, summation order).
pub const PARITY_TOLERANCE: f64 = 1e-4;

/// The holdout rows of a run's export, every feature column kept.
pub struct Holdout {
    columns: Vec<String>,
    rows: Vec<Vec<f32>>,
    churned: Vec<bool>,
}

impl Holdout {
    /// Reads `customer,cutoff,split,<features…>,churned` (as
    /// `export::write_csv` writes it) and keeps the `holdout` rows. Fields
    /// are taken from the right, so a customer key with a comma stays whole.
    pub fn from_csv(csv: &[u8]) -> Result<Holdout, String> {
        let text = std::str::from_utf8(csv).map_err(|e| format!("the export is not UTF-8: {e}"))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .ok_or("the export is empty")?
            .split(',')
            .collect();
        let width = header.len();
        if width < 5
            || header[..3] != ["customer", "cutoff", "split"]
            || header[width - 1] != "churned"
        {
            return Err(format!("unexpected export header {header:?}"));
        }
        let columns: Vec<String> = header[3..width - 1]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let (mut rows, mut churned) = (Vec::new(), Vec::new());
        for (n, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            let Some(extra) = fields.len().checked_sub(width) else {
                return Err(format!(
                    "row {} has {} fields, not {width}",
                    n + 2,
                    fields.len()
                ));
            };
            let field = |column: usize| fields[column + extra];
            if field(2) != "holdout" {
                continue;
            }
            let values = (3..width - 1)
                .map(|c| field(c).parse::<f32>())
                .collect::<Result<Vec<f32>, _>>()
                .map_err(|e| format!("row {}: {e}", n + 2))?;
            rows.push(values);
            churned.push(match field(width - 1) {
                "1" => true,
                "0" => false,
                other => return Err(format!("row {}: label `{other}`", n + 2)),
            });
        }
        Ok(Holdout {
            columns,
            rows,
            churned,
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The model's ROC AUC on these rows (`None` with a single class).
    pub fn roc_auc(&self, model: &ChurnModel) -> Result<Option<f64>, ModelError> {
        let indices = model
            .inputs()
            .iter()
            .map(|feature| {
                self.columns
                    .iter()
                    .position(|c| c == feature.name())
                    .ok_or_else(|| {
                        ModelError::Inference(format!(
                            "the export has no column `{}`",
                            feature.name()
                        ))
                    })
            })
            .collect::<Result<Vec<usize>, _>>()?;
        let mut input = Vec::with_capacity(self.rows.len() * indices.len());
        for row in &self.rows {
            input.extend(indices.iter().map(|i| row[*i]));
        }
        let probabilities = model.run(input, self.rows.len())?;
        Ok(roc_auc(&probabilities, &self.churned))
    }
}

/// Checks that the candidate is what its card says and was trained on this
/// run's export: `Err` says why not.
pub fn check_identity(model: &[u8], card: &ModelCard, features_sha256: &str) -> Result<(), String> {
    if card.name != MODEL_NAME {
        return Err(format!("the card is for model `{}`", card.name));
    }
    let digest = version_of(model);
    if card.version != digest {
        return Err(format!(
            "the card's version {} is not the model file's digest {digest}",
            card.version
        ));
    }
    if card.data.features_sha256 != features_sha256 {
        return Err(format!(
            "the card's training data {} is not this run's export {features_sha256}",
            card.data.features_sha256
        ));
    }
    card.feature_order().map_err(|e| e.to_string())?;
    Ok(())
}

/// Checks the card's holdout ROC AUC against the one measured here.
pub fn check_parity(card: &ModelCard, measured: f64) -> Result<(), String> {
    let claimed = card.holdout.roc_auc;
    if (claimed - measured).abs() > PARITY_TOLERANCE {
        return Err(format!(
            "the card claims holdout ROC AUC {claimed:.6}, serving measures {measured:.6}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holdout_is_read_back_from_the_export() {
        let csv = "customer,cutoff,split,a,b,churned\n\
                   x,1998-01-01,train,1,2,0\n\
                   shop:id,with,comma,1998-04-01,holdout,3.5,4,1\n\
                   y,1998-04-01,holdout,5,6,0\n";
        let holdout = Holdout::from_csv(csv.as_bytes()).expect("export");
        assert_eq!(holdout.columns, ["a", "b"]);
        assert_eq!(holdout.rows, [vec![3.5, 4.0], vec![5.0, 6.0]]);
        assert_eq!(holdout.churned, [true, false]);
        assert!(Holdout::from_csv(b"customer,cutoff,split,a,churned\nx,1,holdout\n").is_err());
        assert!(Holdout::from_csv(b"customer,cutoff,split,a,churned\nx,1,holdout,1,7\n").is_err());
        assert!(Holdout::from_csv(b"id,a,b\n").is_err());
    }
}
