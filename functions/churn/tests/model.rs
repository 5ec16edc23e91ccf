//! The committed model in ONNX Runtime from Rust gives what onnxruntime in
//! Python gave when it was trained (golden.json), and its card fits this
//! build's feature definitions.

use strata_churn::model::ChurnModel;
use strata_churn::registry::{BUNDLED_CARD, BUNDLED_MODEL, version_of};
use strata_domain::churn::Feature;

fn bundled() -> ChurnModel {
    let card = ChurnModel::parse_card(BUNDLED_CARD).expect("card");
    ChurnModel::load(BUNDLED_MODEL, card)
        .expect("ONNX Runtime and the bundled model; run the tests with `cargo xtask test`, which sets ORT_DYLIB_PATH")
        .0
}

#[test]
fn rust_serving_reproduces_python_onnxruntime() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../model/golden.json")).expect("golden.json");
    let model = bundled();
    assert_eq!(golden["version"], model.version());
    let inputs: Vec<Vec<f32>> = serde_json::from_value(golden["inputs"].clone()).expect("inputs");
    let expected: Vec<f64> =
        serde_json::from_value(golden["probabilities"].clone()).expect("probabilities");
    let rows: Vec<f32> = inputs.iter().flatten().copied().collect();
    let got = model.run(rows, inputs.len()).expect("inference");
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!((g - e).abs() < 1e-5, "row {i}: Rust {g} vs Python {e}");
    }
    let spread = expected.iter().cloned().fold(f64::MIN, f64::max)
        - expected.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread > 0.1,
        "the golden rows must exercise the model, not one corner"
    );
}

#[test]
fn card_matches_the_model_file_and_the_feature_definitions() {
    let card = ChurnModel::parse_card(BUNDLED_CARD).expect("card");
    assert_eq!(card.version, version_of(BUNDLED_MODEL));
    let order = card.feature_order().expect("known features");
    let positions: Vec<usize> = order.iter().map(|f| *f as usize).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "the trainer keeps the export's (Feature::ALL) order"
    );
    assert!(order.contains(&Feature::RecencyDays), "bands need recency");
    assert!(card.holdout.roc_auc > 0.5 && card.holdout.roc_auc <= 1.0);
    assert!(card.risk_bands.high > card.risk_bands.medium);
}

#[test]
fn a_batch_gives_the_same_probabilities_as_one_at_a_time() {
    let model = bundled();
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../model/golden.json")).expect("golden.json");
    let inputs: Vec<Vec<f32>> = serde_json::from_value(golden["inputs"].clone()).expect("inputs");
    let all = model
        .run(inputs.iter().flatten().copied().collect(), inputs.len())
        .expect("batch");
    for (row, p) in inputs.iter().zip(&all) {
        let one = model.run(row.clone(), 1).expect("one");
        assert!((one[0] - p).abs() < 1e-6);
    }
}
