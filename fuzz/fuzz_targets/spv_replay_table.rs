#![no_main]
#[path = "common.rs"]
#[macro_use]
mod common;
round_trip_target!(itc_spv::replay::ReplayTable);
