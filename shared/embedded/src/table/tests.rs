//! Behaviour specific to the embedded table: persistence, index upkeep,
//! paging and segmenting as laid out in redb. The cross-adapter conformance
//! suite lives in the workspace's `tests` crate.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use strata_domain::ports::table::{
    Condition, Cursor, Index, Item, Key, MAX_PAGE_BYTES, PK, Page, Query, SK, SortCondition, Table,
    TableError, TransactOp, Update, Value, WriteRequest,
};

use super::EmbeddedTable;

fn item(pk: &str, sk: &str, extra: &[(&str, Value)]) -> Item {
    let mut item = Item::from([
        (PK.to_owned(), Value::S(pk.into())),
        (SK.to_owned(), Value::S(sk.into())),
    ]);
    item.extend(
        extra
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone())),
    );
    item
}

fn s(text: &str) -> Value {
    Value::S(text.into())
}

fn sort_keys(page: &Page) -> Vec<&str> {
    page.items
        .iter()
        .map(|item| item[SK].as_str().unwrap())
        .collect()
}

fn open(dir: &Path) -> EmbeddedTable {
    EmbeddedTable::open(&dir.join("table.redb")).unwrap()
}

/// Reads every page of a query, checking no page comes back empty.
async fn query_all(table: &EmbeddedTable, query: Query) -> Vec<Item> {
    let mut all = Vec::new();
    let mut start = None;
    loop {
        let page = table.query(query.clone().start(start)).await.unwrap();
        assert!(!page.items.is_empty() || all.is_empty());
        all.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => return all,
        }
    }
}

async fn scan_all(
    table: &EmbeddedTable,
    segment: u32,
    total: u32,
    limit: Option<u32>,
) -> Vec<Item> {
    let mut all = Vec::new();
    let mut start = None;
    loop {
        let page = table.scan(segment, total, start, limit).await.unwrap();
        all.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => return all,
        }
    }
}

#[tokio::test]
async fn items_and_indexes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let stored = item(
        "CUST#1",
        "PROFILE",
        &[("gsi1pk", s("EMAIL#a@b.c")), ("gsi1sk", s("CUST#1"))],
    );
    {
        let table = open(dir.path());
        table.put(stored.clone(), None).await.unwrap();
    }
    let table = open(dir.path());
    assert_eq!(
        table.get(&Key::new("CUST#1", "PROFILE")).await.unwrap(),
        Some(stored.clone())
    );
    let by_email = table
        .query(Query::on_index(Index::Gsi1, "EMAIL#a@b.c"))
        .await
        .unwrap();
    assert_eq!(by_email.items, vec![stored]);
}

#[tokio::test]
async fn a_second_open_of_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    assert!(EmbeddedTable::open(&dir.path().join("table.redb")).is_err());
}

#[tokio::test]
async fn the_page_cache_stays_within_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 1024 * 1024;
    let options = crate::EmbeddedOptions {
        table_cache_bytes: cap,
    };
    let table = EmbeddedTable::open_with(&dir.path().join("table.redb"), &options).unwrap();
    // About 8 MiB of items, written and read back: far more than the cap.
    let body = s(&"x".repeat(8 * 1024));
    for batch in 0..40 {
        let writes = (0..25)
            .map(|n| {
                WriteRequest::Put(item(
                    &format!("P#{batch}"),
                    &format!("{n}"),
                    &[("body", body.clone())],
                ))
            })
            .collect();
        table.batch_write(writes).await.unwrap();
    }
    for batch in 0..40 {
        let items = query_all(&table, Query::partition(format!("P#{batch}"))).await;
        assert_eq!(items.len(), 25);
    }
    let held = table.cache_bytes();
    assert!(held > 0, "the cache is in use");
    assert!(
        held <= cap,
        "the cache holds {held} bytes, over its cap of {cap}"
    );
}

