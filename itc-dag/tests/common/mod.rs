//! Helpers shared by the itc-dag integration tests.
#![allow(dead_code)]

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::types::{Amount, ChainId, SecurityLevel};
use itc_dag::pow::PowParams;
use itc_dag::tips::SplitMix64;
use itc_dag::{DagConfig, DagPayload, DagTransaction, Tangle};

pub const CHAIN: ChainId = ChainId(42);
pub const ITERATIONS_MAX: u64 = 1 << 24;

/// Every issuer is a level-0 device.
pub fn level0(_: &PublicKey) -> Option<SecurityLevel> {
    SecurityLevel::new(0)
}

/// A config with small but real proof of work (4 bits at level 0).
pub fn config() -> DagConfig {
    let mut config = DagConfig::new(CHAIN);
    config.pow.level_bits = [4, 6, 8, 10];
    config
}

/// A config with no proof of work, for tests about other things.
pub fn config_without_pow() -> DagConfig {
    let mut config = DagConfig::new(CHAIN);
    config.pow = PowParams::none();
    config
}

pub fn key(i: u32) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    seed[31] = 0xd1;
    Keypair::from_seed(seed)
}

pub fn data(i: u64) -> DagPayload {
    DagPayload::Data {
        record: i.to_le_bytes().repeat(4),
    }
}

pub fn transfer(to: PublicKey, amount: u64) -> DagPayload {
    DagPayload::Transfer {
        to,
        amount: Amount(amount),
    }
}

/// A signed transaction on explicit parents with enough work for `bits`.
pub fn make(
    issuer: &Keypair,
    parents: Vec<Hash>,
    sequence: u64,
    payload: DagPayload,
    bits: u32,
) -> DagTransaction {
    let mut tx = DagTransaction::new_signed(issuer, CHAIN, parents, sequence, payload);
    tx.solve_pow(bits, ITERATIONS_MAX).expect("pow");
    tx
}

/// Issue on selected tips with whatever this node requires.
pub fn issue(
    node: &mut Tangle,
    issuer: &Keypair,
    sequence: u64,
    payload: DagPayload,
    now_ms: u64,
    seed: u64,
) -> DagTransaction {
    node.issue(
        issuer,
        sequence,
        payload,
        now_ms,
        seed,
        &level0,
        ITERATIONS_MAX,
    )
    .expect("issue")
}

/// Every invariant of the tangle holds ([`Tangle::check_invariants`]).
#[track_caller]
pub fn assert_invariants(node: &Tangle) {
    if let Err(violation) = node.check_invariants() {
        panic!("{violation}");
    }
}

pub fn rng(seed: u64) -> SplitMix64 {
    SplitMix64::new(seed)
}

/// A main chain for the anchoring tests: validators of weights 1, 2, …
/// (keys from seeds 1, 2, …) and one client with 1,000,000 tokens (seed 200).
pub struct WeightedChain {
    pub keys: Vec<Keypair>,
    pub client: Keypair,
    pub genesis: Genesis,
}

pub fn weighted_chain(validators: usize) -> WeightedChain {
    let keys: Vec<Keypair> = (0..validators as u8)
        .map(|i| Keypair::from_seed([i + 1; 32]))
        .collect();
    let client = Keypair::from_seed([200; 32]);
    let genesis = Genesis {
        chain_id: CHAIN.0,
        accounts: vec![GenesisAccount {
            public_key: client.public(),
            balance: 1_000_000,
        }],
        validators: keys
            .iter()
            .enumerate()
            .map(|(i, k)| GenesisValidator {
                public_key: k.public(),
                weight: 1 + i as u64,
            })
            .collect(),
        ..Genesis::default()
    };
    WeightedChain {
        keys,
        client,
        genesis,
    }
}

/// A validator's tangle: the consensus parameters from `genesis`
/// (persistence on), no proof of work (these tests are about anchoring).
pub fn validator_dag_config(genesis: &Genesis) -> DagConfig {
    let mut config = DagConfig::for_chain(&genesis.params().unwrap());
    config.pow = PowParams::none();
    config
}
