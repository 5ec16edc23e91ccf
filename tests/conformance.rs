//! Runs every conformance case against every adapter. Test names read
//! `<adapter>::<case>`, so the output shows each case for each adapter.

macro_rules! conformance {
    ($adapter:ident, $make:path, $available:path, [$($case:ident),+ $(,)?]) => {
        mod $adapter {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if !$available() {
                        return;
                    }
                    let backend = $make().await.expect("backend");
                    strata_tests::cases::$case(&backend).await;
                }
            )+
        }
    };
}

macro_rules! all_adapters {
    ($($case:ident),+ $(,)?) => {
        conformance!(embedded, strata_tests::backend::Backend::embedded, crate::always, [$($case),+]);
        conformance!(aws, strata_tests::backend::Backend::aws, strata_tests::backend::moto_available, [$($case),+]);
    };
}

/// The embedded backend needs no server.
fn always() -> bool {
    true
}

all_adapters!(
    conditional_write_conflict,
    query_pagination_past_1mb,
    query_pagination_past_100_items,
    batch_write_10000_items_under_throttling,
    multipart_object_over_16_mib,
    storage_class_copy_and_head,
    archived_objects_read_after_a_restore,
    blob_listing_pages_in_key_order,
    chinese_text_and_emoji_round_trip,
    concurrent_writers_lose_no_update,
    parallel_scan_covers_each_item_once,
    secondary_indexes_follow_their_items,
    customer_lookups_move_with_the_profile,
    personal_fields_are_sealed_and_lookups_are_blind,
    batch_get_reads_many_keys_under_throttling,
    locked_objects_refuse_deletion_until_their_lock_ends,
    data_keys_unwrap_only_under_their_own_context,
    points_ledger_never_overspends,
    audit_entries_are_never_overwritten,
    assignments_list_by_salesperson_and_move_on_reassignment,
    consent_ledger_is_append_only_and_idempotent,
);
