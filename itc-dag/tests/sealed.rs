//! Sealed data records on the DAG: bound to their transaction's chain,
//! issuer and sequence, within the caps, and opaque to validators.

use itc_core::encoding::{Decode, Encode};
use itc_core::hash::{Domain, Hash};
use itc_core::keys::Keypair;
use itc_core::seal::rand_core::SeedableRng;
use itc_core::seal::{seal, ChaCha20Rng, SealContext, SealSecretKey, Suite};
use itc_core::types::ChainId;
use itc_dag::transaction::{
    DagPayload, DagTransaction, TransactionError, DATA_RECORD_MAX, SEALED_RECIPIENTS_MAX,
    TRANSACTION_ENCODED_MAX,
};

const CHAIN: ChainId = ChainId(5);

fn parents() -> Vec<Hash> {
    vec![
        Hash::of(Domain::DagTransaction, b"a"),
        Hash::of(Domain::DagTransaction, b"b"),
    ]
}

fn sealed_tx(
    lamp: &Keypair,
    context: SealContext,
    sequence: u64,
    suite: Suite,
    readers: usize,
    plaintext: &[u8],
) -> DagTransaction {
    let keys: Vec<Vec<u8>> = (0..readers)
        .map(|i| SealSecretKey::derive(&[i as u8 + 1; 32], suite, 0).public_key())
        .collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let payload = seal(suite, &context, &refs, plaintext, &mut rng).unwrap();
    DagTransaction::new_signed(
        lamp,
        CHAIN,
        parents(),
        sequence,
        DagPayload::Sealed { payload },
    )
}

#[test]
fn a_bound_sealed_record_is_valid_round_trips_and_opens() {
    let lamp = Keypair::from_seed([9; 32]);
    let context = SealContext {
        chain_id: CHAIN,
        device: lamp.public(),
        sequence: 4,
    };
    for suite in Suite::ALL {
        let tx = sealed_tx(
            &lamp,
            context,
            4,
            suite,
            SEALED_RECIPIENTS_MAX,
            &[7; DATA_RECORD_MAX],
        );
        assert_eq!(tx.check(CHAIN, true), Ok(()));
        let bytes = tx.encode();
        assert!(
            bytes.len() <= TRANSACTION_ENCODED_MAX,
            "{suite:?}: {}",
            bytes.len()
        );
        let back = DagTransaction::decode(&bytes).unwrap();
        assert_eq!(back, tx);
        let DagPayload::Sealed { payload } = &back.payload else {
            panic!("sealed");
        };
        let reader = SealSecretKey::derive(&[1; 32], suite, 0);
        assert_eq!(
            payload.open(&reader, &context).unwrap(),
            vec![7; DATA_RECORD_MAX]
        );
        // What a validator stores does not contain the plaintext.
        let small = sealed_tx(&lamp, context, 4, suite, 1, b"on, 4.2 W, 2700 K");
        let stored = small.encode();
        assert!(!stored.windows(17).any(|w| w == b"on, 4.2 W, 2700 K"));
    }
}

#[test]
fn a_record_bound_to_another_sequence_issuer_or_chain_is_refused() {
    let lamp = Keypair::from_seed([9; 32]);
    let other = Keypair::from_seed([10; 32]);
    let bound = SealContext {
        chain_id: CHAIN,
        device: lamp.public(),
        sequence: 4,
    };
    let cases = [
        (
            SealContext {
                sequence: 5,
                ..bound
            },
            "sequence",
        ),
        (
            SealContext {
                device: other.public(),
                ..bound
            },
            "issuer",
        ),
        (
            SealContext {
                chain_id: ChainId(6),
                ..bound
            },
            "chain",
        ),
    ];
    for (context, what) in cases {
        let tx = sealed_tx(&lamp, context, 4, Suite::X25519, 1, b"reading");
        assert_eq!(
            tx.check(CHAIN, true),
            Err(TransactionError::SealedContextMismatch),
            "bound to another {what}"
        );
    }
}

#[test]
fn records_beyond_the_caps_do_not_decode_or_check() {
    let lamp = Keypair::from_seed([9; 32]);
    let context = SealContext {
        chain_id: CHAIN,
        device: lamp.public(),
        sequence: 1,
    };
    let too_many = sealed_tx(
        &lamp,
        context,
        1,
        Suite::X25519,
        SEALED_RECIPIENTS_MAX + 1,
        b"x",
    );
    assert_eq!(
        too_many.check(CHAIN, false),
        Err(TransactionError::PayloadTooLarge)
    );
    assert!(DagTransaction::decode(&too_many.encode()).is_err());
    let too_long = sealed_tx(
        &lamp,
        context,
        1,
        Suite::X25519,
        1,
        &[0; DATA_RECORD_MAX + 1],
    );
    assert_eq!(
        too_long.check(CHAIN, false),
        Err(TransactionError::PayloadTooLarge)
    );
    assert!(DagTransaction::decode(&too_long.encode()).is_err());
}
