"""The ITC Python bindings, driven through the generated module and the
built library: keys, transactions, and the smart-lighting flow."""

import pytest

import itc

CHAIN = 7
SWITCH = 2
FRESHNESS_MS = 60_000


def key(byte: int) -> itc.Keypair:
    return itc.Keypair.from_seed(bytes([byte] * 32))


def test_seed_export_and_import_give_the_same_key():
    original = itc.Keypair.generate()
    again = itc.Keypair.from_seed(original.seed())
    assert again.public_key() == original.public_key()
    assert len(original.public_key()) == 32


def test_a_seed_of_the_wrong_length_raises_invalid_argument():
    with pytest.raises(itc.ItcError.InvalidArgument):
        itc.Keypair.from_seed(b"short")


def test_signature_verifies_only_for_its_domain_chain_and_message():
    alice = key(1)
    signature = alice.sign(itc.SigningDomain.DEVICE_COMMAND, CHAIN, b"on")
    itc.verify(alice.public_key(), itc.SigningDomain.DEVICE_COMMAND, CHAIN, b"on", signature)
    for domain, chain, message in [
        (itc.SigningDomain.TRANSACTION, CHAIN, b"on"),
        (itc.SigningDomain.DEVICE_COMMAND, CHAIN + 1, b"on"),
        (itc.SigningDomain.DEVICE_COMMAND, CHAIN, b"off"),
    ]:
        with pytest.raises(itc.ItcError.InvalidSignature):
            itc.verify(alice.public_key(), domain, chain, message, signature)


def every_payload(owner, device, guest):
    pairing = itc.pairing_signature(device, CHAIN, owner.public_key(), 2)
    return [
        itc.Payload.TRANSFER(to=guest.public_key(), amount=100),
        itc.Payload.REGISTER_DEVICE(
            device=device.public_key(),
            security_level=2,
            metadata_hash=bytes(range(32)),
            pairing_signature=pairing,
        ),
        itc.Payload.TRANSFER_DEVICE(device=device.public_key(), new_owner=guest.public_key()),
        itc.Payload.GRANT_ACCESS(
            device=device.public_key(), grantee=guest.public_key(), permissions=SWITCH, expiry_height=50
        ),
        itc.Payload.REVOKE_ACCESS(device=device.public_key(), grantee=guest.public_key()),
        itc.Payload.BOND(amount=1_000),
        itc.Payload.UNBOND(amount=400),
        itc.Payload.DAG_DEPOSIT(amount=25),
    ]


def test_every_payload_round_trips_through_the_canonical_encoding():
    owner, device, guest = key(1), key(2), key(3)
    for nonce, payload in enumerate(every_payload(owner, device, guest)):
        tx = itc.Transaction.new_signed(owner, CHAIN, nonce, 1, payload)
        back = itc.Transaction.decode(tx.encode())
        back.verify_signature()
        assert back.payload() == payload
        assert (back.chain_id(), back.nonce(), back.fee()) == (CHAIN, nonce, 1)
        assert back.sender() == owner.public_key()
        assert back.hash() == tx.hash() and len(tx.hash()) == 32
        assert back.signature() == tx.signature()


def test_truncated_bytes_raise_a_typed_decode_error():
    tx = itc.Transaction.new_signed(key(1), CHAIN, 0, 1, itc.Payload.BOND(amount=5))
    with pytest.raises(itc.ItcError.Decode) as raised:
        itc.Transaction.decode(tx.encode()[:-1])
    assert "unexpected end" in raised.value.reason


def test_a_flipped_signature_bit_fails_verification():
    encoded = bytearray(itc.Transaction.new_signed(key(1), CHAIN, 0, 1, itc.Payload.BOND(amount=5)).encode())
    encoded[-1] ^= 1
    with pytest.raises(itc.ItcError.InvalidSignature):
        itc.Transaction.decode(bytes(encoded)).verify_signature()


class Lighting:
    """The smart-lighting scenario on a dev chain."""

    def __init__(self):
        self.owner, self.lamp_key, self.guest = key(1), key(2), key(3)
        self.chain = itc.DevChain(
            CHAIN, 4, [itc.FundedAccount(public_key=self.owner.public_key(), balance=1_000_000)], 1_000
        )
        pinned = self.chain.header_hash(0)  # shipped in the lamp's firmware
        self.client = itc.LightClient.bootstrap(
            self.chain.header(0), self.chain.validator_set(0), pinned, itc.default_trust_options()
        )
        self.time_ms = 1_000

    def tick(self, ms=100):
        self.time_ms += ms
        return self.time_ms

    def commit(self, *payloads):
        nonce = self.chain.nonce(self.owner.public_key())
        txs = [itc.Transaction.new_signed(self.owner, CHAIN, nonce + i, 1, p) for i, p in enumerate(payloads)]
        height = self.chain.commit_block(txs, self.tick(1_000))
        return height, txs

    def register_and_grant(self, expiry_height=1_000):
        pairing = itc.pairing_signature(self.lamp_key, CHAIN, self.owner.public_key(), 1)
        return self.commit(
            itc.Payload.REGISTER_DEVICE(
                device=self.lamp_key.public_key(),
                security_level=1,
                metadata_hash=bytes(32),
                pairing_signature=pairing,
            ),
            itc.Payload.GRANT_ACCESS(
                device=self.lamp_key.public_key(),
                grantee=self.guest.public_key(),
                permissions=SWITCH,
                expiry_height=expiry_height,
            ),
        )

    def command(self, counter, action=SWITCH, sender=None):
        return itc.sign_command(sender or self.guest, CHAIN, self.lamp_key.public_key(), action, counter)

    def proof(self, sender=None):
        return self.chain.command_proof(self.lamp_key.public_key(), (sender or self.guest).public_key())


