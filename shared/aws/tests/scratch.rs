mod common;
use strata_aws::{DynamoTable, create_table, dynamodb_client};
use strata_domain::ports::table::*;

#[tokio::test]
async fn scratch() {
    let client = dynamodb_client(&common::sdk_config().await);
    let name = common::unique("scratch");
    create_table(&client, &name).await.expect("table created");
    create_table(&client, &name).await.expect("table created twice");
    let t = DynamoTable::new(client.clone(), name.clone());
    let key = Key::new("P", "S");
    println!("empty update on missing: {:?}", t.update(&key, Update::default(), None).await);
    println!("empty update on existing: {:?}", t.update(&key, Update::default(), None).await);
    let mut item = Item::from([(PK.to_owned(), Value::S("P".into())), (SK.to_owned(), Value::S("T".into()))]);
    item.insert("e".into(), Value::S(String::new()));
    item.insert("eb".into(), Value::B(vec![]));
    item.insert("n".into(), Value::N("01.50".into()));
    println!("put empties: {:?}", t.put(item, None).await);
    println!("get: {:?}", t.get(&Key::new("P", "T")).await);
    println!("check all[]: {:?}", t.transact_write(vec![TransactOp::Check { key: key.clone(), condition: Condition::All(vec![]) }]).await);
    println!("put all[]: {:?}", t.put(Item::from([(PK.to_owned(), Value::S("P".into())), (SK.to_owned(), Value::S("U".into()))]), Some(Condition::All(vec![]))).await);
    println!("update pk: {:?}", t.update(&key, Update::default().set("pk", Value::S("x".into())), None).await);
    println!("overlap: {:?}", t.update(&key, Update::default().set("a", Value::S("x".into())).remove("a"), None).await);
    println!("add to string: {:?}", t.update(&key, Update::default().set("s", Value::S("x".into())), None).await);
    println!("add to string: {:?}", t.update(&key, Update::default().add("s", 1), None).await);
    println!("dup transact: {:?}", t.transact_write(vec![TransactOp::Delete { key: key.clone(), condition: None }, TransactOp::Delete { key: key.clone(), condition: None }]).await);
    println!("scan bad seg: {:?}", t.scan(3, 2, None, None).await);
    println!("query limit 0: {:?}", t.query(Query::partition("P").limit(0)).await);
    println!("query between: {:?}", t.query(Query::partition("P").sort(SortCondition::Between("A".into(), "Z".into()))).await);
    let missing = DynamoTable::new(client.clone(), "no-such-table");
    println!("missing table: {:?}", missing.get(&key).await);
    let ttl = client.describe_time_to_live().table_name(&name).send().await;
    println!("ttl: {:?}", ttl.map(|o| o.time_to_live_description));
    let bad = DynamoTable::new(dynamodb_client(&aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url("http://127.0.0.1:1").region(aws_config::Region::new("us-east-1")).credentials_provider(aws_sdk_s3::config::Credentials::new("a","b",None,None,"x")).load().await), "x");
    println!("unreachable: {:?}", bad.get(&key).await);
}
