//! (in progress)
#![allow(missing_docs)]
