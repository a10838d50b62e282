//! Test vectors built the way a real network builds them: a ledger applying
//! blocks, headers over its roots, commit votes signed by validator keys.
#![allow(dead_code)]

use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::ledger::{state_key, BlockContext, Ledger};
use itc_core::types::{
    pairing_message, Amount, Block, BlockHeader, ChainId, CommitCertificate, Payload, Permissions,
    SecurityLevel, Transaction, Validator, ValidatorSet, Vote, VoteKind,
};
use itc_spv::{CommandProof, HeaderUpdate, StateEntryProof, TrustOptions, TrustedState};
use std::collections::HashMap;

pub const CHAIN: ChainId = ChainId(42);
/// Time of height `h` is `GENESIS_MS + h * BLOCK_MS`.
pub const GENESIS_MS: u64 = 1_700_000_000_000;
pub const BLOCK_MS: u64 = 1_000;

pub fn time_of(height: u64) -> u64 {
    GENESIS_MS + height * BLOCK_MS
}

pub const OPTIONS: TrustOptions = TrustOptions {
    trust_period_ms: 3_600_000,
    clock_drift_ms: 5_000,
};

/// A validator set with its keys.
#[derive(Clone, Debug)]
pub struct Validators {
    pub keys: Vec<Keypair>,
    pub set: ValidatorSet,
}

impl Validators {
    /// Validators from seeds `[seed; 32]` with the given weights.
    pub fn new(seeds_and_weights: &[(u8, u64)]) -> Validators {
        let keys: Vec<Keypair> = seeds_and_weights
            .iter()
            .map(|(seed, _)| Keypair::from_seed([*seed; 32]))
            .collect();
        let set = ValidatorSet::new(
            keys.iter()
                .zip(seeds_and_weights)
                .map(|(k, (_, weight))| Validator {
                    key: k.public(),
                    weight: *weight,
                })
                .collect(),
        )
        .unwrap();
        Validators { keys, set }
    }

    /// Four validators of weight 10 from seeds `base..base + 4`.
    pub fn four(base: u8) -> Validators {
        Validators::new(&[(base, 10), (base + 1, 10), (base + 2, 10), (base + 3, 10)])
    }

    pub fn all(&self) -> Vec<&Keypair> {
        self.keys.iter().collect()
    }
}

/// A commit certificate over `header` signed by `signers`.
pub fn certify(header: &BlockHeader, signers: &[&Keypair]) -> CommitCertificate {
    let votes: Vec<Vote> = signers
        .iter()
        .map(|k| {
            Vote::new_signed(
                k,
                header.chain_id,
                VoteKind::Commit,
                header.height,
                header.view,
                header.hash(),
            )
        })
        .collect();
    CommitCertificate::from_votes(
        header.chain_id,
        header.height,
        header.view,
        header.hash(),
        &votes,
    )
}

/// A header with zero roots.
pub fn bare_header(
    height: u64,
    previous_hash: Hash,
    set: &ValidatorSet,
    next: &ValidatorSet,
) -> BlockHeader {
    BlockHeader {
        chain_id: CHAIN,
        height,
        previous_hash,
        tx_root: Hash::ZERO,
        tx_count: 0,
        state_root: Hash::ZERO,
        dag_anchor_root: Hash::ZERO,
        dag_anchor_hash: Hash::ZERO,
        validator_set_hash: set.hash(),
        next_validator_set_hash: next.hash(),
        time_ms: time_of(height),
        proposer: set.validators()[0].key,
        view: 0,
    }
}

/// Headers `1..=length` where height `h` is signed by every key of
/// `set_at(h)`; `updates[h - 1]` is height `h`.
pub fn synthetic_chain<'a>(
    length: u64,
    set_at: impl Fn(u64) -> &'a Validators,
) -> Vec<HeaderUpdate> {
    let mut updates = Vec::new();
    let mut previous = Hash::ZERO;
    for height in 1..=length {
        let signers = set_at(height);
        let header = bare_header(height, previous, &signers.set, &set_at(height + 1).set);
        previous = header.hash();
        updates.push(HeaderUpdate {
            certificate: certify(&header, &signers.all()),
            header,
            validators: Some(signers.set.clone()),
        });
    }
    updates
}

