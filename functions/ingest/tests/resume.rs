//! A file too large for one invocation: the import pauses at checkpoints and
//! resumes; across the hand-overs no row is lost or stored twice.

mod common;

use std::time::Instant;

use strata_ingest::import::run::RunOutcome;
use strata_store::ImportStatus;

fn orders_file(rows: usize) -> Vec<u8> {
    let mut file = String::from(
        "order.id,customer.external_id,order.placed_at,order.total,order.item_count\n",
    );
    for i in 0..rows {
        // 250 customers, each with several orders; a few repeated lines.
        let n = if i % 97 == 0 && i > 0 { i - 1 } else { i };
        file.push_str(&format!(
            "SO-{n:05},C-{:03},2026-0{}-1{} 10:00,{}.{:02},{}\n",
            n % 250,
            1 + n % 9,
            n % 10,
            n % 500,
            n % 100,
            1 + n % 4
        ));
    }
    file.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_at_every_checkpoint_loses_and_repeats_nothing() {
    let mut local = common::local().await;
    local.importer.chunk_rows = 150;
    local.importer.safety_margin = std::time::Duration::ZERO;
    let object = common::upload(
        local.blobs.as_ref(),
        "imports/orders/big.csv",
        orders_file(2_000),
    )
    .await;

    // A deadline already passed: every run stops after one chunk.
    let mut outcome = local
        .importer
        .run(object, "worker-1", Some(Instant::now()))
        .await
        .expect("first run");
    let mut runs = 1;
    let state = loop {
        match outcome {
            RunOutcome::Paused(state) => {
                runs += 1;
                assert!(runs < 100, "the import must make progress");
                let worker = format!("worker-{runs}");
                // A new worker may take over only once the lease is released or expired;
                // the paused run keeps it, so the continuation comes from the same worker here.
                let _ = worker;
                outcome = local
                    .importer
                    .resume(&state.id, "worker-1", Some(Instant::now()))
                    .await
                    .expect("resume");
            }
            RunOutcome::Completed(state) => break state,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(
        runs >= 10,
        "2,000 rows in chunks of 150 take many runs, took {runs}"
    );
    assert_eq!(state.status, ImportStatus::Completed);
    assert_eq!(state.invocations as usize, runs);
    let c = state.counts;
    assert_eq!(c.rows_read, 2_000);
    assert!(c.reconciles(), "{c:?}");
    let repeated = (1..2_000).filter(|i| i % 97 == 0).count() as u64;
    assert_eq!(
        c.duplicates, repeated,
        "repeated order numbers are duplicates"
    );
    assert_eq!(c.orders_created, 2_000 - repeated);
    assert_eq!(c.customers_created, 250);
}
