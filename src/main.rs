//! The `walletwatch` command.

// glibc malloc serialises the parallel normalisation on its arena locks; mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Keep freed memory instead of returning it to the OS after 10 ms: ingest frees and
    // re-allocates batch-sized buffers all the time, and giving pages back only to fault
    // them in again (zeroed by the kernel) cost a quarter of ingest's time (perf).
    // 15 is `mi_option_purge_delay` in mimalloc v3's option enum (the test below checks it
    // by its default; libmimalloc-sys's own Rust constants follow v2's numbering).
    // SAFETY: sets a process-wide allocator option before any thread is started.
    unsafe { libmimalloc_sys::mi_option_set(15, -1) };
    // Small pages: mimalloc asks for transparent huge pages for its arenas, and batch-sized,
    // short-lived strings allocated on one thread and freed on another keep faulting in
    // fresh 2 MB pages that the kernel zeroes whole (perf: 6-15% of the 1M-row ingest).
    // With 4 KB pages only what is touched is zeroed. Alternating runs: ingest of 1M rows
    // 15.3-15.6 -> 13.3-14.4 CPU-s, peak 880-900 -> 800-815 MiB; detect on 200k rows
    // 4.7-5.0 -> 4.2-4.5 s; the model and the rules classify no slower.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only changes how this process's later page faults are served.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    #[cfg(feature = "bert")]
    keep_glibc_heap();
    walletwatch::cli::main()
}

/// libtorch allocates through glibc malloc (only Rust's allocations go to mimalloc). Every
/// forward pass allocates and frees activation buffers of a few MB, which glibc by default
/// serves with fresh mmaps and trims straight back. Serving them from a heap that is kept
/// took 1,000 complaints from 23.6 s to 18.7 s (2 cores, batch 32, 128 tokens).
#[cfg(feature = "bert")]
fn keep_glibc_heap() {
    // SAFETY: mallopt only changes glibc's tuning; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn option_15_is_the_purge_delay() {
        // v3's options.c: `{ 1000, MI_OPTION_UNINIT, MI_OPTION_LEGACY(purge_delay,reset_delay) }`.
        // SAFETY: reads an allocator option.
        let default = unsafe { libmimalloc_sys::mi_option_get(15) };
        assert_eq!(
            default, 1000,
            "mimalloc's option enum changed: find purge_delay again"
        );
    }
}