def denied(verdict, reason):
    return isinstance(verdict, itc.LampVerdict.DENIED) and verdict.reason == reason


def test_the_lighting_flow_allows_a_granted_guest_and_refuses_replay_forgery_and_revocation():
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = itc.Lamp(world.lamp_key.public_key(), FRESHNESS_MS, world.client, 0)
    assert lamp.update(world.chain.header_update(height), world.tick()) == itc.UpdateVerdict.SUCCESS()

    proof = world.proof()
    command = world.command(counter=1)
    assert lamp.handle(world.tick(), None, command, proof) == itc.LampVerdict.ALLOWED(new_counter=1)
    assert lamp.last_counter() == 1

    replayed = lamp.handle(world.tick(), None, command, proof)
    assert denied(replayed, itc.DenyReason.REPLAYED_COUNTER)
    assert replayed.code == 5

    forged = bytearray(world.command(counter=2))
    forged[-1] ^= 1
    assert denied(lamp.handle(world.tick(), None, bytes(forged), proof), itc.DenyReason.BAD_SIGNATURE)

    stranger = key(9)
    assert denied(
        lamp.handle(world.tick(), None, world.command(3, sender=stranger), world.proof(sender=stranger)),
        itc.DenyReason.REVOKED,  # the state proves the stranger holds no grant
    )
    assert denied(
        lamp.handle(world.tick(), None, world.command(4, action=4), proof),
        itc.DenyReason.INSUFFICIENT_PERMISSION,
    )

    height, _ = world.commit(
        itc.Payload.REVOKE_ACCESS(device=world.lamp_key.public_key(), grantee=world.guest.public_key())
    )
    update = world.chain.header_update(height)
    # The update travels with the command: the lamp adopts it in the same call.
    stale = lamp.handle(world.tick(), update, world.command(5), proof)
    assert denied(stale, itc.DenyReason.STALE_HEADER)
    assert lamp.height() == height
    assert denied(lamp.handle(world.tick(), None, world.command(6), world.proof()), itc.DenyReason.REVOKED)
    assert lamp.last_counter() == 1


def test_the_owner_needs_no_grant():
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = itc.Lamp(world.lamp_key.public_key(), FRESHNESS_MS, world.client, 0)
    lamp.update(world.chain.header_update(height), world.tick())
    verdict = lamp.handle(world.tick(), None, world.command(1, sender=world.owner), world.proof(sender=world.owner))
    assert verdict == itc.LampVerdict.ALLOWED(new_counter=1)


def test_an_expired_grant_and_an_old_header_are_refused():
    world = Lighting()
    height, _ = world.register_and_grant(expiry_height=2)
    lamp = itc.Lamp(world.lamp_key.public_key(), FRESHNESS_MS, world.client, 0)
    lamp.update(world.chain.header_update(height), world.tick())
    assert lamp.handle(world.tick(), None, world.command(1), world.proof()) == itc.LampVerdict.ALLOWED(new_counter=1)
    height, _ = world.commit(itc.Payload.BOND(amount=10))
    lamp.update(world.chain.header_update(height), world.tick())
    assert denied(lamp.handle(world.tick(), None, world.command(2), world.proof()), itc.DenyReason.EXPIRED)
    # Without newer headers the lamp stops obeying once its header is too old.
    late = world.time_ms + FRESHNESS_MS + 1
    assert denied(lamp.handle(late, None, world.command(3), world.proof()), itc.DenyReason.STALE_HEADER)


def test_light_client_proves_grant_presence_then_absence_and_survives_save_and_load():
    world = Lighting()
    height, _ = world.register_and_grant()
    assert world.client.update(world.chain.header_update(height), world.tick()) == itc.UpdateVerdict.SUCCESS()
    device, guest = world.lamp_key.public_key(), world.guest.public_key()

    grant = world.client.verify_grant(device, guest, world.chain.grant_proof(device, guest))
    assert grant == itc.GrantInfo(permissions=SWITCH, expiry_height=1_000, granted_by=world.owner.public_key())
    info = world.client.verify_device(device, world.chain.device_proof(device))
    assert info.owner == world.owner.public_key() and info.security_level == 1

    saved = world.client.save()
    restored = itc.LightClient.load(saved, itc.default_trust_options())
    assert restored.height() == height and restored.header_hash() == world.client.header_hash()

    height, _ = world.commit(itc.Payload.REVOKE_ACCESS(device=device, grantee=guest))
    assert restored.update(world.chain.header_update(height), world.tick()) == itc.UpdateVerdict.SUCCESS()
    assert restored.verify_grant(device, guest, world.chain.grant_proof(device, guest)) is None
    # A proof made for one grantee does not prove anything about another.
    with pytest.raises(itc.ItcError.ProofRejected):
        restored.verify_grant(device, world.owner.public_key(), world.chain.grant_proof(device, guest))


