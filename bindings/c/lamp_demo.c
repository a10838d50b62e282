/*
 * lamp_demo.c: the lamp's side of the smart-lighting flow, through the C ABI.
 *
 * A dev chain (single-process, simulated validators) stands in for the
 * network. The owner registers the lamp (with the lamp's pairing signature)
 * and grants a guest the right to switch it. The lamp, a light client,
 * follows headers and checks signed commands offline: a fresh command is
 * allowed; a replayed, a forged and a stale command are denied; owner and
 * guest have independent replay state (a guest whose clock runs ahead does
 * not lock the owner out); a recorded command delivered after the command
 * window and an empty action are denied; after the owner revokes, the guest
 * is denied; a grant made before the lamp was transferred away and back
 * stays dead; the lamp follows the chain across an epoch boundary with a new
 * validator set; after a trust period without headers the owner recovers
 * it; a too-old pinned header is refused at bootstrap.
 *
 * What a sender puts in a command: the permission bits it needs (at least
 * one) and its clock in milliseconds since the Unix epoch, strictly rising
 * from one of its commands to this lamp to the next.
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
#define COMMAND_WINDOW_MS 30000u

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
    case ITC_DENY_REASON_REPLAYED: return "replayed";
    case ITC_DENY_REASON_BAD_SIGNATURE: return "bad signature";
    case ITC_DENY_REASON_BAD_PROOF: return "bad proof";
    case ITC_DENY_REASON_NOT_GRANTED: return "not granted";
    case ITC_DENY_REASON_REVOKED: return "revoked";
    case ITC_DENY_REASON_EXPIRED: return "expired";
    case ITC_DENY_REASON_INSUFFICIENT_PERMISSION: return "insufficient permission";
    case ITC_DENY_REASON_COMMAND_FROM_FUTURE: return "command from the future";
    case ITC_DENY_REASON_COMMAND_TOO_OLD: return "command too old";
    case ITC_DENY_REASON_EMPTY_ACTION: return "empty action";
    case ITC_DENY_REASON_BELOW_REPLAY_FLOOR: return "below the replay floor";
    default: return "unknown";
    }
}

static const char *invalid_reason_name(uint32_t reason) {
    switch (reason) {
    case ITC_INVALID_REASON_NONE: return "none";
    case ITC_INVALID_REASON_WRONG_CHAIN: return "wrong chain";
    case ITC_INVALID_REASON_NON_INCREASING_HEIGHT: return "non-increasing height";
    case ITC_INVALID_REASON_NON_MONOTONIC_TIME: return "time goes backwards";
    case ITC_INVALID_REASON_HEADER_FROM_FUTURE: return "header from the future";
    case ITC_INVALID_REASON_TRUSTED_STATE_EXPIRED: return "trusted state expired";
    case ITC_INVALID_REASON_CERTIFICATE_MISMATCH: return "certificate mismatch";
    case ITC_INVALID_REASON_PREVIOUS_HASH_MISMATCH: return "previous hash mismatch";
    case ITC_INVALID_REASON_UNEXPECTED_VALIDATOR_SET: return "unexpected validator set";
    case ITC_INVALID_REASON_VALIDATOR_SET_MISMATCH: return "validator set mismatch";
    case ITC_INVALID_REASON_MISSING_VALIDATOR_SET: return "missing validator set";
    case ITC_INVALID_REASON_INVALID_SIGNATURE: return "invalid signature";
    case ITC_INVALID_REASON_NOT_ENOUGH_SIGNATURES: return "not enough signatures";
    case ITC_INVALID_REASON_MALFORMED_CERTIFICATE: return "malformed certificate";
    case ITC_INVALID_REASON_CONFLICTING_HEADER: return "conflicting header (fork evidence)";
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

/* Sign a command: the sender's clock `time_ms`, the permission bits `action`. */
static void sign(const ItcKeypair *sender, const uint8_t lamp_pk[ITC_PUBLIC_KEY_LEN],
                 uint32_t action, uint64_t time_ms, Buffer *out) {
    CHECK(itc_command_sign(sender, CHAIN_ID, lamp_pk, action, time_ms, out->data,
                           sizeof out->data, &out->len));
}

