//! The ChainCode reference use case: 1,000 households, a month of lamp events
//! each, a company's three questions answered only as private aggregates,
//! every contributor paid; then the attacks.
//!
//! `cargo run --release -p itc-examples --bin analytics` (options:
//! `--households N`, `--json`). Exit status 0 only if every step had its
//! expected outcome.

use itc_examples::analytics::{self, Config};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut config = Config::reference();
    if let Some(i) = args.iter().position(|a| a == "--households") {
        match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(n) => config.households = n,
            None => {
                eprintln!("--households needs a number");
                std::process::exit(2);
            }
        }
    }
    let json = args.iter().any(|a| a == "--json");
    println!(
        "ITC ChainCode: {} households keep a month of lamp events on their own nodes; a company asks three questions and pays the contributors.",
        config.households
    );
    println!("Noise, masks and proofs are drawn from the OS's RNG: figures differ a little between runs.");
    println!();
    let report = analytics::run(config);
    for (i, step) in report.steps.iter().enumerate() {
        let mark = if step.ok { "ok  " } else { "FAIL" };
        println!("{:>2}. [{mark}] {:<64} {}", i + 1, step.name, step.outcome);
        if !step.ok {
            println!("          expected: {}", step.expected);
        }
    }
    println!();
    for answer in &report.answers {
        println!(
            "{:<52} released {:>9.2}   exact {:>9.2}   expected error ±{:.2}",
            answer.question, answer.released, answer.exact, answer.expected_error
        );
    }
    println!();
    for note in &report.notes {
        println!("- {note}");
    }
    println!();
    println!(
        "one contribution: {:.1} ms to compute (contract + noise + masks + proofs; households share the machine's cores, so `itc-bench` measures it alone), {} bytes; a validator checks one in {:.1} ms; the closing block took {:.0} ms",
        report.contribute_ms, report.contribution_bytes, report.verify_ms, report.close_ms
    );
    println!(
        "relative error of the count: {:.4} (theory {:.4}); of the distinct models: {:.4} (HyperLogLog's own at 16 registers: {:.4})",
        report.count_relative_error,
        report.count_relative_error_theory,
        report.hll_relative_error,
        report.hll_relative_error_theory
    );
    if json {
        println!(
            "{{\"ok\": {}, \"chaincode_contribute_ms\": {:.2}, \"chaincode_verify_contribution_ms\": {:.2}, \"chaincode_contribution_bytes\": {}, \"chaincode_close_ms\": {:.1}, \"chaincode_relative_error_count\": {:.5}, \"chaincode_relative_error_count_theory\": {:.5}, \"chaincode_hll_relative_error\": {:.5}, \"chaincode_hll_relative_error_theory\": {:.5}}}",
            report.ok(),
            report.contribute_ms,
            report.verify_ms,
            report.contribution_bytes,
            report.close_ms,
            report.count_relative_error,
            report.count_relative_error_theory,
            report.hll_relative_error,
            report.hll_relative_error_theory
        );
    }
    if report.ok() {
        println!("every step had its expected outcome");
    } else {
        println!("SOME STEPS FAILED");
        std::process::exit(1);
    }
}
