"""The ITC Python bindings, driven through the generated module and the
built library: keys, transactions, and the smart-lighting flow."""

import pytest

import itc

CHAIN = 7
SWITCH = 2
FRESHNESS_MS = 60_000
WINDOW_MS = 30_000


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
        self.owner, self.lamp_key, self.guest, self.buyer = key(1), key(2), key(3), key(4)
        self.chain = itc.DevChain(
            CHAIN,
            4,
            [
                itc.FundedAccount(public_key=self.owner.public_key(), balance=1_000_000),
                itc.FundedAccount(public_key=self.buyer.public_key(), balance=1_000_000),
            ],
            1_000,
        )
        pinned = self.chain.header_hash(0)  # shipped in the lamp's firmware
        self.client = itc.LightClient.bootstrap(
            self.chain.header(0), self.chain.validator_set(0), pinned, itc.default_trust_options(), 1_000
        )
        self.time_ms = 1_000

    def tick(self, ms=100):
        self.time_ms += ms
        return self.time_ms

    def commit(self, *payloads, sender=None):
        sender = sender or self.owner
        nonce = self.chain.nonce(sender.public_key())
        txs = [itc.Transaction.new_signed(sender, CHAIN, nonce + i, 1, p) for i, p in enumerate(payloads)]
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

    def lamp(self, height):
        lamp = itc.Lamp(self.lamp_key.public_key(), FRESHNESS_MS, WINDOW_MS, self.client, b"")
        assert lamp.update(self.chain.header_update(height), self.tick()) == itc.UpdateVerdict.SUCCESS()
        return lamp

    def command(self, time_ms, action=SWITCH, sender=None):
        """What a sender puts in a command: the permission bits it needs and
        its clock in ms, strictly rising from one of its commands to the next."""
        return itc.sign_command(sender or self.guest, CHAIN, self.lamp_key.public_key(), action, time_ms)

    def proof(self, sender=None):
        return self.chain.command_proof(self.lamp_key.public_key(), (sender or self.guest).public_key())

    def grant_status(self, client=None):
        device, guest = self.lamp_key.public_key(), self.guest.public_key()
        return (client or self.client).verify_grant(
            device, guest, self.chain.device_proof(device), self.chain.grant_proof(device, guest)
        )


def verdict_of(handled):
    assert handled.update is None
    return handled.command


def denied(verdict, reason):
    if isinstance(verdict, itc.Handled):
        verdict = verdict.command
    return isinstance(verdict, itc.LampVerdict.DENIED) and verdict.reason == reason


ALLOWED = itc.LampVerdict.ALLOWED()


def test_the_lighting_flow_allows_a_granted_guest_and_refuses_replay_forgery_and_revocation():
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = world.lamp(height)

    proof = world.proof()
    now = world.tick()
    command = world.command(now)
    assert verdict_of(lamp.handle(now, None, command, proof)) == ALLOWED
    assert lamp.last_time_ms(world.guest.public_key()) == now

    replayed = verdict_of(lamp.handle(world.tick(), None, command, proof))
    assert denied(replayed, itc.DenyReason.REPLAYED)
    assert replayed.code == 5

    forged = bytearray(world.command(world.tick()))
    forged[-1] ^= 1
    assert denied(lamp.handle(world.time_ms, None, bytes(forged), proof), itc.DenyReason.BAD_SIGNATURE)

    stranger = key(9)
    now = world.tick()
    assert denied(
        lamp.handle(now, None, world.command(now, sender=stranger), world.proof(sender=stranger)),
        itc.DenyReason.REVOKED,  # the state proves the stranger holds no grant
    )
    now = world.tick()
    assert denied(lamp.handle(now, None, world.command(now, action=4), proof), itc.DenyReason.INSUFFICIENT_PERMISSION)
    before_revocation = lamp.last_time_ms(world.guest.public_key())

    height, _ = world.commit(
        itc.Payload.REVOKE_ACCESS(device=world.lamp_key.public_key(), grantee=world.guest.public_key())
    )
    update = world.chain.header_update(height)
    # The update travels with the command: the lamp adopts it in the same
    # call and reports its verdict next to the command's.
    now = world.tick()
    stale = lamp.handle(now, update, world.command(now), proof)
    assert stale.update == itc.UpdateVerdict.SUCCESS()
    assert denied(stale, itc.DenyReason.STALE_HEADER)
    assert lamp.height() == height
    now = world.tick()
    assert denied(lamp.handle(now, None, world.command(now), world.proof()), itc.DenyReason.REVOKED)
    assert lamp.last_time_ms(world.guest.public_key()) == before_revocation