static void command_proof(const ItcDevChain *chain, const uint8_t lamp_pk[ITC_PUBLIC_KEY_LEN],
                          const uint8_t sender_pk[ITC_PUBLIC_KEY_LEN], Buffer *out) {
    CHECK(itc_dev_chain_command_proof(chain, lamp_pk, sender_pk, out->data, sizeof out->data,
                                      &out->len));
}

/* Commit one transaction as the next block and let the lamp verify it. */
static uint64_t commit_one(ItcDevChain *chain, const ItcTransaction *tx, uint64_t time_ms) {
    uint64_t height = 0;
    CHECK(itc_dev_chain_commit_block(chain, &tx, 1, time_ms, &height));
    return height;
}

static ItcUpdateVerdict follow(const ItcLamp *lamp, const ItcDevChain *chain, uint64_t height,
                               uint64_t now_ms) {
    Buffer update;
    ItcUpdateVerdict verdict;
    CHECK(itc_dev_chain_header_update(chain, height, update.data, sizeof update.data, &update.len));
    CHECK(itc_lamp_update(lamp, update.data, update.len, now_ms, &verdict));
    if (verdict.outcome == ITC_UPDATE_OUTCOME_INVALID) {
        printf("     update %llu invalid: %s\n", (unsigned long long)height,
               invalid_reason_name(verdict.invalid_reason));
    }
    return verdict;
}

static void verify_grant(const ItcLightClient *client, const ItcDevChain *chain,
                         const uint8_t lamp_pk[ITC_PUBLIC_KEY_LEN],
                         const uint8_t guest_pk[ITC_PUBLIC_KEY_LEN], ItcGrant *grant) {
    Buffer device_proof, grant_proof;
    CHECK(itc_dev_chain_device_proof(chain, lamp_pk, device_proof.data, sizeof device_proof.data,
                                     &device_proof.len));
    CHECK(itc_dev_chain_grant_proof(chain, lamp_pk, guest_pk, grant_proof.data,
                                    sizeof grant_proof.data, &grant_proof.len));
    CHECK(itc_light_client_verify_grant(client, lamp_pk, guest_pk, device_proof.data,
                                        device_proof.len, grant_proof.data, grant_proof.len,
                                        grant));
}

