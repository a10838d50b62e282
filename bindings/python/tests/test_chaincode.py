"""ChainCode from Python: users' data nodes and a company's campaign on a
dev chain, and the script a company analyst would write."""

import pytest

import itc

CHAIN = 31
PRICE = 25
START = 1_000
BUDGET_MILLI = 20_000
EPSILON_PER_FIELD = [2_500, 2_500, 2_500, 2_500]  # 10.000 ε per member


def key(byte: int) -> itc.Keypair:
    return itc.Keypair.from_seed(bytes([byte] * 32))


def household_records(after_midnight: bool, model: int):
    """Ten evenings of two hours each, and optionally a light at 01:00."""
    records = []
    for day in range(10):
        base = day * 86_400
        records.append(itc.encode_lamp_event(base + 19 * 3600, model, True))
        records.append(itc.encode_lamp_event(base + 21 * 3600, model, False))
        if after_midnight:
            records.append(itc.encode_lamp_event(base + 3600, model, True))
            records.append(itc.encode_lamp_event(base + 3600 + 600, model, False))
    records.sort(key=lambda r: int.from_bytes(r[:8], "little"))
    return records


class Market:
    """A company and five households on a dev chain that runs ChainCode."""

    def __init__(self, households=5, budget_milli=BUDGET_MILLI):
        self.company = key(100)
        self.users = [key(10 + i) for i in range(households)]
        accounts = [itc.FundedAccount(public_key=self.company.public_key(), balance=1_000_000)]
        accounts += [itc.FundedAccount(public_key=u.public_key(), balance=START) for u in self.users]
        self.chain = itc.DevChain(CHAIN, 4, accounts, 0)
        self.nodes = []
        for i, user in enumerate(self.users):
            node = itc.DataNode(user.public_key(), budget_milli)
            for record in household_records(i % 2 == 0, 1000 + i % 3):
                node.add_record(record)
            self.nodes.append(node)
        self.code = itc.lamp_analytics_contract()

    def deploy(self):
        self.chain.submit_chaincode(self.company, itc.deploy_tx_body(self.code), 0)

    def open(self, label=1, min_cohort=3, max_cohort=8):
        h = self.chain.height()
        params = itc.OpenCampaignParams(
            contract=itc.contract_hash(self.code),
            schema=itc.lamp_analytics_schema(),
            epsilon_milli=EPSILON_PER_FIELD,
            min_cohort=min_cohort,
            max_cohort=max_cohort,
            price=PRICE,
            join_deadline=h + 3,
            contribute_deadline=h + 6,
            unmask_deadline=h + 9,
            label=label,
        )
        opened = itc.open_campaign_tx_body(self.company.public_key(), params)
        self.chain.submit_chaincode(self.company, opened.tx_body, 0)
        return opened.campaign_id

    def record(self, campaign):
        return itc.decode_campaign_record(self.chain.campaign_record(campaign))

    def join(self, campaign, who):
        txs = [
            self.chain.chaincode_transaction(self.users[i], self.nodes[i].join_tx_body(campaign))
            for i in who
        ]
        self.chain.commit_block(txs, 0)

    def contribute(self, campaign, who):
        self.chain.advance_to(self.record(campaign).join_deadline, 0)
        record = self.chain.campaign_record(campaign)
        members = self.chain.campaign_members(campaign)
        summaries, txs = [], []
        for i in who:
            summary = self.nodes[i].contribute(campaign, record, members, self.code, self.chain.height())
            summaries.append(summary)
            txs.append(self.chain.chaincode_transaction(self.users[i], summary.tx_body))
        self.chain.commit_block(txs, 0)
        return summaries

    def unmask(self, campaign, who):
        self.chain.advance_to(self.record(campaign).contribute_deadline, 0)
        members = self.chain.campaign_members(campaign)
        contributors = self.chain.campaign_contributors(campaign)
        txs = [
            self.chain.chaincode_transaction(
                self.users[i], self.nodes[i].unmask_tx_body(campaign, members, contributors)
            )
            for i in who
        ]
        self.chain.commit_block(txs, 0)

    def close(self, campaign):
        self.chain.advance_to(self.record(campaign).unmask_deadline + 1, 0)
        return itc.decode_campaign_result(self.chain.campaign_result(campaign))


