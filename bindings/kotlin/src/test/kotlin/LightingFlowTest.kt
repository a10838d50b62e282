// The ITC Kotlin bindings, driven through the generated code and the built
// library: keys, transactions, and the smart-lighting flow (the same walk as
// bindings/python/tests).

import uniffi.itc.DenyReason
import uniffi.itc.DevChain
import uniffi.itc.FundedAccount
import uniffi.itc.Handled
import uniffi.itc.ItcException
import uniffi.itc.Keypair
import uniffi.itc.Lamp
import uniffi.itc.LampVerdict
import uniffi.itc.LightClient
import uniffi.itc.Payload
import uniffi.itc.SigningDomain
import uniffi.itc.Transaction
import uniffi.itc.UpdateVerdict
import uniffi.itc.defaultTrustOptions
import uniffi.itc.pairingSignature
import uniffi.itc.signCommand
import uniffi.itc.signOwnerRecovery
import uniffi.itc.verify
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNull
import kotlin.test.assertTrue

private const val CHAIN = 7u
private const val SWITCH = 2u
private const val FRESHNESS_MS = 60_000uL
private const val WINDOW_MS = 30_000uL

private fun key(byte: Int) = Keypair.fromSeed(ByteArray(32) { byte.toByte() })

private fun assertDenied(verdict: LampVerdict, reason: DenyReason) {
    assertIs<LampVerdict.Denied>(verdict)
    assertEquals(reason, verdict.reason)
}

/** The command's verdict when no header update came along. */
private fun verdictOf(handled: Handled): LampVerdict {
    assertNull(handled.update)
    return handled.command
}

/** The smart-lighting scenario on a dev chain. */
private class Lighting {
    val owner = key(1)
    val lampKey = key(2)
    val guest = key(3)
    val chain = DevChain(CHAIN, 4u, listOf(FundedAccount(owner.publicKey(), 1_000_000uL)), 1_000uL)
    val client = LightClient.bootstrap(chain.header(0uL), chain.validatorSet(0uL), chain.headerHash(0uL), defaultTrustOptions(), 1_000uL)
    var timeMs = 1_000uL

    fun tick(ms: ULong = 100uL): ULong {
        timeMs += ms
        return timeMs
    }

    fun commit(vararg payloads: Payload): Pair<ULong, List<Transaction>> {
        val nonce = chain.nonce(owner.publicKey())
        val txs = payloads.mapIndexed { i, p -> Transaction.newSigned(owner, CHAIN, nonce + i.toULong(), 1uL, p) }
        return chain.commitBlock(txs, tick(1_000uL)) to txs
    }

    fun registerAndGrant(): Pair<ULong, List<Transaction>> = commit(
        Payload.RegisterDevice(
            lampKey.publicKey(), 1u.toUByte(), ByteArray(32), pairingSignature(lampKey, CHAIN, owner.publicKey(), 1u.toUByte()),
        ),
        Payload.GrantAccess(lampKey.publicKey(), guest.publicKey(), SWITCH, 1_000uL),
    )

    /** A sender puts in the permission bits it needs and its clock in ms, strictly rising per sender. */
    fun command(timeMs: ULong, sender: Keypair = guest, action: UInt = SWITCH) = signCommand(sender, CHAIN, lampKey.publicKey(), action, timeMs)

    fun lamp(height: ULong): Lamp {
        val lamp = Lamp(lampKey.publicKey(), FRESHNESS_MS, WINDOW_MS, client, ByteArray(0))
        assertEquals(UpdateVerdict.Success, lamp.update(chain.headerUpdate(height), tick()))
        return lamp
    }

    fun proof(sender: Keypair = guest) = chain.commandProof(lampKey.publicKey(), sender.publicKey())
}

class KeysAndTransactionsTest {
    @Test
    fun seedExportAndImportGiveTheSameKey() {
        val original = Keypair.generate()
        assertContentEquals(original.publicKey(), Keypair.fromSeed(original.seed()).publicKey())
    }

    @Test
    fun signatureVerifiesOnlyForItsDomainAndChain() {
        val alice = key(1)
        val signature = alice.sign(SigningDomain.DEVICE_COMMAND, CHAIN, "on".toByteArray())
        verify(alice.publicKey(), SigningDomain.DEVICE_COMMAND, CHAIN, "on".toByteArray(), signature)
        assertFailsWith<ItcException.InvalidSignature> {
            verify(alice.publicKey(), SigningDomain.TRANSACTION, CHAIN, "on".toByteArray(), signature)
        }
        assertFailsWith<ItcException.InvalidSignature> {
            verify(alice.publicKey(), SigningDomain.DEVICE_COMMAND, CHAIN + 1u, "on".toByteArray(), signature)
        }
    }

