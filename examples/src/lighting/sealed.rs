//! The lamp's readings sealed to the people entitled to them, with keys it
//! proves from the chain (step 12 of the scenario).
//!
//! It runs after the plain DAG reading, each reading alone in its anchor and
//! far from the previous one: the case that stopped the side chain before
//! itc-dag allowed a transaction a single young parent.

use super::*;
use itc_core::seal::rand_core::SeedableRng;
use itc_core::seal::{seal, ChaCha20Rng, SealContext, SealError, SealSecretKey, Suite};
use itc_dag::DagPayload;

/// The suite of the demo: the post-quantum hybrid.
const SUITE: Suite = Suite::XWing;

/// The owner and the guest publish their sealing keys; the owner grants the
/// guest READ; the lamp seals a reading to both (keys and grant proven from
/// its trusted header), both open it; the owner revokes the guest; the
/// lamp's next reading is sealed to the owner only. Returns what happened,
/// or why it went wrong.
pub(super) fn sealed_readings(s: &mut Scenario, lamp: &mut Lamp) -> Result<String, String> {
    let owner_key = SealSecretKey::derive(&s.owner.seed(), SUITE, 0);
    let guest_key = SealSecretKey::derive(&s.guest.seed(), SUITE, 0);
    let (owner, guest) = (s.owner.clone(), s.guest.clone());
    for (who, key) in [(&owner, &owner_key), (&guest, &guest_key)] {
        let publish = s.transaction(
            who,
            Payload::PublishSealKey {
                subject: who.public(),
                suite: SUITE,
                public_key: key.public_key(),
                key_seq: 0,
                subject_signature: None,
            },
        );
        s.commit(publish)?;
    }
    let grant = s.transaction(
        &owner,
        Payload::GrantAccess {
            device: s.lamp_key.public(),
            grantee: guest.public(),
            permissions: Permissions::READ,
            expiry_height: 1_000,
        },
    );
    s.commit(grant)?;

    let plaintext: &[u8] = b"lamp L1: on, 4.2 W, 2700 K, 12:00";
    let first = reading(s, lamp, 1, plaintext)?;
    let owner_reads = open(s, &first.0, &owner_key)?.map_err(|e| format!("owner: {e}"))?;
    let guest_reads = open(s, &first.0, &guest_key)?.map_err(|e| format!("guest: {e}"))?;
    if owner_reads != plaintext || guest_reads != plaintext {
        return Err("a reader opened something else than the reading".into());
    }

    let revoke = s.transaction(
        &owner,
        Payload::RevokeAccess {
            device: s.lamp_key.public(),
            grantee: guest.public(),
        },
    );
    s.commit(revoke)?;
    let second = reading(s, lamp, 2, b"lamp L1: off, 0.3 W, 12:05")?;
    let owner_second = open(s, &second.0, &owner_key)?.map_err(|e| format!("owner: {e}"))?;
    match open(s, &second.0, &guest_key)? {
        Err(SealError::NotARecipient) => {}
        other => return Err(format!("revoked guest opened the next reading: {other:?}")),
    }
    Ok(format!(
        "reading 1 sealed (X-Wing) to owner and guest, {} bytes on the DAG for {} of plaintext, \
         both read {:?}; guest revoked: reading 2 sealed to the owner only, owner read {:?}, \
         guest refused (not a recipient); validators store only ciphertext",
        first.1,
        plaintext.len(),
        String::from_utf8_lossy(&owner_reads),
        String::from_utf8_lossy(&owner_second),
    ))
}

