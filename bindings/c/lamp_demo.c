/*
 * lamp_demo.c: the lamp's side of the smart-lighting flow, through the C ABI.
 *
 * A dev chain (single-process, simulated validators) stands in for the
 * network. The owner registers the lamp (with the lamp's pairing signature)
 * and grants a guest the right to switch it. The lamp, a light client,
 * follows headers and checks the guest's signed commands offline: a fresh
 * command is allowed; a replayed, a forged and a stale command are denied;
 * after the owner revokes, the guest is denied.
 *
 * Exits 0 when every step behaves as expected, 1 otherwise. Frees every
 * handle it creates, so valgrind reports no leaks (bindings/c/run_valgrind.sh).
 */
#include "itc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_ID 7u
#define BUFFER_SIZE 16384u
#define PERMISSION_SWITCH 2u
#define FRESHNESS_MS 60000u
#define TRUST_PERIOD_MS (14ull * 24 * 3600 * 1000)
#define CLOCK_DRIFT_MS 10000u

static int failures = 0;

/* Abort the step on an unexpected status, printing the library's message. */
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
    uint8_t data[BUFFER_SIZE];
    size_t len;
} Buffer;

static const char *deny_reason_name(uint32_t reason) {
    switch (reason) {
    case ITC_DENY_REASON_NONE: return "none";
    case ITC_DENY_REASON_WRONG_CHAIN: return "wrong chain";
    case ITC_DENY_REASON_WRONG_DEVICE: return "wrong device";
    case ITC_DENY_REASON_STALE_HEADER: return "stale header";
    case ITC_DENY_REASON_UNKNOWN_HEADER: return "unknown header";
    case ITC_DENY_REASON_REPLAYED_COUNTER: return "replayed counter";
    case ITC_DENY_REASON_BAD_SIGNATURE: return "bad signature";
    case ITC_DENY_REASON_BAD_PROOF: return "bad proof";
    case ITC_DENY_REASON_NOT_GRANTED: return "not granted";
    case ITC_DENY_REASON_REVOKED: return "revoked";
    case ITC_DENY_REASON_EXPIRED: return "expired";
    case ITC_DENY_REASON_INSUFFICIENT_PERMISSION: return "insufficient permission";
    default: return "unknown";
    }
}

/* Encode a transaction as it would travel over the network, decode it on
 * the other side, and check its signature: the receiving end's view. */
static ItcTransaction *over_the_wire(const ItcTransaction *tx) {
    Buffer wire;
    ItcTransaction *received = NULL;
    CHECK(itc_transaction_encode(tx, wire.data, sizeof wire.data, &wire.len));
    CHECK(itc_transaction_decode(wire.data, wire.len, &received));
    CHECK(itc_transaction_verify_signature(received));
    return received;
}

static void seed_of(uint8_t seed[ITC_SEED_LEN], uint8_t byte) {
    memset(seed, byte, ITC_SEED_LEN);
}

static ItcLampVerdict handle(const ItcLamp *lamp, uint64_t now_ms, const Buffer *command,
                             const Buffer *proof) {
    ItcLampVerdict verdict;
    CHECK(itc_lamp_handle(lamp, now_ms, NULL, 0, command->data, command->len, proof->data,
                          proof->len, &verdict));
    printf("     lamp: %s%s%s\n", verdict.allowed ? "allowed" : "denied",
           verdict.allowed ? "" : ", reason: ", verdict.allowed ? "" : deny_reason_name(verdict.deny_reason));
    return verdict;
}

