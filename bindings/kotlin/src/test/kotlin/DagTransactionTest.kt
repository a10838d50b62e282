// DAG transactions through the Kotlin bindings: work within a bound.

import uniffi.itc.DagPayload
import uniffi.itc.DagTransaction
import uniffi.itc.ItcException
import uniffi.itc.Keypair
import uniffi.itc.dagRequiredPowBits
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class DagTransactionTest {
    private val sensor = Keypair.fromSeed(ByteArray(32) { 4 })
    private val parents = listOf(ByteArray(32) { 1 }, ByteArray(32) { 2 })

    @Test
    fun aDagTransactionGetsItsWorkWithinTheBoundAndRoundTrips() {
        val tx = DagTransaction.newSigned(sensor, 7u, parents, 0uL, DagPayload.Data("21.5 C".toByteArray()))
        val bits = dagRequiredPowBits(0u.toUByte(), 0u)
        tx.solvePow(bits, 1uL shl 24)
        assertTrue(tx.powBits() >= bits)
        val back = DagTransaction.decode(tx.encode())
        back.verifySignature()
        assertContentEquals(tx.id(), back.id())
    }

    @Test
    fun proofOfWorkStopsAtTheIterationBound() {
        val tx = DagTransaction.newSigned(sensor, 7u, parents, 0uL, DagPayload.Transfer(ByteArray(32), 5uL))
        assertFailsWith<ItcException.PowExhausted> { tx.solvePow(40u, 100uL) }
    }
}
