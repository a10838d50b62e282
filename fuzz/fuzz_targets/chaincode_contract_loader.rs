#![no_main]
// The contract loader on arbitrary bytes: it either refuses with a reason or
// returns a contract; a loaded contract then runs both entry points under a
// small fuel limit over arbitrary records without panicking, and every
// contributed cell stays within its bound.
use itc_chaincode::contract::{Contract, FinalizeInput, Limits};
use itc_chaincode::schema::{Field, Schema};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(contract) = Contract::load(data) else {
        return;
    };
    let schema = Schema {
        fields: vec![
            Field::Sum { max: 7 },
            Field::Hll {
                precision: 4,
                max_rank: 2,
                items_max: 4,
            },
        ],
        outputs: 2,
    };
    let limits = Limits {
        fuel: 100_000,
        memory_pages: 2,
    };
    let records: [&[u8]; 2] = [data, &data[..data.len() / 2]];
    if let Ok(outcome) = contract.contribute(&schema, &[1; 32], &records, &limits) {
        for (cell, max) in outcome.cells.iter().zip(schema.cell_max()) {
            assert!(*cell <= u64::from(max), "a cell exceeds its bound");
        }
    }
    let aggregate = vec![3i64; schema.cells()];
    let input = FinalizeInput {
        aggregate: &aggregate,
        contributors: 5,
        presence_threshold: &[1, 1],
        salt: &[1; 32],
    };
    let _ = contract.finalize(&schema, &input, &limits);
});
