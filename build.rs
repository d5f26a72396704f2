//! Build script: with the `bert` feature, puts the torch wheel's library folder
//! (`WALLETWATCH_TORCH_LIB`, printed by scripts/setup-model.sh) in the binary's rpath, so
//! it runs without LD_LIBRARY_PATH. Only this crate's link changes: dependencies keep
//! their build cache.

fn main() {
    println!("cargo:rerun-if-env-changed=WALLETWATCH_TORCH_LIB");
    if std::env::var_os("CARGO_FEATURE_BERT").is_some()
        && let Ok(dir) = std::env::var("WALLETWATCH_TORCH_LIB")
    {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
