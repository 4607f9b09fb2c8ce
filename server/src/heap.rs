//! Gives freed heap memory back to the operating system.
//!
//! After a surge (a long queue drained, a large snapshot written) glibc keeps
//! the freed memory in its arenas, so the server's RSS stays at its peak for
//! the rest of the day. `malloc_trim(0)` returns free pages, including those
//! in the middle of the heap (measured: see docs/benchmarks.md).

/// Returns free heap pages to the OS (glibc only; a no-op elsewhere).
#[allow(unsafe_code)]
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own allocator state; it has
        // no preconditions and is thread-safe.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Caps glibc's malloc arenas at `n` (call first thing in `main`, before
/// any thread starts).
///
/// glibc gives each thread that meets contention an arena of its own, up
/// to eight per core, and memory freed in one arena is reused only by the
/// threads on it: with the runtime's workers, the read model, the report
/// and shipping tasks and the blocking pool each allocating and freeing a
/// day's tickets, the server's RSS grew to 209 MiB after three simulated
/// days, against 48 MiB with one arena (`hall-bench soak`, see
/// docs/benchmarks.md). The allocation rate is far below what would make
/// a few shared arenas contended.
#[allow(unsafe_code)]
pub fn limit_arenas(n: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// `M_ARENA_MAX` in glibc's malloc.h.
        const M_ARENA_MAX: i32 = -8;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only sets a parameter of glibc's allocator; it is
        // called before the process starts any thread.
        unsafe {
            mallopt(M_ARENA_MAX, n.max(1));
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = n;
}
