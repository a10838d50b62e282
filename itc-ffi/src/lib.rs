//! C ABI and UniFFI bindings for ITC.
//!
//! **Status: not implemented yet.** This crate is reserved for the C ABI (with
//! a cbindgen-generated header) and the UniFFI bindings for Python, Kotlin and
//! Swift. Until that lands it exports nothing.
#![deny(missing_docs)]
