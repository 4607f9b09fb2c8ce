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
