//! Quickstart: the ledger side of the smart-lighting flow with itc-core alone.
//!
//! An owner registers a lamp (with the lamp's pairing signature), grants a
//! guest access, and a light client checks the grant with a state proof
//! against the block's state root; then the owner revokes and the absence of
//! the grant is proven. State is persisted to a redb database and reopened.
//!
//! Consensus (itc-pbft) and the lamp's light client (itc-spv) are not in this
//! example yet: a single in-process ledger stands in for the chain.
//!
//! Exit status 0 only if every step had its expected outcome.

use itc_core::encoding::{Decode, Encode};
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::{Keypair, SigningDomain};
use itc_core::ledger::{state_key, value_hash, BlockContext, BlockError, Grant, Ledger, TxError};
use itc_core::smt::StateProof;
use itc_core::storage::{RedbStorage, Storage};
use itc_core::types::{
    pairing_message, Amount, ChainId, Payload, Permissions, SecurityLevel, Transaction,
};
use itc_core::Hash;
use std::time::Instant;

const CHAIN: ChainId = ChainId(2026);

struct Steps {
    failures: usize,
}

impl Steps {
    fn check(&mut self, name: &str, ok: bool, detail: String, started: Instant) {
        let micros = started.elapsed().as_micros();
        let mark = if ok { "ok  " } else { "FAIL" };
        println!("[{mark}] {name:<46} {detail} ({micros} us)");
        if !ok {
            self.failures += 1;
        }
    }
}

