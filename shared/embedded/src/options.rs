//! How much memory the embedded stores may hold.
//!
//! redb keeps pages it read or wrote in a cache of its own (not the kernel's
//! page cache), 1 GiB by default, which a large import fills: the process
//! then grows with the table rather than with the work. The table's cache is
//! capped here instead; reads past it go to the file, which the kernel
//! caches outside the process.

use crate::error::EmbeddedError;

/// Sets the table's cache in MiB (`0` disables it).
pub const CACHE_MB_VAR: &str = "STRATA_EMBEDDED_CACHE_MB";

/// The table's cache unless `STRATA_EMBEDDED_CACHE_MB` says otherwise: a
/// 100,000-row import ran as fast with it as with redb's 1 GiB (see the
/// README's bulk import figures).
pub const DEFAULT_TABLE_CACHE_BYTES: usize = 64 * MIB;

/// The object catalog holds one small record per object; its cache stays small.
pub(crate) const CATALOG_CACHE_BYTES: usize = 4 * MIB;

const MIB: usize = 1024 * 1024;

/// Options for opening the embedded table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// Bytes of pages the table keeps in memory (redb's cache).
    pub table_cache_bytes: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            table_cache_bytes: DEFAULT_TABLE_CACHE_BYTES,
        }
    }
}

impl EmbeddedOptions {
    /// The defaults, with `STRATA_EMBEDDED_CACHE_MB` applied when it is set;
    /// a value that is not a whole number of MiB is an error, not ignored.
    pub fn from_env() -> Result<Self, EmbeddedError> {
        Self::from_setting(std::env::var(CACHE_MB_VAR).ok().as_deref())
    }

    fn from_setting(cache_mb: Option<&str>) -> Result<Self, EmbeddedError> {
        let Some(raw) = cache_mb else {
            return Ok(Self::default());
        };
        let table_cache_bytes = raw
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|mb| mb.checked_mul(MIB))
            .ok_or_else(|| EmbeddedError::Setting {
                name: CACHE_MB_VAR,
                value: raw.to_owned(),
                reason: "a whole number of MiB (0 disables the cache)",
            })?;
        Ok(EmbeddedOptions { table_cache_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_capped_unless_set() {
        assert_eq!(
            EmbeddedOptions::from_setting(None).unwrap(),
            EmbeddedOptions::default()
        );
        assert_eq!(
            EmbeddedOptions::from_setting(Some(" 128 "))
                .unwrap()
                .table_cache_bytes,
            128 * MIB
        );
        assert_eq!(
            EmbeddedOptions::from_setting(Some("0"))
                .unwrap()
                .table_cache_bytes,
            0
        );
    }

    #[test]
    fn a_malformed_cache_size_is_refused_by_name() {
        for raw in ["64MB", "-1", "", "99999999999999999999"] {
            let error = EmbeddedOptions::from_setting(Some(raw)).unwrap_err();
            assert!(error.to_string().contains(CACHE_MB_VAR), "{error}");
        }
    }
}