#[tokio::test]
async fn indexes_follow_updates_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    let key = Key::new("CUST#1", "PROFILE");
    let indexed = [
        ("gsi1pk", s("A")),
        ("gsi1sk", s("1")),
        ("gsi2pk", s("X")),
        ("gsi2sk", s("9")),
    ];
    table
        .put(item("CUST#1", "PROFILE", &indexed), None)
        .await
        .unwrap();
    let in_index = |index, partition: &'static str| {
        let table = table.clone();
        async move {
            table
                .query(Query::on_index(index, partition))
                .await
                .unwrap()
                .items
                .len()
        }
    };
    assert_eq!(
        (
            in_index(Index::Gsi1, "A").await,
            in_index(Index::Gsi2, "X").await
        ),
        (1, 1)
    );

    // Removing one key attribute takes the item out of that index only.
    table
        .update(&key, Update::default().remove("gsi1sk"), None)
        .await
        .unwrap();
    assert_eq!(
        (
            in_index(Index::Gsi1, "A").await,
            in_index(Index::Gsi2, "X").await
        ),
        (0, 1)
    );

    // Changing an index key moves the entry.
    table
        .update(&key, Update::default().set("gsi2pk", s("Y")), None)
        .await
        .unwrap();
    assert_eq!(
        (
            in_index(Index::Gsi2, "X").await,
            in_index(Index::Gsi2, "Y").await
        ),
        (0, 1)
    );

    // A put replacing the item replaces its index entries too.
    table
        .put(
            item(
                "CUST#1",
                "PROFILE",
                &[("gsi1pk", s("B")), ("gsi1sk", s("2"))],
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            in_index(Index::Gsi1, "B").await,
            in_index(Index::Gsi2, "Y").await
        ),
        (1, 0)
    );

    table.delete(&key, None).await.unwrap();
    assert_eq!(in_index(Index::Gsi1, "B").await, 0);
}

#[tokio::test]
async fn index_queries_order_by_index_sort_key_then_item_key() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    for (pk, gsi_sk) in [("C", "2"), ("A", "1"), ("B", "2"), ("D", "3")] {
        let attrs = [("gsi2pk", s("G")), ("gsi2sk", s(gsi_sk))];
        table.put(item(pk, "S", &attrs), None).await.unwrap();
    }
    let pks = |items: Vec<Item>| {
        items
            .iter()
            .map(|i| i[PK].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let query = Query::on_index(Index::Gsi2, "G").limit(1);
    assert_eq!(
        pks(query_all(&table, query.clone()).await),
        ["A", "B", "C", "D"]
    );
    assert_eq!(
        pks(query_all(&table, query.clone().backward()).await),
        ["D", "C", "B", "A"]
    );
    let twos = query.sort(SortCondition::Equals("2".into()));
    assert_eq!(pks(query_all(&table, twos).await), ["B", "C"]);

    let page = table
        .query(Query::on_index(Index::Gsi2, "G").limit(2))
        .await
        .unwrap();
    let cursor = page.next.unwrap();
    let attrs: Vec<&str> = cursor.0.keys().map(String::as_str).collect();
    assert_eq!(attrs, ["gsi2pk", "gsi2sk", "pk", "sk"]);
}

#[tokio::test]
async fn queries_select_sort_keys_in_byte_order_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    for sk in ["a", "ab", "abc", "b", "B", "é", "a\u{10ffff}"] {
        table.put(item("P", sk, &[]), None).await.unwrap();
    }
    table.put(item("Q", "a", &[]), None).await.unwrap();
    let run = |sort: SortCondition, forward: bool| {
        let table = table.clone();
        async move {
            let query = Query::partition("P").sort(sort);
            let query = if forward { query } else { query.backward() };
            let page = table.query(query).await.unwrap();
            assert!(page.next.is_none());
            sort_keys(&page)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        run(SortCondition::All, true).await,
        ["B", "a", "ab", "abc", "a\u{10ffff}", "b", "é"]
    );
    assert_eq!(
        run(SortCondition::BeginsWith("a".into()), false).await,
        ["a\u{10ffff}", "abc", "ab", "a"]
    );
    assert_eq!(
        run(SortCondition::Between("ab".into(), "b".into()), true).await,
        ["ab", "abc", "a\u{10ffff}", "b"]
    );
    assert_eq!(run(SortCondition::Equals("ab".into()), true).await, ["ab"]);
    assert!(
        run(SortCondition::Equals("zz".into()), true)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn limits_page_with_cursors_and_the_last_page_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    for sk in ["1", "2", "3", "4"] {
        table.put(item("P", sk, &[]), None).await.unwrap();
    }
    let first = table.query(Query::partition("P").limit(2)).await.unwrap();
    assert_eq!(sort_keys(&first), ["1", "2"]);
    let cursor = first.next.unwrap();
    assert_eq!(
        cursor,
        Cursor([(PK.to_owned(), s("P")), (SK.to_owned(), s("2"))].into())
    );
    let second = table
        .query(Query::partition("P").limit(2).start(Some(cursor)))
        .await
        .unwrap();
    assert_eq!(sort_keys(&second), ["3", "4"]);
    assert_eq!(second.next, None, "nothing follows, so no cursor");

    let backward = table
        .query(Query::partition("P").backward().limit(3))
        .await
        .unwrap();
    assert_eq!(sort_keys(&backward), ["4", "3", "2"]);
    let rest = table
        .query(Query::partition("P").backward().start(backward.next))
        .await
        .unwrap();
    assert_eq!(sort_keys(&rest), ["1"]);
}

#[tokio::test]
async fn a_page_stops_before_passing_one_megabyte() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    let payload = Value::B(vec![7; 300 * 1024]);
    for sk in 0..10 {
        table
            .put(
                item("BIG", &format!("{sk:02}"), &[("data", payload.clone())]),
                None,
            )
            .await
            .unwrap();
    }
    let first = table.query(Query::partition("BIG")).await.unwrap();
    assert_eq!(first.items.len(), 3, "a fourth 300 KB item would pass 1 MB");
    assert!(
        first
            .items
            .iter()
            .map(strata_domain::ports::table::item_size)
            .sum::<usize>()
            <= MAX_PAGE_BYTES
    );
    let all = query_all(&table, Query::partition("BIG")).await;
    let sks: Vec<&str> = all.iter().map(|i| i[SK].as_str().unwrap()).collect();
    assert_eq!(
        sks,
        ["00", "01", "02", "03", "04", "05", "06", "07", "08", "09"]
    );
    assert_eq!(scan_all(&table, 0, 1, None).await.len(), 10);
    let first_scan = table.scan(0, 1, None, None).await.unwrap();
    assert_eq!(first_scan.items.len(), 3);
}

#[tokio::test]
async fn scan_segments_split_the_table_without_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    let mut expected = BTreeSet::new();
    for batch in 0..20 {
        let writes = (0..25)
            .map(|i| {
                let (pk, sk) = (
                    format!("P#{}", (batch * 25 + i) % 97),
                    format!("S#{batch}#{i}"),
                );
                expected.insert((pk.clone(), sk.clone()));
                WriteRequest::Put(item(&pk, &sk, &[]))
            })
            .collect();
        assert!(table.batch_write(writes).await.unwrap().is_empty());
    }
    for total in [1, 2, 7, 1000] {
        let mut seen = BTreeSet::new();
        let mut non_empty_segments = 0;
        for segment in 0..total {
            let items = scan_all(&table, segment, total, Some(13)).await;
            non_empty_segments += usize::from(!items.is_empty());
            for item in items {
                let key = Key::of(&item).unwrap();
                assert!(seen.insert((key.pk, key.sk)), "an item appeared twice");
            }
        }
        assert_eq!(seen, expected, "{total} segments");
        if total > 1 {
            assert!(non_empty_segments > 1, "segments should share the work");
        }
    }
}

