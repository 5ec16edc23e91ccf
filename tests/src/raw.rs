//! Everything a moto account holds under a name prefix, read with the SDK
//! directly rather than through Strata's adapters, so a test sees the bytes
//! as AWS stores them: every attribute of every item of every table, and
//! every version of every object of every bucket with its key, metadata and
//! tags.

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;

/// One place data was found and its raw bytes.
#[derive(Debug, Clone)]
pub struct Place {
    /// `table <name> <pk>/<sk>`, `object <bucket>/<key>@<version>`, …
    pub label: String,
    pub bytes: Vec<u8>,
}

/// The tables whose names start with `prefix`.
pub async fn tables(config: &aws_config::SdkConfig, prefix: &str) -> anyhow::Result<Vec<String>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = dynamodb
            .list_tables()
            .set_exclusive_start_table_name(start)
            .send()
            .await
            .context("ListTables")?;
        names.extend(
            page.table_names()
                .iter()
                .filter(|name| name.starts_with(prefix))
                .cloned(),
        );
        match page.last_evaluated_table_name {
            Some(last) => start = Some(last),
            None => return Ok(names),
        }
    }
}

/// Every item of `table` (all pages of a Scan), each with its attribute
/// names and values as bytes: strings and numbers as their text, binaries
/// as stored.
pub async fn table_items(
    config: &aws_config::SdkConfig,
    table: &str,
) -> anyhow::Result<Vec<Place>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let mut places = Vec::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .with_context(|| format!("Scan {table}"))?;
        for item in page.items() {
            let key = |name: &str| match item.get(name) {
                Some(AttributeValue::S(text)) => text.clone(),
                _ => String::new(),
            };
            let mut bytes = Vec::new();
            for (name, value) in item {
                bytes.extend_from_slice(name.as_bytes());
                bytes.push(b'=');
                attribute_bytes(value, &mut bytes);
                bytes.push(b'\n');
            }
            places.push(Place {
                label: format!("table {table} item {}/{}", key("pk"), key("sk")),
                bytes,
            });
        }
        match page.last_evaluated_key {
            Some(last) if !last.is_empty() => start = Some(last),
            _ => return Ok(places),
        }
    }
}

fn attribute_bytes(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => out.extend_from_slice(text.as_bytes()),
        AttributeValue::B(blob) => out.extend_from_slice(blob.as_ref()),
        AttributeValue::Ss(texts) | AttributeValue::Ns(texts) => {
            for text in texts {
                out.extend_from_slice(text.as_bytes());
                out.push(b'\n');
            }
        }
        AttributeValue::Bs(blobs) => {
            for blob in blobs {
                out.extend_from_slice(blob.as_ref());
                out.push(b'\n');
            }
        }
        AttributeValue::L(values) => {
            for value in values {
                attribute_bytes(value, out);
                out.push(b'\n');
            }
        }
        AttributeValue::M(map) => {
            for (name, value) in map {
                out.extend_from_slice(name.as_bytes());
                out.push(b'=');
                attribute_bytes(value, out);
                out.push(b'\n');
            }
        }
        AttributeValue::Bool(flag) => out.extend_from_slice(flag.to_string().as_bytes()),
        AttributeValue::Null(_) => out.extend_from_slice(b"null"),
        other => out.extend_from_slice(format!("{other:?}").as_bytes()),
    }
}

/// The buckets whose names start with `prefix`.
pub async fn buckets(config: &aws_config::SdkConfig, prefix: &str) -> anyhow::Result<Vec<String>> {
    let s3 = strata_aws::s3_client(config);
    let listed = s3.list_buckets().send().await.context("ListBuckets")?;
    Ok(listed
        .buckets()
        .iter()
        .filter_map(|bucket| bucket.name())
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect())
}

/// Every version of every object in `bucket` (noncurrent ones and delete
/// markers included): the key alone, then the body, then the metadata and
/// tags, each a place of its own.
pub async fn bucket_objects(
    config: &aws_config::SdkConfig,
    bucket: &str,
) -> anyhow::Result<Vec<Place>> {
    let s3 = strata_aws::s3_client(config);
    let mut places = Vec::new();
    let mut versions = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .with_context(|| format!("ListObjectVersions {bucket}"))?;
        for version in page.versions() {
            versions.push((
                version.key().unwrap_or_default().to_owned(),
                version.version_id().map(str::to_owned),
            ));
        }
        for marker in page.delete_markers() {
            places.push(Place {
                label: format!(
                    "delete marker {bucket}/{}",
                    marker.key().unwrap_or_default()
                ),
                bytes: marker.key().unwrap_or_default().as_bytes().to_vec(),
            });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
    for (key, version) in versions {
        // moto answers "null" for objects written before versioning was on.
        let version = version.filter(|v| v != "null");
        let at = format!("{bucket}/{key}@{}", version.as_deref().unwrap_or("-"));
        places.push(Place {
            label: format!("object key {at}"),
            bytes: key.as_bytes().to_vec(),
        });
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .set_version_id(version.clone())
            .send()
            .await
            .with_context(|| format!("GetObject {at}"))?;
        let mut described = String::new();
        for (name, value) in object.metadata().into_iter().flatten() {
            described.push_str(&format!("{name}={value}\n"));
        }
        for (name, value) in [
            ("content-type", object.content_type()),
            ("content-encoding", object.content_encoding()),
            ("content-disposition", object.content_disposition()),
            ("content-language", object.content_language()),
            ("cache-control", object.cache_control()),
            ("website-redirect", object.website_redirect_location()),
        ] {
            if let Some(value) = value {
                described.push_str(&format!("{name}={value}\n"));
            }
        }
        let body = object
            .body
            .collect()
            .await
            .with_context(|| format!("reading {at}"))?
            .into_bytes()
            .to_vec();
        let tags = s3
            .get_object_tagging()
            .bucket(bucket)
            .key(&key)
            .set_version_id(version)
            .send()
            .await
            .with_context(|| format!("GetObjectTagging {at}"))?;
        for tag in tags.tag_set() {
            described.push_str(&format!("tag {}={}\n", tag.key(), tag.value()));
        }
        places.push(Place {
            label: format!("object metadata {at}"),
            bytes: described.into_bytes(),
        });
        places.push(Place {
            label: format!("object {at}"),
            bytes: body,
        });
    }
    Ok(places)
}