/// The lamp updates its header, proves who may read (the owner's record and
/// sealing key, each READ grantee's grant and key), seals `plaintext` at
/// DAG sequence `sequence`, and posts it; returns its id and encoded size
/// once every validator has anchored it.
fn reading(
    s: &mut Scenario,
    lamp: &mut Lamp,
    sequence: u64,
    plaintext: &[u8],
) -> Result<(Hash, usize), String> {
    let update = s.latest_update();
    let verdict = lamp.update(&update, s.cluster.now_ms());
    if !verdict.is_success() && lamp.trusted().header().hash() != update.header.hash() {
        return Err(format!("lamp refused the header: {verdict:?}"));
    }
    let header = lamp.trusted().header().clone();
    let device = s.lamp_key.public();
    let record = s
        .entry(state_key::device(&device))
        .verify_device(&header, &device)
        .map_err(|e| e.to_string())?
        .ok_or("lamp not registered")?;
    let mut readers = vec![record.owner];
    let guest = s.guest.public();
    if let Some(grant) = s
        .entry(state_key::grant(&device, &guest))
        .verify_grant(&header, &device, &guest)
        .map_err(|e| e.to_string())?
    {
        if grant.permissions.contains(Permissions::READ) && grant.is_live(&record, header.height) {
            readers.push(guest);
        }
    }
    let mut keys = Vec::new();
    for reader in &readers {
        let key = s
            .entry(state_key::seal_key(reader, SUITE))
            .verify_seal_key(&header, reader, SUITE)
            .map_err(|e| e.to_string())?
            .ok_or("a reader has no sealing key")?;
        keys.push(key.public_key);
    }
    let recipients: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let context = SealContext {
        chain_id: CHAIN,
        device,
        sequence,
    };
    // A real lamp seeds this from its hardware random generator.
    let mut rng = ChaCha20Rng::from_seed(
        Hash::of_parts(
            itc_core::Domain::SealKey,
            &[
                b"demo lamp rng",
                &s.lamp_key.seed()[..],
                &sequence.to_le_bytes(),
            ],
        )
        .0,
    );
    let sealed =
        seal(SUITE, &context, &recipients, plaintext, &mut rng).map_err(|e| e.to_string())?;
    let (parents, bits) = s.cluster.dag_work(&device, 0x5ea1 + sequence)?;
    let mut tx = DagTransaction::new_signed(
        &s.lamp_key,
        CHAIN,
        parents,
        sequence,
        DagPayload::Sealed { payload: sealed },
    );
    tx.solve_pow(bits, LAMP_POW_ITERATIONS_MAX)
        .map_err(|e| e.to_string())?;
    let id = tx.id();
    let size = tx.encode().len();
    s.cluster.attach_dag(&tx)?;
    let anchored = |c: &Cluster| {
        c.replicas()
            .all(|r| matches!(r.anchoring().status(&id), TxStatus::Confirmed { .. }))
    };
    if !s.cluster.run_until(anchored)? {
        let status = s.cluster.any_replica().anchoring().status(&id);
        return Err(format!(
            "sealed reading not anchored ({status:?}): cluster stalled"
        ));
    }
    // What every validator stores: the plaintext appears nowhere.
    for replica in s.cluster.replicas() {
        let stored = replica
            .anchoring()
            .get(&id)
            .ok_or("anchored but not stored")?;
        let bytes = stored.encode();
        if bytes.windows(plaintext.len()).any(|w| w == plaintext) {
            return Err("a validator stores the plaintext".into());
        }
    }
    Ok((id, size))
}

/// A reader fetches the anchored transaction from a validator and opens it
/// in the context it expects: this chain, the lamp, the transaction's
/// sequence.
fn open(
    s: &Scenario,
    id: &Hash,
    key: &SealSecretKey,
) -> Result<Result<Vec<u8>, SealError>, String> {
    let tx = s
        .cluster
        .any_replica()
        .anchoring()
        .get(id)
        .ok_or("anchored transaction not stored")?;
    let DagPayload::Sealed { payload } = &tx.payload else {
        return Err("the reading is not sealed".into());
    };
    let expected = SealContext {
        chain_id: CHAIN,
        device: s.lamp_key.public(),
        sequence: tx.sequence,
    };
    Ok(payload.open(key, &expected))
}
