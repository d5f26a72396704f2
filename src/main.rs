//! The `walletwatch` command.

// glibc malloc serialises the parallel normalisation on its arena locks; mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Keep freed memory instead of returning it to the OS after 10 ms: ingest frees and
    // re-allocates batch-sized buffers all the time, and giving pages back only to fault
    // them in again (zeroed by the kernel) cost a quarter of ingest's time (perf).
    // 15 is `mi_option_purge_delay` in mimalloc's option enum (mimalloc.h, v3).
    // SAFETY: sets a process-wide allocator option before any thread is started.
    unsafe { libmimalloc_sys::mi_option_set(15, -1) };
    walletwatch::cli::main()
}