int main(void) {
    uint8_t seed[ITC_SEED_LEN];
    ItcKeypair *owner = NULL, *lamp_key = NULL, *guest = NULL, *lamp_key_again = NULL;
    uint8_t owner_pk[ITC_PUBLIC_KEY_LEN], lamp_pk[ITC_PUBLIC_KEY_LEN], guest_pk[ITC_PUBLIC_KEY_LEN];

    /* --- Keys: the lamp keeps only its seed in flash. ----------------------- */
    seed_of(seed, 1);
    CHECK(itc_keypair_from_seed(seed, &owner));
    CHECK(itc_keypair_generate(&lamp_key));
    seed_of(seed, 3);
    CHECK(itc_keypair_from_seed(seed, &guest));
    CHECK(itc_keypair_public_key(owner, owner_pk));
    CHECK(itc_keypair_public_key(lamp_key, lamp_pk));
    CHECK(itc_keypair_public_key(guest, guest_pk));

    uint8_t exported[ITC_SEED_LEN], again_pk[ITC_PUBLIC_KEY_LEN];
    CHECK(itc_keypair_seed(lamp_key, exported));
    CHECK(itc_keypair_from_seed(exported, &lamp_key_again));
    CHECK(itc_keypair_public_key(lamp_key_again, again_pk));
    EXPECT(memcmp(again_pk, lamp_pk, ITC_PUBLIC_KEY_LEN) == 0,
           "lamp key re-imported from its exported seed");

    /* Refusals come back as statuses with a message, never as crashes. */
    ItcKeypair *nothing = NULL;
    ItcStatus status = itc_keypair_from_seed(NULL, &nothing);
    EXPECT(status == ITC_STATUS_NULL_POINTER && nothing == NULL,
           "a null seed is refused with ITC_STATUS_NULL_POINTER");
    printf("     message: %s\n", itc_last_error_message());

    /* --- The network: a dev chain with the owner funded. -------------------- */
    uint64_t balance = 1000000;
    ItcDevChain *chain = NULL;
    CHECK(itc_dev_chain_new(CHAIN_ID, 4, owner_pk, &balance, 1, 1000, &chain));

    /* --- The lamp bootstraps from the genesis header pinned in its firmware. - */
    Buffer header, validators;
    uint8_t pinned[ITC_HASH_LEN];
    CHECK(itc_dev_chain_header(chain, 0, header.data, sizeof header.data, &header.len));
    CHECK(itc_dev_chain_validator_set(chain, 0, validators.data, sizeof validators.data,
                                      &validators.len));
    CHECK(itc_dev_chain_header_hash(chain, 0, pinned));
    ItcLightClient *client = NULL;
    CHECK(itc_light_client_bootstrap(header.data, header.len, validators.data, validators.len,
                                     pinned, TRUST_PERIOD_MS, CLOCK_DRIFT_MS, &client));

    /* Save to flash and load back, as after a reboot. */
    Buffer flash;
    ItcLightClient *rebooted = NULL;
    CHECK(itc_light_client_save(client, flash.data, sizeof flash.data, &flash.len));
    CHECK(itc_light_client_load(flash.data, flash.len, TRUST_PERIOD_MS, CLOCK_DRIFT_MS, &rebooted));
    printf("     trusted state: %zu bytes in flash\n", flash.len);
    ItcLamp *lamp = NULL;
    CHECK(itc_lamp_new(lamp_pk, FRESHNESS_MS, rebooted, 0, &lamp));

    /* --- The owner registers the lamp and grants the guest. ----------------- */
    uint8_t pairing[ITC_SIGNATURE_LEN], metadata[ITC_HASH_LEN] = {0};
    /* The lamp signs its owner's key and its security level (1). */
    CHECK(itc_pairing_signature(lamp_key, CHAIN_ID, owner_pk, 1, pairing));
    ItcTransaction *txs[3] = {NULL, NULL, NULL};
    CHECK(itc_transaction_new_register_device(owner, CHAIN_ID, 0, 1, lamp_pk, 1, metadata,
                                              pairing, &txs[0]));
    CHECK(itc_transaction_new_grant_access(owner, CHAIN_ID, 1, 1, lamp_pk, guest_pk,
                                           PERMISSION_SWITCH, 1000, &txs[1]));
    ItcTransaction *received[2] = {over_the_wire(txs[0]), over_the_wire(txs[1])};
    ItcTransactionFields fields;
    CHECK(itc_transaction_fields(received[1], &fields));
    EXPECT(fields.payload.kind == ITC_PAYLOAD_KIND_GRANT_ACCESS &&
               fields.payload.permissions == PERMISSION_SWITCH &&
               memcmp(fields.payload.account, guest_pk, ITC_PUBLIC_KEY_LEN) == 0,
           "grant decoded with its fields after the round trip");
    uint64_t height = 0;
    CHECK(itc_dev_chain_commit_block(chain, (const ItcTransaction *const *)received, 2, 2000,
                                     &height));

    /* --- The lamp follows the chain to the new header. ---------------------- */
    Buffer update;
    ItcUpdateVerdict update_verdict;
    CHECK(itc_dev_chain_header_update(chain, height, update.data, sizeof update.data, &update.len));
    CHECK(itc_lamp_update(lamp, update.data, update.len, 2500, &update_verdict));
    EXPECT(update_verdict.outcome == ITC_UPDATE_OUTCOME_SUCCESS, "lamp verified header 1");

    /* --- The guest switches the lamp on. ------------------------------------ */
    Buffer command, proof_at_1;
    CHECK(itc_command_sign(guest, CHAIN_ID, lamp_pk, PERMISSION_SWITCH, 1, command.data,
                           sizeof command.data, &command.len));
    CHECK(itc_dev_chain_command_proof(chain, lamp_pk, guest_pk, proof_at_1.data,
                                      sizeof proof_at_1.data, &proof_at_1.len));
    ItcCommandFields decoded;
    CHECK(itc_command_decode(command.data, command.len, &decoded));
    printf("     command: action %u, counter %llu, %zu bytes, proof %zu bytes\n", decoded.action,
           (unsigned long long)decoded.counter, command.len, proof_at_1.len);
    EXPECT(memcmp(decoded.grantee, guest_pk, ITC_PUBLIC_KEY_LEN) == 0 &&
               memcmp(decoded.device, lamp_pk, ITC_PUBLIC_KEY_LEN) == 0,
           "command decoded: from the guest, for this lamp");

    ItcLampVerdict verdict = handle(lamp, 3000, &command, &proof_at_1);
    EXPECT(verdict.allowed && verdict.new_counter == 1, "fresh command allowed");

    verdict = handle(lamp, 3100, &command, &proof_at_1);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_REPLAYED_COUNTER,
           "replayed command denied (replayed counter)");

    Buffer forged;
    CHECK(itc_command_sign(guest, CHAIN_ID, lamp_pk, PERMISSION_SWITCH, 2, forged.data,
                           sizeof forged.data, &forged.len));
    forged.data[forged.len - 64 - 8] ^= 0x01; /* raise the counter without re-signing */
    verdict = handle(lamp, 3200, &forged, &proof_at_1);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_BAD_SIGNATURE,
           "forged command denied (bad signature)");

    uint64_t counter = 0;
    CHECK(itc_lamp_last_counter(lamp, &counter));
    EXPECT(counter == 1, "refused commands do not move the replay counter");

    /* --- The owner revokes; the lamp sees the newer header. ----------------- */
    uint64_t nonce = 0;
    CHECK(itc_dev_chain_nonce(chain, owner_pk, &nonce));
    CHECK(itc_transaction_new_revoke_access(owner, CHAIN_ID, nonce, 1, lamp_pk, guest_pk, &txs[2]));
    CHECK(itc_dev_chain_commit_block(chain, (const ItcTransaction *const *)&txs[2], 1, 4000,
                                     &height));
    CHECK(itc_dev_chain_header_update(chain, height, update.data, sizeof update.data, &update.len));
    CHECK(itc_lamp_update(lamp, update.data, update.len, 4100, &update_verdict));
    EXPECT(update_verdict.outcome == ITC_UPDATE_OUTCOME_SUCCESS, "lamp verified header 2");

    Buffer later, proof_at_2;
    CHECK(itc_command_sign(guest, CHAIN_ID, lamp_pk, PERMISSION_SWITCH, 3, later.data,
                           sizeof later.data, &later.len));
    verdict = handle(lamp, 4200, &later, &proof_at_1);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_STALE_HEADER,
           "command proven against the pre-revocation header denied (stale header)");
    CHECK(itc_dev_chain_command_proof(chain, lamp_pk, guest_pk, proof_at_2.data,
                                      sizeof proof_at_2.data, &proof_at_2.len));
    verdict = handle(lamp, 4300, &later, &proof_at_2);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_REVOKED,
           "command after revocation denied (revoked)");

    /* The light client proves the grant's absence on its own, too. */
    CHECK(itc_light_client_update(client, update.data, update.len, 4400, &update_verdict));
    Buffer grant_proof;
    ItcGrant grant;
    CHECK(itc_dev_chain_grant_proof(chain, lamp_pk, guest_pk, grant_proof.data,
                                    sizeof grant_proof.data, &grant_proof.len));
    CHECK(itc_light_client_verify_grant(client, lamp_pk, guest_pk, grant_proof.data,
                                        grant_proof.len, &grant));
    EXPECT(!grant.present, "light client proves the grant is gone");

    Buffer device_proof;
    ItcDeviceRecord record;
    CHECK(itc_dev_chain_device_proof(chain, lamp_pk, device_proof.data, sizeof device_proof.data,
                                     &device_proof.len));
    CHECK(itc_light_client_verify_device(client, lamp_pk, device_proof.data, device_proof.len,
                                         &record));
    EXPECT(record.present && memcmp(record.owner, owner_pk, ITC_PUBLIC_KEY_LEN) == 0,
           "light client proves the lamp's registration and owner");

    Buffer inclusion;
    uint8_t proven_hash[ITC_HASH_LEN], revoke_hash[ITC_HASH_LEN];
    CHECK(itc_dev_chain_transaction_proof(chain, txs[2], height, inclusion.data,
                                          sizeof inclusion.data, &inclusion.len));
    CHECK(itc_light_client_verify_transaction(client, inclusion.data, inclusion.len, proven_hash));
    CHECK(itc_transaction_hash(txs[2], revoke_hash));
    EXPECT(memcmp(proven_hash, revoke_hash, ITC_HASH_LEN) == 0,
           "light client proves the revocation is in the trusted block");
    inclusion.data[36] ^= 0x01; /* the transaction's nonce: another transaction */
    status = itc_light_client_verify_transaction(client, inclusion.data, inclusion.len, proven_hash);
    EXPECT(status == ITC_STATUS_PROOF_REJECTED, "a tampered inclusion proof is rejected");

    /* --- Free everything. --------------------------------------------------- */
    for (int i = 0; i < 3; i++) CHECK(itc_transaction_free(txs[i]));
    for (int i = 0; i < 2; i++) CHECK(itc_transaction_free(received[i]));
    CHECK(itc_lamp_free(lamp));
    CHECK(itc_light_client_free(rebooted));
    CHECK(itc_light_client_free(client));
    CHECK(itc_dev_chain_free(chain));
    CHECK(itc_keypair_free(owner));
    CHECK(itc_keypair_free(lamp_key));
    CHECK(itc_keypair_free(lamp_key_again));
    CHECK(itc_keypair_free(guest));

    if (failures != 0) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("lamp demo: all checks passed\n");
    return 0;
}
