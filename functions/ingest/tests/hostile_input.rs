//! Hostile and broken input through the import: every row ends up stored or
//! reported with its row number, field and reason; nothing crashes.

mod common;

use std::collections::BTreeMap;

use strata_domain::customer::Identifier;
use strata_domain::ports::blob::{self, PutOptions};
use strata_ingest::import::run::{self, RunOutcome};

async fn profile_by_email(
    customers: &strata_store::CustomerRepository,
    address: &str,
) -> strata_domain::customer::Customer {
    let email = strata_domain::contact::Email::parse("email", address).expect("email");
    let id = customers
        .find(&Identifier::Email(email))
        .await
        .expect("find")
        .unwrap_or_else(|| panic!("no customer stored under {address}"));
    customers.get(id).await.expect("get").expect("profile")
}

fn hostile_file() -> Vec<u8> {
    let mut file = Vec::new();
    file.extend_from_slice(b"\xEF\xBB\xBFemail,name,phone,birth_date\r\n");
    file.extend_from_slice(
        b"a@shop.cn,\"Li, \"\"Lei\"\"\nsecond line\",13812345678,1990-01-02\r\n",
    ); // 1 quoted, embedded newline
    file.extend_from_slice(b"b@shop.cn,\xff\xfe,,\r\n"); // 2 invalid UTF-8
    file.extend_from_slice(b"c@shop.cn,\xd5\xc5\xc8\xfd,,\r\n"); // 3 GBK bytes in a UTF-8 file
    file.extend_from_slice(b"d@shop.cn,Dee\r\n"); // 4 missing columns
    file.extend_from_slice(b"e@shop.cn,Eve,,,extra\r\n"); // 5 extra column
    file.extend_from_slice(b"\r\n"); // blank line: not a row
    file.extend_from_slice(b"f@shop.cn,");
    file.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024)); // 6 a 10 MB field
    file.extend_from_slice(b",,\r\n");
    file.extend_from_slice(b"g@shop.cn,Gee,,02/03/1990\r\n"); // 7 another date format
    file.extend_from_slice(b"h@shop.cn,\"=HYPERLINK(\"\"http://evil\"\")\",,\r\n"); // 8 formula prefix
    file.extend_from_slice("i@shop.cn,王小明🎉,,\r\n".as_bytes()); // 9 Chinese and emoji
    file.extend_from_slice(b"not-an-email,Bad,,\r\n"); // 10 bad e-mail
    file.extend_from_slice("i@shop.cn,王小明🎉,,\r\n".as_bytes()); // 11 the same again
    file.extend_from_slice(b"I@SHOP.CN,,139 1234 5678,\r\n"); // 12 same person, new phone
    file.extend_from_slice(b"j@shop.cn,J,,yesterday\r\n"); // 13 not a date
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_row_is_stored_or_reported() {
    let local = common::local().await;
    let object = common::upload(
        local.blobs.as_ref(),
        "imports/customers/hostile.csv",
        hostile_file(),
    )
    .await;
    let state = common::import_to_end(&local.importer, object).await;
    let c = state.counts;
    assert_eq!(c.rows_read, 13);
    assert_eq!(
        (c.accepted, c.merged, c.duplicates, c.rejected),
        (4, 1, 1, 7),
        "{c:?}"
    );
    assert!(c.reconciles());
    assert_eq!(c.blank_lines, 1);

    let mut rejected: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let files = run::rejection_files(local.blobs.as_ref(), &state.id)
        .await
        .expect("list");
    assert_eq!(files.len() as u64, state.rejection_files);
    for key in &files {
        let object = local.blobs.get(key).await.expect("rejection file");
        let text =
            String::from_utf8(blob::collect(object.body).await.expect("body")).expect("utf-8");
        for line in text.lines() {
            let json: serde_json::Value = serde_json::from_str(line).expect("json line");
            let error = &json["errors"][0];
            rejected.insert(
                json["row"].as_u64().expect("row"),
                (
                    error["field"].as_str().unwrap_or_default().to_owned(),
                    error["code"].as_str().unwrap_or_default().to_owned(),
                ),
            );
            assert!(
                json["raw"].as_str().expect("raw").len() < 4096,
                "raw rows are truncated"
            );
        }
    }
    let expect = |row: u64, field: &str, code: &str| {
        let (f, c) = rejected
            .get(&row)
            .unwrap_or_else(|| panic!("row {row} not reported: {rejected:?}"));
        assert!(
            f.contains(field) && c == code,
            "row {row}: got {f}/{c}, want {field}/{code}"
        );
    };
    expect(2, "name", "invalid_encoding");
    expect(3, "name", "invalid_encoding");
    expect(4, "row", "column_count");
    expect(5, "row", "column_count");
    expect(6, "name", "field_too_long");
    expect(10, "email", "invalid_email");
    expect(13, "birth_date", "invalid_date");
    assert_eq!(rejected.len(), 7);

    let customers = local.importer_customers();
    let formula = profile_by_email(&customers, "h@shop.cn").await;
    assert_eq!(
        formula.identity.name.as_deref(),
        Some("=HYPERLINK(\"http://evil\")"),
        "stored as text, as given"
    );
    let chinese = profile_by_email(&customers, "i@shop.cn").await;
    assert_eq!(chinese.identity.name.as_deref(), Some("王小明🎉"));
    assert_eq!(
        chinese.identity.phone.as_ref().map(|p| p.as_str()),
        Some("+8613912345678"),
        "the later row merged its phone"
    );
    let quoted = profile_by_email(&customers, "a@shop.cn").await;
    assert_eq!(
        quoted.identity.name.as_deref(),
        Some("Li, \"Lei\" second line")
    );
    let dated = profile_by_email(&customers, "g@shop.cn").await;
    assert_eq!(
        dated.identity.birth_date.map(|d| d.to_string()).as_deref(),
        Some("1990-03-02")
    );
}

