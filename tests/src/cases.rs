//! The conformance cases. Each runs against every adapter (see
//! `conformance.rs`), so the embedded backend is held to DynamoDB and S3
//! semantics and the AWS adapters are proven against a real protocol server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use strata_domain::ReadOptions;
use strata_domain::customer::{Customer, CustomerInput, Identifier, Origin, Tier};
use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::{
    self, BlobError, PutOptions, RestoreState, RestoreTier, StorageClass,
};
use strata_domain::ports::table::{
    Condition, Index, Item, Key, MAX_PAGE_BYTES, PK, Query, SK, SortCondition, Table, TableError,
    TransactOp, Update, Value, WriteRequest, item_size,
};
use strata_store::{BatchPolicy, CustomerRepository, StoreError};

use crate::backend::Backend;
use crate::faulty::FaultyTable;

fn item(pk: &str, sk: &str, attrs: &[(&str, Value)]) -> Item {
    let mut item = Item::from([
        (PK.to_owned(), Value::S(pk.into())),
        (SK.to_owned(), Value::S(sk.into())),
    ]);
    item.extend(attrs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    item
}

fn origin(at: chrono::DateTime<chrono::Utc>) -> Origin {
    Origin {
        source: "conformance".into(),
        at,
    }
}

fn s(text: &str) -> Value {
    Value::S(text.to_owned())
}

/// Reads every page of a query; returns the items and the page count.
async fn query_all(table: &dyn Table, query: Query) -> (Vec<Item>, usize) {
    let (mut items, mut pages, mut start) = (Vec::new(), 0, None);
    loop {
        let page = table
            .query(query.clone().start(start))
            .await
            .expect("query");
        pages += 1;
        assert!(pages < 10_000, "pagination does not end");
        items.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => return (items, pages),
        }
    }
}

fn sort_keys(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| Key::of(i).expect("key").sk).collect()
}

pub async fn conditional_write_conflict(b: &Backend) {
    let t = b.table.as_ref();
    let first = item(
        "ACCOUNT#1",
        "PROFILE",
        &[("version", Value::number(0)), ("owner", s("ana"))],
    );
    t.put(first.clone(), Some(Condition::NotExists))
        .await
        .expect("first create");
    let again = t.put(first, Some(Condition::NotExists)).await;
    assert_eq!(
        again,
        Err(TableError::ConditionFailed),
        "a second create must be refused"
    );

    let key = Key::new("ACCOUNT#1", "PROFILE");
    let stale = t
        .update(
            &key,
            Update::default().set("owner", s("bo")),
            Some(Condition::Equals("version".into(), Value::number(7))),
        )
        .await;
    assert_eq!(
        stale,
        Err(TableError::ConditionFailed),
        "an update on a stale version must be refused"
    );
    let updated = t
        .update(
            &key,
            Update::default().set("owner", s("bo")).add("version", 1),
            Some(Condition::Equals("version".into(), Value::number(0))),
        )
        .await
        .expect("update on the current version");
    assert_eq!(updated.get("owner"), Some(&s("bo")));
    assert_eq!(updated.get("version").and_then(Value::as_i64), Some(1));
    let refused_delete = t
        .delete(&key, Some(Condition::Equals("owner".into(), s("ana"))))
        .await;
    assert_eq!(refused_delete, Err(TableError::ConditionFailed));
    assert!(
        t.get(&key).await.expect("get").is_some(),
        "a refused delete must leave the item"
    );

    // A transaction whose check fails changes nothing, not even its other items.
    let outcome = t
        .transact_write(vec![
            TransactOp::Put {
                item: item("ACCOUNT#2", "PROFILE", &[]),
                condition: Some(Condition::NotExists),
            },
            TransactOp::Check {
                key: key.clone(),
                condition: Condition::Equals("owner".into(), s("nobody")),
            },
        ])
        .await;
    assert!(
        matches!(outcome, Err(TableError::TransactionCanceled(_))),
        "got {outcome:?}"
    );
    assert!(
        t.get(&Key::new("ACCOUNT#2", "PROFILE"))
            .await
            .expect("get")
            .is_none(),
        "a cancelled transaction must not apply any part"
    );
    t.transact_write(vec![
        TransactOp::Put {
            item: item("ACCOUNT#2", "PROFILE", &[]),
            condition: Some(Condition::NotExists),
        },
        TransactOp::Delete {
            key: key.clone(),
            condition: Some(Condition::Equals("owner".into(), s("bo"))),
        },
    ])
    .await
    .expect("a transaction whose conditions hold");
    assert!(t.get(&key).await.expect("get").is_none());
    assert!(
        t.get(&Key::new("ACCOUNT#2", "PROFILE"))
            .await
            .expect("get")
            .is_some()
    );
}

pub async fn query_pagination_past_1mb(b: &Backend) {
    let t = b.table.as_ref();
    let filler = "x".repeat(10_000);
    let writes: Vec<WriteRequest> = (0..300)
        .map(|i| {
            WriteRequest::Put(item(
                "BIG",
                &format!("ITEM#{i:04}"),
                &[("filler", s(&filler))],
            ))
        })
        .collect();
    let total_bytes: usize = writes
        .iter()
        .map(|w| match w {
            WriteRequest::Put(i) => item_size(i),
            WriteRequest::Delete(_) => 0,
        })
        .sum();
    assert!(
        total_bytes > 2 * MAX_PAGE_BYTES,
        "the partition must span several 1 MB pages"
    );
    strata_store::write_all(t, writes, BatchPolicy::default())
        .await
        .expect("write");

    let mut start = None;
    let (mut seen, mut pages) = (Vec::new(), 0);
    loop {
        let page = t
            .query(Query::partition("BIG").start(start))
            .await
            .expect("query");
        pages += 1;
        let page_bytes: usize = page.items.iter().map(item_size).sum();
        assert!(
            page_bytes <= MAX_PAGE_BYTES + 11_000,
            "a page of {page_bytes} bytes passes DynamoDB's 1 MB limit"
        );
        seen.extend(sort_keys(&page.items));
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..300).map(|i| format!("ITEM#{i:04}")).collect();
    assert_eq!(seen, expected, "every item once, in sort-key order");
    assert!(
        pages >= 3,
        "2.9 MB must take at least 3 pages, took {pages}"
    );
}

