/*
 * chaincode_demo.c: a ChainCode campaign through the C ABI.
 *
 * A dev chain (single-process, simulated validators, the ChainCode module
 * registered) stands in for the network. The company deploys the bundled
 * lamp analytics contract and opens a campaign; four households, each with
 * its own data node holding its lamp events, join, contribute and unmask;
 * the campaign closes, releases its noisy aggregate and pays every
 * contributor, which a household proves with a state proof. A second
 * contribution, a contribution over budget and one from a node that did
 * not join are refused with typed statuses.
 *
 * Exits 0 when every step behaves as expected, 1 otherwise. Frees every
 * handle it creates, so valgrind reports no leaks (bindings/c/run_valgrind.sh).
 */
#include "itc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_ID 41u
#define HOUSEHOLDS 4
#define PRICE 20u
#define BUDGET_MILLI 15000u
#define BIG 65536u

static int failures = 0;

#define CHECK(call)                                                          \
    do {                                                                     \
        ItcStatus status_ = (call);                                          \
        if (status_ != ITC_STATUS_OK) {                                      \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__,     \
                    #call, itc_status_name(status_), itc_last_error_message()); \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

#define EXPECT(condition, what)                                              \
    do {                                                                     \
        if (condition) {                                                     \
            printf("ok   %s\n", what);                                       \
        } else {                                                             \
            printf("FAIL %s\n", what);                                       \
            failures++;                                                      \
        }                                                                    \
    } while (0)

typedef struct {
    uint8_t *data;
    size_t len;
} Buffer;

/* Buffers live on the heap (the contract alone is several KiB). */
static Buffer buffer_new(void) {
    Buffer b;
    b.data = malloc(BIG);
    b.len = 0;
    if (b.data == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return b;
}

static ItcKeypair *key(uint8_t tag) {
    uint8_t seed[ITC_SEED_LEN];
    ItcKeypair *keypair = NULL;
    memset(seed, tag, sizeof seed);
    CHECK(itc_keypair_from_seed(seed, &keypair));
    return keypair;
}

int main(void) {
    ItcKeypair *company = key(90);
    ItcKeypair *users[HOUSEHOLDS];
    ItcDataNode *nodes[HOUSEHOLDS];
    uint8_t keys[(HOUSEHOLDS + 1) * ITC_PUBLIC_KEY_LEN];
    uint64_t balances[HOUSEHOLDS + 1];
    ItcDevChain *chain = NULL;
    Buffer code = buffer_new(), schema = buffer_new(), body = buffer_new();
    Buffer record = buffer_new(), members = buffer_new(), contributors = buffer_new();
    Buffer result_bytes = buffer_new(), proof = buffer_new(), header = buffer_new();
    uint8_t contract[ITC_HASH_LEN], campaign[ITC_HASH_LEN], event[ITC_LAMP_EVENT_LEN];
    uint32_t epsilon[4] = {2000, 2000, 2000, 2000};
    uint64_t height = 0, start = 0;
    int i, day;

    CHECK(itc_keypair_public_key(company, keys));
    balances[0] = 1000000;
    for (i = 0; i < HOUSEHOLDS; i++) {
        users[i] = key((uint8_t)(10 + i));
        CHECK(itc_keypair_public_key(users[i], keys + (i + 1) * ITC_PUBLIC_KEY_LEN));
        balances[i + 1] = 1000;
        CHECK(itc_data_node_new(keys + (i + 1) * ITC_PUBLIC_KEY_LEN, BUDGET_MILLI, &nodes[i]));
        for (day = 0; day < 10; day++) {
            uint64_t base = (uint64_t)day * 86400u;
            CHECK(itc_chaincode_lamp_event(base + 19 * 3600, 1000u + (uint32_t)i, true, event));
            CHECK(itc_data_node_add_record(nodes[i], event, sizeof event));
            CHECK(itc_chaincode_lamp_event(base + 21 * 3600, 1000u + (uint32_t)i, false, event));
            CHECK(itc_data_node_add_record(nodes[i], event, sizeof event));
        }
    }
    CHECK(itc_dev_chain_new(CHAIN_ID, 4, keys, balances, HOUSEHOLDS + 1, 0, &chain));

    /* Company: deploy the bundled contract and open a campaign. */
    CHECK(itc_chaincode_lamp_contract(code.data, BIG, &code.len));
    CHECK(itc_chaincode_lamp_schema(schema.data, BIG, &schema.len));
    CHECK(itc_chaincode_contract_hash(code.data, code.len, contract));
    CHECK(itc_chaincode_deploy_tx_body(code.data, code.len, body.data, BIG, &body.len));
    CHECK(itc_dev_chain_submit_chaincode(chain, company, body.data, body.len, 0, &start));
    {
        ItcOpenCampaignParams params;
        params.contract = contract;
        params.schema = schema.data;
        params.schema_len = schema.len;
        params.epsilon_milli = epsilon;
        params.epsilon_count = 4;
        params.min_cohort = 3;
        params.max_cohort = 6;
        params.price = PRICE;
        params.join_deadline = start + 7;
        params.contribute_deadline = start + 13;
        params.unmask_deadline = start + 19;
        params.label = 1;
        CHECK(itc_chaincode_open_tx_body(keys, &params, campaign, body.data, BIG, &body.len));
        CHECK(itc_dev_chain_submit_chaincode(chain, company, body.data, body.len, 0, &height));
        CHECK(itc_dev_chain_campaign_record(chain, campaign, record.data, BIG, &record.len));
        EXPECT(record.len > 0, "campaign opened on chain");

        /* Households join, one block each. */
        for (i = 0; i < HOUSEHOLDS; i++) {
            CHECK(itc_data_node_join_tx_body(nodes[i], campaign, body.data, BIG, &body.len));
            CHECK(itc_dev_chain_submit_chaincode(chain, users[i], body.data, body.len, 0, &height));
        }
        CHECK(itc_dev_chain_advance_to(chain, params.join_deadline, 0, &height));
        CHECK(itc_dev_chain_campaign_record(chain, campaign, record.data, BIG, &record.len));
        CHECK(itc_dev_chain_campaign_members(chain, campaign, members.data, BIG, &members.len));

        /* Households contribute from their local records. */
        for (i = 0; i < HOUSEHOLDS; i++) {
            ItcContribution *contribution = NULL;
            uint32_t charged = 0, left = 0;
            uint64_t cells[64];
            size_t cell_count = 0;
            CHECK(itc_data_node_contribute(nodes[i], campaign, record.data, record.len,
                                           members.data, members.len, code.data, code.len,
                                           height, &contribution));
            CHECK(itc_contribution_epsilon(contribution, &charged, &left));
            CHECK(itc_contribution_clear_cells(contribution, cells, 64, &cell_count));
            CHECK(itc_contribution_tx_body(contribution, body.data, BIG, &body.len));
            CHECK(itc_contribution_free(contribution));
            if (i == 0) {
                EXPECT(charged == 8000 && left == BUDGET_MILLI - 8000,
                       "contribution charged 8 epsilon");
                EXPECT(cell_count > 2 && cells[1] == 1, "household counter cell is 1");
            }
            CHECK(itc_dev_chain_submit_chaincode(chain, users[i], body.data, body.len, 0, &height));
        }
        {
            ItcContribution *again = NULL;
            ItcStatus status = itc_data_node_contribute(nodes[0], campaign, record.data, record.len,
                                                        members.data, members.len, code.data,
                                                        code.len, height, &again);
            EXPECT(status == ITC_STATUS_ALREADY_CONTRIBUTED && again == NULL,
                   "second contribution refused");
        }

        /* Contributors unmask, then the campaign closes. */
        CHECK(itc_dev_chain_advance_to(chain, params.contribute_deadline, 0, &height));
        CHECK(itc_dev_chain_campaign_contributors(chain, campaign, contributors.data, BIG,
                                                  &contributors.len));
        EXPECT(contributors.len == HOUSEHOLDS * ITC_PUBLIC_KEY_LEN, "four contributions held");
        for (i = 0; i < HOUSEHOLDS; i++) {
            CHECK(itc_data_node_unmask_tx_body(nodes[i], campaign, members.data, members.len,
                                               contributors.data,
                                               contributors.len / ITC_PUBLIC_KEY_LEN, body.data,
                                               BIG, &body.len));
            CHECK(itc_dev_chain_submit_chaincode(chain, users[i], body.data, body.len, 0, &height));
        }
        CHECK(itc_dev_chain_campaign_result(chain, campaign, result_bytes.data, BIG,
                                            &result_bytes.len));
        EXPECT(result_bytes.len == 0, "no result before close");
        CHECK(itc_dev_chain_advance_to(chain, params.unmask_deadline + 1, 0, &height));
    }
    CHECK(itc_dev_chain_campaign_result(chain, campaign, result_bytes.data, BIG,
                                        &result_bytes.len));
    {
        ItcCampaignResult *result = NULL;
        ItcCampaignOutcome outcome = ITC_CAMPAIGN_OUTCOME_OPEN;
        uint32_t contributors_paid = 0;
        uint64_t paid_each = 0, refunded = 0;
        int64_t outputs[8];
        size_t output_count = 0;
        CHECK(itc_campaign_result_decode(result_bytes.data, result_bytes.len, &result));
        CHECK(itc_campaign_result_summary(result, &outcome, &contributors_paid, &paid_each,
                                          &refunded));
        CHECK(itc_campaign_result_outputs(result, outputs, 8, &output_count));
        EXPECT(outcome == ITC_CAMPAIGN_OUTCOME_RELEASED, "campaign released");
        EXPECT(contributors_paid == HOUSEHOLDS && paid_each == PRICE && refunded == 2 * PRICE,
               "four paid, two places refunded");
        EXPECT(output_count == 4, "four finalize outputs");
        if (output_count == 4) {
            printf("     outputs: after-midnight %lld, households %lld, mean on-time %lld/100 h,"
                   " models %lld\n",
                   (long long)outputs[0], (long long)outputs[1], (long long)outputs[2],
                   (long long)outputs[3]);
        }
        CHECK(itc_campaign_result_free(result));
    }

    /* A household proves its payment against the header. */
    {
        uint64_t proof_height = 0, amount = 0;
        bool paid = false;
        ItcStatus status;
        CHECK(itc_dev_chain_payment_receipt_proof(chain, campaign, keys + ITC_PUBLIC_KEY_LEN,
                                                  &proof_height, proof.data, BIG, &proof.len));
        CHECK(itc_dev_chain_header(chain, proof_height, header.data, BIG, &header.len));
        CHECK(itc_chaincode_verify_payment_receipt(header.data, header.len, campaign,
                                                   keys + ITC_PUBLIC_KEY_LEN, proof.data,
                                                   proof.len, &paid, &amount));
        EXPECT(paid && amount == PRICE, "payment proven");
        status = itc_chaincode_verify_payment_receipt(header.data, header.len, campaign,
                                                      keys + 2 * ITC_PUBLIC_KEY_LEN, proof.data,
                                                      proof.len, &paid, &amount);
        EXPECT(status == ITC_STATUS_PROOF_REJECTED, "proof for another member rejected");
    }

    /* What was shared, and a contribution over budget. */
    {
        size_t charges = 0;
        uint8_t charged_campaign[ITC_HASH_LEN];
        uint32_t eps = 0, cells = 0, total = 0, left = 0;
        uint64_t at = 0;
        CHECK(itc_data_node_budget_history_len(nodes[0], &charges));
        CHECK(itc_data_node_budget_entry(nodes[0], 0, charged_campaign, &eps, &cells, &at));
        CHECK(itc_data_node_budget(nodes[0], &total, &left));
        EXPECT(charges == 1 && eps == 8000 && memcmp(charged_campaign, campaign, 32) == 0,
               "budget history shows the charge");
        EXPECT(total == BUDGET_MILLI && left == BUDGET_MILLI - 8000, "budget left");
        EXPECT(itc_data_node_budget_entry(nodes[0], 1, charged_campaign, &eps, &cells, &at) ==
                   ITC_STATUS_INVALID_ARGUMENT,
               "no second charge");
    }
    {
        /* A second campaign asks 10 epsilon; household 0 has 7 left. */
        ItcDataNode *stranger = NULL;
        ItcContribution *none = NULL;
        ItcOpenCampaignParams second;
        uint8_t second_id[ITC_HASH_LEN];
        uint32_t greedy[4] = {2500, 2500, 2500, 2500};
        ItcStatus status;
        second.contract = contract;
        second.schema = schema.data;
        second.schema_len = schema.len;
        second.epsilon_milli = greedy;
        second.epsilon_count = 4;
        second.min_cohort = 2;
        second.max_cohort = 4;
        second.price = PRICE;
        second.join_deadline = height + 3;
        second.contribute_deadline = height + 5;
        second.unmask_deadline = height + 7;
        second.label = 2;
        CHECK(itc_chaincode_open_tx_body(keys, &second, second_id, body.data, BIG, &body.len));
        CHECK(itc_dev_chain_submit_chaincode(chain, company, body.data, body.len, 0, &height));
        CHECK(itc_data_node_join_tx_body(nodes[0], second_id, body.data, BIG, &body.len));
        CHECK(itc_dev_chain_submit_chaincode(chain, users[0], body.data, body.len, 0, &height));
        CHECK(itc_dev_chain_advance_to(chain, second.join_deadline, 0, &height));
        CHECK(itc_dev_chain_campaign_record(chain, second_id, record.data, BIG, &record.len));
        CHECK(itc_dev_chain_campaign_members(chain, second_id, members.data, BIG, &members.len));
        status = itc_data_node_contribute(nodes[0], second_id, record.data, record.len,
                                          members.data, members.len, code.data, code.len, height,
                                          &none);
        EXPECT(status == ITC_STATUS_BUDGET_EXHAUSTED && none == NULL,
               "contribution over budget refused");
        /* A node with another mask key is not a member of the cohort. */
        CHECK(itc_data_node_new(keys + ITC_PUBLIC_KEY_LEN, BUDGET_MILLI, &stranger));
        status = itc_data_node_contribute(stranger, second_id, record.data, record.len,
                                          members.data, members.len, code.data, code.len, height,
                                          &none);
        EXPECT(status == ITC_STATUS_CHAIN_CODE_REFUSED && none == NULL,
               "a node that did not join is refused");
        CHECK(itc_data_node_free(stranger));
    }
    EXPECT(itc_data_node_free((ItcDataNode *)company) == ITC_STATUS_INVALID_HANDLE,
           "wrong-kind handle refused");

    for (i = 0; i < HOUSEHOLDS; i++) {
        CHECK(itc_data_node_free(nodes[i]));
        CHECK(itc_keypair_free(users[i]));
    }
    CHECK(itc_keypair_free(company));
    CHECK(itc_dev_chain_free(chain));
    free(code.data); free(schema.data); free(body.data); free(record.data);
    free(members.data); free(contributors.data); free(result_bytes.data);
    free(proof.data); free(header.data);
    if (failures != 0) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