fn main() {
    println!(
        "ITC quickstart: one in-process ledger (no consensus yet), an owner, a guest and a lamp."
    );
    println!("Each step applies a block or checks a proof the way the lamp's light client will.");
    let mut steps = Steps { failures: 0 };

    let owner = Keypair::from_seed([1; 32]);
    let guest = Keypair::from_seed([2; 32]);
    let lamp = Keypair::from_seed([3; 32]);
    let validator = Keypair::from_seed([9; 32]);
    let genesis = Genesis {
        chain_id: CHAIN.0,
        accounts: vec![
            GenesisAccount {
                public_key: owner.public(),
                balance: 1_000,
            },
            GenesisAccount {
                public_key: guest.public(),
                balance: 1_000,
            },
        ],
        validators: vec![GenesisValidator {
            public_key: validator.public(),
            weight: 1,
        }],
        ..Genesis::default()
    };

    let dir = std::env::temp_dir().join(format!("itc-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db_path = dir.join("ledger.redb");
    let mut storage = RedbStorage::open(&db_path).expect("open redb");

    let t = Instant::now();
    let (mut ledger, writes) = Ledger::from_genesis(&genesis).expect("valid genesis");
    storage.write(writes).expect("persist genesis");
    steps.check(
        "genesis from config, persisted to redb",
        true,
        format!("root {}", short(ledger.state_root())),
        t,
    );

    let mut nonce = 0;
    let mut owner_tx = |payload| {
        let tx = Transaction::new_signed(&owner, CHAIN, nonce, Amount(1), payload);
        nonce += 1;
        tx
    };
    let mut apply = |ledger: &mut Ledger, txs: &[Transaction]| -> Result<Hash, BlockError> {
        let context = BlockContext {
            height: ledger.height() + 1,
            proposer: validator.public(),
            time_ms: 0,
        };
        let outcome = ledger.apply_block(&context, txs)?;
        storage.write(outcome.writes).expect("persist block");
        Ok(outcome.state_root)
    };

    // 1. Register the lamp: the lamp signs the owner's key and its security
    //    level (pairing proof).
    let t = Instant::now();
    let level = SecurityLevel::new(1).expect("level");
    let pairing = lamp.sign(
        SigningDomain::DevicePairing,
        CHAIN,
        &pairing_message(&owner.public(), level),
    );
    let register = owner_tx(Payload::RegisterDevice {
        device: lamp.public(),
        security_level: level,
        metadata_hash: Hash::of(itc_core::Domain::StateValue, b"lamp model X1"),
        pairing_signature: pairing,
    });
    let result = apply(&mut ledger, &[register]);
    steps.check(
        "owner registers the lamp (pairing proof)",
        result.is_ok(),
        format!("{:?}", result.map(short)),
        t,
    );

    // 2. Grant the guest the right to switch the lamp until height 100.
    let t = Instant::now();
    let grant_tx = owner_tx(Payload::GrantAccess {
        device: lamp.public(),
        grantee: guest.public(),
        permissions: Permissions::SWITCH,
        expiry_height: 100,
    });
    let root_granted = apply(&mut ledger, &[grant_tx]).expect("grant applies");
    steps.check(
        "owner grants the guest SWITCH until height 100",
        true,
        format!("root {}", short(root_granted)),
        t,
    );

    // 3. The guest's grant proof, as bytes, checked against the root.
    let key = state_key::grant(&lamp.public(), &guest.public());
    let (value, proof) = ledger.prove(&key);
    let value = value.expect("grant present");
    let proof_bytes = proof.encode();
    let t = Instant::now();
    let received = StateProof::decode(&proof_bytes).expect("decodes");
    let verified = received
        .verify(&root_granted, &key, Some(&value_hash(&value)))
        .is_ok();
    let grant = Grant::decode(&value).expect("grant record");
    let allowed = verified
        && grant.permissions.contains(Permissions::SWITCH)
        && grant.expiry_height > ledger.height();
    steps.check(
        "grant proof verifies: guest may switch",
        allowed,
        format!(
            "{} bytes, {} siblings",
            proof_bytes.len(),
            received.sibling_count()
        ),
        t,
    );

    // 4. A forged grant (wrong permission bits) does not verify.
    let t = Instant::now();
    let mut forged = grant;
    forged.permissions = Permissions(u32::MAX);
    let forged_ok = received
        .verify(&root_granted, &key, Some(&value_hash(&forged.encode())))
        .is_ok();
    steps.check(
        "forged grant value is refused",
        !forged_ok,
        "refused: proof does not match root".into(),
        t,
    );

    // 5. Revoke, then prove absence.
    let t = Instant::now();
    let revoke = owner_tx(Payload::RevokeAccess {
        device: lamp.public(),
        grantee: guest.public(),
    });
    let root_revoked = apply(&mut ledger, &[revoke]).expect("revoke applies");
    let (gone, absence) = ledger.prove(&key);
    let absent = gone.is_none() && absence.verify(&root_revoked, &key, None).is_ok();
    steps.check(
        "owner revokes; absence of the grant is proven",
        absent,
        format!("{} siblings", absence.sibling_count()),
        t,
    );

    // 6. The old proof does not hold against the newer root.
    let t = Instant::now();
    let stale_ok = received
        .verify(&root_revoked, &key, Some(&value_hash(&value)))
        .is_ok();
    steps.check(
        "old grant proof against the new root is refused",
        !stale_ok,
        "refused: stale".into(),
        t,
    );

    // 7. A replayed transaction is refused.
    let t = Instant::now();
    let replay = Transaction::new_signed(
        &owner,
        CHAIN,
        0,
        Amount(1),
        Payload::Transfer {
            to: guest.public(),
            amount: Amount(5),
        },
    );
    let replayed = apply(&mut ledger, &[replay]);
    steps.check(
        "replayed nonce is refused",
        matches!(
            replayed,
            Err(BlockError::InvalidTransaction {
                error: TxError::StaleNonce { .. },
                ..
            })
        ),
        replayed.err().map(|e| e.to_string()).unwrap_or_default(),
        t,
    );

    // 8. Close and reopen the database: same height, same root.
    let t = Instant::now();
    let height = ledger.height();
    let root = ledger.state_root();
    drop(storage);
    let storage = RedbStorage::open(&db_path).expect("reopen");
    let mut reopened = Ledger::open(&storage).expect("ledger reopens");
    let same = reopened.height() == height && reopened.state_root() == root;
    steps.check(
        "ledger reopened from redb: same height and root",
        same,
        format!("height {height}"),
        t,
    );
    let _ = std::fs::remove_dir_all(&dir);

    if steps.failures == 0 {
        println!("all steps had their expected outcome");
    } else {
        println!("{} step(s) failed", steps.failures);
        std::process::exit(1);
    }
}

fn short(hash: Hash) -> String {
    hash.to_string()[..16].to_string()
}
