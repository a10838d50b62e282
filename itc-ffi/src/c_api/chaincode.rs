//! ChainCode through the C ABI.
