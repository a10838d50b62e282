/*
 * seal_firmware_demo.c: sealed readings and a firmware update through the
 * C ABI.
 *
 * A dev chain (single-process, simulated validators) stands in for the
 * network. The owner registers the lamp and publishes an X-Wing sealing key;
 * the lamp proves the key at a header it trusts, seals a reading to it and
 * carries it in a DAG record; the owner opens it, and the same payload moved
 * to another position fails to open. The manufacturer registers the lamp's
 * product and publishes firmware 1.1; the lamp checks the offer's proofs,
 * streams the image and installs it; a tampered image, an old version and a
 * revoked release are refused with their stable codes.
 *
 * Exits 0 when every step behaves as expected, 1 otherwise. Frees every
 * handle it creates, so valgrind reports no leaks (bindings/c/run_valgrind.sh).
 */
#include "itc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_ID 7u
#define PRODUCT 42u
#define V1_0 1000000u
#define V1_1 1001000u
#define IMAGE_LEN (64u * 1024u)
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

static uint8_t *big_buffer(void) {
    uint8_t *b = malloc(BIG);
    if (b == NULL) {
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

static void public_key(const ItcKeypair *keypair, uint8_t out[ITC_PUBLIC_KEY_LEN]) {
    CHECK(itc_keypair_public_key(keypair, out));
}

/* Commit one transaction as the next block; returns its height. */
static uint64_t commit(ItcDevChain *chain, ItcTransaction *tx, uint64_t time_ms) {
    uint64_t height = 0;
    const ItcTransaction *txs[1] = {tx};
    CHECK(itc_dev_chain_commit_block(chain, txs, 1, time_ms, &height));
    CHECK(itc_transaction_free(tx));
    return height;
}

static uint64_t nonce(ItcDevChain *chain, const ItcKeypair *sender) {
    uint8_t pk[ITC_PUBLIC_KEY_LEN];
    uint64_t n = 0;
    public_key(sender, pk);
    CHECK(itc_dev_chain_nonce(chain, pk, &n));
    return n;
}

/* Move a lamp to the chain's latest header. */
static void follow(ItcDevChain *chain, ItcLamp *lamp, uint64_t height, uint64_t now_ms,
                   uint8_t *buf) {
    size_t len = 0;
    ItcUpdateVerdict verdict;
    CHECK(itc_dev_chain_header_update(chain, height, buf, BIG, &len));
    CHECK(itc_lamp_update(lamp, buf, len, now_ms, &verdict));
    if (verdict.outcome != ITC_UPDATE_OUTCOME_SUCCESS) {
        fprintf(stderr, "header update refused\n");
        exit(1);
    }
}

/* Stream the image in 4 KiB chunks; returns the status of the first
 * failing call (update or finish), ITC_STATUS_OK if installed. */
static ItcStatus stream(ItcImageCheck *check, const uint8_t *image, size_t len,
                        ItcFirmwareManifest *installed) {
    size_t at;
    for (at = 0; at < len; at += 4096) {
        size_t n = len - at < 4096 ? len - at : 4096;
        ItcStatus status = itc_image_check_update(check, image + at, n);
        if (status != ITC_STATUS_OK) {
            return status;
        }
    }
    return itc_image_check_finish(check, installed);
}

int main(void) {
    ItcKeypair *owner = key(11), *lamp_key = key(12), *maker = key(14), *release_key = key(15);
    uint8_t owner_pk[ITC_PUBLIC_KEY_LEN], lamp_pk[ITC_PUBLIC_KEY_LEN], maker_pk[ITC_PUBLIC_KEY_LEN],
        release_pk[ITC_PUBLIC_KEY_LEN];
    uint8_t owner_seed[ITC_SEED_LEN];
    uint8_t accounts[2 * ITC_PUBLIC_KEY_LEN];
    uint64_t balances[2] = {10000, 10000};
    ItcDevChain *chain = NULL;
    ItcLightClient *client = NULL;
    ItcLamp *lamp = NULL;
    ItcTransaction *tx = NULL;
    ItcSealKey *owner_seal = NULL;
    uint8_t *buf = big_buffer(), *header = big_buffer(), *validators = big_buffer();
    uint8_t *image = big_buffer(), *sealed = big_buffer();
    uint8_t pinned[ITC_HASH_LEN], pairing[ITC_SIGNATURE_LEN], metadata[ITC_HASH_LEN] = {0};
    uint8_t seal_pk[ITC_SEAL_PUBLIC_KEY_MAX];
    size_t len = 0, header_len = 0, validators_len = 0, seal_pk_len = 0, sealed_len = 0;
    uint64_t height = 0;
    size_t i;

    public_key(owner, owner_pk);
    public_key(lamp_key, lamp_pk);
    public_key(maker, maker_pk);
    public_key(release_key, release_pk);
    memset(owner_seed, 11, sizeof owner_seed);
    memcpy(accounts, owner_pk, ITC_PUBLIC_KEY_LEN);
    memcpy(accounts + ITC_PUBLIC_KEY_LEN, maker_pk, ITC_PUBLIC_KEY_LEN);
    CHECK(itc_dev_chain_new(CHAIN_ID, 4, accounts, balances, 2, 1000, &chain));

    /* The lamp starts from the genesis header its firmware pins. */
    CHECK(itc_dev_chain_header(chain, 0, header, BIG, &header_len));
    CHECK(itc_dev_chain_validator_set(chain, 0, validators, BIG, &validators_len));
    CHECK(itc_dev_chain_header_hash(chain, 0, pinned));
    CHECK(itc_light_client_bootstrap(header, header_len, validators, validators_len, pinned,
                                     1209600000u, 10000, 1500, &client));
    CHECK(itc_lamp_new(lamp_pk, 60000, 30000, client, NULL, 0, &lamp));

    /* ---- Sealed readings ---- */
    CHECK(itc_pairing_signature(lamp_key, CHAIN_ID, owner_pk, 1, pairing));
    CHECK(itc_transaction_new_register_device(owner, CHAIN_ID, nonce(chain, owner), 1, lamp_pk, 1,
                                              metadata, pairing, &tx));
    commit(chain, tx, 2000);
    /* The owner's X-Wing key, derived from the owner's seed, published. */
    CHECK(itc_seal_key_derive(owner_seed, ITC_SEAL_SUITE_X_WING, 0, &owner_seal));
    CHECK(itc_seal_key_public_key(owner_seal, seal_pk, sizeof seal_pk, &seal_pk_len));
    CHECK(itc_transaction_new_publish_seal_key(owner, CHAIN_ID, nonce(chain, owner), 1, owner_pk,
                                               ITC_SEAL_SUITE_X_WING, seal_pk, seal_pk_len, 0, NULL,
                                               &tx));
    {
        ItcTransactionFields fields;
        CHECK(itc_transaction_fields(tx, &fields));
        EXPECT(fields.payload.kind == ITC_PAYLOAD_KIND_PUBLISH_SEAL_KEY &&
                   fields.payload.suite == ITC_SEAL_SUITE_X_WING && !fields.payload.has_signature,
               "seal key transaction inspected");
    }
    height = commit(chain, tx, 3000);
    follow(chain, lamp, height, 3100, buf);
    /* The lamp proves the owner's key against the header it trusts. */
    {
        ItcLightClient *view = NULL;
        ItcSealKeyRecord record;
        size_t state_len = 0;
        CHECK(itc_lamp_trusted_state(lamp, buf, BIG, &state_len));
        CHECK(itc_light_client_load(buf, state_len, 1209600000u, 10000, &view));
        CHECK(itc_dev_chain_seal_key_proof(chain, owner_pk, ITC_SEAL_SUITE_X_WING, buf, BIG, &len));
        CHECK(itc_light_client_verify_seal_key(view, owner_pk, ITC_SEAL_SUITE_X_WING, buf, len,
                                               &record));
        EXPECT(record.present && record.public_key_len == seal_pk_len &&
                   memcmp(record.public_key, seal_pk, seal_pk_len) == 0,
               "owner's sealing key proven");
        CHECK(itc_light_client_free(view));
    }
    {
        const char reading[] = "on, 4.2 W";
        const uint8_t *recipients[1] = {seal_pk};
        size_t recipient_lens[1];
        ItcSealContext context;
        ItcSealContext moved;
        uint8_t parents[2 * ITC_HASH_LEN];
        uint8_t opened[64];
        size_t opened_len = 0;
        ItcDagTransaction *record = NULL, *other = NULL;
        recipient_lens[0] = seal_pk_len;
        context.chain_id = CHAIN_ID;
        memcpy(context.device, lamp_pk, ITC_PUBLIC_KEY_LEN);
        context.sequence = 3;
        CHECK(itc_seal(ITC_SEAL_SUITE_X_WING, &context, recipients, recipient_lens, 1,
                       (const uint8_t *)reading, strlen(reading), sealed, BIG, &sealed_len));
        EXPECT(sealed_len == itc_sealed_len(ITC_SEAL_SUITE_X_WING, 1, strlen(reading)),
               "sealed size as announced");
        memset(parents, 1, ITC_HASH_LEN);
        memset(parents + ITC_HASH_LEN, 2, ITC_HASH_LEN);
        CHECK(itc_dag_transaction_new_sealed(lamp_key, CHAIN_ID, parents, 2, 3, sealed, sealed_len,
                                             &record));
        EXPECT(itc_dag_transaction_new_sealed(lamp_key, CHAIN_ID, parents, 2, 4, sealed, sealed_len,
                                              &other) == ITC_STATUS_INVALID_ARGUMENT &&
                   other == NULL,
               "sealed record at another sequence refused");
        CHECK(itc_dag_transaction_free(record));
        CHECK(itc_seal_open(owner_seal, &context, sealed, sealed_len, opened, sizeof opened,
                            &opened_len));
        EXPECT(opened_len == strlen(reading) && memcmp(opened, reading, opened_len) == 0,
               "owner opens the sealed reading");
        moved = context;
        moved.sequence = 4;
        EXPECT(itc_seal_open(owner_seal, &moved, sealed, sealed_len, opened, sizeof opened,
                             &opened_len) == ITC_STATUS_SEAL_REFUSED &&
                   itc_last_error_reason() == ITC_SEAL_REFUSAL_CONTEXT_MISMATCH,
               "moved reading refused (context mismatch)");
        sealed[sealed_len - 1] ^= 1;
        EXPECT(itc_seal_open(owner_seal, &context, sealed, sealed_len, opened, sizeof opened,
                             &opened_len) == ITC_STATUS_SEAL_REFUSED &&
                   itc_last_error_reason() == ITC_SEAL_REFUSAL_OPEN_FAILED,
               "altered reading refused (open failed)");
    }

    /* ---- Firmware 1.1 ---- */
    {
        ItcFirmwareManifest manifest, installed;
        ItcDeviceFirmware device;
        ItcImageCheck *check = NULL;
        uint8_t signature[ITC_SIGNATURE_LEN];
        size_t offer_len = 0;
        uint64_t now_ms = 0;
        for (i = 0; i < IMAGE_LEN; i++) {
            image[i] = (uint8_t)(i * 7 + 3);
        }
        CHECK(itc_transaction_new_register_product(maker, CHAIN_ID, nonce(chain, maker), 1, PRODUCT,
                                                   release_pk, &tx));
        commit(chain, tx, 4000);
        manifest.product = PRODUCT;
        manifest.version = V1_1;
        CHECK(itc_firmware_image_hash(image, IMAGE_LEN, manifest.image_hash));
        manifest.image_size = IMAGE_LEN;
        manifest.min_version = V1_0;
        CHECK(itc_firmware_manifest_sign(release_key, CHAIN_ID, &manifest, signature));
        CHECK(itc_transaction_new_publish_release(maker, CHAIN_ID, nonce(chain, maker), 1, &manifest,
                                                  signature, &tx));
        height = commit(chain, tx, 5000);
        follow(chain, lamp, height, 5100, buf);
        now_ms = 5200;

        device.product = PRODUCT;
        device.version = V1_0;
        device.image_size_max = 1u << 20;
        CHECK(itc_dev_chain_firmware_offer(chain, PRODUCT, buf, BIG, &offer_len));
        CHECK(itc_lamp_check_firmware_update(lamp, &device, buf, offer_len, now_ms, &check));
        EXPECT(stream(check, image, IMAGE_LEN, &installed) == ITC_STATUS_OK &&
                   installed.version == V1_1,
               "firmware 1.1 verified and installed");
        CHECK(itc_image_check_free(check));

        image[1000] ^= 0xFF;
        CHECK(itc_lamp_check_firmware_update(lamp, &device, buf, offer_len, now_ms, &check));
        EXPECT(stream(check, image, IMAGE_LEN, &installed) == ITC_STATUS_UPDATE_REFUSED &&
                   itc_last_error_reason() == ITC_UPDATE_REFUSAL_IMAGE_HASH_MISMATCH,
               "tampered image refused");
        CHECK(itc_image_check_free(check));
        image[1000] ^= 0xFF;

        device.version = V1_1;
        EXPECT(itc_lamp_check_firmware_update(lamp, &device, buf, offer_len, now_ms, &check) ==
                       ITC_STATUS_UPDATE_REFUSED &&
                   itc_last_error_reason() == ITC_UPDATE_REFUSAL_NOT_NEWER && check == NULL,
               "old version refused (not newer)");
        device.version = V1_0;

        CHECK(itc_transaction_new_revoke_release(maker, CHAIN_ID, nonce(chain, maker), 1, PRODUCT,
                                                 V1_1, &tx));
        height = commit(chain, tx, 6000);
        follow(chain, lamp, height, 6100, buf);
        now_ms = 6200;
        CHECK(itc_dev_chain_firmware_offer(chain, PRODUCT, buf, BIG, &offer_len));
        EXPECT(itc_lamp_check_firmware_update(lamp, &device, buf, offer_len, now_ms, &check) ==
                       ITC_STATUS_UPDATE_REFUSED &&
                   itc_last_error_reason() == ITC_UPDATE_REFUSAL_REVOKED,
               "revoked release refused");
        /* A lamp whose header is older than its freshness window refuses:
         * a relay withholding newer headers cannot get an update through. */
        now_ms = 6000 + 60001;
        EXPECT(itc_lamp_check_firmware_update(lamp, &device, buf, offer_len, now_ms, &check) ==
                       ITC_STATUS_UPDATE_REFUSED &&
                   itc_last_error_reason() == ITC_UPDATE_REFUSAL_STALE_HEADER,
               "update at a stale header refused");
    }

    CHECK(itc_seal_key_free(owner_seal));
    CHECK(itc_lamp_free(lamp));
    CHECK(itc_light_client_free(client));
    CHECK(itc_dev_chain_free(chain));
    CHECK(itc_keypair_free(owner));
    CHECK(itc_keypair_free(lamp_key));
    CHECK(itc_keypair_free(maker));
    CHECK(itc_keypair_free(release_key));
    free(buf);
    free(header);
    free(validators);
    free(image);
    free(sealed);
    if (failures != 0) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
