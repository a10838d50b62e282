// An application's view of the ITC Kotlin bindings: the dependency
// dev.itc:itc-kotlin alone (jar + JNA from Maven), the native library loaded
// from the jar, and the lamp's offline check of a guest's command.

import com.sun.jna.NativeLibrary
import uniffi.itc.DenyReason
import uniffi.itc.DevChain
import uniffi.itc.FundedAccount
import uniffi.itc.Keypair
import uniffi.itc.Lamp
import uniffi.itc.LampVerdict
import uniffi.itc.LightClient
import uniffi.itc.Payload
import uniffi.itc.Transaction
import uniffi.itc.UpdateVerdict
import uniffi.itc.defaultCommandWindowMs
import uniffi.itc.defaultTrustOptions
import uniffi.itc.pairingSignature
import uniffi.itc.signCommand
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNull

class LampCheckTest {
    @Test
    fun lampAllowsTheGuestsCommandOnceWithTheLibraryFromTheJar() {
        // Nothing points JNA at a build directory: the library must come
        // from the jar's linux-x86-64/ (or other platform) resource.
        assertNull(System.getProperty("jna.library.path"))
        assertFalse(System.getenv("LD_LIBRARY_PATH").orEmpty().contains("target"))

        val chainId = 7u
        val switch = 2u
        val owner = Keypair.generate()
        val lampKey = Keypair.generate()
        val guest = Keypair.generate()
        val chain = DevChain(chainId, 4u, listOf(FundedAccount(owner.publicKey(), 10_000uL)), 1_000uL)
        val client = LightClient.bootstrap(chain.header(0uL), chain.validatorSet(0uL), chain.headerHash(0uL), defaultTrustOptions(), 1_500uL)
        val register = Transaction.newSigned(
            owner, chainId, 0uL, 1uL,
            Payload.RegisterDevice(lampKey.publicKey(), 1u.toUByte(), ByteArray(32), pairingSignature(lampKey, chainId, owner.publicKey(), 1u.toUByte())),
        )
        val grant = Transaction.newSigned(owner, chainId, 1uL, 1uL, Payload.GrantAccess(lampKey.publicKey(), guest.publicKey(), switch, 100uL))
        val height = chain.commitBlock(listOf(register, grant), 2_000uL)

        val lamp = Lamp(lampKey.publicKey(), 60_000uL, defaultCommandWindowMs(), client, ByteArray(0))
        assertEquals(UpdateVerdict.Success, lamp.update(chain.headerUpdate(height), 2_100uL))
        val command = signCommand(guest, chainId, lampKey.publicKey(), switch, 2_200uL)
        val proof = chain.commandProof(lampKey.publicKey(), guest.publicKey())
        assertEquals(LampVerdict.Allowed, lamp.handle(2_200uL, null, command, proof).command)
        val replayed = lamp.handle(2_300uL, null, command, proof).command
        assertIs<LampVerdict.Denied>(replayed)
        assertEquals(DenyReason.REPLAYED, replayed.reason)

        // JNA extracted the library from the jar into a temporary file.
        val loaded = NativeLibrary.getInstance("itc_ffi").file
        println("itc_ffi loaded from $loaded")
        assertFalse(loaded.path.contains("/target/"), "loaded from a build directory: $loaded")
    }
}