def test_five_households_contribute_are_paid_and_see_what_they_shared():
    m = Market()
    m.deploy()
    campaign = m.open()
    assert len(campaign) == 32
    assert m.record(campaign).escrow == PRICE * 8
    everyone = range(5)
    m.join(campaign, everyone)
    assert m.record(campaign).members == 5
    summaries = m.contribute(campaign, everyone)
    for i, summary in enumerate(summaries):
        assert summary.status == "completed"
        assert summary.epsilon_milli == 10_000
        assert summary.remaining_milli == BUDGET_MILLI - 10_000
        # Cells: after-midnight use, household counter, mean on-time, HLL.
        assert summary.clear_cells[0] == (1 if i % 2 == 0 else 0)
        assert summary.clear_cells[1] == 1
    assert len(m.chain.campaign_contributors(campaign)) == 5

    # A second contribution to the same campaign is refused by the node:
    # nothing is shared and the budget is not charged again.
    with pytest.raises(itc.ItcError.AlreadyContributed):
        m.nodes[0].contribute(
            campaign,
            m.chain.campaign_record(campaign),
            m.chain.campaign_members(campaign),
            m.code,
            m.chain.height(),
        )
    assert m.nodes[0].budget_remaining_milli() == BUDGET_MILLI - 10_000

    m.unmask(campaign, everyone)
    assert m.chain.campaign_result(campaign) is None
    result = m.close(campaign)
    assert result.outcome == "released"
    assert result.contributors == 5
    assert result.finalize_error is None
    assert len(result.aggregate) == len(summaries[0].clear_cells)
    assert len(result.outputs) == 4
    assert result.paid_each == PRICE
    assert result.refunded == PRICE * 3
    assert m.record(campaign).outcome == "released"

    for i, user in enumerate(m.users):
        # Paid, minus the join, contribute and unmask fees.
        assert m.chain.balance(user.public_key()) == START - 3 + PRICE
        receipt = m.chain.payment_receipt_proof(campaign, user.public_key())
        assert receipt.amount == PRICE
        header = m.chain.header(receipt.height)
        assert itc.verify_payment_receipt(header, campaign, user.public_key(), receipt.proof) == PRICE
        # The budget history says what was shared, for which campaign.
        history = m.nodes[i].budget_history()
        assert len(history) == 1
        assert history[0].campaign == campaign
        assert history[0].epsilon_milli == 10_000
        assert history[0].cells == len(summaries[i].clear_cells)
        assert "cells for contract" in history[0].note

    # A proof for one member does not pass for another.
    receipt = m.chain.payment_receipt_proof(campaign, m.users[0].public_key())
    with pytest.raises(itc.ItcError.ProofRejected):
        itc.verify_payment_receipt(
            m.chain.header(receipt.height), campaign, m.users[1].public_key(), receipt.proof
        )


def test_a_household_over_budget_is_refused_and_shares_nothing():
    m = Market(households=3, budget_milli=15_000)
    m.deploy()
    first = m.open(label=1, min_cohort=2)
    m.join(first, range(3))
    m.contribute(first, range(3))
    assert m.nodes[0].budget_remaining_milli() == 5_000
    second = m.open(label=2, min_cohort=2)
    m.join(second, range(3))
    m.chain.advance_to(m.record(second).join_deadline, 0)
    with pytest.raises(itc.ItcError.BudgetExhausted) as refused:
        m.nodes[0].contribute(
            second,
            m.chain.campaign_record(second),
            m.chain.campaign_members(second),
            m.code,
            m.chain.height(),
        )
    assert refused.value.remaining_milli == 5_000
    assert refused.value.asked_milli == 10_000
    assert len(m.nodes[0].budget_history()) == 1
    assert not m.nodes[0].has_contributed(second)


