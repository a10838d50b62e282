"""Sealed device data and firmware updates through the chain, driven through
the generated module and the built library: sealing keys published and
proven on chain, a reading sealed to the owner (X-Wing) and to a guest
(X25519), a sealed DAG record, and the lamp's update check for firmware 1.1
(streamed image accepted; tampered image, old version, foreign signature and
revoked release refused)."""

import pytest

import itc

CHAIN = 7
PRODUCT = 42
V1_0 = 1_000_000
V1_1 = 1_001_000
NOW = 3_200  # the lamp's clock during the update (ms)
AGE_MAX = 60_000  # the oldest trusted header the device accepts for an update
IMAGE = bytes((i * 7 + 3) % 256 for i in range(64 * 1024))


def key(byte: int) -> itc.Keypair:
    return itc.Keypair.from_seed(bytes([byte] * 32))


OWNER, LAMP, GUEST, MAKER, RELEASE_KEY, OTHER_KEY = (key(b) for b in range(11, 17))


def commit(chain, sender, payload, time_ms):
    tx = itc.Transaction.new_signed(sender, CHAIN, chain.nonce(sender.public_key()), 1, payload)
    return chain.commit_block([tx], time_ms)


@pytest.fixture()
def chain():
    return itc.DevChain(
        CHAIN,
        4,
        [
            itc.FundedAccount(public_key=OWNER.public_key(), balance=10_000),
            itc.FundedAccount(public_key=GUEST.public_key(), balance=10_000),
            itc.FundedAccount(public_key=MAKER.public_key(), balance=10_000),
        ],
        1_000,
    )


def client_at(chain, height, now_ms):
    client = itc.LightClient.bootstrap(
        chain.header(0), chain.validator_set(0), chain.header_hash(0), itc.default_trust_options(), 1_500
    )
    assert client.update(chain.header_update(height), now_ms) == itc.UpdateVerdict.SUCCESS()
    return client


def context(sequence: int) -> itc.SealContext:
    return itc.SealContext(chain_id=CHAIN, device=LAMP.public_key(), sequence=sequence)