/// Trust `update`'s header directly (as if pinned).
pub fn trust(update: &HeaderUpdate) -> TrustedState {
    TrustedState::bootstrap(
        update.header.clone(),
        update.validators.clone().unwrap(),
        &update.header.hash(),
        &OPTIONS,
        update.header.time_ms,
    )
    .unwrap()
}

/// A real ledger with four validators (weights 40, 30, 20, 10), an owner, a
/// guest and a lamp; every block gets a header and a certificate.
pub struct LedgerChain {
    pub ledger: Ledger,
    pub validators: Validators,
    pub owner: Keypair,
    pub guest: Keypair,
    pub buyer: Keypair,
    pub lamp: Keypair,
    pub updates: Vec<HeaderUpdate>,
    pub blocks: Vec<Vec<Transaction>>,
    /// Added to every later block's time (a chain that went quiet).
    pub time_offset_ms: u64,
    nonces: HashMap<PublicKey, u64>,
}

impl LedgerChain {
    pub fn new() -> LedgerChain {
        let validators = Validators::new(&[(101, 40), (102, 30), (103, 20), (104, 10)]);
        let owner = Keypair::from_seed([1; 32]);
        let guest = Keypair::from_seed([2; 32]);
        let buyer = Keypair::from_seed([4; 32]);
        let lamp = Keypair::from_seed([3; 32]);
        let genesis = Genesis {
            chain_id: CHAIN.0,
            epoch_length: 1_000_000,
            accounts: [&owner, &guest, &buyer]
                .iter()
                .map(|k| GenesisAccount {
                    public_key: k.public(),
                    balance: 1_000_000,
                })
                .collect(),
            validators: validators
                .set
                .validators()
                .iter()
                .map(|v| GenesisValidator {
                    public_key: v.key,
                    weight: v.weight,
                })
                .collect(),
            ..Genesis::default()
        };
        let (ledger, _writes) = Ledger::from_genesis(&genesis).unwrap();
        LedgerChain {
            ledger,
            validators,
            owner,
            guest,
            buyer,
            lamp,
            updates: Vec::new(),
            blocks: Vec::new(),
            time_offset_ms: 0,
            nonces: HashMap::new(),
        }
    }

    /// A lamp registered by the owner and granted to the guest (SWITCH,
    /// expiring at `expiry_height`), in block 1.
    pub fn with_granted_lamp(expiry_height: u64) -> LedgerChain {
        let mut chain = LedgerChain::new();
        let register = chain.register_lamp();
        let grant = chain.grant(Permissions::SWITCH, expiry_height);
        chain.apply(vec![register, grant]);
        chain
    }

    pub fn tx(&mut self, who: &Keypair, payload: Payload) -> Transaction {
        let nonce = self.nonces.entry(who.public()).or_default();
        let tx = Transaction::new_signed(who, CHAIN, *nonce, Amount(1), payload);
        *nonce += 1;
        tx
    }

    pub fn register_lamp(&mut self) -> Transaction {
        let level = SecurityLevel::new(1).unwrap();
        let pairing = self.lamp.sign(
            SigningDomain::DevicePairing,
            CHAIN,
            &pairing_message(&self.owner.public(), level),
        );
        let owner = self.owner.clone();
        self.tx(
            &owner,
            Payload::RegisterDevice {
                device: self.lamp.public(),
                security_level: level,
                metadata_hash: Hash::ZERO,
                pairing_signature: pairing,
            },
        )
    }

    pub fn grant(&mut self, permissions: Permissions, expiry_height: u64) -> Transaction {
        let owner = self.owner.clone();
        self.tx(
            &owner,
            Payload::GrantAccess {
                device: self.lamp.public(),
                grantee: self.guest.public(),
                permissions,
                expiry_height,
            },
        )
    }

