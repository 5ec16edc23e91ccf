//! Conversions between S3 response fields and the blob port's types.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::primitives::DateTime as SdkDateTime;
use aws_sdk_s3::types::{ObjectLockMode, StorageClass as SdkStorageClass};
use chrono::{DateTime, Utc};
use strata_domain::ports::blob::{PutOptions, Retention, RetentionMode, StorageClass};

pub(crate) fn sdk_class(class: StorageClass) -> SdkStorageClass {
    SdkStorageClass::from(class.s3_name())
}

/// S3 omits the class for STANDARD. Classes the port does not model
/// (REDUCED_REDUNDANCY, EXPRESS_ONEZONE…) are all instantly readable, so
/// they are reported as STANDARD.
pub(crate) fn domain_class(name: Option<&str>) -> StorageClass {
    name.and_then(StorageClass::from_s3_name)
        .unwrap_or_default()
}

/// ETags come quoted in S3's headers and XML; the port carries the bare value.
pub(crate) fn etag(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}

pub(crate) fn size(length: Option<i64>) -> u64 {
    length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// S3 always sends Last-Modified; the epoch stands in should it not.
pub(crate) fn timestamp(time: Option<&SdkDateTime>) -> DateTime<Utc> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_default()
}

pub(crate) fn metadata(metadata: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    metadata
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The lock an object reports; both headers must be present, as S3 sends
/// them together.
pub(crate) fn retention(
    mode: Option<&ObjectLockMode>,
    until: Option<&SdkDateTime>,
) -> Option<Retention> {
    Some(Retention {
        mode: RetentionMode::from_s3_name(mode?.as_str())?,
        retain_until: DateTime::from_timestamp(until?.secs(), until?.subsec_nanos())?,
    })
}

/// The lock headers of a put: mode and whole-second retain-until date.
pub(crate) fn sdk_lock(
    retention: Option<&Retention>,
) -> (Option<ObjectLockMode>, Option<SdkDateTime>) {
    match retention {
        Some(lock) => (
            Some(ObjectLockMode::from(lock.mode.s3_name())),
            Some(SdkDateTime::from_secs(lock.retain_until.timestamp())),
        ),
        None => (None, None),
    }
}

pub(crate) fn sdk_metadata(options: &PutOptions) -> Option<HashMap<String, String>> {
    (!options.metadata.is_empty()).then(|| options.metadata.clone().into_iter().collect())
}

/// CopyObject's `x-amz-copy-source` is `bucket/key` with the key URL-encoded.
pub(crate) fn copy_source(bucket: &str, key: &str) -> String {
    let mut source = format!("{bucket}/");
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            source.push(char::from(byte));
        } else {
            source.push_str(&format!("%{byte:02X}"));
        }
    }
    source
}

/// The port's metadata of an object, from a HeadObject or GetObject output
/// (distinct types with the same accessors).
macro_rules! object_meta {
    ($key:expr, $out:expr) => {
        strata_domain::ports::blob::ObjectMeta {
            key: $key.to_owned(),
            size: $crate::s3::convert::size($out.content_length()),
            etag: $crate::s3::convert::etag($out.e_tag()),
            storage_class: $crate::s3::convert::domain_class(
                $out.storage_class().map(|c| c.as_str()),
            ),
            content_type: $out.content_type().map(str::to_owned),
            metadata: $crate::s3::convert::metadata($out.metadata()),
            last_modified: $crate::s3::convert::timestamp($out.last_modified()),
            retention: $crate::s3::convert::retention(
                $out.object_lock_mode(),
                $out.object_lock_retain_until_date(),
            ),
        }
    };
}
pub(crate) use object_meta;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_the_key_but_not_its_slashes() {
        assert_eq!(
            copy_source("b", "exports/2026 Q1/ünï+x.csv"),
            "b/exports/2026%20Q1/%C3%BCn%C3%AF%2Bx.csv"
        );
    }

    #[test]
    fn storage_classes_round_trip_and_unknown_ones_read_as_standard() {
        for class in StorageClass::ALL {
            assert_eq!(domain_class(Some(sdk_class(class).as_str())), class);
        }
        assert_eq!(domain_class(None), StorageClass::Standard);
        assert_eq!(
            domain_class(Some("REDUCED_REDUNDANCY")),
            StorageClass::Standard
        );
    }

    #[test]
    fn locks_round_trip_in_whole_seconds() {
        let lock = Retention {
            mode: RetentionMode::Compliance,
            retain_until: "2027-01-02T03:04:05Z".parse().unwrap(),
        };
        let (mode, until) = sdk_lock(Some(&lock));
        assert_eq!(retention(mode.as_ref(), until.as_ref()), Some(lock));
        assert_eq!(retention(mode.as_ref(), None), None);
        assert_eq!(sdk_lock(None), (None, None));
    }

    #[test]
    fn etags_lose_their_quotes() {
        assert_eq!(etag(Some("\"abc-3\"")), "abc-3");
    }
}
