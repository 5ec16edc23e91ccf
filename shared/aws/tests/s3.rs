//! The S3 adapter against a real S3 API (moto).

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::StreamExt;
use strata_aws::{S3BlobStore, create_bucket, s3_client};
use strata_domain::ports::blob::{
    BlobError, BlobStore, ByteStream, PutOptions, StorageClass, body_from, collect,
};

const MIB: usize = 1024 * 1024;

async fn store() -> (S3BlobStore, aws_sdk_s3::Client, String) {
    let client = s3_client(&common::sdk_config().await);
    let bucket = common::unique("strata");
    create_bucket(&client, &bucket)
        .await
        .expect("bucket created");
    (
        S3BlobStore::new(client.clone(), bucket.clone()),
        client,
        bucket,
    )
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// The body in chunks of `chunk` bytes, as a streamed upload would arrive.
fn chunked(data: &[u8], chunk: usize) -> ByteStream {
    let chunks: Vec<_> = data
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

#[tokio::test]
async fn large_bodies_go_up_in_parts_and_come_back_whole() {
    strata_tests::require_moto!();
    let (store, _, _) = store().await;
    let data = pattern(20 * MIB);
    let options = PutOptions {
        content_type: Some("text/csv".into()),
        storage_class: StorageClass::StandardIa,
        metadata: BTreeMap::from([("source".to_owned(), "export".to_owned())]),
        retention: None,
    };
    let receipt = store
        .put("exports/big.csv", chunked(&data, MIB), options.clone())
        .await
        .expect("put");
    assert_eq!((receipt.parts, receipt.size), (3, data.len() as u64));

    let object = store.get("exports/big.csv").await.expect("get");
    assert_eq!(object.meta.etag, receipt.etag);
    assert_eq!(object.meta.storage_class, StorageClass::StandardIa);
    assert_eq!(object.meta.content_type, options.content_type);
    assert_eq!(object.meta.metadata, options.metadata);
    assert!(
        collect(object.body).await.expect("body") == data,
        "the body differs"
    );
}

#[tokio::test]
async fn a_body_of_exactly_one_part_is_a_single_put() {
    strata_tests::require_moto!();
    let (store, _, _) = store().await;
    let store = store.with_part_size(5 * MIB).expect("valid part size");
    let data = pattern(5 * MIB);
    let receipt = store
        .put("one/part", chunked(&data, 64 * 1024), PutOptions::default())
        .await
        .expect("put");
    assert_eq!(receipt.parts, 1);
    let meta = store.head("one/part").await.expect("head").expect("exists");
    assert_eq!((meta.size, meta.etag), (data.len() as u64, receipt.etag));
}

#[tokio::test]
async fn a_failing_body_aborts_the_multipart_upload() {
    strata_tests::require_moto!();
    let (store, client, bucket) = store().await;
    let data = pattern(10 * MIB);
    let body = chunked(&data, MIB).chain(futures::stream::once(async {
        Err(BlobError::Unavailable("gone".into()))
    }));
    let err = store
        .put("broken", Box::pin(body), PutOptions::default())
        .await
        .expect_err("put fails");
    assert_eq!(err, BlobError::Unavailable("gone".into()));
    let uploads = client
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .expect("list uploads");
    assert!(
        uploads.uploads().is_empty(),
        "left behind: {:?}",
        uploads.uploads()
    );
    assert_eq!(store.head("broken").await.expect("head"), None);
}

#[tokio::test]
async fn archived_objects_refuse_reads_until_restored() {
    strata_tests::require_moto!();
    let (store, _, _) = store().await;
    let glacier = PutOptions {
        storage_class: StorageClass::DeepArchive,
        ..PutOptions::default()
    };
    store
        .put("cold/a", body_from("old"), glacier)
        .await
        .expect("put");
    match store.get("cold/a").await {
        Err(err) => assert_eq!(
            err,
            BlobError::Archived {
                key: "cold/a".into(),
                storage_class: StorageClass::DeepArchive
            }
        ),
        Ok(_) => panic!("an archived object was readable"),
    }

    // Changing the class in place, as lifecycle tiering does.
    store
        .put("cold/b", body_from("warm"), PutOptions::default())
        .await
        .expect("put");
    store
        .copy("cold/b", "cold/b", StorageClass::GlacierFlexibleRetrieval)
        .await
        .expect("copy in place");
    let meta = store.head("cold/b").await.expect("head").expect("exists");
    assert_eq!(meta.storage_class, StorageClass::GlacierFlexibleRetrieval);
    assert!(matches!(
        store.get("cold/b").await,
        Err(BlobError::Archived { .. })
    ));
    let archived = BlobError::Archived {
        key: "cold/b".into(),
        storage_class: StorageClass::GlacierFlexibleRetrieval,
    };
    assert_eq!(
        store.copy("cold/b", "warm/b", StorageClass::Standard).await,
        Err(archived)
    );
}

#[tokio::test]
async fn copies_keep_metadata_and_accept_awkward_keys() {
    strata_tests::require_moto!();
    let (store, _, _) = store().await;
    let options = PutOptions {
        metadata: BTreeMap::from([("owner".to_owned(), "crm".to_owned())]),
        ..PutOptions::default()
    };
    store
        .put("in/Q1 report+ünï.csv", body_from("a,b"), options.clone())
        .await
        .expect("put");
    store
        .copy(
            "in/Q1 report+ünï.csv",
            "out/copy.csv",
            StorageClass::OneZoneIa,
        )
        .await
        .expect("copy");
    let meta = store
        .head("out/copy.csv")
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(
        (meta.storage_class, meta.metadata),
        (StorageClass::OneZoneIa, options.metadata)
    );
    // Already in that class: nothing to change, not an error.
    store
        .copy("out/copy.csv", "out/copy.csv", StorageClass::OneZoneIa)
        .await
        .expect("no-op copy");
}

#[tokio::test]
async fn missing_objects_and_listing() {
    strata_tests::require_moto!();
    let (store, _, _) = store().await;
    assert_eq!(store.head("nope").await.expect("head"), None);
    assert!(matches!(store.get("nope").await, Err(BlobError::NotFound(k)) if k == "nope"));
    store
        .delete("nope")
        .await
        .expect("deleting a missing key is fine");

    for name in ["a", "b", "c"] {
        store
            .put(
                &format!("list/{name}"),
                body_from(name),
                PutOptions::default(),
            )
            .await
            .expect("put");
    }
    store
        .put("other/x", body_from("x"), PutOptions::default())
        .await
        .expect("put");
    let first = store.list("list/", None, 2).await.expect("list");
    let rest = store
        .list("list/", first.next.clone(), 2)
        .await
        .expect("list more");
    let keys: Vec<_> = first
        .objects
        .iter()
        .chain(&rest.objects)
        .map(|o| o.key.as_str())
        .collect();
    assert_eq!(keys, ["list/a", "list/b", "list/c"]);
    assert_eq!(rest.next, None);
}
