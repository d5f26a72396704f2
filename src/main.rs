//! The `walletwatch` command.

fn main() -> std::process::ExitCode {
    walletwatch::cli::main()
}