#[tokio::test]
async fn scan_and_query_reject_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    table.put(item("P", "1", &[]), None).await.unwrap();
    let invalid =
        |result: Result<Page, TableError>| matches!(result, Err(TableError::InvalidRequest(_)));
    assert!(invalid(table.scan(0, 0, None, None).await));
    assert!(invalid(table.scan(3, 3, None, None).await));
    assert!(invalid(table.scan(0, 1_000_001, None, None).await));
    assert!(table.scan(999_999, 1_000_000, None, None).await.is_ok());
    assert!(invalid(table.scan(0, 1, None, Some(0)).await));
    assert!(invalid(table.query(Query::partition("")).await));
    assert!(invalid(
        table
            .query(Query::partition("P").sort(SortCondition::Between("b".into(), "a".into())))
            .await
    ));
    let foreign = Cursor([(PK.to_owned(), s("Q")), (SK.to_owned(), s("1"))].into());
    assert!(invalid(
        table
            .query(Query::partition("P").start(Some(foreign)))
            .await
    ));
    let keyless = Cursor([(PK.to_owned(), s("P"))].into());
    assert!(invalid(
        table
            .query(Query::partition("P").start(Some(keyless)))
            .await
    ));
}

#[tokio::test]
async fn writes_reject_what_dynamodb_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    let invalid =
        |result: Result<(), TableError>| matches!(result, Err(TableError::InvalidRequest(_)));
    assert!(invalid(table.put(item("", "s", &[]), None).await));
    assert!(invalid(
        table
            .put(item("p", "s", &[("gsi1pk", Value::number(1))]), None)
            .await
    ));
    assert!(invalid(
        table
            .put(
                item("p", "s", &[("big", Value::B(vec![0; 400 * 1024]))]),
                None
            )
            .await
    ));
    assert!(invalid(table.delete(&Key::new("p", ""), None).await));
    let missing_key = Item::from([(PK.to_owned(), s("p"))]);
    assert!(invalid(table.put(missing_key, None).await));
    let grown = Update::default().set("big", Value::B(vec![0; 400 * 1024]));
    assert!(matches!(
        table.update(&Key::new("p", "s"), grown, None).await,
        Err(TableError::InvalidRequest(_))
    ));
    assert_eq!(table.get(&Key::new("p", "s")).await.unwrap(), None);
}

