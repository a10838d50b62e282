//! Proof-of-work difficulty follows the security level registered in the
//! main-chain ledger's device registry.

mod common;

use common::*;
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::SigningDomain;
use itc_core::ledger::{BlockContext, Ledger};
use itc_core::types::{pairing_message, Amount, Payload, SecurityLevel, Transaction};
use itc_dag::{genesis_entry_points, AttachError, DagConfig, PowError, Tangle};

#[test]
fn difficulty_comes_from_the_ledgers_device_registry() {
    let owner = key(1);
    let lamp = key(2);
    let validator = key(3);
    let genesis = Genesis {
        chain_id: CHAIN.0,
        accounts: vec![GenesisAccount {
            public_key: owner.public(),
            balance: 1_000_000,
        }],
        validators: vec![GenesisValidator {
            public_key: validator.public(),
            weight: 1,
        }],
        ..Genesis::default()
    };
    let (mut ledger, _writes) = Ledger::from_genesis(&genesis).unwrap();
    let level = SecurityLevel::new(2).unwrap();
    let register = Transaction::new_signed(
        &owner,
        CHAIN,
        0,
        Amount(ledger.params().min_fee.0),
        Payload::RegisterDevice {
            device: lamp.public(),
            security_level: level,
            metadata_hash: Hash::ZERO,
            pairing_signature: lamp.sign(
                SigningDomain::DevicePairing,
                CHAIN,
                &pairing_message(&owner.public(), level),
            ),
        },
    );
    let context = BlockContext {
        height: 1,
        proposer: validator.public(),
        time_ms: 0,
    };
    let _ = ledger.apply_block(&context, &[register]).unwrap();

    let mut config = DagConfig::new(CHAIN);
    config.pow.level_bits = [2, 4, 6, 8];
    config.pow.unregistered_level = None;
    let mut node = Tangle::new(config);
    let parents = genesis_entry_points(CHAIN).to_vec();
    // The lamp is level 2: 6 bits.
    assert_eq!(node.required_bits(&lamp.public(), 0, &ledger), Ok(6));
    let mut weak = make(&lamp, parents.clone(), 0, data(1), 4);
    while weak.pow_bits() >= 6 {
        weak.nonce += 1;
        weak.solve_pow(4, ITERATIONS_MAX).unwrap();
    }
    assert!(matches!(
        node.attach(weak, 0, &ledger),
        Err(AttachError::Pow(PowError::TooLittleWork {
            required: 6,
            ..
        }))
    ));
    let strong = make(&lamp, parents.clone(), 0, data(1), 6);
    assert!(node.attach(strong, 0, &ledger).is_ok());
    // The owner is an account, not a device: refused here.
    let from_owner = make(&owner, parents, 0, data(2), 8);
    assert_eq!(
        node.attach(from_owner, 0, &ledger),
        Err(AttachError::UnregisteredIssuer)
    );
}