def test_sealing_keys_are_published_proven_and_used_to_seal_and_open(chain):
    owner_key = itc.SealKey.from_keypair(OWNER, itc.SealSuite.X_WING, 0)
    guest_key = itc.SealKey.derive(bytes([99] * 32), itc.SealSuite.X25519, 0)
    lamp_key = itc.SealKey.from_keypair(LAMP, itc.SealSuite.X25519, 0)
    assert len(owner_key.public_key()) == 1216 and len(guest_key.public_key()) == 32
    assert owner_key.suite() == itc.SealSuite.X_WING and len(owner_key.key_id()) == 8

    pairing = itc.pairing_signature(LAMP, CHAIN, OWNER.public_key(), 1)
    commit(chain, OWNER, itc.Payload.REGISTER_DEVICE(
        device=LAMP.public_key(), security_level=1, metadata_hash=bytes(32), pairing_signature=pairing), 2_000)
    own = itc.Payload.PUBLISH_SEAL_KEY(
        subject=OWNER.public_key(), suite=itc.SealSuite.X_WING, public_key=owner_key.public_key(),
        key_seq=0, subject_signature=None)
    binding = itc.seal_key_binding_signature(LAMP, CHAIN, itc.SealSuite.X25519, 0, lamp_key.public_key())
    device = itc.Payload.PUBLISH_SEAL_KEY(
        subject=LAMP.public_key(), suite=itc.SealSuite.X25519, public_key=lamp_key.public_key(),
        key_seq=0, subject_signature=binding)
    guest = itc.Payload.PUBLISH_SEAL_KEY(
        subject=GUEST.public_key(), suite=itc.SealSuite.X25519, public_key=guest_key.public_key(),
        key_seq=0, subject_signature=None)
    txs = [
        itc.Transaction.new_signed(OWNER, CHAIN, chain.nonce(OWNER.public_key()), 1, own),
        itc.Transaction.new_signed(OWNER, CHAIN, chain.nonce(OWNER.public_key()) + 1, 1, device),
        itc.Transaction.new_signed(GUEST, CHAIN, chain.nonce(GUEST.public_key()), 1, guest),
    ]
    for tx in txs:  # every field survives encoding
        assert itc.Transaction.decode(tx.encode()).payload() == tx.payload()
    height = chain.commit_block(txs, 3_000)

    # A device key with a binding signature for another rotation is refused.
    wrong = itc.seal_key_binding_signature(LAMP, CHAIN, itc.SealSuite.X25519, 5, lamp_key.public_key())
    with pytest.raises(itc.ItcError.TransactionRejected):
        commit(chain, OWNER, itc.Payload.PUBLISH_SEAL_KEY(
            subject=LAMP.public_key(), suite=itc.SealSuite.X25519, public_key=lamp_key.public_key(),
            key_seq=1, subject_signature=wrong), 3_500)

    # The sender (the lamp) looks the keys up with proofs at a header it trusts.
    client = client_at(chain, height, 3_100)
    proven_owner = client.verify_seal_key(
        OWNER.public_key(), itc.SealSuite.X_WING, chain.seal_key_proof(OWNER.public_key(), itc.SealSuite.X_WING))
    assert proven_owner.public_key == owner_key.public_key() and proven_owner.key_seq == 0
    proven_guest = client.verify_seal_key(
        GUEST.public_key(), itc.SealSuite.X25519, chain.seal_key_proof(GUEST.public_key(), itc.SealSuite.X25519))
    proven_lamp = client.verify_seal_key(
        LAMP.public_key(), itc.SealSuite.X25519, chain.seal_key_proof(LAMP.public_key(), itc.SealSuite.X25519))
    assert proven_lamp.public_key == lamp_key.public_key()
    absent = chain.seal_key_proof(GUEST.public_key(), itc.SealSuite.X_WING)
    assert client.verify_seal_key(GUEST.public_key(), itc.SealSuite.X_WING, absent) is None
    # A proof for another subject does not pass for the owner.
    with pytest.raises(itc.ItcError.ProofRejected):
        client.verify_seal_key(OWNER.public_key(), itc.SealSuite.X25519,
                               chain.seal_key_proof(GUEST.public_key(), itc.SealSuite.X25519))

    reading = b"on, 4.2 W"
    # One suite per payload: X-Wing to the owner, X25519 to the guest.
    to_owner = itc.seal(itc.SealSuite.X_WING, context(5), [proven_owner.public_key], reading)
    to_guest = itc.seal(itc.SealSuite.X25519, context(6), [proven_guest.public_key], reading)
    assert len(to_owner) == len(reading) + itc.sealed_overhead(itc.SealSuite.X_WING, 1)
    info = itc.sealed_info(to_owner)
    assert info.suite == itc.SealSuite.X_WING and info.context == context(5)
    assert info.recipient_key_ids == [owner_key.key_id()] and info.plaintext_len == len(reading)

    assert owner_key.open(to_owner, context(5)) == reading
    assert guest_key.open(to_guest, context(6)) == reading

    def refused(call):
        with pytest.raises(itc.ItcError.SealRefused) as raised:
            call()
        return raised.value.refusal, raised.value.code

    # Moved to another position, device or chain: refused.
    assert refused(lambda: owner_key.open(to_owner, context(6))) == (itc.SealRefusal.CONTEXT_MISMATCH, 6)
    moved = itc.SealContext(chain_id=CHAIN, device=GUEST.public_key(), sequence=5)
    assert refused(lambda: owner_key.open(to_owner, moved))[1] == 6
    # The guest cannot read the owner's payload, nor the owner the guest's.
    assert refused(lambda: guest_key.open(to_owner, context(5))) == (itc.SealRefusal.SUITE_MISMATCH, 5)
    assert refused(lambda: lamp_key.open(to_guest, context(6))) == (itc.SealRefusal.NOT_A_RECIPIENT, 7)
    # Altered ciphertext: authentication fails.
    altered = to_guest[:-1] + bytes([to_guest[-1] ^ 1])
    assert refused(lambda: guest_key.open(altered, context(6))) == (itc.SealRefusal.OPEN_FAILED, 8)
    assert refused(lambda: itc.seal(itc.SealSuite.X25519, context(1), [], reading))[1] == 1
    assert refused(lambda: itc.seal(itc.SealSuite.X25519, context(1), [guest_key.public_key()] * 9, reading))[1] == 2
    with pytest.raises(itc.ItcError.Decode):
        owner_key.open(b"not sealed", context(5))
    with pytest.raises(itc.ItcError.InvalidArgument):
        itc.SealKey.derive(b"short", itc.SealSuite.X25519, 0)


def test_a_dag_record_carries_a_payload_sealed_to_its_own_position():
    owner_key = itc.SealKey.from_keypair(OWNER, itc.SealSuite.X_WING, 0)
    parents = [bytes([1] * 32), bytes([2] * 32)]
    sealed = itc.seal(itc.SealSuite.X_WING, context(3), [owner_key.public_key()], b"21.5 C")
    tx = itc.DagTransaction.new_signed(LAMP, CHAIN, parents, 3, itc.DagPayload.SEALED(payload=sealed))
    back = itc.DagTransaction.decode(tx.encode())
    assert back.payload() == itc.DagPayload.SEALED(payload=sealed)
    assert owner_key.open(back.payload().payload, context(back.sequence())) == b"21.5 C"
    # Bound to another sequence than the transaction's: refused at build.
    with pytest.raises(itc.ItcError.InvalidArgument):
        itc.DagTransaction.new_signed(LAMP, CHAIN, parents, 4, itc.DagPayload.SEALED(payload=sealed))
    # ... or to another issuer.
    with pytest.raises(itc.ItcError.InvalidArgument):
        itc.DagTransaction.new_signed(GUEST, CHAIN, parents, 3, itc.DagPayload.SEALED(payload=sealed))


