//! Gives `libconvstate.so` a SONAME, as a shared library that programs link against needs:
//! a program records `libconvstate.so.<abi>` and runs with any build of the same ABI
//! (`scripts/install-c.sh` lays out the file and its links). Under 1.0 every minor version
//! may break the ABI, so the ABI version is `0.<minor>`; from 1.0 on it is the major.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        return; // other systems name shared libraries their own way (install names, DLLs)
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets it");
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libconvstate.so.{abi}");
}