    pub fn revoke(&mut self) -> Transaction {
        let owner = self.owner.clone();
        self.tx(
            &owner,
            Payload::RevokeAccess {
                device: self.lamp.public(),
                grantee: self.guest.public(),
            },
        )
    }

    /// The buyer gives the lamp back to the owner.
    pub fn return_lamp(&mut self) -> Transaction {
        let buyer = self.buyer.clone();
        self.tx(
            &buyer,
            Payload::TransferDevice {
                device: self.lamp.public(),
                new_owner: self.owner.public(),
            },
        )
    }

    /// The latest update with its signing set included.
    pub fn latest_with_set(&self) -> HeaderUpdate {
        let mut update = self.updates.last().unwrap().clone();
        update.validators = Some(self.validators.set.clone());
        update
    }

    pub fn sell_lamp(&mut self) -> Transaction {
        let owner = self.owner.clone();
        self.tx(
            &owner,
            Payload::TransferDevice {
                device: self.lamp.public(),
                new_owner: self.buyer.public(),
            },
        )
    }

    /// Apply a block and certify its header with every validator.
    pub fn apply(&mut self, transactions: Vec<Transaction>) -> HeaderUpdate {
        let height = self.ledger.height() + 1;
        let signing_set = self.ledger.validators().clone();
        let proposer = self.validators.keys[0].public();
        let time_ms = time_of(height) + self.time_offset_ms;
        let context = BlockContext {
            height,
            proposer,
            time_ms,
        };
        let outcome = self.ledger.apply_block(&context, &transactions).unwrap();
        let header = BlockHeader {
            chain_id: CHAIN,
            height,
            previous_hash: self.updates.last().map_or(Hash::ZERO, |u| u.header.hash()),
            tx_root: Block::compute_tx_root(&transactions),
            tx_count: transactions.len() as u64,
            state_root: outcome.state_root,
            dag_anchor_root: Hash::ZERO,
            dag_anchor_hash: Hash::ZERO,
            validator_set_hash: signing_set.hash(),
            next_validator_set_hash: self.ledger.validators().hash(),
            time_ms,
            proposer,
            view: 0,
        };
        let update = HeaderUpdate {
            certificate: certify(&header, &self.validators.all()),
            header,
            validators: None,
        };
        self.updates.push(update.clone());
        self.blocks.push(transactions);
        update
    }

    /// An empty block.
    pub fn empty_block(&mut self) -> HeaderUpdate {
        self.apply(Vec::new())
    }

    /// The update of height `height`.
    pub fn update_at(&self, height: u64) -> &HeaderUpdate {
        &self.updates[height as usize - 1]
    }

    /// Trust the header at `height`.
    pub fn trusted_at(&self, height: u64) -> TrustedState {
        let header = self.update_at(height).header.clone();
        TrustedState::bootstrap(
            header.clone(),
            self.validators.set.clone(),
            &header.hash(),
            &OPTIONS,
            header.time_ms,
        )
        .unwrap()
    }

    /// A proof of a state key against the latest header.
    pub fn prove(&mut self, key: &Hash) -> StateEntryProof {
        let (value, proof) = self.ledger.prove(key);
        StateEntryProof { value, proof }
    }

    /// The guest's command proof against the latest header.
    pub fn command_proof(&mut self) -> CommandProof {
        self.command_proof_for(&self.guest.public())
    }

    /// A command proof for `sender` against the latest header.
    pub fn command_proof_for(&mut self, sender: &PublicKey) -> CommandProof {
        let lamp = self.lamp.public();
        let header = &self.updates.last().unwrap().header;
        let (header_height, header_hash) = (header.height, header.hash());
        CommandProof {
            header_height,
            header_hash,
            device: self.prove(&state_key::device(&lamp)),
            grant: self.prove(&state_key::grant(&lamp, sender)),
        }
    }
}