def test_each_sender_has_its_own_replay_state():
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = world.lamp(height)
    now = world.tick()
    # A guest whose clock runs a whole window ahead ...
    ahead = world.command(now + WINDOW_MS)
    assert verdict_of(lamp.handle(now, None, ahead, world.proof())) == ALLOWED
    # ... does not lock the owner out: the owner's honest time is still fresh.
    owner_command = world.command(now, sender=world.owner)
    assert verdict_of(lamp.handle(now, None, owner_command, world.proof(sender=world.owner))) == ALLOWED
    assert lamp.last_time_ms(world.owner.public_key()) == now
    assert lamp.last_time_ms(world.guest.public_key()) == now + WINDOW_MS
    # Each replays only against its own last time.
    assert denied(lamp.handle(now + 1, None, owner_command, world.proof(sender=world.owner)), itc.DenyReason.REPLAYED)
    assert denied(lamp.handle(now + 1, None, world.command(now + 2), world.proof()), itc.DenyReason.REPLAYED)
    # Further ahead than the window is refused outright.
    too_far = world.command(now + WINDOW_MS + 10_000)
    verdict = verdict_of(lamp.handle(now + 1, None, too_far, world.proof()))
    assert denied(verdict, itc.DenyReason.COMMAND_FROM_FUTURE) and verdict.code == 12
    # The table survives a reboot through its bytes.
    table = lamp.replay_table()
    restored = itc.Lamp(
        world.lamp_key.public_key(), FRESHNESS_MS, WINDOW_MS,
        itc.LightClient.load(lamp.trusted_state(), itc.default_trust_options()), table,
    )
    assert restored.last_time_ms(world.owner.public_key()) == now
    with pytest.raises(itc.ItcError.Decode):
        itc.Lamp(world.lamp_key.public_key(), FRESHNESS_MS, WINDOW_MS, world.client, b"\xff" + table[1:])


def test_a_late_command_and_an_empty_action_are_refused():
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = world.lamp(height)
    signed_at = world.tick()
    recorded = world.command(signed_at)
    verdict = verdict_of(lamp.handle(signed_at + WINDOW_MS + 1, None, recorded, world.proof()))
    assert denied(verdict, itc.DenyReason.COMMAND_TOO_OLD) and verdict.code == 13
    verdict = verdict_of(lamp.handle(signed_at, None, world.command(signed_at + 1, action=0), world.proof()))
    assert denied(verdict, itc.DenyReason.EMPTY_ACTION) and verdict.code == 14
    assert itc.default_command_window_ms() == 30_000


def test_the_owner_needs_no_grant():
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = world.lamp(height)
    now = world.tick()
    verdict = lamp.handle(now, None, world.command(now, sender=world.owner), world.proof(sender=world.owner))
    assert verdict_of(verdict) == ALLOWED


def test_an_expired_grant_and_an_old_header_are_refused():
    world = Lighting()
    height, _ = world.register_and_grant(expiry_height=2)
    lamp = world.lamp(height)
    now = world.tick()
    assert verdict_of(lamp.handle(now, None, world.command(now), world.proof())) == ALLOWED
    height, _ = world.commit(itc.Payload.BOND(amount=10))
    lamp.update(world.chain.header_update(height), world.tick())
    now = world.tick()
    assert denied(lamp.handle(now, None, world.command(now), world.proof()), itc.DenyReason.EXPIRED)
    # Without newer headers the lamp stops obeying once its header is too old
    # (shown with the owner: the guest's expired grant is refused first, as
    # authorisation is checked before the header's age).
    late = world.time_ms + FRESHNESS_MS + 1
    owner_command = world.command(late, sender=world.owner)
    assert denied(lamp.handle(late, None, owner_command, world.proof(sender=world.owner)), itc.DenyReason.STALE_HEADER)


def test_a_grant_made_before_the_lamp_went_away_and_came_back_is_dead():
    world = Lighting()
    height, _ = world.register_and_grant()
    world.client.update(world.chain.header_update(height), world.tick())
    status = world.grant_status()
    assert status.live and status.grant.ownership_seq == 0 and status.device.ownership_seq == 0
    device = world.lamp_key.public_key()
    world.commit(itc.Payload.TRANSFER_DEVICE(device=device, new_owner=world.buyer.public_key()))
    height, _ = world.commit(
        itc.Payload.TRANSFER_DEVICE(device=device, new_owner=world.owner.public_key()), sender=world.buyer
    )
    lamp = world.lamp(height)
    now = world.tick()
    verdict = verdict_of(lamp.handle(now, None, world.command(now), world.proof()))
    assert denied(verdict, itc.DenyReason.NOT_GRANTED) and verdict.code == 8
    world.client.update(world.chain.header_update(height), world.tick())
    status = world.grant_status()
    assert status.grant is not None and status.grant.granted_by == world.owner.public_key()
    assert status.device.ownership_seq == 2 and not status.live


