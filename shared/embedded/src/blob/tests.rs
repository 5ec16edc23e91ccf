//! Behaviour specific to the embedded blob store: persistence, crash
//! leftovers, file handling. The cross-adapter conformance suite lives in the
//! workspace's `tests` crate.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use strata_domain::ports::blob::{body_from, collect};
use strata_domain::ports::{
    BlobError, BlobStore, ByteStream, PutOptions, Retention, RetentionMode, StorageClass,
};

use super::EmbeddedBlobStore;

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn chunked(chunks: Vec<Result<&'static [u8], BlobError>>) -> ByteStream {
    Box::pin(futures::stream::iter(
        chunks
            .into_iter()
            .map(|chunk| chunk.map(Bytes::from_static)),
    ))
}

fn class(storage_class: StorageClass) -> PutOptions {
    PutOptions {
        storage_class,
        ..PutOptions::default()
    }
}

async fn read(store: &EmbeddedBlobStore, key: &str) -> Vec<u8> {
    collect(store.get(key).await.unwrap().body).await.unwrap()
}

#[tokio::test]
async fn put_streams_chunks_and_get_returns_them_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    let options = PutOptions {
        content_type: Some("text/csv".into()),
        storage_class: StorageClass::StandardIa,
        metadata: BTreeMap::from([("source".into(), "import".into())]),
        retention: None,
    };
    let receipt = store
        .put(
            "exports/2024/a.csv",
            chunked(vec![Ok(b"id,name\n"), Ok(b""), Ok(b"1,Ada\n")]),
            options.clone(),
        )
        .await
        .unwrap();
    let expected = b"id,name\n1,Ada\n";
    assert_eq!(receipt.size, expected.len() as u64);
    assert_eq!(receipt.parts, 1);
    assert_eq!(
        receipt.etag,
        format!("\"{}\"", hex::encode(Sha256::digest(expected)))
    );

    let object = store.get("exports/2024/a.csv").await.unwrap();
    assert_eq!(object.meta.etag, receipt.etag);
    assert_eq!(object.meta.content_type, options.content_type);
    assert_eq!(object.meta.storage_class, StorageClass::StandardIa);
    assert_eq!(object.meta.metadata, options.metadata);
    assert_eq!(collect(object.body).await.unwrap(), expected);
    assert_eq!(
        store
            .head("exports/2024/a.csv")
            .await
            .unwrap()
            .unwrap()
            .size,
        14
    );
    assert_eq!(store.head("exports/2024/b.csv").await.unwrap(), None);
    assert!(matches!(
        store.get("exports/2024/b.csv").await,
        Err(BlobError::NotFound(_))
    ));
}

#[tokio::test]
async fn large_objects_come_back_in_bounded_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    let data: Vec<u8> = (0..3 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let chunks: Vec<_> = data
        .chunks(10_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = futures::stream::iter(chunks);
    store
        .put("big.bin", Box::pin(body), PutOptions::default())
        .await
        .unwrap();
    let mut body = store.get("big.bin").await.unwrap().body;
    let mut read = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.len() <= 64 * 1024);
        read.extend_from_slice(&chunk);
    }
    assert_eq!(read, data);
}

#[tokio::test]
async fn objects_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedBlobStore::open(dir.path()).unwrap();
        store
            .put("a/b", body_from("kept"), class(StorageClass::OneZoneIa))
            .await
            .unwrap();
    }
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    assert_eq!(read(&store, "a/b").await, b"kept");
    assert_eq!(
        store.head("a/b").await.unwrap().unwrap().storage_class,
        StorageClass::OneZoneIa
    );
}

#[tokio::test]
async fn a_failed_upload_leaves_no_file_and_the_old_version_intact() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    store
        .put("doc", body_from("version 1"), PutOptions::default())
        .await
        .unwrap();
    let broken = chunked(vec![
        Ok(b"version 2, first half"),
        Err(BlobError::Unavailable("client went away".into())),
    ]);
    let failed = store.put("doc", broken, PutOptions::default()).await;
    assert_eq!(
        failed,
        Err(BlobError::Unavailable("client went away".into()))
    );
    assert_eq!(read(&store, "doc").await, b"version 1");
    assert_eq!(files_in(&dir.path().join("staging")), 0);
    assert_eq!(files_in(&dir.path().join("objects")), 1);
}