def test_chain_refusals_and_bad_input_are_typed_errors():
    m = Market(households=1)
    with pytest.raises(itc.ItcError.Decode):
        m.chain.submit_chaincode(m.company, b"\x09", 0)
    with pytest.raises(itc.ItcError.InvalidArgument):
        m.nodes[0].join_tx_body(b"short")
    with pytest.raises(itc.ItcError.Decode):
        itc.decode_campaign_result(b"\x01\x02")
    with pytest.raises(itc.ItcError.InvalidArgument):
        itc.open_campaign_tx_body(
            m.company.public_key(),
            itc.OpenCampaignParams(
                contract=itc.contract_hash(m.code),
                schema=b"not a schema",
                epsilon_milli=[1_000],
                min_cohort=2,
                max_cohort=4,
                price=1,
                join_deadline=5,
                contribute_deadline=6,
                unmask_deadline=7,
                label=0,
            ),
        )
    # Opening a campaign over a contract that was never deployed is refused
    # by the chain, and the chain does not move.
    height = m.chain.height()
    with pytest.raises(itc.ItcError.TransactionRejected):
        m.open()
    assert m.chain.height() == height
    assert m.chain.campaign_record(b"\x00" * 32) is None


def test_company_analyst_script(capsys):
    """What a company analyst writes: deploy the bundled lamp contract,
    open a campaign, wait for it to close, print the result beside the ε
    each household spent."""
    m = Market()  # the households run their own nodes (simulated here)
    chain, company = m.chain, m.company

    # --- the analyst's script -------------------------------------------
    code = itc.lamp_analytics_contract()
    chain.submit_chaincode(company, itc.deploy_tx_body(code), 0)
    h = chain.height()
    opened = itc.open_campaign_tx_body(
        company.public_key(),
        itc.OpenCampaignParams(
            contract=itc.contract_hash(code),
            schema=itc.lamp_analytics_schema(),
            epsilon_milli=EPSILON_PER_FIELD,
            min_cohort=3,
            max_cohort=8,
            price=PRICE,
            join_deadline=h + 3,
            contribute_deadline=h + 6,
            unmask_deadline=h + 9,
            label=2024_01,
        ),
    )
    chain.submit_chaincode(company, opened.tx_body, 0)
    campaign = opened.campaign_id
    # --- (households join, contribute and unmask on their own nodes) ----
    m.join(campaign, range(5))
    m.contribute(campaign, range(5))
    m.unmask(campaign, range(5))
    # --- the analyst reads the result -----------------------------------
    chain.advance_to(itc.decode_campaign_record(chain.campaign_record(campaign)).unmask_deadline + 1, 0)
    result = itc.decode_campaign_result(chain.campaign_result(campaign))
    info = itc.decode_campaign_record(chain.campaign_record(campaign))
    epsilon = info.epsilon_total_milli / 1000
    after_midnight, households, mean_on_hundredths, models = result.outputs
    print(f"campaign {campaign.hex()[:16]}: {result.outcome}, {result.contributors} households paid {result.paid_each} each")
    print(f"  after-midnight use : {after_midnight:>6}   (noisy count, ε spent per household: {epsilon:g})")
    print(f"  households counted : {households:>6}")
    print(f"  mean daily on-time : {mean_on_hundredths / 100:>6.2f} h")
    print(f"  distinct lamp models: {models:>5}")
    print(f"  refunded to company: {result.refunded}")
    # ---------------------------------------------------------------------

    out = capsys.readouterr().out
    assert "released, 5 households paid 25 each" in out
    assert "ε spent per household: 10" in out
    assert result.outcome == "released"
    assert info.escrow == 0
    # Each household's node charged exactly the ε the company printed.
    for node in m.nodes:
        assert [s.epsilon_milli for s in node.budget_history()] == [info.epsilon_total_milli]
