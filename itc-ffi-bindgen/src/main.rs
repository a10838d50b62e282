//! `uniffi-bindgen` for this workspace. Generate the bindings from the built
//! library, for example:
//!
//! ```sh
//! cargo build -p itc-ffi
//! cargo run -p itc-ffi-bindgen -- generate --library target/debug/libitc_ffi.so \
//!     --language python --out-dir bindings/python/itc
//! ```
//!
//! or simply `ITC_UPDATE_BINDINGS=1 cargo test -p itc-ffi --test uniffi_bindings`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