    @Test
    fun everyPayloadRoundTripsThroughTheCanonicalEncoding() {
        val owner = key(1)
        val device = key(2)
        val guest = key(3)
        val payloads = listOf(
            Payload.Transfer(guest.publicKey(), 100uL),
            Payload.RegisterDevice(device.publicKey(), 2u.toUByte(), ByteArray(32) { it.toByte() }, pairingSignature(device, CHAIN, owner.publicKey(), 2u.toUByte())),
            Payload.TransferDevice(device.publicKey(), guest.publicKey()),
            Payload.GrantAccess(device.publicKey(), guest.publicKey(), SWITCH, 50uL),
            Payload.RevokeAccess(device.publicKey(), guest.publicKey()),
            Payload.Bond(1_000uL),
            Payload.Unbond(400uL),
            Payload.DagDeposit(25uL),
        )
        payloads.forEachIndexed { nonce, payload ->
            val tx = Transaction.newSigned(owner, CHAIN, nonce.toULong(), 1uL, payload)
            val back = Transaction.decode(tx.encode())
            back.verifySignature()
            assertEquals(payload.toString(), back.payload().toString())
            assertEquals(nonce.toULong(), back.nonce())
            assertContentEquals(tx.hash(), back.hash())
        }
    }

    @Test
    fun truncatedBytesRaiseATypedDecodeException() {
        val tx = Transaction.newSigned(key(1), CHAIN, 0uL, 1uL, Payload.Bond(5uL))
        val bytes = tx.encode()
        assertFailsWith<ItcException.Decode> { Transaction.decode(bytes.copyOf(bytes.size - 1)) }
    }
}

class LightingFlowTest {
    @Test
    fun grantedGuestIsAllowedAndReplayForgeryAndRevocationAreRefused() {
        val world = Lighting()
        val (height, _) = world.registerAndGrant()
        val lamp = world.lamp(height)

        val proof = world.proof()
        val now = world.tick()
        val command = world.command(now)
        assertEquals(LampVerdict.Allowed, verdictOf(lamp.handle(now, null, command, proof)))
        assertDenied(verdictOf(lamp.handle(world.tick(), null, command, proof)), DenyReason.REPLAYED)

        val forged = world.command(world.tick())
        forged[forged.size - 1] = (forged[forged.size - 1].toInt() xor 1).toByte()
        assertDenied(verdictOf(lamp.handle(world.timeMs, null, forged, proof)), DenyReason.BAD_SIGNATURE)

        val (revokedAt, _) = world.commit(Payload.RevokeAccess(world.lampKey.publicKey(), world.guest.publicKey()))
        val update = world.chain.headerUpdate(revokedAt)
        val later = world.tick()
        val handled = lamp.handle(later, update, world.command(later), proof)
        assertEquals(UpdateVerdict.Success, handled.update)
        assertDenied(handled.command, DenyReason.STALE_HEADER)
        assertEquals(revokedAt, lamp.height())
        val last = world.tick()
        assertDenied(verdictOf(lamp.handle(last, null, world.command(last), world.proof())), DenyReason.REVOKED)
        assertEquals(now, lamp.lastTimeMs(world.guest.publicKey()))
    }

    @Test
    fun eachSenderHasItsOwnReplayStateAndAGuestAheadDoesNotLockTheOwnerOut() {
        val world = Lighting()
        val (height, _) = world.registerAndGrant()
        val lamp = world.lamp(height)
        val now = world.tick()
        assertEquals(LampVerdict.Allowed, verdictOf(lamp.handle(now, null, world.command(now + WINDOW_MS), world.proof())))
        val ownerCommand = world.command(now, world.owner)
        assertEquals(LampVerdict.Allowed, verdictOf(lamp.handle(now, null, ownerCommand, world.proof(world.owner))))
        assertEquals(now, lamp.lastTimeMs(world.owner.publicKey()))
        assertEquals(now + WINDOW_MS, lamp.lastTimeMs(world.guest.publicKey()))
        assertDenied(verdictOf(lamp.handle(now + 1uL, null, ownerCommand, world.proof(world.owner))), DenyReason.REPLAYED)
        assertDenied(verdictOf(lamp.handle(now + 1uL, null, world.command(now + 2uL), world.proof())), DenyReason.REPLAYED)
        assertDenied(
            verdictOf(lamp.handle(now + 1uL, null, world.command(now + WINDOW_MS + 10_000uL), world.proof())),
            DenyReason.COMMAND_FROM_FUTURE,
        )
        val restored = Lamp(world.lampKey.publicKey(), FRESHNESS_MS, WINDOW_MS, world.client, lamp.replayTable())
        assertEquals(now, restored.lastTimeMs(world.owner.publicKey()))
    }

    @Test
    fun aLateCommandAndAnEmptyActionAreRefused() {
        val world = Lighting()
        val (height, _) = world.registerAndGrant()
        val lamp = world.lamp(height)
        val signedAt = world.tick()
        val late = verdictOf(lamp.handle(signedAt + WINDOW_MS + 1uL, null, world.command(signedAt), world.proof()))
        assertDenied(late, DenyReason.COMMAND_TOO_OLD)
        assertEquals(13.toUShort(), (late as LampVerdict.Denied).code)
        assertDenied(
            verdictOf(lamp.handle(signedAt, null, world.command(signedAt + 1uL, action = 0u), world.proof())),
            DenyReason.EMPTY_ACTION,
        )
    }

