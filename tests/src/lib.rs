//! Test support shared by Strata's cross-crate tests: the backends the
//! conformance suite runs against, the request-counting, crashing and
//! fault-injecting table wrappers (one `intercept` mechanism), the cases,
//! a synthetic dataset for the backup drills and benchmarks, the raw
//! contents of a moto account (`raw`) for the plaintext canary, and a
//! heap-counting allocator (`heap`) for the benchmarks' memory figures.

pub mod backend;
pub mod cases;
pub mod counting;
pub mod cpu;
pub mod crash;
pub mod dataset;
pub mod faulty;
pub mod heap;
pub mod http;
pub mod intercept;
pub mod raw;

/// Returns from an AWS test when no moto server is there (see
/// `backend::moto_available`).
#[macro_export]
macro_rules! require_moto {
    () => {
        if !$crate::backend::moto_available() {
            return $crate::backend::Skipped::skipped();
        }
    };
}

/// Runs each named case (`async fn(&Backend)` in the calling module) as a
/// test on every adapter: `embedded::<case>` and `aws::<case>` (moto).
#[macro_export]
macro_rules! on_every_adapter {
    ($($case:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let backend = $crate::backend::Backend::embedded().await.expect("backend");
                    super::$case(&backend).await;
                }
            )+
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::require_moto!();
                    let backend = $crate::backend::Backend::aws().await.expect("moto backend");
                    super::$case(&backend).await;
                }
            )+
        }
    };
}