#[tokio::test]
async fn a_declared_legacy_encoding_is_decoded() {
    let local = common::local().await;
    let mapping = br#"{"source": "legacy-erp", "record": "customer", "format": {"kind": "delimited", "encoding": "gbk"},
                       "columns": {"customer.external_id": "id", "customer.name": "name"}}"#;
    local
        .blobs
        .put(
            "mappings/legacy-erp.json",
            blob::body_from(mapping.to_vec()),
            PutOptions::default(),
        )
        .await
        .expect("mapping");
    let file = b"id,name\nE-1,\xd5\xc5\xc8\xfd\n".to_vec(); // 张三 in GBK
    let object = common::upload(local.blobs.as_ref(), "imports/legacy-erp/export.csv", file).await;
    let state = common::import_to_end(&local.importer, object).await;
    assert_eq!((state.counts.accepted, state.counts.rejected), (1, 0));
    let source = strata_domain::customer::SourceRef {
        source: "legacy-erp".into(),
        external_id: "E-1".into(),
    };
    let customers = local.importer_customers();
    let id = customers
        .find(&Identifier::External(source))
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(
        customers
            .get(id)
            .await
            .expect("get")
            .expect("profile")
            .identity
            .name
            .as_deref(),
        Some("张三")
    );
}

#[tokio::test]
async fn an_unknown_mapping_fails_the_import_with_a_reason() {
    let local = common::local().await;
    let object = common::upload(
        local.blobs.as_ref(),
        "imports/nosuch/export.csv",
        b"a,b\n1,2\n".to_vec(),
    )
    .await;
    let RunOutcome::Failed(state) = local
        .importer
        .run(object, "test", None)
        .await
        .expect("import")
    else {
        panic!()
    };
    assert!(
        state
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("no mapping named `nosuch`"),
        "{:?}",
        state.error
    );
    let report = local
        .blobs
        .get(state.report_key.as_deref().expect("report"))
        .await
        .expect("report object");
    let report: serde_json::Value =
        serde_json::from_slice(&blob::collect(report.body).await.expect("body")).expect("json");
    assert_eq!(report["status"], "failed");
}

/// A customers export of `chunks` chunks of ten rows, each with one row
/// whose e-mail is malformed.
fn one_bad_row_per_chunk(chunks: usize) -> Vec<u8> {
    let mut file = String::from("email,name,phone,birth_date\n");
    for n in 0..chunks * 10 {
        if n % 10 == 7 {
            file.push_str(&format!("not-an-email-{n},Bad {n},,\n"));
        } else {
            file.push_str(&format!("r{n}@shop.cn,Row {n},,\n"));
        }
    }
    file.into_bytes()
}

/// The stored import item's size: it is written after every chunk, and a
/// table item has a size limit (400 KB in DynamoDB), so it must not grow
/// with the number of chunks that rejected rows.
async fn import_item_size(local: &common::Local, id: &str) -> usize {
    let mut start = None;
    loop {
        let page = local.table.scan(0, 1, start, None).await.expect("scan");
        let found = page
            .items
            .iter()
            .filter(|item| {
                strata_store::RecordKind::of(item) == Some(strata_store::RecordKind::Import)
            })
            .find(|item| item.get("id").and_then(|v| v.as_str()) == Some(id));
        if let Some(item) = found {
            return strata_domain::ports::table::item_size(item);
        }
        start = Some(page.next.expect("the import's item"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_record_stays_the_same_size_however_many_rejection_files() {
    let mut local = common::local().await;
    local.importer.chunk_rows = 10;
    let mut sizes = Vec::new();
    for (name, chunks) in [("few", 3), ("many", 60)] {
        let key = format!("imports/customers/{name}.csv");
        let object =
            common::upload(local.blobs.as_ref(), &key, one_bad_row_per_chunk(chunks)).await;
        let state = common::import_to_end(&local.importer, object).await;
        assert_eq!(state.counts.rejected, chunks as u64);
        assert!(state.counts.reconciles(), "{:?}", state.counts);
        assert_eq!(state.rejection_files, chunks as u64, "one file per chunk");
        let files = run::rejection_files(local.blobs.as_ref(), &state.id)
            .await
            .expect("list");
        assert_eq!(files.len(), chunks, "{files:?}");
        // Key order is row order: each file's first line is the chunk's bad row.
        let mut rows = Vec::new();
        for file in &files {
            let object = local.blobs.get(file).await.expect("rejection file");
            let text =
                String::from_utf8(blob::collect(object.body).await.expect("body")).expect("utf-8");
            let line: serde_json::Value =
                serde_json::from_str(text.lines().next().expect("a line")).expect("json");
            rows.push(line["row"].as_u64().expect("row"));
        }
        let expected: Vec<u64> = (0..chunks as u64).map(|c| c * 10 + 8).collect();
        assert_eq!(rows, expected);
        let report = run::report(&state);
        assert_eq!(report["rejections"]["files"], chunks as u64);
        assert_eq!(
            report["rejections"]["prefix"],
            format!("reports/{}/rejected/", state.id)
        );
        sizes.push(import_item_size(&local, &state.id).await);
    }
    assert!(
        sizes[1] <= sizes[0] + 8,
        "the import item grew with its rejection files: {sizes:?} bytes"
    );
}