pub async fn query_pagination_past_100_items(b: &Backend) {
    let t = b.table.as_ref();
    let writes = (0..250)
        .map(|i| {
            WriteRequest::Put(item(
                "MANY",
                &format!("E#{i:03}"),
                &[("n", Value::number(i))],
            ))
        })
        .collect();
    strata_store::write_all(t, writes, BatchPolicy::default())
        .await
        .expect("write");
    t.put(item("MANY-NEIGHBOUR", "E#000", &[]), None)
        .await
        .expect("neighbour");

    let mut page_sizes = Vec::new();
    let mut start = None;
    let mut seen = Vec::new();
    loop {
        let page = t
            .query(Query::partition("MANY").limit(100).start(start))
            .await
            .expect("query");
        page_sizes.push(page.items.len());
        seen.extend(sort_keys(&page.items));
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(
        &page_sizes[..3],
        &[100, 100, 50],
        "pages of at most 100: {page_sizes:?}"
    );
    assert!(page_sizes[3..].iter().all(|n| *n == 0));

    let (backward, _) = query_all(t, Query::partition("MANY").limit(100).backward()).await;
    let expected_backward: Vec<String> = (0..250).rev().map(|i| format!("E#{i:03}")).collect();
    assert_eq!(sort_keys(&backward), expected_backward);

    let (prefixed, _) = query_all(
        t,
        Query::partition("MANY").sort(SortCondition::BeginsWith("E#12".into())),
    )
    .await;
    assert_eq!(
        sort_keys(&prefixed),
        [
            "E#120", "E#121", "E#122", "E#123", "E#124", "E#125", "E#126", "E#127", "E#128",
            "E#129"
        ]
    );
    let (between, _) = query_all(
        t,
        Query::partition("MANY").sort(SortCondition::Between("E#010".into(), "E#012".into())),
    )
    .await;
    assert_eq!(sort_keys(&between), ["E#010", "E#011", "E#012"]);
    let (one, _) = query_all(
        t,
        Query::partition("MANY").sort(SortCondition::Equals("E#200".into())),
    )
    .await;
    assert_eq!(one[0].get("n").and_then(Value::as_i64), Some(200));
}

pub async fn batch_write_10000_items_under_throttling(b: &Backend) {
    let faulty = Arc::new(FaultyTable::new(b.table.clone(), 20_261_122));
    let writes: Vec<WriteRequest> = (0..10_000)
        .map(|i| {
            WriteRequest::Put(item(
                &format!("LOAD#{}", i % 16),
                &format!("ROW#{i:05}"),
                &[("row", Value::number(i))],
            ))
        })
        .collect();
    let policy = BatchPolicy {
        concurrency: 8,
        max_attempts: 40,
        ..BatchPolicy::default()
    };
    let report = strata_store::write_all(faulty.as_ref(), writes, policy)
        .await
        .expect("every item written");
    assert_eq!(report.items, 10_000);
    assert!(
        faulty.interceptor().throttled_calls.load(Ordering::Relaxed) > 0,
        "the test must actually throttle"
    );
    assert!(
        faulty
            .interceptor()
            .unprocessed_items
            .load(Ordering::Relaxed)
            > 1_000,
        "the test must actually leave items unprocessed"
    );
    assert!(report.retries > 0);

    let mut rows = BTreeSet::new();
    for partition in 0..16 {
        let (items, _) = query_all(
            b.table.as_ref(),
            Query::partition(format!("LOAD#{partition}")),
        )
        .await;
        rows.extend(
            items
                .iter()
                .map(|i| i.get("row").and_then(Value::as_i64).expect("row")),
        );
    }
    assert_eq!(rows.len(), 10_000, "no item lost");
    assert_eq!(rows.first(), Some(&0));
    assert_eq!(rows.last(), Some(&9_999));
}

/// 17.5 MiB of deterministic pseudo-random bytes, in 1 MiB chunks.
fn large_body() -> (Vec<Bytes>, String, u64) {
    let mut state: u64 = 0x5eed;
    let mut hasher = Sha256::new();
    let mut chunks = Vec::new();
    let mut total = 0u64;
    for chunk_no in 0..18 {
        let len = if chunk_no == 17 {
            512 * 1024
        } else {
            1024 * 1024
        };
        let chunk: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        hasher.update(&chunk);
        total += chunk.len() as u64;
        chunks.push(Bytes::from(chunk));
    }
    (chunks, hex::encode(hasher.finalize()), total)
}

async fn sha256_of(body: blob::ByteStream) -> (String, u64) {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("chunk");
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (hex::encode(hasher.finalize()), size)
}

pub async fn multipart_object_over_16_mib(b: &Backend) {
    let (chunks, digest, size) = large_body();
    assert!(size > 16 * 1024 * 1024);
    let body: blob::ByteStream = Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)));
    let options = PutOptions {
        content_type: Some("application/octet-stream".into()),
        ..PutOptions::default()
    };
    let receipt = b
        .blobs
        .put("exports/large.bin", body, options)
        .await
        .expect("put");
    assert_eq!(receipt.size, size);
    if b.uploads_in_parts {
        assert!(
            receipt.parts >= 3,
            "17.5 MiB must go up in several parts, went in {}",
            receipt.parts
        );
    }
    let head = b
        .blobs
        .head("exports/large.bin")
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(head.size, size);
    let object = b.blobs.get("exports/large.bin").await.expect("get");
    assert_eq!(object.meta.size, size);
    assert_eq!(
        sha256_of(object.body).await,
        (digest, size),
        "the bytes read back are the bytes written"
    );
}

