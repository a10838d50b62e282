//! `no_std` light client for ITC.
//!
//! **Status: not implemented yet.** This crate is reserved for the light client
//! that verifies headers by commit certificates and checks transaction and
//! state proofs on a microcontroller. Until that lands it exports nothing.
#![no_std]
#![deny(missing_docs)]