def test_every_deny_reason_has_its_stable_code():
    names = [
        "WRONG_CHAIN", "WRONG_DEVICE", "STALE_HEADER", "UNKNOWN_HEADER", "REPLAYED", "BAD_SIGNATURE",
        "BAD_PROOF", "NOT_GRANTED", "REVOKED", "EXPIRED", "INSUFFICIENT_PERMISSION", "COMMAND_FROM_FUTURE",
        "COMMAND_TOO_OLD", "EMPTY_ACTION", "BELOW_REPLAY_FLOOR",
    ]
    assert [reason.name for reason in itc.DenyReason] == names
    # The enum is in code order (the stable code is the position plus one);
    # a verdict carries the code itself.
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = world.lamp(height)
    verdict = verdict_of(lamp.handle(world.tick(), None, world.command(0, action=0), world.proof()))
    assert verdict.reason == itc.DenyReason.EMPTY_ACTION and verdict.code == names.index("EMPTY_ACTION") + 1


def test_the_owner_recovers_a_lamp_after_a_trust_period_without_headers():
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = world.lamp(height)
    # One command proves the lamp's registration, hence its owner.
    now = world.tick()
    assert verdict_of(lamp.handle(now, None, world.command(now), world.proof())) == ALLOWED
    world.tick(itc.default_trust_options().trust_period_ms + 60_000)
    height, _ = world.commit(itc.Payload.BOND(amount=10))
    update = world.chain.header_update(height)
    verdict = lamp.update(update, world.tick())
    assert isinstance(verdict, itc.UpdateVerdict.INVALID) and verdict.code == 5
    device = world.lamp_key.public_key()
    parts = (device, lamp.trusted_header(), update, world.chain.device_proof(device))
    with pytest.raises(itc.ItcError.RecoveryRejected) as raised:
        lamp.recover(itc.sign_owner_recovery(world.guest, *parts), world.time_ms)
    assert raised.value.code == 9  # bad signature: not the owner the lamp proved
    lamp.recover(itc.sign_owner_recovery(world.owner, *parts), world.time_ms)
    assert lamp.height() == height
    now = world.tick()
    assert verdict_of(lamp.handle(now, None, world.command(now), world.proof())) == ALLOWED


def test_a_lamp_crosses_an_epoch_boundary_with_a_new_validator_set():
    world = Lighting()
    height, _ = world.register_and_grant()
    lamp = world.lamp(height)
    new_set = world.chain.rotate_validators()
    announced, _ = world.commit(itc.Payload.BOND(amount=10))
    first_new, _ = world.commit(itc.Payload.BOND(amount=10))
    assert world.chain.validator_set(announced) != new_set
    assert world.chain.validator_set(first_new) == new_set
    for h in (announced, first_new):
        assert lamp.update(world.chain.header_update(h), world.tick()) == itc.UpdateVerdict.SUCCESS()
    now = world.tick()
    assert verdict_of(lamp.handle(now, None, world.command(now), world.proof())) == ALLOWED


def test_light_client_proves_grant_presence_then_absence_and_survives_save_and_load():
    world = Lighting()
    height, _ = world.register_and_grant()
    assert world.client.update(world.chain.header_update(height), world.tick()) == itc.UpdateVerdict.SUCCESS()
    device, guest = world.lamp_key.public_key(), world.guest.public_key()

    status = world.grant_status()
    assert status.grant == itc.GrantInfo(
        permissions=SWITCH, expiry_height=1_000, granted_by=world.owner.public_key(), ownership_seq=0
    )
    assert status.live
    info = world.client.verify_device(device, world.chain.device_proof(device))
    assert info.owner == world.owner.public_key() and info.security_level == 1 and info.ownership_seq == 0

    saved = world.client.save()
    restored = itc.LightClient.load(saved, itc.default_trust_options())
    assert restored.height() == height and restored.header_hash() == world.client.header_hash()
    assert restored.header() == world.chain.header(height)

    height, _ = world.commit(itc.Payload.REVOKE_ACCESS(device=device, grantee=guest))
    assert restored.update(world.chain.header_update(height), world.tick()) == itc.UpdateVerdict.SUCCESS()
    status = world.grant_status(restored)
    assert status.grant is None and not status.live
    # A proof made for one grantee does not prove anything about another.
    with pytest.raises(itc.ItcError.ProofRejected):
        restored.verify_grant(
            device, world.owner.public_key(), world.chain.device_proof(device), world.chain.grant_proof(device, guest)
        )


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
            itc.default_trust_options(), world.time_ms,
        )


def test_bootstrap_refuses_a_header_older_than_the_trust_period_with_a_clear_error():
    world = Lighting()
    options = itc.default_trust_options()
    with pytest.raises(itc.ItcError.BootstrapRejected) as raised:
        itc.LightClient.bootstrap(
            world.chain.header(0), world.chain.validator_set(0), world.chain.header_hash(0),
            options, 1_000 + options.trust_period_ms,
        )
    assert raised.value.code == 3 and "older than the trust period" in raised.value.reason


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
        itc.DagTransaction.new_signed(key(4), CHAIN, [], 0, itc.DagPayload.DATA(record=b""))
