// ChainCode from Kotlin: a company's campaign and four households' data
// nodes on a dev chain (the same walk as bindings/python/tests/test_chaincode.py).

import uniffi.itc.DataNode
import uniffi.itc.DevChain
import uniffi.itc.FundedAccount
import uniffi.itc.ItcException
import uniffi.itc.Keypair
import uniffi.itc.OpenCampaignParams
import uniffi.itc.contractHash
import uniffi.itc.decodeCampaignRecord
import uniffi.itc.decodeCampaignResult
import uniffi.itc.deployTxBody
import uniffi.itc.encodeLampEvent
import uniffi.itc.lampAnalyticsContract
import uniffi.itc.lampAnalyticsSchema
import uniffi.itc.openCampaignTxBody
import uniffi.itc.verifyPaymentReceipt
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull

private const val CC_CHAIN = 33u
private const val PRICE = 15uL
private const val START = 1_000uL
private const val BUDGET = 20_000u

private fun seedKey(byte: Int) = Keypair.fromSeed(ByteArray(32) { byte.toByte() })

class ChainCodeTest {
    @Test
    fun aCampaignReleasesPaysContributorsAndChargesTheirBudgets() {
        val company = seedKey(70)
        val users = (0 until 4).map { seedKey(40 + it) }
        val accounts = listOf(FundedAccount(company.publicKey(), 1_000_000uL)) +
            users.map { FundedAccount(it.publicKey(), START) }
        val chain = DevChain(CC_CHAIN, 4u, accounts, 0uL)
        val nodes = users.mapIndexed { i, user ->
            DataNode(user.publicKey(), BUDGET).also { node ->
                for (day in 0 until 10) {
                    val base = day.toULong() * 86_400uL
                    node.addRecord(encodeLampEvent(base + 19uL * 3600uL, 1000u + i.toUInt(), true))
                    node.addRecord(encodeLampEvent(base + 21uL * 3600uL, 1000u + i.toUInt(), false))
                }
            }
        }
        val code = lampAnalyticsContract()
        chain.submitChaincode(company, deployTxBody(code), 0uL)
        val h = chain.height()
        val opened = openCampaignTxBody(
            company.publicKey(),
            OpenCampaignParams(
                contractHash(code), lampAnalyticsSchema(), listOf(2_500u, 2_500u, 2_500u, 2_500u),
                3u, 6u, PRICE, h + 3uL, h + 5uL, h + 7uL, 1uL,
            ),
        )
        chain.submitChaincode(company, opened.txBody, 0uL)
        val id = opened.campaignId
        val info = decodeCampaignRecord(chain.campaignRecord(id)!!)
        assertEquals("open", info.outcome)

        chain.commitBlock(users.indices.map { chain.chaincodeTransaction(users[it], nodes[it].joinTxBody(id)) }, 0uL)
        chain.advanceTo(info.joinDeadline, 0uL)
        val record = chain.campaignRecord(id)!!
        val members = chain.campaignMembers(id)
        val contributions = users.indices.map {
            val summary = nodes[it].contribute(id, record, members, code, chain.height())
            assertEquals("completed", summary.status)
            assertEquals(10_000u, summary.epsilonMilli)
            chain.chaincodeTransaction(users[it], summary.txBody)
        }
        chain.commitBlock(contributions, 0uL)
        assertFailsWith<ItcException.AlreadyContributed> {
            nodes[0].contribute(id, record, members, code, chain.height())
        }

        chain.advanceTo(info.contributeDeadline, 0uL)
        val contributors = chain.campaignContributors(id)
        assertEquals(4, contributors.size)
        chain.commitBlock(
            users.indices.map { chain.chaincodeTransaction(users[it], nodes[it].unmaskTxBody(id, members, contributors)) },
            0uL,
        )
        assertNull(chain.campaignResult(id))
        chain.advanceTo(info.unmaskDeadline + 1uL, 0uL)

        val result = decodeCampaignResult(chain.campaignResult(id)!!)
        assertEquals("released", result.outcome)
        assertEquals(4u, result.contributors)
        assertEquals(4, result.outputs.size)
        assertEquals(PRICE, result.paidEach)
        assertEquals(PRICE * 2uL, result.refunded)
        for (i in users.indices) {
            assertEquals(START - 3uL + PRICE, chain.balance(users[i].publicKey()))
            val history = nodes[i].budgetHistory()
            assertEquals(1, history.size)
            assertContentEquals(id, history[0].campaign)
            assertEquals(BUDGET - 10_000u, nodes[i].budgetRemainingMilli())
        }
        val receipt = chain.paymentReceiptProof(id, users[0].publicKey())
        assertEquals(PRICE, receipt.amount)
        assertEquals(
            PRICE,
            verifyPaymentReceipt(chain.header(receipt.height), id, users[0].publicKey(), receipt.proof),
        )
        assertFailsWith<ItcException.ProofRejected> {
            verifyPaymentReceipt(chain.header(receipt.height), id, users[1].publicKey(), receipt.proof)
        }
    }
}
