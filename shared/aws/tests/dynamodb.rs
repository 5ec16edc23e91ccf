//! The DynamoDB adapter against a real DynamoDB API (moto).

mod common;

use std::collections::BTreeMap;

use strata_aws::{DynamoTable, create_table, dynamodb_client};
use strata_domain::ports::table::{
    Condition, Index, Item, Key, PK, Query, SK, SortCondition, Table, TableError, TransactOp,
    Update, Value, WriteRequest,
};

async fn table() -> DynamoTable {
    let client = dynamodb_client(&common::sdk_config().await);
    let name = common::unique("strata");
    create_table(&client, &name).await.expect("table created");
    DynamoTable::new(client, name)
}

fn item(pk: &str, sk: &str, attrs: impl IntoIterator<Item = (&'static str, Value)>) -> Item {
    let mut item = Item::from([
        (PK.to_owned(), Value::S(pk.into())),
        (SK.to_owned(), Value::S(sk.into())),
    ]);
    item.extend(attrs.into_iter().map(|(k, v)| (k.to_owned(), v)));
    item
}

#[tokio::test]
async fn every_value_variant_survives_a_round_trip() {
    strata_tests::require_moto!();
    let table = table().await;
    let nested = Value::M(BTreeMap::from([
        (
            "list".to_owned(),
            Value::L(vec![Value::S("x".into()), Value::Null, Value::number(7)]),
        ),
        ("bytes".to_owned(), Value::B(vec![0, 159, 255])),
        ("empty map".to_owned(), Value::M(BTreeMap::new())),
    ]));
    let stored = item(
        "CUST#1",
        "PROFILE",
        [
            ("name", Value::S("Zoë".into())),
            // Empty strings and binaries are allowed outside keys.
            ("nickname", Value::S(String::new())),
            ("signature", Value::B(vec![])),
            ("balance", Value::N("-12.5".into())),
            ("avatar", Value::B(vec![1, 2, 3, 254])),
            ("active", Value::Bool(true)),
            ("deleted", Value::Bool(false)),
            ("phone", Value::Null),
            (
                "tags",
                Value::L(vec![Value::S("vip".into()), Value::L(vec![])]),
            ),
            ("extra", nested),
        ],
    );
    table.put(stored.clone(), None).await.expect("put");
    let read = table
        .get(&Key::new("CUST#1", "PROFILE"))
        .await
        .expect("get");
    assert_eq!(read, Some(stored));
}

#[tokio::test]
async fn failed_conditions_map_to_port_errors() {
    strata_tests::require_moto!();
    let table = table().await;
    let key = Key::new("CUST#2", "PROFILE");
    let first = item(
        "CUST#2",
        "PROFILE",
        [
            ("version", Value::number(1)),
            ("status", Value::S("new".into())),
        ],
    );
    table
        .put(first.clone(), Some(Condition::NotExists))
        .await
        .expect("first put");
    let err = table
        .put(first, Some(Condition::NotExists))
        .await
        .expect_err("second put");
    assert_eq!(err, TableError::ConditionFailed);

    // `version` and `status` are reserved words: they must go through placeholders.
    let stale = Condition::Equals("version".into(), Value::number(0));
    let err = table
        .update(&key, Update::default().add("version", 1), Some(stale))
        .await
        .expect_err("stale");
    assert_eq!(err, TableError::ConditionFailed);

    let err = table
        .delete(&key, Some(Condition::AttributeAbsent("status".into())))
        .await
        .expect_err("delete");
    assert_eq!(err, TableError::ConditionFailed);

    let ops = vec![
        TransactOp::Put {
            item: item("CUST#3", "PROFILE", []),
            condition: None,
        },
        TransactOp::Check {
            key: key.clone(),
            condition: Condition::Equals("version".into(), Value::number(9)),
        },
    ];
    match table.transact_write(ops).await {
        Err(TableError::TransactionCanceled(reasons)) => {
            assert!(
                reasons.contains("[None, ConditionalCheckFailed]"),
                "reasons: {reasons}"
            );
        }
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(
        table
            .get(&Key::new("CUST#3", "PROFILE"))
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn updates_use_reserved_names_and_return_the_new_item() {
    strata_tests::require_moto!();
    let table = table().await;
    let key = Key::new("CUST#4", "PROFILE");
    table
        .put(
            item("CUST#4", "PROFILE", [("owner", Value::S("ann".into()))]),
            None,
        )
        .await
        .expect("put");
    let update = Update::default()
        .set("status", Value::S("active".into()))
        .remove("owner")
        .add("version", 2);
    let updated = table
        .update(
            &key,
            update,
            Some(Condition::All(vec![
                Condition::Exists,
                Condition::AttributeAbsent("version".into()),
            ])),
        )
        .await
        .expect("update");
    assert_eq!(
        updated,
        item(
            "CUST#4",
            "PROFILE",
            [
                ("status", Value::S("active".into())),
                ("version", Value::number(2))
            ]
        )
    );
}

#[tokio::test]
async fn queries_page_through_the_table_and_the_indexes() {
    strata_tests::require_moto!();
    let table = table().await;
    let writes = (0..5)
        .map(|i| {
            WriteRequest::Put(item(
                "CUST#5",
                &format!("ORDER#{i}"),
                [
                    ("gsi1pk", Value::S("STATUS#open".into())),
                    ("gsi1sk", Value::S(format!("2026-0{i}"))),
                ],
            ))
        })
        .collect();
    assert_eq!(table.batch_write(writes).await.expect("batch"), vec![]);

    let first = table
        .query(
            Query::partition("CUST#5")
                .sort(SortCondition::BeginsWith("ORDER#".into()))
                .limit(3),
        )
        .await;
    let first = first.expect("first page");
    assert_eq!(first.items.len(), 3);
    let rest = table
        .query(
            Query::partition("CUST#5")
                .sort(SortCondition::BeginsWith("ORDER#".into()))
                .start(first.next),
        )
        .await
        .expect("second page");
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.next, None);

    let between = Query::on_index(Index::Gsi1, "STATUS#open")
        .sort(SortCondition::Between("2026-01".into(), "2026-03".into()))
        .backward();
    let page = table.query(between).await.expect("index query");
    let sks: Vec<_> = page
        .items
        .iter()
        .map(|i| i[SK].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(sks, ["ORDER#3", "ORDER#2", "ORDER#1"]);

    let mut scanned = 0;
    for segment in 0..2 {
        scanned += table
            .scan(segment, 2, None, None)
            .await
            .expect("scan")
            .items
            .len();
    }
    assert_eq!(scanned, 5);
}
