//! `pantheon`: the Pantheon node and command-line tool. The binary only
//! chooses the allocator and hands over to [`pantheon_node::cli::main`];
//! everything else is the `pantheon_node` library (see its docs).

/// mimalloc instead of the system allocator. A node allocates and frees
/// multi-megabyte buffers for every block (proposal parts, encodings, RocksDB
/// batches); glibc serves those with fresh `mmap`s, and under load the
/// page faults and zeroing of new pages took a fifth of a validator's CPU
/// (docs/BENCHMARKS.md, "Testnet"). mimalloc reuses freed memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    pantheon_node::cli::main()
}
