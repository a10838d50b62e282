// Sealed readings and firmware updates from Kotlin (the same walk as
// bindings/python/tests/test_seal_firmware.py, shorter).

import uniffi.itc.DevChain
import uniffi.itc.DeviceFirmware
import uniffi.itc.FirmwareManifest
import uniffi.itc.FundedAccount
import uniffi.itc.ItcException
import uniffi.itc.Keypair
import uniffi.itc.Lamp
import uniffi.itc.LightClient
import uniffi.itc.Payload
import uniffi.itc.SealContext
import uniffi.itc.SealKey
import uniffi.itc.SealRefusal
import uniffi.itc.SealSuite
import uniffi.itc.Transaction
import uniffi.itc.UpdateRefusal
import uniffi.itc.UpdateVerdict
import uniffi.itc.defaultCommandWindowMs
import uniffi.itc.defaultTrustOptions
import uniffi.itc.firmwareImageHash
import uniffi.itc.firmwareManifestSign
import uniffi.itc.seal
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

private const val SF_CHAIN = 7u
private const val PRODUCT = 42uL
private const val V1_0 = 1_000_000u
private const val V1_1 = 1_001_000u

private fun sfKey(byte: Int) = Keypair.fromSeed(ByteArray(32) { byte.toByte() })

class SealFirmwareTest {
    private val owner = sfKey(11)
    private val lamp = sfKey(12)
    private val maker = sfKey(14)
    private val releaseKey = sfKey(15)

    private fun newChain() = DevChain(
        SF_CHAIN, 4u,
        listOf(FundedAccount(owner.publicKey(), 10_000uL), FundedAccount(maker.publicKey(), 10_000uL)),
        1_000uL,
    )

    private fun commit(chain: DevChain, sender: Keypair, payload: Payload, timeMs: ULong): ULong {
        val tx = Transaction.newSigned(sender, SF_CHAIN, chain.nonce(sender.publicKey()), 1uL, payload)
        return chain.commitBlock(listOf(tx), timeMs)
    }

    private fun clientAt(chain: DevChain, height: ULong, nowMs: ULong): LightClient {
        val client = LightClient.bootstrap(
            chain.header(0uL), chain.validatorSet(0uL), chain.headerHash(0uL), defaultTrustOptions(), 1_500uL,
        )
        assertEquals(UpdateVerdict.Success, client.update(chain.headerUpdate(height), nowMs))
        return client
    }

    private fun context(sequence: ULong) = SealContext(SF_CHAIN, lamp.publicKey(), sequence)

    @Test
    fun aReadingSealedToTheOwnersProvenKeyOpensOnlyInItsContext() {
        val chain = newChain()
        val ownerKey = SealKey.fromKeypair(owner, SealSuite.X_WING, 0u)
        val height = commit(
            chain, owner,
            Payload.PublishSealKey(owner.publicKey(), SealSuite.X_WING, ownerKey.publicKey(), 0u, null),
            2_000uL,
        )
        val client = clientAt(chain, height, 2_100uL)
        val proven = client.verifySealKey(
            owner.publicKey(), SealSuite.X_WING, chain.sealKeyProof(owner.publicKey(), SealSuite.X_WING),
        )!!
        assertContentEquals(ownerKey.publicKey(), proven.publicKey)

        val reading = "on, 4.2 W".toByteArray()
        val sealed = seal(SealSuite.X_WING, context(5uL), listOf(proven.publicKey), reading)
        assertContentEquals(reading, ownerKey.open(sealed, context(5uL)))
        val moved = assertFailsWith<ItcException.SealRefused> { ownerKey.open(sealed, context(6uL)) }
        assertEquals(SealRefusal.CONTEXT_MISMATCH, moved.refusal)
        assertEquals(6u, moved.code)
        val guestKey = SealKey.derive(ByteArray(32) { 99 }, SealSuite.X_WING, 0u)
        assertEquals(7u, assertFailsWith<ItcException.SealRefused> { guestKey.open(sealed, context(5uL)) }.code)
    }

    @Test
    fun theLampInstallsFirmware11AndRefusesATamperedImageAndAnOldVersion() {
        val chain = newChain()
        val image = ByteArray(64 * 1024) { (it * 7 + 3).toByte() }
        commit(chain, maker, Payload.RegisterProduct(PRODUCT, releaseKey.publicKey()), 2_000uL)
        val manifest = FirmwareManifest(PRODUCT, V1_1, firmwareImageHash(image), image.size.toUInt(), V1_0)
        val signature = firmwareManifestSign(releaseKey, SF_CHAIN, manifest)
        val height = commit(chain, maker, Payload.PublishRelease(manifest, signature), 3_000uL)
        val device = Lamp(lamp.publicKey(), 60_000uL, defaultCommandWindowMs(), clientAt(chain, height, 3_100uL), ByteArray(0))
        val running = DeviceFirmware(PRODUCT, V1_0, 1u shl 20)
        val offer = chain.firmwareOffer(PRODUCT)

        val check = device.checkFirmwareUpdate(running, offer, 3_200uL)
        image.toList().chunked(4096).forEach { check.update(it.toByteArray()) }
        assertEquals(V1_1, check.finish().version)

        val tampered = image.copyOf().also { it[1000] = (it[1000].toInt() xor 0xFF).toByte() }
        val second = device.checkFirmwareUpdate(running, offer, 3_200uL)
        second.update(tampered)
        val refused = assertFailsWith<ItcException.UpdateRefused> { second.finish() }
        assertEquals(UpdateRefusal.IMAGE_HASH_MISMATCH, refused.refusal)
        assertEquals(12u, refused.code)

        val old = assertFailsWith<ItcException.UpdateRefused> {
            device.checkFirmwareUpdate(DeviceFirmware(PRODUCT, V1_1, 1u shl 20), offer, 3_200uL)
        }
        assertEquals(UpdateRefusal.NOT_NEWER, old.refusal)
        assertEquals(7u, old.code)

        val stale = assertFailsWith<ItcException.UpdateRefused> {
            device.checkFirmwareUpdate(running, offer, 3_000uL + 60_001uL)
        }
        assertEquals(UpdateRefusal.STALE_HEADER, stale.refusal)
    }
}