int main(void) {
    uint8_t seed[ITC_SEED_LEN];
    ItcKeypair *owner = NULL, *lamp_key = NULL, *guest = NULL, *lamp_key_again = NULL,
               *buyer = NULL;
    uint8_t owner_pk[ITC_PUBLIC_KEY_LEN], lamp_pk[ITC_PUBLIC_KEY_LEN], guest_pk[ITC_PUBLIC_KEY_LEN],
        buyer_pk[ITC_PUBLIC_KEY_LEN];
    uint64_t now = 1000; /* the lamp's clock, ms since the Unix epoch */

    /* --- Keys: the lamp keeps only its seed in flash. ----------------------- */
    seed_of(seed, 1);
    CHECK(itc_keypair_from_seed(seed, &owner));
    CHECK(itc_keypair_generate(&lamp_key));
    seed_of(seed, 3);
    CHECK(itc_keypair_from_seed(seed, &guest));
    seed_of(seed, 4);
    CHECK(itc_keypair_from_seed(seed, &buyer));
    CHECK(itc_keypair_public_key(owner, owner_pk));
    CHECK(itc_keypair_public_key(lamp_key, lamp_pk));
    CHECK(itc_keypair_public_key(guest, guest_pk));
    CHECK(itc_keypair_public_key(buyer, buyer_pk));

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

    /* --- The network: a dev chain with the owner and a buyer funded. -------- */
    uint8_t accounts[2 * ITC_PUBLIC_KEY_LEN];
    memcpy(accounts, owner_pk, ITC_PUBLIC_KEY_LEN);
    memcpy(accounts + ITC_PUBLIC_KEY_LEN, buyer_pk, ITC_PUBLIC_KEY_LEN);
    uint64_t balances[2] = {1000000, 1000000};
    ItcDevChain *chain = NULL;
    CHECK(itc_dev_chain_new(CHAIN_ID, 4, accounts, balances, 2, now, &chain));

    /* --- The lamp bootstraps from the genesis header pinned in its firmware. - */
    Buffer header, validators;
    uint8_t pinned[ITC_HASH_LEN];
    CHECK(itc_dev_chain_header(chain, 0, header.data, sizeof header.data, &header.len));
    CHECK(itc_dev_chain_validator_set(chain, 0, validators.data, sizeof validators.data,
                                      &validators.len));
    CHECK(itc_dev_chain_header_hash(chain, 0, pinned));
    ItcLightClient *client = NULL;
    now = 1500;
    CHECK(itc_light_client_bootstrap(header.data, header.len, validators.data, validators.len,
                                     pinned, TRUST_PERIOD_MS, CLOCK_DRIFT_MS, now, &client));

    /* Save to flash and load back, as after a reboot. */
    Buffer flash;
    ItcLightClient *rebooted = NULL;
    CHECK(itc_light_client_save(client, flash.data, sizeof flash.data, &flash.len));
    CHECK(itc_light_client_load(flash.data, flash.len, TRUST_PERIOD_MS, CLOCK_DRIFT_MS, &rebooted));
    printf("     trusted state: %zu bytes in flash\n", flash.len);
    ItcLamp *lamp = NULL;
    /* A new lamp: empty replay table. */
    CHECK(itc_lamp_new(lamp_pk, FRESHNESS_MS, COMMAND_WINDOW_MS, rebooted, NULL, 0, &lamp));

    /* --- The owner registers the lamp and grants the guest. ----------------- */
    uint8_t pairing[ITC_SIGNATURE_LEN], metadata[ITC_HASH_LEN] = {0};
    /* The lamp signs its owner's key and its security level (1). */
    CHECK(itc_pairing_signature(lamp_key, CHAIN_ID, owner_pk, 1, pairing));
    ItcTransaction *txs[8] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
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
    now = 2000;
    CHECK(itc_dev_chain_commit_block(chain, (const ItcTransaction *const *)received, 2, now,
                                     &height));

    /* --- The lamp follows the chain to the new header. ---------------------- */
    Buffer update;
    ItcUpdateVerdict update_verdict;
    CHECK(itc_dev_chain_header_update(chain, height, update.data, sizeof update.data, &update.len));
    now = 2500;
    CHECK(itc_lamp_update(lamp, update.data, update.len, now, &update_verdict));
    EXPECT(update_verdict.outcome == ITC_UPDATE_OUTCOME_SUCCESS, "lamp verified header 1");

    /* --- The guest switches the lamp on. ------------------------------------ */
    Buffer command, proof_at_1;
    now = 3000;
    sign(guest, lamp_pk, PERMISSION_SWITCH, now, &command);
    command_proof(chain, lamp_pk, guest_pk, &proof_at_1);
    ItcCommandFields decoded;
    CHECK(itc_command_decode(command.data, command.len, &decoded));
    printf("     command: action %u, time %llu ms, %zu bytes, proof %zu bytes\n", decoded.action,
           (unsigned long long)decoded.time_ms, command.len, proof_at_1.len);
    EXPECT(memcmp(decoded.grantee, guest_pk, ITC_PUBLIC_KEY_LEN) == 0 &&
               memcmp(decoded.device, lamp_pk, ITC_PUBLIC_KEY_LEN) == 0 && decoded.time_ms == now,
           "command decoded: from the guest, for this lamp, with the guest's time");

    /* A call the library refuses (no place for the verdict) changes nothing:
     * the command is not recorded, so it is still allowed below. */
    ItcStatus refused = itc_lamp_handle(lamp, now, NULL, 0, command.data, command.len,
                                        proof_at_1.data, proof_at_1.len, NULL);
    bool stored = true;
    uint64_t stored_time = 0;
    CHECK(itc_lamp_last_time(lamp, guest_pk, &stored, &stored_time));
    EXPECT(refused == ITC_STATUS_NULL_POINTER && !stored,
           "a call with no place for its verdict is refused before the lamp acts");

    ItcLampVerdict verdict = handle(lamp, now, &command, &proof_at_1);
    EXPECT(verdict.allowed && !verdict.has_update, "fresh command allowed");

    verdict = handle(lamp, now + 100, &command, &proof_at_1);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_REPLAYED,
           "replayed command denied (replayed)");

    Buffer forged;
    now = 3200;
    sign(guest, lamp_pk, PERMISSION_SWITCH, now, &forged);
    forged.data[forged.len - 64 - 8] ^= 0x01; /* change the time without re-signing */
    verdict = handle(lamp, now, &forged, &proof_at_1);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_BAD_SIGNATURE,
           "forged command denied (bad signature)");

    bool found = false;
    uint64_t last = 0;
    CHECK(itc_lamp_last_time(lamp, guest_pk, &found, &last));
    EXPECT(found && last == 3000, "refused commands do not move the guest's replay state");

    /* --- Two senders, independent replay state. ----------------------------- */
    Buffer owner_proof, ahead, too_far, owner_command;
    now = 3300;
    command_proof(chain, lamp_pk, owner_pk, &owner_proof);
    sign(guest, lamp_pk, PERMISSION_SWITCH, now + COMMAND_WINDOW_MS, &ahead);
    verdict = handle(lamp, now, &ahead, &proof_at_1);
    EXPECT(verdict.allowed, "guest whose clock runs a whole window ahead allowed");
    sign(guest, lamp_pk, PERMISSION_SWITCH, now + COMMAND_WINDOW_MS + 10000, &too_far);
    verdict = handle(lamp, now, &too_far, &proof_at_1);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_COMMAND_FROM_FUTURE,
           "guest further ahead than the window denied (command from the future)");
    sign(owner, lamp_pk, PERMISSION_SWITCH, now, &owner_command);
    verdict = handle(lamp, now, &owner_command, &owner_proof);
    EXPECT(verdict.allowed, "owner not locked out by the guest's time (own replay state)");
    verdict = handle(lamp, now + 1, &owner_command, &owner_proof);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_REPLAYED,
           "owner's command replayed denied (replayed)");

    Buffer replay_table;
    CHECK(itc_lamp_replay_table(lamp, replay_table.data, sizeof replay_table.data,
                                &replay_table.len));
    printf("     replay table: %zu bytes to persist\n", replay_table.len);

    /* --- A recorded command delivered after the window; an empty action. ---- */
    Buffer recorded, empty;
    sign(owner, lamp_pk, PERMISSION_SWITCH, 3400, &recorded);
    now = 3400 + COMMAND_WINDOW_MS + 1;
    verdict = handle(lamp, now, &recorded, &owner_proof);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_COMMAND_TOO_OLD,
           "recorded command delivered after the window denied (command too old)");
    sign(owner, lamp_pk, 0, now, &empty);
    verdict = handle(lamp, now, &empty, &owner_proof);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_EMPTY_ACTION,
           "command asking for no permission denied (empty action)");

    /* A rebooted lamp keeps its replay table. */
    ItcLamp *lamp_again = NULL;
    CHECK(itc_lamp_new(lamp_pk, FRESHNESS_MS, COMMAND_WINDOW_MS, rebooted, replay_table.data,
                       replay_table.len, &lamp_again));
    CHECK(itc_lamp_last_time(lamp_again, owner_pk, &found, &last));
    EXPECT(found && last == 3300, "replay table restored from its bytes after a reboot");
    CHECK(itc_lamp_free(lamp_again));

    /* --- The owner revokes; the lamp sees the newer header. ----------------- */
    uint64_t nonce = 0;
    CHECK(itc_dev_chain_nonce(chain, owner_pk, &nonce));
    CHECK(itc_transaction_new_revoke_access(owner, CHAIN_ID, nonce, 1, lamp_pk, guest_pk, &txs[2]));
    now = 34000;
    height = commit_one(chain, txs[2], now);
    CHECK(itc_dev_chain_header_update(chain, height, update.data, sizeof update.data, &update.len));
    CHECK(itc_lamp_update(lamp, update.data, update.len, now + 100, &update_verdict));
    EXPECT(update_verdict.outcome == ITC_UPDATE_OUTCOME_SUCCESS, "lamp verified header 2");

    Buffer later, proof_at_2;
    now = 34200;
    sign(guest, lamp_pk, PERMISSION_SWITCH, now, &later);
    verdict = handle(lamp, now, &later, &proof_at_1);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_STALE_HEADER,
           "command proven against the pre-revocation header denied (stale header)");
    command_proof(chain, lamp_pk, guest_pk, &proof_at_2);
    verdict = handle(lamp, now + 100, &later, &proof_at_2);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_REVOKED,
           "command after revocation denied (revoked)");

    /* The light client proves the grant's absence on its own, too. */
    CHECK(itc_light_client_update(client, update.data, update.len, now, &update_verdict));
    ItcGrant grant;
    verify_grant(client, chain, lamp_pk, guest_pk, &grant);
    EXPECT(!grant.present && !grant.live, "light client proves the grant is gone");

    Buffer device_proof;
    ItcDeviceRecord record;
    CHECK(itc_dev_chain_device_proof(chain, lamp_pk, device_proof.data, sizeof device_proof.data,
                                     &device_proof.len));
    CHECK(itc_light_client_verify_device(client, lamp_pk, device_proof.data, device_proof.len,
                                         &record));
    EXPECT(record.present && memcmp(record.owner, owner_pk, ITC_PUBLIC_KEY_LEN) == 0 &&
               record.ownership_seq == 0,
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

    /* --- A grant does not survive the lamp going away and coming back. ------ */
    Buffer proof_now;
    CHECK(itc_transaction_new_grant_access(owner, CHAIN_ID, nonce + 1, 1, lamp_pk, guest_pk,
                                           PERMISSION_SWITCH, 1000, &txs[3]));
    now = 35000;
    height = commit_one(chain, txs[3], now);
    EXPECT(follow(lamp, chain, height, now + 10).outcome == ITC_UPDATE_OUTCOME_SUCCESS,
           "lamp verified the new grant's header");
    now = 35100;
    sign(guest, lamp_pk, PERMISSION_SWITCH, now, &later);
    command_proof(chain, lamp_pk, guest_pk, &proof_now);
    verdict = handle(lamp, now, &later, &proof_now);
    EXPECT(verdict.allowed, "guest granted again: allowed");
    CHECK(itc_transaction_new_transfer_device(owner, CHAIN_ID, nonce + 2, 1, lamp_pk, buyer_pk,
                                              &txs[4]));
    height = commit_one(chain, txs[4], 36000);
    CHECK(itc_transaction_new_transfer_device(buyer, CHAIN_ID, 0, 1, lamp_pk, owner_pk, &txs[5]));
    height = commit_one(chain, txs[5], 37000);
    now = 37100;
    EXPECT(follow(lamp, chain, height, now).outcome == ITC_UPDATE_OUTCOME_SUCCESS,
           "lamp verified the header after the transfer away and back");
    sign(guest, lamp_pk, PERMISSION_SWITCH, now, &later);
    command_proof(chain, lamp_pk, guest_pk, &proof_now);
    verdict = handle(lamp, now, &later, &proof_now);
    EXPECT(!verdict.allowed && verdict.deny_reason == ITC_DENY_REASON_NOT_GRANTED,
           "grant made before the lamp was transferred away and back denied (not granted)");
    CHECK(itc_dev_chain_header_update(chain, height, update.data, sizeof update.data, &update.len));
    CHECK(itc_light_client_update(client, update.data, update.len, now, &update_verdict));
    verify_grant(client, chain, lamp_pk, guest_pk, &grant);
    EXPECT(grant.present && !grant.live && grant.ownership_seq == 0 &&
               memcmp(grant.granted_by, owner_pk, ITC_PUBLIC_KEY_LEN) == 0,
           "light client: the old grant is present, by the owner, but not live");

    /* --- Epoch boundary: the chain's validator set changes. ----------------- */
    Buffer new_set, old_set, set_after;
    CHECK(itc_dev_chain_validator_set(chain, height, old_set.data, sizeof old_set.data,
                                      &old_set.len));
    CHECK(itc_dev_chain_rotate_validators(chain, new_set.data, sizeof new_set.data, &new_set.len));
    CHECK(itc_dev_chain_nonce(chain, owner_pk, &nonce));
    CHECK(itc_transaction_new_transfer(owner, CHAIN_ID, nonce, 1, buyer_pk, 5, &txs[6]));
    uint64_t announced = commit_one(chain, txs[6], 38000);
    CHECK(itc_transaction_new_transfer(owner, CHAIN_ID, nonce + 1, 1, buyer_pk, 5, &txs[7]));
    uint64_t first_new = commit_one(chain, txs[7], 39000);
    CHECK(itc_dev_chain_validator_set(chain, first_new, set_after.data, sizeof set_after.data,
                                      &set_after.len));
    EXPECT(set_after.len == new_set.len && memcmp(set_after.data, new_set.data, new_set.len) == 0 &&
               (old_set.len != new_set.len || memcmp(old_set.data, new_set.data, new_set.len) != 0),
           "block after the boundary signed by a new validator set");
    now = 39100;
    EXPECT(follow(lamp, chain, announced, now).outcome == ITC_UPDATE_OUTCOME_SUCCESS &&
               follow(lamp, chain, first_new, now).outcome == ITC_UPDATE_OUTCOME_SUCCESS,
           "lamp follows the chain across the epoch boundary");
    sign(owner, lamp_pk, PERMISSION_SWITCH, now, &later);
    command_proof(chain, lamp_pk, owner_pk, &proof_now);
    verdict = handle(lamp, now, &later, &proof_now);
    EXPECT(verdict.allowed, "owner's command allowed under the new validator set");

    /* --- A trust period without headers; the owner recovers the lamp. ------- */
    uint64_t lamp_height = 0;
    CHECK(itc_lamp_height(lamp, &lamp_height));
    now += TRUST_PERIOD_MS + 60000;
    uint64_t advanced = 0;
    CHECK(itc_dev_chain_advance_to(chain, first_new + 1, now, &advanced));
    update_verdict = follow(lamp, chain, advanced, now + 10);
    EXPECT(update_verdict.outcome == ITC_UPDATE_OUTCOME_INVALID &&
               update_verdict.invalid_reason == ITC_INVALID_REASON_TRUSTED_STATE_EXPIRED,
           "after a trust period of silence headers no longer verify (trusted state expired)");
    /* The lamp proved its owner from the commands it handled; the owner's app
     * sends the registration proof at the new header. */
    Buffer trusted_header, recovery_proof, recovery;
    CHECK(itc_lamp_trusted_header(lamp, trusted_header.data, sizeof trusted_header.data,
                                  &trusted_header.len));
    CHECK(itc_dev_chain_device_proof(chain, lamp_pk, recovery_proof.data, sizeof recovery_proof.data,
                                 &recovery_proof.len));
    CHECK(itc_dev_chain_header_update(chain, advanced, update.data, sizeof update.data, &update.len));
    CHECK(itc_owner_recovery_sign(guest, lamp_pk, trusted_header.data, trusted_header.len,
                                  update.data, update.len, recovery_proof.data, recovery_proof.len,
                                  recovery.data, sizeof recovery.data, &recovery.len));
    status = itc_lamp_recover(lamp, recovery.data, recovery.len, now + 20);
    EXPECT(status == ITC_STATUS_RECOVERY_REJECTED &&
               itc_last_error_reason() == ITC_RECOVERY_ERROR_BAD_SIGNATURE,
           "a recovery signed by someone other than the owner is refused (bad signature)");
    printf("     message: %s\n", itc_last_error_message());
    CHECK(itc_owner_recovery_sign(owner, lamp_pk, trusted_header.data, trusted_header.len,
                                  update.data, update.len, recovery_proof.data, recovery_proof.len,
                                  recovery.data, sizeof recovery.data, &recovery.len));
    CHECK(itc_lamp_recover(lamp, recovery.data, recovery.len, now + 20));
    CHECK(itc_lamp_height(lamp, &lamp_height));
    EXPECT(lamp_height == advanced, "the owner's recovery brings the lamp back to a recent header");
    now += 100;
    sign(owner, lamp_pk, PERMISSION_SWITCH, now, &later);
    command_proof(chain, lamp_pk, owner_pk, &proof_now);
    verdict = handle(lamp, now, &later, &proof_now);
    EXPECT(verdict.allowed, "owner's command allowed after the recovery");

    /* A lamp whose pinned header is older than the trust period cannot start. */
    ItcLightClient *too_old = NULL;
    status = itc_light_client_bootstrap(header.data, header.len, validators.data, validators.len,
                                        pinned, TRUST_PERIOD_MS, CLOCK_DRIFT_MS, now, &too_old);
    EXPECT(status == ITC_STATUS_BOOTSTRAP_REJECTED && too_old == NULL &&
               itc_last_error_reason() == ITC_BOOTSTRAP_ERROR_HEADER_TOO_OLD,
           "bootstrap from a pinned header older than the trust period refused (header too old)");
    printf("     message: %s\n", itc_last_error_message());

    /* Every reason code the lamp and the light client can report has a name. */
    int unnamed = 0;
    for (uint32_t code = 1; code <= ITC_DENY_REASON_BELOW_REPLAY_FLOOR; code++) {
        if (strcmp(deny_reason_name(code), "unknown") == 0) unnamed++;
    }
    for (uint32_t code = 1; code <= ITC_INVALID_REASON_CONFLICTING_HEADER; code++) {
        if (strcmp(invalid_reason_name(code), "unknown") == 0) unnamed++;
    }
    EXPECT(unnamed == 0 && ITC_DENY_REASON_BELOW_REPLAY_FLOOR == 15 &&
               ITC_INVALID_REASON_CONFLICTING_HEADER == 14,
           "deny reasons 1..15 and update reasons 1..14 all named");

    /* --- Free everything. --------------------------------------------------- */
    for (int i = 0; i < 8; i++) CHECK(itc_transaction_free(txs[i]));
    for (int i = 0; i < 2; i++) CHECK(itc_transaction_free(received[i]));
    CHECK(itc_lamp_free(lamp));
    CHECK(itc_light_client_free(rebooted));
    CHECK(itc_light_client_free(client));
    CHECK(itc_dev_chain_free(chain));
    CHECK(itc_keypair_free(owner));
    CHECK(itc_keypair_free(lamp_key));
    CHECK(itc_keypair_free(lamp_key_again));
    CHECK(itc_keypair_free(guest));
    CHECK(itc_keypair_free(buyer));

    if (failures != 0) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("lamp demo: all checks passed\n");
    return 0;
}
