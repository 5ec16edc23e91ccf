//! The `strata` command as a shop's engineer runs it: the demo on a small
//! real export, then `backup`, `snapshots`, `erase` and `restore` on the
//! store it left — an erased customer stays out of a restored snapshot
//! taken before the erasure.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use strata_domain::ids::CustomerId;
use strata_embedded::EmbeddedBackend;
use strata_store::cold::ColdTier;
use strata_store::{CustomerRepository, CustomerScan};

fn strata(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("run strata");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "strata {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

async fn some_customer(store: &Path) -> CustomerId {
    let backend = EmbeddedBackend::open(store).expect("open the store");
    let cold = ColdTier::new(Arc::new(backend.blobs));
    let mut scan = CustomerScan::new(Arc::new(backend.table), cold, 0, 1, 100);
    loop {
        let customer = scan.next().await.expect("scan").expect("a customer");
        if customer.profile.is_some() {
            return customer.id;
        }
    }
}

async fn holds(store: &Path, customer: CustomerId) -> bool {
    let backend = EmbeddedBackend::open(store).expect("open the store");
    CustomerRepository::pseudonymous(Arc::new(backend.table))
        .get(customer)
        .await
        .expect("read")
        .is_some()
}

#[tokio::test]
async fn demo_then_backup_erase_and_restore_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let export = common::superstore_head_file(dir.path(), 200);
    let data = dir.path().join("demo");
    let out = strata(&[
        "demo",
        "--superstore",
        export.to_str().expect("utf-8 path"),
        "--data-dir",
        data.to_str().expect("utf-8 path"),
        "--fresh",
    ]);
    for step in [
        "import",
        "churn scoring",
        "recommendations",
        "tiering",
        "backup",
    ] {
        assert!(out.contains(step), "no {step} line in:\n{out}");
    }
    assert!(
        out.contains("199 rows read") && out.contains("(reconciles)"),
        "{out}"
    );

    let store = data.join("superstore");
    let store_arg = store.to_str().expect("utf-8 path");
    let listed = strata(&["snapshots", "--data-dir", store_arg]);
    let taken_by_demo = listed
        .lines()
        .find(|l| l.contains("full"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no full snapshot listed:\n{listed}"))
        .to_owned();

    let customer = some_customer(&store).await;
    let erased = strata(&[
        "erase",
        "--data-dir",
        store_arg,
        "--customer",
        &customer.to_string(),
    ]);
    assert!(erased.contains("erased customer"), "{erased}");
    assert!(erased.contains("data key destroyed"), "{erased}");
    assert!(!holds(&store, customer).await);
    // Opened and closed here: the next command needs the store's locks.
    let table = Arc::new(EmbeddedBackend::open(&store).expect("open the store").table);
    let audit = strata_store::AuditLog::new(table, chrono::Duration::days(1))
        .of(
            customer,
            chrono::Utc::now() - chrono::Duration::hours(1),
            chrono::Utc::now(),
            None,
            10,
        )
        .await
        .expect("audit");
    assert_eq!(
        audit
            .entries
            .iter()
            .map(|e| (e.action.name(), e.route.as_str()))
            .collect::<Vec<_>>(),
        [("erase", "strata erase")],
        "the erasure is on the audit log"
    );

    let backed_up = strata(&["backup", "--data-dir", store_arg, "--kind", "incremental"]);
    assert!(backed_up.contains("verified"), "{backed_up}");

    let restored = dir.path().join("restored");
    let report = strata(&[
        "restore",
        "--data-dir",
        store_arg,
        "--snapshot",
        &taken_by_demo,
        "--into",
        restored.to_str().expect("utf-8 path"),
    ]);
    assert!(
        report.contains("withheld for 1 erased customers"),
        "{report}"
    );
    assert!(!holds(&restored, customer).await);
    let other = some_customer(&restored).await;
    assert_ne!(other, customer);
}

fn strata_fails(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("run strata");
    assert!(!output.status.success(), "strata {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn import_runs_one_export_and_prints_its_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    // CDNOW's layout (as the lifetimes package ships it); one row is malformed.
    let export = dir.path().join("orders.txt");
    std::fs::write(
        &export,
        " customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n\
         00002 19970112  1   12.00\n 00002 19970112  5   77.00\n 00003 19970102  2   20.76\n\
         00003 1997013x  2   20.76\n",
    )
    .expect("write the export");
    let (export, data) = (
        export.to_str().expect("utf-8 path"),
        dir.path().join("store"),
    );
    let data = data.to_str().expect("utf-8 path");
    let report: serde_json::Value = serde_json::from_str(&strata(&[
        "import",
        export,
        "--mapping",
        "cdnow",
        "--data-dir",
        data,
    ]))
    .expect("the report is JSON");
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(report["rows"]["read"], 5, "{report}");
    assert_eq!(report["rows"]["rejected"], 1, "{report}");
    assert_eq!(report["rows"]["reconciles"], true, "{report}");
    assert_eq!(report["created"]["customers"], 3, "{report}");

    // The same file again is recognised, not imported twice.
    let again: serde_json::Value = serde_json::from_str(&strata(&[
        "import",
        export,
        "--mapping",
        "cdnow",
        "--data-dir",
        data,
    ]))
    .expect("the report is JSON");
    assert_eq!(again["import_id"], report["import_id"], "{again}");

    let refused = strata_fails(&["import", export, "--mapping", "../x", "--data-dir", data]);
    assert!(refused.contains("--mapping"), "{refused}");
    let missing = strata_fails(&["import", "no-such-file.csv", "--mapping", "cdnow"]);
    assert!(missing.contains("no-such-file.csv"), "{missing}");
}