def manifest(version, image=IMAGE, min_version=V1_0):
    return itc.FirmwareManifest(product=PRODUCT, version=version, image_hash=itc.firmware_image_hash(image),
                                image_size=len(image), min_version=min_version)


def publish(chain, release, signer, time_ms):
    signature = itc.firmware_manifest_sign(signer, CHAIN, release)
    return commit(chain, MAKER, itc.Payload.PUBLISH_RELEASE(manifest=release, signature=signature), time_ms)


def stream(check, image, chunk=4096):
    for start in range(0, len(image), chunk):
        check.update(image[start:start + chunk])
    return check.finish()


def update_refusal(call):
    with pytest.raises(itc.ItcError.UpdateRefused) as raised:
        call()
    return raised.value.refusal, raised.value.code


def test_the_lamp_installs_firmware_1_1_and_refuses_tampered_old_and_foreign_releases(chain):
    register = itc.Payload.REGISTER_PRODUCT(product=PRODUCT, release_key=RELEASE_KEY.public_key())
    tx = itc.Transaction.new_signed(MAKER, CHAIN, 0, 1, register)
    assert itc.Transaction.decode(tx.encode()).payload() == register
    chain.commit_block([tx], 2_000)
    release = manifest(V1_1)
    height = publish(chain, release, RELEASE_KEY, 3_000)
    # A manifest signed by another key: the ledger refuses it.
    with pytest.raises(itc.ItcError.TransactionRejected):
        publish(chain, manifest(V1_1 + 1), OTHER_KEY, 3_500)

    client = client_at(chain, height, 3_100)
    lamp = itc.Lamp(LAMP.public_key(), 60_000, itc.default_command_window_ms(), client, b"")
    device = itc.DeviceFirmware(product=PRODUCT, version=V1_0, image_size_max=1 << 20)
    offer = chain.firmware_offer(PRODUCT)

    check = lamp.check_firmware_update(device, offer, NOW)
    assert check.manifest() == release
    installed = stream(check, IMAGE)
    assert installed.version == V1_1

    # A tampered image: refused at the end (hash), nothing to install.
    tampered = bytearray(IMAGE)
    tampered[1000] ^= 0xFF
    check = client.check_firmware_update(device, offer, NOW, AGE_MAX)
    assert update_refusal(lambda: stream(check, bytes(tampered))) == (itc.UpdateRefusal.IMAGE_HASH_MISMATCH, 12)
    with pytest.raises(itc.ItcError.InvalidArgument):
        check.finish()  # the check is over
    check = client.check_firmware_update(device, offer, NOW, AGE_MAX)
    assert update_refusal(lambda: stream(check, IMAGE + b"x"))[1] == 10
    check = client.check_firmware_update(device, offer, NOW, AGE_MAX)
    assert update_refusal(lambda: stream(check, IMAGE[:-1]))[1] == 11

    # An old version (the lamp already runs 1.1): no rollback, no reinstall.
    running_1_1 = itc.DeviceFirmware(product=PRODUCT, version=V1_1, image_size_max=1 << 20)
    assert update_refusal(lambda: lamp.check_firmware_update(running_1_1, offer, NOW)) == (itc.UpdateRefusal.NOT_NEWER, 7)
    small = itc.DeviceFirmware(product=PRODUCT, version=V1_0, image_size_max=1024)
    assert update_refusal(lambda: lamp.check_firmware_update(small, offer, NOW))[1] == 9
    other = itc.DeviceFirmware(product=PRODUCT + 1, version=V1_0, image_size_max=1 << 20)
    assert update_refusal(lambda: lamp.check_firmware_update(other, chain.firmware_offer(PRODUCT + 1), NOW))[1] == 2
    # The offer for another product's proofs does not pass for this one.
    assert update_refusal(lambda: lamp.check_firmware_update(device, chain.firmware_offer(PRODUCT + 1), NOW))[1] == 1

    # The manufacturer revokes 1.1: a lamp that has seen it refuses.
    revoke = itc.Payload.REVOKE_RELEASE(product=PRODUCT, version=V1_1)
    height = commit(chain, MAKER, revoke, 4_000)
    assert lamp.update(chain.header_update(height), 4_100) == itc.UpdateVerdict.SUCCESS()
    assert update_refusal(lambda: lamp.check_firmware_update(device, chain.firmware_offer(PRODUCT), 4_200))[1] == 6
    # A stale offer (proofs at the previous header) no longer holds.
    assert update_refusal(lambda: lamp.check_firmware_update(device, offer, 4_200))[1] == 1
    with pytest.raises(itc.ItcError.Decode):
        lamp.check_firmware_update(device, b"garbage", 4_200)
    # A header older than the lamp's freshness window (60 s): refused first,
    # so a relay that withholds newer headers cannot get an update through.
    late = 4_000 + 60_001
    assert update_refusal(lambda: lamp.check_firmware_update(device, offer, late)) == (
        itc.UpdateRefusal.STALE_HEADER, 13)
    assert update_refusal(lambda: client.check_firmware_update(device, offer, late, 60_000))[1] == 13
