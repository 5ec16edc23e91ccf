//! A global allocator that counts the bytes in live allocations, for
//! benchmarks that show whether memory stays flat while work goes on
//! (resident memory alone mixes in caches and what the allocator keeps).
//! A binary opts in with
//! `#[global_allocator] static HEAP: strata_tests::heap::Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Bytes in live heap allocations now (0 unless `Counting` is the global
/// allocator).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

// SAFETY: every call is forwarded to the system allocator unchanged; only
// the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as the caller's.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

/// Samples `live_bytes` on a thread of its own until stopped.
pub struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<usize>>,
}

impl Sampler {
    pub fn start(every: std::time::Duration) -> Sampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.push(live_bytes());
                std::thread::sleep(every);
            }
            samples.push(live_bytes());
            samples
        });
        Sampler { stop, thread }
    }

    /// The samples, evenly spaced in time.
    pub fn finish(self) -> Vec<usize> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The largest sample in each tenth of the run (fewer parts for few samples).
pub fn peaks_by_tenth(samples: &[usize]) -> Vec<usize> {
    let parts = samples.len().clamp(1, 10);
    (0..parts)
        .map(|part| {
            let from = part * samples.len() / parts;
            let to = ((part + 1) * samples.len() / parts).max(from + 1);
            samples[from..to.min(samples.len())]
                .iter()
                .copied()
                .max()
                .unwrap_or(0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::peaks_by_tenth;

    #[test]
    fn each_tenth_keeps_its_largest_sample() {
        let samples: Vec<usize> = (0..100).collect();
        let peaks = peaks_by_tenth(&samples);
        assert_eq!(peaks, vec![9, 19, 29, 39, 49, 59, 69, 79, 89, 99]);
        assert_eq!(peaks_by_tenth(&[5, 3]), vec![5, 3]);
        assert_eq!(peaks_by_tenth(&[]), vec![0]);
    }
}