    @Test
    fun theOwnerRecoversALampAfterATrustPeriodWithoutHeaders() {
        val world = Lighting()
        val (height, _) = world.registerAndGrant()
        val lamp = world.lamp(height)
        // One command proves the lamp's registration, hence its owner.
        val now = world.tick()
        assertEquals(LampVerdict.Allowed, verdictOf(lamp.handle(now, null, world.command(now), world.proof())))
        world.tick(defaultTrustOptions().trustPeriodMs + 60_000uL)
        val (newHeight, _) = world.commit(Payload.Bond(10uL))
        val update = world.chain.headerUpdate(newHeight)
        val expired = lamp.update(update, world.tick())
        assertIs<UpdateVerdict.Invalid>(expired)
        assertEquals(5.toUShort(), expired.code)
        val device = world.lampKey.publicKey()
        val proof = world.chain.deviceProof(device)
        val refused = assertFailsWith<ItcException.RecoveryRejected> {
            lamp.recover(signOwnerRecovery(world.guest, device, lamp.trustedHeader(), update, proof), world.timeMs)
        }
        assertEquals(9u, refused.code)
        lamp.recover(signOwnerRecovery(world.owner, device, lamp.trustedHeader(), update, proof), world.timeMs)
        assertEquals(newHeight, lamp.height())
    }

    @Test
    fun aLampCrossesAnEpochBoundaryWithANewValidatorSet() {
        val world = Lighting()
        val (height, _) = world.registerAndGrant()
        val lamp = world.lamp(height)
        val newSet = world.chain.rotateValidators()
        val (announced, _) = world.commit(Payload.Bond(10uL))
        val (firstNew, _) = world.commit(Payload.Bond(10uL))
        assertContentEquals(newSet, world.chain.validatorSet(firstNew))
        assertTrue(!newSet.contentEquals(world.chain.validatorSet(announced)))
        for (h in listOf(announced, firstNew)) {
            assertEquals(UpdateVerdict.Success, lamp.update(world.chain.headerUpdate(h), world.tick()))
        }
        val now = world.tick()
        assertEquals(LampVerdict.Allowed, verdictOf(lamp.handle(now, null, world.command(now), world.proof())))
    }

    @Test
    fun lightClientProvesGrantPresenceThenAbsenceAcrossSaveAndLoad() {
        val world = Lighting()
        val (height, txs) = world.registerAndGrant()
        assertEquals(UpdateVerdict.Success, world.client.update(world.chain.headerUpdate(height), world.tick()))
        val device = world.lampKey.publicKey()
        val guest = world.guest.publicKey()
        val status = world.client.verifyGrant(device, guest, world.chain.deviceProof(device), world.chain.grantProof(device, guest))
        assertEquals(SWITCH, status.grant?.permissions)
        assertEquals(0uL, status.grant?.ownershipSeq)
        assertTrue(status.live)
        assertContentEquals(world.owner.publicKey(), status.grant?.grantedBy)
        for (tx in txs) {
            assertContentEquals(tx.hash(), world.client.verifyTransaction(world.chain.transactionProof(tx, height)))
        }

        val restored = LightClient.load(world.client.save(), defaultTrustOptions())
        val (revokedAt, _) = world.commit(Payload.RevokeAccess(device, guest))
        assertEquals(UpdateVerdict.Success, restored.update(world.chain.headerUpdate(revokedAt), world.tick()))
        val gone = restored.verifyGrant(device, guest, world.chain.deviceProof(device), world.chain.grantProof(device, guest))
        assertNull(gone.grant)
        assertTrue(!gone.live)
        assertFailsWith<ItcException.ProofRejected> {
            restored.verifyGrant(device, world.owner.publicKey(), world.chain.deviceProof(device), world.chain.grantProof(device, guest))
        }
    }

    @Test
    fun bootstrapRefusesAHeaderThatIsNotThePinnedOne() {
        val world = Lighting()
        world.registerAndGrant()
        assertFailsWith<ItcException.BootstrapRejected> {
            LightClient.bootstrap(world.chain.header(1uL), world.chain.validatorSet(1uL), world.chain.headerHash(0uL), defaultTrustOptions(), world.timeMs)
        }
        val tooOld = assertFailsWith<ItcException.BootstrapRejected> {
            LightClient.bootstrap(world.chain.header(0uL), world.chain.validatorSet(0uL), world.chain.headerHash(0uL), defaultTrustOptions(), 1_000uL + defaultTrustOptions().trustPeriodMs)
        }
        assertEquals(3u, tooOld.code)
    }

    @Test
    fun invalidTransactionLeavesTheDevChainUnchanged() {
        val world = Lighting()
        val bad = Transaction.newSigned(world.guest, CHAIN, 0uL, 1uL, Payload.Transfer(world.owner.publicKey(), 5uL))
        val error = assertFailsWith<ItcException.TransactionRejected> { world.chain.commitBlock(listOf(bad), 2_000uL) }
        assertTrue(error.reason.isNotEmpty())
        assertEquals(0uL, world.chain.height())
    }
}