#[tokio::test]
async fn an_abandoned_upload_removes_its_staged_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    let endless: ByteStream = Box::pin(
        futures::stream::once(async { Ok(Bytes::from_static(b"start")) })
            .chain(futures::stream::pending()),
    );
    let upload = store.put("doc", endless, PutOptions::default());
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(100), upload).await;
    assert!(timed_out.is_err());
    assert_eq!(files_in(&dir.path().join("staging")), 0);
    assert_eq!(store.head("doc").await.unwrap(), None);
}

#[tokio::test]
async fn reopening_removes_what_a_crash_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedBlobStore::open(dir.path()).unwrap();
        store
            .put("kept", body_from("data"), PutOptions::default())
            .await
            .unwrap();
    }
    std::fs::write(dir.path().join("staging").join("half-written.part"), b"ha").unwrap();
    let orphan = dir
        .path()
        .join("objects")
        .join(uuid::Uuid::now_v7().to_string());
    std::fs::write(&orphan, b"renamed but never committed").unwrap();

    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    assert_eq!(files_in(&dir.path().join("staging")), 0);
    assert!(!orphan.exists());
    assert_eq!(files_in(&dir.path().join("objects")), 1);
    assert_eq!(read(&store, "kept").await, b"data");
}

#[tokio::test]
async fn replaced_and_deleted_objects_free_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    for version in ["one", "two", "three"] {
        store
            .put("doc", body_from(version), PutOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(files_in(&dir.path().join("objects")), 1);
    assert_eq!(read(&store, "doc").await, b"three");
    store.delete("doc").await.unwrap();
    store.delete("doc").await.unwrap();
    assert_eq!(files_in(&dir.path().join("objects")), 0);
    assert_eq!(store.head("doc").await.unwrap(), None);
}

#[tokio::test]
async fn a_reader_keeps_the_version_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    store
        .put("doc", body_from("old"), PutOptions::default())
        .await
        .unwrap();
    let opened = store.get("doc").await.unwrap();
    store
        .put("doc", body_from("new"), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(collect(opened.body).await.unwrap(), b"old");
    assert_eq!(read(&store, "doc").await, b"new");
}

#[tokio::test]
async fn listing_pages_through_a_prefix_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    for key in [
        "logs/b", "logs/a", "logs/c/1", "logz", "log", "logs/d", "other",
    ] {
        store
            .put(key, body_from(key.to_owned()), PutOptions::default())
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut continuation = None;
    loop {
        let page = store.list("logs/", continuation, 2).await.unwrap();
        assert!(page.objects.len() <= 2);
        keys.extend(page.objects.into_iter().map(|o| o.key));
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    assert_eq!(keys, ["logs/a", "logs/b", "logs/c/1", "logs/d"]);

    let exact = store.list("logs/", None, 4).await.unwrap();
    assert_eq!(
        (exact.objects.len(), exact.next),
        (4, None),
        "no cursor when nothing follows"
    );
    let everything = store.list("", None, 1000).await.unwrap();
    assert_eq!(everything.objects.len(), 7);
    assert_eq!(everything.objects[0].size, 3);
    assert!(matches!(
        store.list("", None, 0).await,
        Err(BlobError::Refused(_))
    ));
    assert!(matches!(
        store.list("", None, 1001).await,
        Err(BlobError::Refused(_))
    ));
}

#[tokio::test]
async fn archived_objects_refuse_reads_and_copies() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    store
        .put("cold", body_from("zzz"), class(StorageClass::DeepArchive))
        .await
        .unwrap();
    let archived = store.get("cold").await.err().unwrap();
    assert_eq!(
        archived,
        BlobError::Archived {
            key: "cold".into(),
            storage_class: StorageClass::DeepArchive
        }
    );
    assert!(store.head("cold").await.unwrap().is_some());
    assert!(matches!(
        store.copy("cold", "warm", StorageClass::Standard).await,
        Err(BlobError::Archived { .. })
    ));

    store
        .put("doc", body_from("text"), PutOptions::default())
        .await
        .unwrap();
    store
        .copy("doc", "doc", StorageClass::GlacierFlexibleRetrieval)
        .await
        .unwrap();
    assert!(matches!(
        store.get("doc").await,
        Err(BlobError::Archived { .. })
    ));
    assert_eq!(
        files_in(&dir.path().join("objects")),
        2,
        "a class change keeps the bytes where they are"
    );
}

#[tokio::test]
async fn copies_share_bytes_but_live_independently() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    let options = PutOptions {
        content_type: Some("application/json".into()),
        storage_class: StorageClass::Standard,
        metadata: BTreeMap::from([("owner".into(), "crm".into())]),
        retention: None,
    };
    store
        .put("src", body_from("{}"), options.clone())
        .await
        .unwrap();
    store
        .copy("src", "dst", StorageClass::StandardIa)
        .await
        .unwrap();
    let copied = store.head("dst").await.unwrap().unwrap();
    let source = store.head("src").await.unwrap().unwrap();
    assert_eq!((copied.etag, copied.size), (source.etag, source.size));
    assert_eq!(
        (copied.content_type, copied.metadata),
        (options.content_type, options.metadata)
    );
    assert_eq!(copied.storage_class, StorageClass::StandardIa);

    store.delete("src").await.unwrap();
    assert_eq!(read(&store, "dst").await, b"{}");
    assert!(matches!(
        store.copy("src", "dst", StorageClass::Standard).await,
        Err(BlobError::NotFound(_))
    ));
    let unchanged = store.copy("dst", "dst", StorageClass::StandardIa).await;
    assert!(
        matches!(unchanged, Err(BlobError::Refused(_))),
        "S3 refuses a copy that changes nothing"
    );
}