#[tokio::test]
async fn conditional_writes_check_the_stored_item() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    let key = Key::new("P", "S");
    table
        .put(
            item("P", "S", &[("v", Value::number(1))]),
            Some(Condition::NotExists),
        )
        .await
        .unwrap();
    let again = table
        .put(item("P", "S", &[]), Some(Condition::NotExists))
        .await;
    assert_eq!(again, Err(TableError::ConditionFailed));

    let stale = Some(Condition::Equals("v".into(), Value::number(0)));
    let bump = Update::default().add("v", 1);
    assert_eq!(
        table.update(&key, bump.clone(), stale.clone()).await,
        Err(TableError::ConditionFailed)
    );
    let current = Some(Condition::Equals("v".into(), Value::number(1)));
    let updated = table.update(&key, bump, current).await.unwrap();
    assert_eq!(updated["v"], Value::number(2));

    assert_eq!(
        table.delete(&key, stale).await,
        Err(TableError::ConditionFailed)
    );
    assert!(table.get(&key).await.unwrap().is_some());
    table.delete(&key, Some(Condition::Exists)).await.unwrap();
    assert_eq!(
        table.delete(&key, Some(Condition::Exists)).await,
        Err(TableError::ConditionFailed)
    );
    table.delete(&key, None).await.unwrap();

    let created = table
        .update(&key, Update::default().set("a", s("x")), None)
        .await
        .unwrap();
    assert_eq!(created, item("P", "S", &[("a", s("x"))]));
}

#[tokio::test]
async fn transactions_apply_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    table
        .put(item("ACCT", "A", &[("balance", Value::number(10))]), None)
        .await
        .unwrap();
    table.put(item("ACCT", "OPEN", &[]), None).await.unwrap();
    let transfer = |expected_balance: i64| {
        vec![
            TransactOp::Update {
                key: Key::new("ACCT", "A"),
                update: Update::default().add("balance", -10),
                condition: Some(Condition::Equals(
                    "balance".into(),
                    Value::number(expected_balance),
                )),
            },
            TransactOp::Put {
                item: item("ACCT", "B", &[("gsi1pk", s("OWNER")), ("gsi1sk", s("B"))]),
                condition: Some(Condition::NotExists),
            },
            TransactOp::Delete {
                key: Key::new("ACCT", "GONE"),
                condition: None,
            },
            TransactOp::Check {
                key: Key::new("ACCT", "OPEN"),
                condition: Condition::Exists,
            },
        ]
    };

    let refused = table.transact_write(transfer(99)).await;
    let Err(TableError::TransactionCanceled(reason)) = refused else {
        panic!("{refused:?}")
    };
    assert!(
        reason.contains("[ConditionalCheckFailed, None, None, None]"),
        "{reason}"
    );
    assert_eq!(table.get(&Key::new("ACCT", "B")).await.unwrap(), None);

    let mut named_twice = transfer(10);
    named_twice.push(TransactOp::Check {
        key: Key::new("ACCT", "A"),
        condition: Condition::Exists,
    });
    let duplicate = table.transact_write(named_twice).await;
    assert!(
        matches!(duplicate, Err(TableError::InvalidRequest(_))),
        "{duplicate:?}"
    );
    assert!(matches!(
        table.transact_write(Vec::new()).await,
        Err(TableError::InvalidRequest(_))
    ));

    table.transact_write(transfer(10)).await.unwrap();
    let account = table.get(&Key::new("ACCT", "A")).await.unwrap().unwrap();
    assert_eq!(account["balance"], Value::number(0));
    let owned = table
        .query(Query::on_index(Index::Gsi1, "OWNER"))
        .await
        .unwrap();
    assert_eq!(owned.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_are_serialised() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let table = table.clone();
            tokio::spawn(async move {
                let claim = item("LOCK", "L", &[]);
                table.put(claim, Some(Condition::NotExists)).await.is_ok()
            })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1);

    let key = Key::new("COUNTER", "C");
    let counters: Vec<_> = (0..16)
        .map(|_| {
            let (table, key) = (table.clone(), key.clone());
            tokio::spawn(async move {
                for _ in 0..10 {
                    table
                        .update(&key, Update::default().add("n", 1), None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for counter in counters {
        counter.await.unwrap();
    }
    assert_eq!(
        table.get(&key).await.unwrap().unwrap()["n"],
        Value::number(160)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_items_in_batches_of_25_take_seconds_not_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path());
    let started = Instant::now();
    for batch in 0..400 {
        let writes = (0..25)
            .map(|i| WriteRequest::Put(item(&format!("P#{batch}"), &format!("S#{i:02}"), &[])))
            .collect();
        table.batch_write(writes).await.unwrap();
    }
    let elapsed = started.elapsed();
    // Generous: about one fsync per batch, 1 s on a laptop SSD.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert_eq!(scan_all(&table, 0, 1, None).await.len(), 10_000);
}
