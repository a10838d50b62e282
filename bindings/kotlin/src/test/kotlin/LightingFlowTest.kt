// The ITC Kotlin bindings, driven through the generated code and the built
// library: keys, transactions, and the smart-lighting flow (the same walk as
// bindings/python/tests).

import uniffi.itc.DenyReason
import uniffi.itc.DevChain
import uniffi.itc.FundedAccount
import uniffi.itc.GrantInfo
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

private fun key(byte: Int) = Keypair.fromSeed(ByteArray(32) { byte.toByte() })

private fun assertDenied(verdict: LampVerdict, reason: DenyReason) {
    assertIs<LampVerdict.Denied>(verdict)
    assertEquals(reason, verdict.reason)
}

/** The smart-lighting scenario on a dev chain. */
private class Lighting {
    val owner = key(1)
    val lampKey = key(2)
    val guest = key(3)
    val chain = DevChain(CHAIN, 4u, listOf(FundedAccount(owner.publicKey(), 1_000_000uL)), 1_000uL)
    val client = LightClient.bootstrap(chain.header(0uL), chain.validatorSet(0uL), chain.headerHash(0uL), defaultTrustOptions())
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

    fun command(counter: ULong, sender: Keypair = guest) = signCommand(sender, CHAIN, lampKey.publicKey(), SWITCH, counter)

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
        val lamp = Lamp(world.lampKey.publicKey(), FRESHNESS_MS, world.client, 0uL)
        assertEquals(UpdateVerdict.Success, lamp.update(world.chain.headerUpdate(height), world.tick()))

        val proof = world.proof()
        val command = world.command(1uL)
        assertEquals(LampVerdict.Allowed(1uL), lamp.handle(world.tick(), null, command, proof))
        assertDenied(lamp.handle(world.tick(), null, command, proof), DenyReason.REPLAYED_COUNTER)

        val forged = world.command(2uL)
        forged[forged.size - 1] = (forged[forged.size - 1].toInt() xor 1).toByte()
        assertDenied(lamp.handle(world.tick(), null, forged, proof), DenyReason.BAD_SIGNATURE)

        val (revokedAt, _) = world.commit(Payload.RevokeAccess(world.lampKey.publicKey(), world.guest.publicKey()))
        val update = world.chain.headerUpdate(revokedAt)
        assertDenied(lamp.handle(world.tick(), update, world.command(3uL), proof), DenyReason.STALE_HEADER)
        assertEquals(revokedAt, lamp.height())
        assertDenied(lamp.handle(world.tick(), null, world.command(4uL), world.proof()), DenyReason.REVOKED)
        assertEquals(1uL, lamp.lastCounter())
    }

    @Test
    fun lightClientProvesGrantPresenceThenAbsenceAcrossSaveAndLoad() {
        val world = Lighting()
        val (height, txs) = world.registerAndGrant()
        assertEquals(UpdateVerdict.Success, world.client.update(world.chain.headerUpdate(height), world.tick()))
        val device = world.lampKey.publicKey()
        val guest = world.guest.publicKey()
        val grant = world.client.verifyGrant(device, guest, world.chain.grantProof(device, guest))
        assertEquals(SWITCH, grant?.permissions)
        assertContentEquals(world.owner.publicKey(), grant?.grantedBy)
        for (tx in txs) {
            assertContentEquals(tx.hash(), world.client.verifyTransaction(world.chain.transactionProof(tx, height)))
        }

        val restored = LightClient.load(world.client.save(), defaultTrustOptions())
        val (revokedAt, _) = world.commit(Payload.RevokeAccess(device, guest))
        assertEquals(UpdateVerdict.Success, restored.update(world.chain.headerUpdate(revokedAt), world.tick()))
        assertNull(restored.verifyGrant(device, guest, world.chain.grantProof(device, guest)))
        assertFailsWith<ItcException.ProofRejected> {
            restored.verifyGrant(device, world.owner.publicKey(), world.chain.grantProof(device, guest))
        }
    }

    @Test
    fun bootstrapRefusesAHeaderThatIsNotThePinnedOne() {
        val world = Lighting()
        world.registerAndGrant()
        assertFailsWith<ItcException.BootstrapRejected> {
            LightClient.bootstrap(world.chain.header(1uL), world.chain.validatorSet(1uL), world.chain.headerHash(0uL), defaultTrustOptions())
        }
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