pub async fn storage_class_copy_and_head(b: &Backend) {
    let blobs = b.blobs.as_ref();
    let options = PutOptions {
        content_type: Some("application/x-ndjson".into()),
        metadata: BTreeMap::from([("records".to_owned(), "3".to_owned())]),
        ..PutOptions::default()
    };
    blobs
        .put(
            "cold/2026/part-0.jsonl",
            blob::body_from("a\nb\nc\n"),
            options,
        )
        .await
        .expect("put");
    let head = blobs
        .head("cold/2026/part-0.jsonl")
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(head.storage_class, StorageClass::Standard);
    assert_eq!(head.metadata.get("records").map(String::as_str), Some("3"));

    blobs
        .copy(
            "cold/2026/part-0.jsonl",
            "cold/2026/part-0-ia.jsonl",
            StorageClass::StandardIa,
        )
        .await
        .expect("copy");
    let copied = blobs
        .head("cold/2026/part-0-ia.jsonl")
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(copied.storage_class, StorageClass::StandardIa);
    assert_eq!(
        copied.metadata.get("records").map(String::as_str),
        Some("3"),
        "a copy keeps the metadata"
    );
    assert_eq!(copied.content_type.as_deref(), Some("application/x-ndjson"));

    // Each class reached by an in-place copy from a readable object, as a
    // tiering job does; archive classes then refuse reads and further copies.
    for (class, readable) in [
        (StorageClass::GlacierInstantRetrieval, true),
        (StorageClass::GlacierFlexibleRetrieval, false),
        (StorageClass::DeepArchive, false),
    ] {
        let key = format!("cold/2026/part-{}.jsonl", class.s3_name());
        blobs
            .put(&key, blob::body_from("a\nb\nc\n"), PutOptions::default())
            .await
            .expect("put");
        blobs.copy(&key, &key, class).await.expect("copy in place");
        let head = blobs.head(&key).await.expect("head").expect("exists");
        assert_eq!(head.storage_class, class);
        match blobs.get(&key).await {
            Ok(object) if readable => assert_eq!(
                blob::collect(object.body).await.expect("body"),
                b"a\nb\nc\n"
            ),
            Err(BlobError::Archived { storage_class, .. }) if !readable => {
                assert_eq!(storage_class, class)
            }
            Ok(_) => panic!("{} must not be readable without a restore", class.s3_name()),
            Err(e) => panic!("reading from {}: {e}", class.s3_name()),
        }
        if !readable {
            let copied = blobs
                .copy(&key, &format!("{key}.copy"), StorageClass::Standard)
                .await;
            assert!(
                matches!(copied, Err(BlobError::Archived { .. })),
                "copying from {} needs a restore: {copied:?}",
                class.s3_name()
            );
        }
    }

    let page = blobs.list("cold/2026/", None, 1000).await.expect("list");
    let classes: Vec<(String, StorageClass)> = page
        .objects
        .iter()
        .map(|o| (o.key.clone(), o.storage_class))
        .collect();
    assert_eq!(
        classes,
        [
            (
                "cold/2026/part-0-ia.jsonl".to_owned(),
                StorageClass::StandardIa
            ),
            ("cold/2026/part-0.jsonl".to_owned(), StorageClass::Standard),
            (
                "cold/2026/part-DEEP_ARCHIVE.jsonl".to_owned(),
                StorageClass::DeepArchive
            ),
            (
                "cold/2026/part-GLACIER.jsonl".to_owned(),
                StorageClass::GlacierFlexibleRetrieval
            ),
            (
                "cold/2026/part-GLACIER_IR.jsonl".to_owned(),
                StorageClass::GlacierInstantRetrieval
            ),
        ]
    );
    assert!(blobs.head("cold/none").await.expect("head").is_none());
    assert!(matches!(
        blobs.get("cold/none").await,
        Err(BlobError::NotFound(_))
    ));
    blobs
        .delete("cold/2026/part-0-ia.jsonl")
        .await
        .expect("delete");
    blobs
        .delete("cold/2026/part-0-ia.jsonl")
        .await
        .expect("deleting a missing key is fine");
    assert!(
        blobs
            .head("cold/2026/part-0-ia.jsonl")
            .await
            .expect("head")
            .is_none()
    );
}

/// An archived object refuses reads until a restore is asked for; asking
/// again is no error; objects that need no restore are ready at once.
pub async fn archived_objects_read_after_a_restore(b: &Backend) {
    let blobs = b.blobs.as_ref();
    for class in [
        StorageClass::GlacierFlexibleRetrieval,
        StorageClass::DeepArchive,
    ] {
        let key = format!("cold/restore/{}.jsonl.gz", class.s3_name());
        blobs
            .put(&key, blob::body_from("a\nb\n"), PutOptions::default())
            .await
            .expect("put");
        blobs.copy(&key, &key, class).await.expect("archive");
        assert!(matches!(
            blobs.get(&key).await,
            Err(BlobError::Archived { storage_class, .. }) if storage_class == class
        ));
        let first = blobs
            .restore(&key, 2, RestoreTier::Bulk)
            .await
            .expect("restore");
        // moto and the embedded store thaw at once (Ready on the next ask);
        // S3 reports Started, then InProgress for hours.
        assert_eq!(first, RestoreState::Started, "{}", class.s3_name());
        let again = blobs
            .restore(&key, 2, RestoreTier::Bulk)
            .await
            .expect("restore again");
        assert!(
            matches!(again, RestoreState::InProgress | RestoreState::Ready),
            "{again:?}"
        );
        let object = blobs.get(&key).await.expect("readable once restored");
        assert_eq!(blob::collect(object.body).await.expect("body"), b"a\nb\n");
        let head = blobs.head(&key).await.expect("head").expect("exists");
        assert_eq!(head.storage_class, class, "a restore keeps the class");
    }
    blobs
        .put(
            "cold/restore/hot",
            blob::body_from("x"),
            PutOptions::default(),
        )
        .await
        .expect("put");
    assert_eq!(
        blobs
            .restore("cold/restore/hot", 1, RestoreTier::Standard)
            .await
            .expect("restore a standard object"),
        RestoreState::Ready
    );
    assert!(matches!(
        blobs
            .restore("cold/restore/none", 1, RestoreTier::Standard)
            .await,
        Err(BlobError::NotFound(_))
    ));
}