def test_transaction_inclusion_is_verified_against_the_trusted_header():
    world = Lighting()
    height, txs = world.register_and_grant()
    world.client.update(world.chain.header_update(height), world.tick())
    for tx in txs:
        assert world.client.verify_transaction(world.chain.transaction_proof(tx, height)) == tx.hash()
    outsider = itc.Transaction.new_signed(world.owner, CHAIN, 99, 1, itc.Payload.BOND(amount=1))
    with pytest.raises(itc.ItcError.InvalidArgument):
        world.chain.transaction_proof(outsider, height)


def test_bootstrap_refuses_a_header_that_is_not_the_pinned_one():
    world = Lighting()
    world.register_and_grant()
    with pytest.raises(itc.ItcError.BootstrapRejected):
        itc.LightClient.bootstrap(
            world.chain.header(1), world.chain.validator_set(1), world.chain.header_hash(0),
            itc.default_trust_options(),
        )


def test_a_header_update_for_another_chain_is_invalid_with_a_reason():
    world = Lighting()
    other = itc.DevChain(CHAIN + 1, 4, [], 1_000)
    other.commit_block([], 2_000)
    verdict = world.client.update(other.header_update(1), world.tick(2_000))
    assert isinstance(verdict, itc.UpdateVerdict.INVALID)
    assert verdict.code == 1 and "another chain" in verdict.reason


def test_an_invalid_transaction_leaves_the_dev_chain_unchanged():
    world = Lighting()
    bad = itc.Transaction.new_signed(world.guest, CHAIN, 0, 1, itc.Payload.TRANSFER(to=world.owner.public_key(), amount=5))
    with pytest.raises(itc.ItcError.TransactionRejected):
        world.chain.commit_block([bad], 2_000)
    assert world.chain.height() == 0


def test_the_pairing_signature_binds_the_security_level():
    world = Lighting()
    owner = world.owner.public_key()
    message = itc.pairing_message(owner, 3)
    assert message == owner + bytes([3])
    # The device's own signer signs the same bytes as pairing_signature.
    pairing = world.lamp_key.sign(itc.SigningDomain.DEVICE_PAIRING, CHAIN, message)
    assert pairing == itc.pairing_signature(world.lamp_key, CHAIN, owner, 3)
    with pytest.raises(itc.ItcError.InvalidArgument):
        itc.pairing_message(owner, 4)

    def register(level):
        return itc.Transaction.new_signed(world.owner, CHAIN, 0, 1, itc.Payload.REGISTER_DEVICE(
            device=world.lamp_key.public_key(), security_level=level, metadata_hash=bytes(32),
            pairing_signature=pairing))

    # The lamp agreed to level 3; the owner may not register it at level 0.
    with pytest.raises(itc.ItcError.TransactionRejected):
        world.chain.commit_block([register(0)], 2_000)
    assert world.chain.height() == 0
    world.chain.commit_block([register(3)], 2_000)
    assert world.chain.height() == 1


def test_a_dag_transaction_gets_its_work_within_the_bound_and_round_trips():
    sensor = key(4)
    parents = [bytes([2] * 32), bytes([1] * 32)]
    tx = itc.DagTransaction.new_signed(sensor, CHAIN, parents, 0, itc.DagPayload.DATA(record=b"21.5 C"))
    assert tx.parents() == sorted(parents)
    bits = itc.dag_required_pow_bits(0, 0)
    nonce = tx.solve_pow(bits, 1 << 24)
    assert tx.nonce() == nonce and tx.pow_bits() >= bits
    back = itc.DagTransaction.decode(tx.encode())
    back.verify_signature()
    assert back.id() == tx.id() and back.payload() == itc.DagPayload.DATA(record=b"21.5 C")
    assert back.issuer() == sensor.public_key()


def test_dag_proof_of_work_stops_at_the_iteration_bound():
    tx = itc.DagTransaction.new_signed(
        key(4), CHAIN, [bytes([1] * 32), bytes([2] * 32)], 0, itc.DagPayload.TRANSFER(to=bytes(32), amount=5)
    )
    with pytest.raises(itc.ItcError.PowExhausted):
        tx.solve_pow(40, 100)
    with pytest.raises(itc.ItcError.InvalidArgument):
        itc.DagTransaction.new_signed(key(4), CHAIN, [bytes([1] * 32)], 0, itc.DagPayload.DATA(record=b""))