#[tokio::test]
async fn unsafe_keys_are_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    for key in [
        "",
        "/abs",
        "a//b",
        "../up",
        "a/./b",
        "a/..",
        "nul\0",
        &"k".repeat(1025),
    ] {
        let refused =
            |result: Result<(), BlobError>| matches!(result, Err(BlobError::InvalidKey(_)));
        assert!(
            refused(
                store
                    .put(key, body_from("x"), PutOptions::default())
                    .await
                    .map(drop)
            ),
            "{key:?}"
        );
        assert!(refused(store.get(key).await.map(drop)), "{key:?}");
        assert!(refused(store.head(key).await.map(drop)), "{key:?}");
        assert!(refused(store.delete(key).await), "{key:?}");
        assert!(
            refused(store.copy(key, "ok", StorageClass::Standard).await),
            "{key:?}"
        );
        assert!(
            refused(store.copy("ok", key, StorageClass::Standard).await),
            "{key:?}"
        );
    }
    assert_eq!(files_in(&dir.path().join("objects")), 0);
}

fn locked(mode: RetentionMode, seconds_from_now: i64) -> PutOptions {
    PutOptions {
        retention: Some(Retention {
            mode,
            retain_until: chrono::Utc::now() + chrono::Duration::seconds(seconds_from_now),
        }),
        ..PutOptions::default()
    }
}

#[tokio::test]
async fn a_locked_object_can_be_neither_deleted_nor_replaced_until_its_lock_ends() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobStore::open(dir.path()).unwrap();
    for (key, mode) in [
        ("locked/compliance", RetentionMode::Compliance),
        ("locked/governance", RetentionMode::Governance),
    ] {
        store
            .put(key, body_from("keep me"), locked(mode, 3600))
            .await
            .unwrap();
        let refused = store.delete(key).await.unwrap_err();
        assert!(
            matches!(&refused, BlobError::Refused(why) if why.contains(mode.s3_name())),
            "{refused}"
        );
        let overwrite = store
            .put(key, body_from("lost"), PutOptions::default())
            .await;
        assert!(matches!(overwrite, Err(BlobError::Refused(_))));
        let onto = store
            .copy("locked/compliance", key, StorageClass::Standard)
            .await;
        assert!(key == "locked/compliance" || matches!(onto, Err(BlobError::Refused(_))));
        assert_eq!(read(&store, key).await, b"keep me");
        assert_eq!(
            store
                .head(key)
                .await
                .unwrap()
                .unwrap()
                .retention
                .unwrap()
                .mode,
            mode
        );
    }
    // The refused writes left no content file behind: two objects, two files.
    assert_eq!(files_in(&dir.path().join("objects")), 2);

    // A copy does not inherit the lock; a class change keeps it.
    store
        .copy("locked/compliance", "copied", StorageClass::Standard)
        .await
        .unwrap();
    assert_eq!(store.head("copied").await.unwrap().unwrap().retention, None);
    store.delete("copied").await.unwrap();
    store
        .copy(
            "locked/compliance",
            "locked/compliance",
            StorageClass::DeepArchive,
        )
        .await
        .unwrap();
    assert!(store.delete("locked/compliance").await.is_err());

    // Once the lock has ended the object goes like any other, and the lock
    // survives a reopen of the store.
    store
        .put(
            "expired",
            body_from("x"),
            locked(RetentionMode::Compliance, -1),
        )
        .await
        .unwrap();
    store.delete("expired").await.unwrap();
    drop(store);
    let reopened = EmbeddedBlobStore::open(dir.path()).unwrap();
    assert!(reopened.delete("locked/governance").await.is_err());
}