pub async fn blob_listing_pages_in_key_order(b: &Backend) {
    for i in (0..25).rev() {
        b.blobs
            .put(
                &format!("imports/batch-{i:02}.csv"),
                blob::body_from(format!("row {i}\n")),
                PutOptions::default(),
            )
            .await
            .expect("put");
    }
    b.blobs
        .put(
            "importsx/other.csv",
            blob::body_from("x"),
            PutOptions::default(),
        )
        .await
        .expect("put");
    let (mut keys, mut next, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = b.blobs.list("imports/", next, 10).await.expect("list");
        pages += 1;
        assert!(page.objects.len() <= 10);
        keys.extend(page.objects.into_iter().map(|o| o.key));
        match page.next {
            Some(token) => next = Some(token),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25)
        .map(|i| format!("imports/batch-{i:02}.csv"))
        .collect();
    assert_eq!(keys, expected);
    assert_eq!(pages, 3);
}

pub async fn chinese_text_and_emoji_round_trip(b: &Backend) {
    let t = b.table.as_ref();
    let text = "张伟在美食饮品 › 粮油 › 大米下单 🍚🎉, naïve café, עברית, 𝄞";
    let stored = item(
        "CUST#王小明",
        "NOTE#😀",
        &[
            ("text", s(text)),
            ("tags", Value::L(vec![s("粮油"), s("🌾")])),
        ],
    );
    t.put(stored.clone(), None).await.expect("put");
    assert_eq!(
        t.get(&Key::new("CUST#王小明", "NOTE#😀"))
            .await
            .expect("get"),
        Some(stored)
    );
    let (found, _) = query_all(
        t,
        Query::partition("CUST#王小明").sort(SortCondition::BeginsWith("NOTE#".into())),
    )
    .await;
    assert_eq!(found.len(), 1);

    b.blobs
        .put(
            "exports/客户-😀.jsonl",
            blob::body_from(text.as_bytes().to_vec()),
            PutOptions::default(),
        )
        .await
        .expect("put");
    let object = b.blobs.get("exports/客户-😀.jsonl").await.expect("get");
    assert_eq!(
        String::from_utf8(blob::collect(object.body).await.expect("body")).expect("utf-8"),
        text
    );

    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    let input = CustomerInput {
        name: Some("欧阳 娜娜 🌸".into()),
        email: Some("NANA@例子.中国".into()),
        ..Default::default()
    };
    let now = chrono::Utc::now();
    let customer = Customer::create(
        CustomerId::generate(),
        input.validate(&ReadOptions::default(), now).expect("valid"),
        &origin(now),
    );
    customers.create(&customer).await.expect("create");
    assert_eq!(
        customers.get(customer.id).await.expect("get"),
        Some(customer.clone())
    );
    let email = customer.identity.email.clone().expect("email");
    assert_eq!(
        customers
            .find(&Identifier::Email(email))
            .await
            .expect("find"),
        Some(customer.id)
    );
}

pub async fn concurrent_writers_lose_no_update(b: &Backend) {
    const WRITERS: usize = 8;
    const INCREMENTS: i64 = 15;
    let key = Key::new("COUNTER#1", "STATE");
    b.table
        .put(
            item(
                &key.pk,
                &key.sk,
                &[("version", Value::number(0)), ("count", Value::number(0))],
            ),
            None,
        )
        .await
        .expect("seed");
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let table = b.table.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let mut conflicts = 0u32;
                for _ in 0..INCREMENTS {
                    loop {
                        let current = table.get(&key).await.expect("get").expect("exists");
                        let version = current
                            .get("version")
                            .and_then(Value::as_i64)
                            .expect("version");
                        let count = current.get("count").and_then(Value::as_i64).expect("count");
                        let update = Update::default()
                            .set("count", Value::number(count + 1))
                            .set("version", Value::number(version + 1));
                        match table
                            .update(
                                &key,
                                update,
                                Some(Condition::Equals("version".into(), Value::number(version))),
                            )
                            .await
                        {
                            Ok(_) => break,
                            Err(TableError::ConditionFailed) => conflicts += 1,
                            Err(e) => panic!("update: {e}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.expect("writer");
    }
    let last = b.table.get(&key).await.expect("get").expect("exists");
    let expected = WRITERS as i64 * INCREMENTS;
    assert_eq!(
        last.get("count").and_then(Value::as_i64),
        Some(expected),
        "no lost update ({conflicts} conflicts retried)"
    );
    assert_eq!(last.get("version").and_then(Value::as_i64), Some(expected));
}

pub async fn parallel_scan_covers_each_item_once(b: &Backend) {
    let writes = (0..600)
        .map(|i| WriteRequest::Put(item(&format!("SCAN#{i}"), "X", &[])))
        .collect();
    strata_store::write_all(b.table.as_ref(), writes, BatchPolicy::default())
        .await
        .expect("write");
    let mut seen = Vec::new();
    for segment in 0..4 {
        let mut start = None;
        loop {
            let page = b
                .table
                .scan(segment, 4, start, Some(100))
                .await
                .expect("scan");
            seen.extend(page.items.iter().map(|i| Key::of(i).expect("key").pk));
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 600, "each item exactly once across segments");
    assert_eq!(unique.len(), 600);
    assert!(
        b.table.scan(4, 4, None, None).await.is_err(),
        "a segment outside the scan is refused"
    );
}

pub async fn secondary_indexes_follow_their_items(b: &Backend) {
    let t = b.table.as_ref();
    for (id, tier) in [("c1", "gold"), ("c2", "gold"), ("c3", "silver")] {
        t.put(
            item(
                &format!("CUST#{id}"),
                "PROFILE",
                &[("gsi1pk", s(&format!("TIER#{tier}"))), ("gsi1sk", s(id))],
            ),
            None,
        )
        .await
        .expect("put");
    }
    t.put(item("CUST#c4", "PROFILE", &[]), None)
        .await
        .expect("an item without index keys");
    let gold = || Query::on_index(Index::Gsi1, "TIER#gold");
    // Index reads are eventually consistent in DynamoDB; moto and the embedded store apply at once.
    assert_eq!(
        sort_keys(&query_all(t, gold()).await.0),
        ["PROFILE", "PROFILE"]
    );
    t.update(
        &Key::new("CUST#c2", "PROFILE"),
        Update::default().remove("gsi1pk").remove("gsi1sk"),
        None,
    )
    .await
    .expect("update");
    let remaining: Vec<String> = query_all(t, gold())
        .await
        .0
        .iter()
        .map(|i| Key::of(i).expect("key").pk)
        .collect();
    assert_eq!(remaining, ["CUST#c1"]);
    t.delete(&Key::new("CUST#c1", "PROFILE"), None)
        .await
        .expect("delete");
    assert!(query_all(t, gold()).await.0.is_empty());
}

pub async fn customer_lookups_move_with_the_profile(b: &Backend) {
    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    let now = chrono::Utc::now();
    let make = |email: &str| {
        let input = CustomerInput {
            email: Some(email.into()),
            phone: Some("13812345678".into()),
            ..Default::default()
        };
        Customer::create(
            CustomerId::generate(),
            input.validate(&ReadOptions::default(), now).expect("valid"),
            &origin(now),
        )
    };
    let mut ana = make("ana@shop.cn");
    ana.tier = Some(Tier::Gold);
    customers.create(&ana).await.expect("create");

    let rival = make("other@shop.cn");
    match customers.create(&rival).await {
        Err(StoreError::IdentifierTaken { owner, identifier }) => {
            assert_eq!(owner, ana.id);
            assert_eq!(identifier, "the phone number", "named, never quoted");
        }
        other => panic!("a taken phone number must be refused, got {other:?}"),
    }
    assert!(
        customers.get(rival.id).await.expect("get").is_none(),
        "the refused profile is not half-written"
    );

    let mut changed = ana.clone();
    changed.identity.email =
        Some(strata_domain::contact::Email::parse("email", "ana.new@shop.cn").expect("email"));
    let saved = customers.save(&changed).await.expect("save");
    assert_eq!(saved.version, 1);
    let old = Identifier::Email(ana.identity.email.clone().expect("email"));
    let new = Identifier::Email(changed.identity.email.clone().expect("email"));
    assert_eq!(
        customers.find(&old).await.expect("find"),
        None,
        "the old e-mail is released"
    );
    assert_eq!(customers.find(&new).await.expect("find"), Some(ana.id));
    assert!(
        matches!(
            customers.save(&changed).await,
            Err(StoreError::Conflict { .. })
        ),
        "saving a stale version is refused"
    );

    let gold = customers
        .list_by_tier(Tier::Gold, None, 10)
        .await
        .expect("list");
    assert_eq!(
        gold.customers.iter().map(|c| c.id).collect::<Vec<_>>(),
        [ana.id]
    );
}

pub async fn batch_get_reads_many_keys_under_throttling(b: &Backend) {
    let writes = (0..250)
        .map(|i| {
            WriteRequest::Put(item(
                &format!("GET#{}", i % 7),
                &format!("K#{i:03}"),
                &[("n", Value::number(i))],
            ))
        })
        .collect();
    strata_store::write_all(b.table.as_ref(), writes, BatchPolicy::default())
        .await
        .expect("write");
    let faulty = Arc::new(FaultyTable::new(b.table.clone(), 7));
    // Every stored key twice, and 50 keys that do not exist.
    let mut keys: Vec<Key> = (0..250)
        .map(|i| Key::new(format!("GET#{}", i % 7), format!("K#{i:03}")))
        .collect();
    keys.extend(keys.clone());
    keys.extend((250..300).map(|i| Key::new("GET#0", format!("K#{i:03}"))));
    let policy = BatchPolicy {
        max_attempts: 40,
        ..BatchPolicy::default()
    };
    let found = strata_store::get_many(faulty.as_ref(), keys, policy)
        .await
        .expect("read");
    assert_eq!(
        found.len(),
        250,
        "each stored key once, missing keys absent"
    );
    assert!(
        faulty
            .interceptor()
            .unprocessed_items
            .load(Ordering::Relaxed)
            > 0,
        "the test must leave keys unprocessed"
    );
    let n = found
        .get(&Key::new("GET#3", "K#010"))
        .and_then(|i| i.get("n"))
        .and_then(Value::as_i64);
    assert_eq!(n, Some(10));
    let too_many: Vec<Key> = (0..101)
        .map(|i| Key::new("GET#0", format!("X#{i}")))
        .collect();
    assert!(matches!(
        b.table.batch_get(too_many).await,
        Err(TableError::InvalidRequest(_))
    ));
}

pub async fn locked_objects_refuse_deletion_until_their_lock_ends(b: &Backend) {
    use strata_domain::ports::blob::{Retention, RetentionMode};
    let blobs = b.blobs.as_ref();
    // S3 keeps whole seconds.
    let until = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 3600, 0)
        .expect("a valid time");
    for (key, mode) in [
        ("archive/compliance.bin", RetentionMode::Compliance),
        ("archive/governance.bin", RetentionMode::Governance),
    ] {
        let lock = Retention {
            mode,
            retain_until: until,
        };
        let options = PutOptions {
            retention: Some(lock),
            ..PutOptions::default()
        };
        blobs
            .put(key, blob::body_from("locked bytes"), options)
            .await
            .expect("put with a lock");
        let head = blobs.head(key).await.expect("head").expect("exists");
        assert_eq!(
            head.retention,
            Some(lock),
            "{}: the lock is reported",
            b.name
        );
        let refused = blobs.delete(key).await;
        assert!(
            matches!(refused, Err(BlobError::Refused(_))),
            "{}: deleting a {} locked object must be refused, got {refused:?}",
            b.name,
            mode.s3_name()
        );
        let object = blobs.get(key).await.expect("still readable");
        assert_eq!(
            blob::collect(object.body).await.expect("body"),
            b"locked bytes"
        );
    }
    // Objects without a lock in the same store delete as before.
    blobs
        .put(
            "archive/open.bin",
            blob::body_from("x"),
            PutOptions::default(),
        )
        .await
        .expect("put");
    assert_eq!(
        blobs
            .head("archive/open.bin")
            .await
            .expect("head")
            .expect("exists")
            .retention,
        None
    );
    blobs.delete("archive/open.bin").await.expect("delete");
    assert_eq!(blobs.head("archive/open.bin").await.expect("head"), None);
}

pub async fn data_keys_unwrap_only_under_their_own_context(b: &Backend) {
    use strata_domain::ports::keys::{EncryptionContext, KeyError, WrappedKey};
    let keys = b.keys.as_ref();
    let context = EncryptionContext::new()
        .with("purpose", "conformance")
        .with("snapshot", "one");
    let first = keys.generate_data_key(&context).await.expect("generate");
    let second = keys.generate_data_key(&context).await.expect("generate");
    assert_ne!(first.plaintext.expose(), second.plaintext.expose());
    assert_ne!(first.wrapped.ciphertext, first.plaintext.expose().to_vec());

    let unwrapped = keys
        .decrypt_data_key(&first.wrapped, &context)
        .await
        .expect("decrypt under the same context");
    assert_eq!(unwrapped.expose(), first.plaintext.expose());

    let other = EncryptionContext::new()
        .with("purpose", "conformance")
        .with("snapshot", "two");
    let refused = keys.decrypt_data_key(&first.wrapped, &other).await;
    assert!(
        matches!(refused, Err(KeyError::Invalid(_))),
        "{}: another context must not unwrap the key, got {refused:?}",
        b.name
    );
    let mut damaged: WrappedKey = first.wrapped.clone();
    if let Some(last) = damaged.ciphertext.last_mut() {
        *last ^= 0x01;
    }
    assert!(
        matches!(
            keys.decrypt_data_key(&damaged, &context).await,
            Err(KeyError::Invalid(_))
        ),
        "{}: a damaged wrapped key must be refused",
        b.name
    );

    // An existing key wrapped again (as for an archive copy) unwraps to itself.
    let rewrapped = keys
        .encrypt_data_key(&first.plaintext, &other)
        .await
        .expect("encrypt");
    let back = keys
        .decrypt_data_key(&rewrapped, &other)
        .await
        .expect("decrypt the re-wrapped key");
    assert_eq!(back.expose(), first.plaintext.expose());
}

/// The audit log on the adapter: an entry is put only if absent (a second
/// entry under the same customer, time and request is refused, the first
/// kept), and a customer's entries read back by time window, in order,
/// paged, carrying the TTL the table expires them by.
pub async fn audit_entries_are_never_overwritten(b: &Backend) {
    use strata_domain::access::Role;
    use strata_domain::audit::{AuditAction, AuditEntry};
    let log = strata_store::AuditLog::new(b.table.clone(), chrono::Duration::days(30));
    let customer = CustomerId::generate();
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let entries: Vec<AuditEntry> = (0..5)
        .map(|n| AuditEntry {
            customer_id: customer,
            at: start + chrono::Duration::minutes(n),
            subject: format!("user-{n}"),
            role: Role::Ops,
            action: AuditAction::Read,
            route: "GET /v1/customers/{id}".into(),
            request_id: format!("req#{n}"),
            status: 200,
        })
        .collect();
    for entry in &entries {
        log.append(entry).await.expect("append");
    }
    let forged = AuditEntry {
        subject: "mallory".into(),
        action: AuditAction::Erase,
        ..entries[2].clone()
    };
    assert!(matches!(
        log.append(&forged).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let mut read = Vec::new();
    let mut cursor = None;
    loop {
        let page = log
            .of(customer, entries[1].at, entries[3].at, cursor, 2)
            .await
            .expect("read");
        read.extend(page.entries);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(read, entries[1..=3].to_vec());
    // The items carry the TTL attribute the table is configured with.
    let mut expiries = BTreeSet::new();
    let mut start = None;
    loop {
        let page = b.table.scan(0, 1, start, None).await.expect("scan");
        for item in &page.items {
            if item.get("customer_id").and_then(Value::as_str) == Some(&customer.to_string()) {
                expiries.insert(item.get("expires_at").and_then(Value::as_i64));
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    let expected: BTreeSet<Option<i64>> = entries
        .iter()
        .map(|e| Some((e.at + chrono::Duration::days(30)).timestamp()))
        .collect();
    assert_eq!(expiries, expected);
}

/// A salesperson's customers are one index query (`gsi1` `SALES#<id>`),
/// most recently assigned first and paged; re-assigning a customer moves it
/// from the old salesperson's list to the new one's.
pub async fn assignments_list_by_salesperson_and_move_on_reassignment(b: &Backend) {
    use strata_domain::ids::SalespersonId;
    use strata_store::{Assignment, AssignmentRepository};
    let repo = AssignmentRepository::new(b.table.clone());
    let rep = |name: &str| SalespersonId::parse("salesperson", name).expect("salesperson");
    let (first, second) = (rep("s#1"), rep("s-2"));
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let assignments: Vec<Assignment> = (0..5)
        .map(|n| Assignment {
            customer_id: CustomerId::generate(),
            salesperson: first.clone(),
            assigned_at: start + chrono::Duration::minutes(n),
            assigned_by: "admin-1".into(),
        })
        .collect();
    for assignment in &assignments {
        repo.assign(assignment).await.expect("assign");
    }
    let list = |salesperson: SalespersonId| {
        let repo = repo.clone();
        async move {
            let mut listed = Vec::new();
            let mut cursor = None;
            loop {
                let page = repo
                    .assigned_to(&salesperson, cursor, 2)
                    .await
                    .expect("list");
                assert!(page.assignments.len() <= 2);
                listed.extend(page.assignments);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => return listed,
                }
            }
        }
    };
    let newest_first: Vec<Assignment> = assignments.iter().rev().cloned().collect();
    assert_eq!(list(first.clone()).await, newest_first);

    let moved = Assignment {
        salesperson: second.clone(),
        assigned_at: start + chrono::Duration::hours(1),
        ..assignments[2].clone()
    };
    repo.assign(&moved).await.expect("re-assign");
    let left: Vec<Assignment> = newest_first
        .iter()
        .filter(|a| a.customer_id != moved.customer_id)
        .cloned()
        .collect();
    assert_eq!(list(first).await, left);
    assert_eq!(list(second).await, std::slice::from_ref(&moved));
    assert_eq!(repo.of(moved.customer_id).await.expect("read"), Some(moved));
    assert!(list(rep("nobody")).await.is_empty());
}

/// Personal fields reach the table only sealed with the customer's key, and
/// lookups only as keyed hashes: no raw item holds a plaintext value. The
/// sealed value is bound to its customer, a pseudonymous reader sees no
/// identity, and destroying the key leaves the profile unreadable.
pub async fn personal_fields_are_sealed_and_lookups_are_blind(b: &Backend) {
    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    let now = chrono::Utc::now();
    let make = |email: &str, phone: &str| {
        let input = CustomerInput {
            name: Some("Canary Wang 王金丝雀".into()),
            email: Some(email.into()),
            phone: Some(phone.into()),
            network: Some(strata_domain::customer::NetworkInput {
                ip: Some("203.0.113.77".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        Customer::create(
            CustomerId::generate(),
            input.validate(&ReadOptions::default(), now).expect("valid"),
            &origin(now),
        )
    };
    let ana = make("canary.ana@shop.cn", "13900001111");
    let bo = make("canary.bo@shop.cn", "13900002222");
    customers.create(&ana).await.expect("create");
    customers.create(&bo).await.expect("create");

    let (items, _) = query_all(
        b.table.as_ref(),
        Query::partition(format!("CUST#{}", ana.id)),
    )
    .await;
    let mut raw = format!("{items:?}");
    for identifier in ana.identifiers() {
        let lookup = customers.find(&identifier).await.expect("find");
        assert_eq!(lookup, Some(ana.id), "found through the blind index");
    }
    let everything = crate::dataset::dump(b.table.as_ref()).await.expect("dump");
    raw.push_str(&format!("{everything:?}"));
    for plaintext in [
        "canary.ana",
        "13900001111",
        "王金丝雀",
        "Canary Wang",
        "203.0.113.77",
    ] {
        assert!(!raw.contains(plaintext), "{plaintext} is in a raw item");
    }
    let read = customers.get(ana.id).await.expect("get").expect("profile");
    assert_eq!(read.identity, ana.identity);
    assert_eq!(read.network, ana.network);

    // A sealed value moved onto another customer's profile does not open.
    let profile_of = |id: CustomerId| Key::new(format!("CUST#{id}"), "PROFILE");
    let ana_item = b
        .table
        .get(&profile_of(ana.id))
        .await
        .expect("get")
        .expect("item");
    let mut bo_item = b
        .table
        .get(&profile_of(bo.id))
        .await
        .expect("get")
        .expect("item");
    bo_item.insert("sealed".into(), ana_item["sealed"].clone());
    b.table.put(bo_item, None).await.expect("put");
    assert!(
        matches!(customers.get(bo.id).await, Err(StoreError::Corrupt { .. })),
        "a sealed value is bound to its customer"
    );

    let pseudonymous = CustomerRepository::pseudonymous(b.table.clone());
    let seen = pseudonymous
        .get(ana.id)
        .await
        .expect("get")
        .expect("profile");
    assert_eq!(seen.identity, Default::default());
    assert!(seen.network.is_empty());
    assert_eq!(seen.created_at, ana.created_at);
    assert!(matches!(
        pseudonymous.create(&make("x@shop.cn", "13900003333")).await,
        Err(StoreError::Pseudonymous)
    ));

    assert!(b.privacy.destroy_key(ana.id).await.expect("destroy"));
    assert!(matches!(
        customers.get(ana.id).await,
        Err(StoreError::Erased { customer }) if customer == ana.id
    ));
    assert!(!b.privacy.destroy_key(ana.id).await.expect("destroy again"));
}

/// The consent ledger keeps every decision once, in the order the customer
/// made them: an identical decision (purpose, time, version, source,
/// granted) is never written twice nor overwritten, whoever sends it again;
/// a decision differing in anything is a new entry.
pub async fn consent_ledger_is_append_only_and_idempotent(b: &Backend) {
    use strata_domain::consent::ConsentRecord;
    use strata_domain::customer::{Consent, Purpose};
    use strata_store::{Appended, ConsentLedger};
    let ledger = ConsentLedger::new(b.table.clone());
    let customer = CustomerId::generate();
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let now = start + chrono::Duration::days(400);
    let decision = |purpose, granted, minutes: i64, version: &str| Consent {
        purpose,
        granted,
        at: start + chrono::Duration::minutes(minutes),
        version: version.into(),
        source: "form#1".into(),
    };
    let first = ConsentRecord::new(
        decision(Purpose::Marketing, true, 0, "v1"),
        "import:imp-1 row 7",
        now,
    );
    assert_eq!(
        ledger.append(customer, &first).await.expect("append"),
        Appended::New
    );
    // The same decision again, from the API this time: stored once, and
    // the entry keeps what first recorded it.
    let again = ConsentRecord::new(
        first.decision.clone(),
        "api",
        now + chrono::Duration::hours(1),
    );
    assert_eq!(
        ledger.append(customer, &again).await.expect("append"),
        Appended::AlreadyRecorded
    );
    // Differing only in version, or in the answer: new entries.
    for other in [
        decision(Purpose::Marketing, true, 0, "v2"),
        decision(Purpose::Marketing, false, 0, "v1"),
    ] {
        let record = ConsentRecord::new(other, "api", now);
        assert_eq!(
            ledger.append(customer, &record).await.expect("append"),
            Appended::New
        );
    }
    // Many decisions, appended out of time order; the ledger reads back
    // in the order they were made.
    let many: Vec<ConsentRecord> = (1..=130)
        .rev()
        .map(|n| {
            let purpose = if n % 2 == 0 {
                Purpose::Profiling
            } else {
                Purpose::Analytics
            };
            ConsentRecord::new(decision(purpose, n % 3 != 0, n, "v1"), "api", now)
        })
        .collect();
    assert_eq!(
        ledger.append_all(customer, &many).await.expect("append"),
        130
    );
    assert_eq!(ledger.append_all(customer, &many).await.expect("append"), 0);

    let read = ledger.of(customer).await.expect("read");
    assert_eq!(read.len(), 133);
    assert!(
        read.windows(2)
            .all(|w| w[0].decision.at <= w[1].decision.at),
        "oldest decision first"
    );
    let kept = read
        .iter()
        .find(|r| r.decision == first.decision)
        .expect("the first decision");
    assert_eq!(kept, &first, "never overwritten by the repeat");
    assert!(
        ledger
            .of(CustomerId::generate())
            .await
            .expect("read")
            .is_empty()
    );
}

/// The points ledger on the table: credits post once per source (also many
/// at once, one already posted among them); debits racing each other never
/// take the balance below zero, and each one posted is in the ledger once;
/// coupons redeemed at once are redeemed once.
pub async fn points_ledger_never_overspends(b: &Backend) {
    use strata_domain::rewards::ledger::{EntryKind, LedgerEntry};
    use strata_store::{PointsLedger, Posted, StoreError};
    let ledger = PointsLedger::new(b.table.clone());
    let customer = CustomerId::generate();
    let now = chrono::Utc::now();
    let entry = |kind, points: i64, source: &str| LedgerEntry {
        id: uuid::Uuid::now_v7().simple().to_string(),
        kind,
        points,
        at: now,
        source: source.into(),
        expires_at: (points > 0).then(|| now + chrono::Duration::days(30)),
        unrecovered: None,
        note: None,
    };
    let first = entry(EntryKind::Purchase, 40, "A");
    assert_eq!(
        ledger.credit(customer, &first).await.expect("credit"),
        Posted::Recorded
    );
    let again = entry(EntryKind::Purchase, 40, "A");
    assert_eq!(
        ledger.credit(customer, &again).await.expect("credit"),
        Posted::AlreadyRecorded
    );
    // Sixty credits at once, "A" among them: 59 new.
    let many: Vec<LedgerEntry> = std::iter::once(again)
        .chain((0..59).map(|n| entry(EntryKind::Purchase, 1, &format!("B{n}"))))
        .collect();
    assert_eq!(ledger.credit_many(customer, &many).await.expect("many"), 59);
    assert_eq!(ledger.balance(customer).await.expect("balance").balance, 99);

    // Twelve debits of 10 at once from 99: nine win.
    let debits: Vec<_> = (0..12)
        .map(|n| {
            let ledger = ledger.clone();
            let debit = entry(EntryKind::Redemption, -10, &format!("r{n}"));
            tokio::spawn(async move { ledger.debit(customer, &debit).await })
        })
        .collect();
    let mut won = 0;
    for debit in debits {
        match debit.await.expect("task") {
            Ok(Posted::Recorded) => won += 1,
            Err(StoreError::InsufficientPoints {
                available,
                asked: 10,
            }) => {
                assert!(available < 10, "{available}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 9);
    let balance = ledger.balance(customer).await.expect("balance");
    assert_eq!(
        (balance.balance, balance.earned, balance.debited),
        (9, 99, 90)
    );
    let entries = ledger.entries(customer).await.expect("entries");
    assert_eq!(entries.len(), 60 + 9);
    assert_eq!(entries.iter().map(|e| e.points).sum::<i64>(), 9);

    // A coupon redeemed for two references at once: one wins.
    use strata_domain::rewards::coupon::{CouponTemplate, Discount};
    use strata_store::CouponRepository;
    let coupons = CouponRepository::new(b.table.clone());
    let template = CouponTemplate {
        name: "Ten".into(),
        discount: Discount::Amount { minor: 1000 },
        min_spend_minor: 0,
        valid_days: 10,
        valid_from: None,
        valid_until: None,
        tiers: Vec::new(),
    };
    let coupon = template.issue("ten", "ABCDEFGH2345".into(), customer, now, None);
    coupons.issue(&coupon).await.expect("issue");
    let attempts: Vec<_> = ["o-1", "o-2", "o-3"]
        .into_iter()
        .map(|reference| {
            let coupons = coupons.clone();
            tokio::spawn(async move {
                coupons
                    .redeem(customer, "ABCDEFGH2345", reference, None, now)
                    .await
                    .expect("redeem")
            })
        })
        .collect();
    let mut redeemed = 0;
    for attempt in attempts {
        if attempt.await.expect("task").is_ok() {
            redeemed += 1;
        }
    }
    assert_eq!(redeemed, 1);
}
