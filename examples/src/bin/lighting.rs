//! The smart-lighting demo: the README's main job.
//!
//! `cargo run --release -p itc-examples --bin lighting` prints one line per
//! step; `-- --json` prints the same as JSON. Exit status 0 only if every step
//! had its expected outcome.

use itc_examples::lighting;

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let report = lighting::run();
    if json {
        println!("{}", report.to_json());
    } else {
        println!("ITC smart-lighting demo: 4 PBFT validators (weights 40/30/20/10) and their DAG side chain in one process, exchanging encoded messages;");
        println!("a lamp holding only its light-client state checks commands, headers and proofs it receives as bytes, offline, with no server.");
        println!();
        for (i, step) in report.steps.iter().enumerate() {
            let mark = if step.ok { "ok  " } else { "FAIL" };
            println!(
                "{:>2}. [{mark}] {:<52} {:<44} {:>8} us",
                i + 1,
                step.name,
                step.outcome,
                step.micros
            );
            if !step.ok {
                println!("          expected: {}", step.expected);
            }
        }
        let summary = &report.to_json()["summary"];
        println!();
        println!(
            "summary: {} blocks; commit latency p50 {} us (max {} us); lamp check p50 {} us; lamp trusted state {} bytes; view change {} virtual ms; DAG reading final after {} us",
            summary["blocks_committed"],
            summary["commit_latency_us_p50"],
            summary["commit_latency_us_max"],
            summary["lamp_check_us_p50"],
            summary["lamp_trusted_state_bytes"],
            summary["view_change_virtual_ms"],
            summary["dag_finality_us"],
        );
    }
    if !report.all_ok() {
        eprintln!("some steps did not have their expected outcome");
        std::process::exit(1);
    }
}
