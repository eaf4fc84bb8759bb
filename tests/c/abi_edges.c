/* Bad input across the C ABI: NULL pointers, invalid UTF-8, short buffers, a corrupt ledger
 * file, unknown names. Every call must return its documented status and never crash.
 * Usage: abi_edges SCRATCH_DIR. Prints "N passed, M failed". */
#include "o2okit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
        } else {                                                              \
            failed++;                                                         \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
        }                                                                     \
    } while (0)

int main(int argc, char **argv) {
    static const uint8_t secret[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    o2o_keyring *keyring = NULL;
    o2o_store *store = NULL;
    o2o_decision *decision = NULL;
    o2o_ledger *ledger = NULL;
    char small[4], message[256], path[512];
    size_t needed = 0;
    uint64_t id = 0;
    o2o_basket_line line = {1, 10000};
    FILE *file;

    if (argc < 2) return 2;

    /* Version: header and library agree. */
    EXPECT(strcmp(o2o_version(), O2OKIT_VERSION) == 0);
    EXPECT(o2o_version_number() == O2OKIT_VERSION_NUMBER);
    EXPECT(O2OKIT_VERSION_NUMBER ==
           O2OKIT_VERSION_MAJOR * 10000 + O2OKIT_VERSION_MINOR * 100 + O2OKIT_VERSION_PATCH);
    /* Every status has a name, for logs. */
    EXPECT(strcmp(o2o_status_name(O2O_STATUS_OK), "ok") == 0);
    EXPECT(strcmp(o2o_status_name(O2O_STATUS_LEDGER_BUSY), "ledger_busy") == 0);
    EXPECT(strcmp(o2o_status_name(O2O_STATUS_QR_FRAME_TOO_LARGE), "qr_frame_too_large") == 0);
    EXPECT(strcmp(o2o_status_name(99999), "unknown") == 0);

    /* NULL pointers. */
    EXPECT(o2o_keyring_new(1, 1, NULL, 32, &keyring) == O2O_STATUS_NULL_ARGUMENT);
    EXPECT(o2o_keyring_new(1, 1, secret, 32, NULL) == O2O_STATUS_NULL_ARGUMENT);
    EXPECT(o2o_keyring_activate(NULL, 1) == O2O_STATUS_NULL_ARGUMENT);
    EXPECT(o2o_store_new(1, 1, NULL, "44", &store) == O2O_STATUS_NULL_ARGUMENT);
    EXPECT(o2o_voucher_verify(NULL, NULL, NULL, 0, NULL, NULL, 0, NULL, 0, &decision) ==
           O2O_STATUS_NULL_ARGUMENT);
    EXPECT(o2o_ledger_open(NULL, 1, &ledger) == O2O_STATUS_NULL_ARGUMENT);
    EXPECT(o2o_ledger_redeem(NULL, NULL, NULL, -1, NULL) == O2O_STATUS_NULL_ARGUMENT);
    /* A NULL decision is never "not refused". */
    EXPECT(o2o_decision_rejection(NULL) == O2O_REJECTION_NO_DECISION);
    EXPECT(o2o_decision_rejection(NULL) != O2O_REJECTION_NONE);
    EXPECT(strcmp(o2o_rejection_name(O2O_REJECTION_NO_DECISION), "no_decision") == 0);
    EXPECT(strcmp(o2o_rejection_text(O2O_REJECTION_BELOW_MINIMUM_SPEND),
                  "The spend that counts is below the minimum.") == 0);
    EXPECT(strcmp(o2o_rejection_name(4242), "unknown") == 0);
    EXPECT(o2o_rejection_text(4242) != NULL && o2o_rejection_text(O2O_REJECTION_NONE) != NULL);
    EXPECT(!o2o_decision_accepted(NULL));
    EXPECT(o2o_decision_voucher_id(NULL, &id) == O2O_STATUS_NULL_ARGUMENT);
    /* Keys with roles, derived keys and key sets. */
    {
        static const uint8_t garbage[80] = {'O', '2', 'O', 'K', 'S', 1, 6, 0, 0, 0};
        /* RFC 8032, test 1: a valid Ed25519 public key. */
        static const uint8_t rfc_public[32] = {
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
            0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
        uint8_t derived_a[32], derived_b[32], again[32];
        uint64_t version = 99;
        o2o_keyring *chain = NULL, *loaded = NULL;
        EXPECT(o2o_derive_key(secret, 32, 88, O2O_KEY_ROLE_CHECK_IN, 1001, derived_a) ==
               O2O_STATUS_OK);
        EXPECT(o2o_derive_key(secret, 32, 88, O2O_KEY_ROLE_CHECK_IN, 1001, again) == O2O_STATUS_OK);
        EXPECT(o2o_derive_key(secret, 32, 88, O2O_KEY_ROLE_CHECK_IN, 1002, derived_b) ==
               O2O_STATUS_OK);
        EXPECT(memcmp(derived_a, again, 32) == 0 && memcmp(derived_a, derived_b, 32) != 0);
        EXPECT(o2o_derive_key(secret, 31, 88, O2O_KEY_ROLE_CHECK_IN, 1001, again) ==
               O2O_STATUS_KEY_TOO_SHORT);
        EXPECT(o2o_derive_key(secret, 32, 88, 77, 1001, again) == O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_derive_key(NULL, 32, 88, O2O_KEY_ROLE_CHECK_IN, 1001, again) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_derive_key(secret, 32, 88, O2O_KEY_ROLE_CHECK_IN, 1001, NULL) ==
               O2O_STATUS_NULL_ARGUMENT);

        EXPECT(o2o_keyring_new_empty(88, NULL) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_keyring_new_empty(88, &chain) == O2O_STATUS_OK);
        EXPECT(!o2o_keyring_can_sign(chain) && !o2o_keyring_can_sign(NULL));
        EXPECT(o2o_keyring_add_role_key(chain, 101, O2O_KEY_ROLE_CHECK_IN, 1001, O2O_KEY_SCHEME_HMAC,
                                        derived_a, 32) == O2O_STATUS_OK);
        EXPECT(o2o_keyring_add_role_key(chain, 101, O2O_KEY_ROLE_CHECK_IN, 1001, O2O_KEY_SCHEME_HMAC,
                                        derived_a, 32) == O2O_STATUS_KEY_DUPLICATE);
        EXPECT(o2o_keyring_add_role_key(chain, 102, 9, 0, O2O_KEY_SCHEME_HMAC, derived_a, 32) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_keyring_add_role_key(chain, 102, O2O_KEY_ROLE_MEMBERS, 0, 9, derived_a, 32) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_keyring_add_role_key(chain, 102, O2O_KEY_ROLE_MEMBERS, 0,
                                        O2O_KEY_SCHEME_ED25519, derived_a, 31) ==
               O2O_STATUS_KEY_INVALID);
        EXPECT(o2o_keyring_add_role_key(chain, 102, O2O_KEY_ROLE_MEMBERS, 0,
                                        O2O_KEY_SCHEME_ED25519_PUBLIC, rfc_public, 32) ==
               O2O_STATUS_OK);
        /* A public key verifies and never signs. */
        EXPECT(o2o_keyring_activate(chain, 102) == O2O_STATUS_KEY_CANNOT_SIGN);
        EXPECT(o2o_keyring_add_role_key(NULL, 103, O2O_KEY_ROLE_ALL, 0, O2O_KEY_SCHEME_HMAC,
                                        derived_a, 32) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_keyring_activate(chain, 101) == O2O_STATUS_OK);
        EXPECT(o2o_keyring_can_sign(chain));
        /* A check-in key signs no voucher. */
        EXPECT(o2o_voucher_issue_json(
                   chain,
                   "{\"id\":1,\"merchant\":88,\"campaign\":null,\"currency\":\"CNY\","
                   "\"benefit\":{\"type\":\"amount_off\",\"minor\":100},\"member\":null,"
                   "\"time\":{\"valid_from\":null,\"valid_until\":null,\"weekdays\":null,"
                   "\"hours\":[]},\"region\":{\"stores\":[],\"regions\":[],\"geofence\":null},"
                   "\"conditions\":{\"min_spend_minor\":0,\"categories\":\"all\","
                   "\"min_tier\":null,\"new_members_only\":false,\"not_combinable\":false},"
                   "\"state\":{\"max_uses\":1,\"max_uses_per_member\":null}}",
                   NULL, 0, &needed) == O2O_STATUS_KEY_NOT_PERMITTED);
        /* A check-in screen's key: its store's codes, verified by the same key; no other
         * store's. */
        {
            char code[128];
            o2o_check_in scanned;
            EXPECT(o2o_check_in_code_text(chain, 1001, 1781496000, 30, code, sizeof code, NULL) ==
                   O2O_STATUS_OK);
            EXPECT(o2o_check_in_verify(chain, code, 1781496005, 30, 1, 1001, &scanned) ==
                   O2O_STATUS_OK);
            EXPECT(scanned.rejection == O2O_REJECTION_NONE && scanned.store_id == 1001);
            EXPECT(o2o_check_in_code_text(chain, 1002, 1781496000, 30, code, sizeof code, NULL) ==
                   O2O_STATUS_KEY_NOT_PERMITTED);
            EXPECT(o2o_check_in_code_text(chain, 1001, 1781496000, 0, code, sizeof code, NULL) ==
                   O2O_STATUS_INVALID_ARGUMENT);
            EXPECT(o2o_check_in_code_text(NULL, 1001, 1781496000, 30, code, sizeof code, NULL) ==
                   O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_check_in_code_text(chain, 1001, 1781496000, 30, code, 4, &needed) ==
                   O2O_STATUS_INSUFFICIENT_BUFFER && needed > 4);
        }
        EXPECT(o2o_keyring_key_set_version(chain, &version) == O2O_STATUS_OK && version == 0);
        EXPECT(o2o_keyring_key_set_version(chain, NULL) == O2O_STATUS_NULL_ARGUMENT);

        /* Deny lists: NULLs, a bad root key, garbage; the keyring keeps no list (version 0). */
        EXPECT(o2o_keyring_load_deny_list(NULL, garbage, 12, rfc_public, 32) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_keyring_load_deny_list(chain, NULL, 12, rfc_public, 32) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_keyring_load_deny_list(chain, garbage, 12, rfc_public, 31) ==
               O2O_STATUS_KEY_INVALID);
        EXPECT(o2o_keyring_load_deny_list(chain, garbage, 12, rfc_public, 32) ==
               O2O_STATUS_DENY_LIST_MALFORMED);
        EXPECT(o2o_keyring_apply_deny_list_delta(chain, garbage, sizeof garbage, rfc_public, 32) ==
               O2O_STATUS_DENY_LIST_MALFORMED);
        version = 99;
        EXPECT(o2o_keyring_deny_list_version(chain, &version) == O2O_STATUS_OK && version == 0);
        EXPECT(o2o_keyring_deny_list_version(chain, NULL) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_keyring_deny_list_version(NULL, &version) == O2O_STATUS_NULL_ARGUMENT);

        /* Key sets: NULLs, a bad root key, garbage. Nothing is handed out. */
        EXPECT(o2o_keyring_from_key_set(88, NULL, 80, derived_a, 32, 1781496000, 0, &loaded) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_keyring_from_key_set(88, garbage, sizeof garbage, derived_a, 31, 1781496000,
                                        0, &loaded) == O2O_STATUS_KEY_INVALID);
        EXPECT(o2o_keyring_from_key_set(88, garbage, 12, rfc_public, 32, 1781496000, 0, &loaded) ==
               O2O_STATUS_KEY_SET_MALFORMED);
        /* A well-framed set whose signature is not the root's. */
        EXPECT(o2o_keyring_from_key_set(88, garbage, sizeof garbage, rfc_public, 32, 1781496000,
                                        0, &loaded) == O2O_STATUS_KEY_SET_BAD_SIGNATURE);
        EXPECT(loaded == NULL);
        EXPECT(o2o_keyring_update_key_set(chain, garbage, sizeof garbage, derived_a, 32,
                                          1781496000) == O2O_STATUS_KEY_NOT_PERMITTED);
        o2o_keyring_free(chain);
    }
    /* Freeing NULL is fine. */
    o2o_keyring_free(NULL);
    o2o_store_free(NULL);
    o2o_decision_free(NULL);
    o2o_ledger_close(NULL);

    /* PostgreSQL: a NULL connection string, and a server nobody runs. A library built
     * without the `postgres` feature says so; one built with it finds no server. Either way
     * no ledger comes out. */
    EXPECT(o2o_ledger_open_pg(NULL, 1, &ledger) == O2O_STATUS_NULL_ARGUMENT);
    ledger = NULL;
    {
        o2o_status pg = o2o_ledger_open_pg("host=127.0.0.1 port=1 user=o2okit password=s3cret", 1,
                                           &ledger);
        EXPECT(pg == O2O_STATUS_LEDGER_UNSUPPORTED || pg == O2O_STATUS_LEDGER_UNAVAILABLE);
    }
    EXPECT(ledger == NULL);
    EXPECT(o2o_last_error(message, sizeof message, NULL) == O2O_STATUS_OK);
    EXPECT(strstr(message, "s3cret") == NULL);

    /* The last error message, with the size convention. */
    EXPECT(o2o_ledger_open(NULL, 1, &ledger) == O2O_STATUS_NULL_ARGUMENT);
    EXPECT(o2o_last_error(NULL, 0, &needed) == O2O_STATUS_INSUFFICIENT_BUFFER);
    EXPECT(needed == strlen("path is NULL") + 1);
    EXPECT(o2o_last_error(small, sizeof small, &needed) == O2O_STATUS_INSUFFICIENT_BUFFER);
    EXPECT(o2o_last_error(message, sizeof message, &needed) == O2O_STATUS_OK);
    EXPECT(strcmp(message, "path is NULL") == 0);
    /* A NULL buffer with a capacity is a NULL argument, not an invented size; needed may be
     * NULL in every buffer call. */
    needed = 12345;
    EXPECT(o2o_last_error(NULL, 16, &needed) == O2O_STATUS_NULL_ARGUMENT);
    EXPECT(needed == 12345);
    EXPECT(o2o_last_error(message, sizeof message, NULL) == O2O_STATUS_OK);
    EXPECT(strcmp(message, "path is NULL") == 0);

    /* Short keys, unknown zones, bad region codes, invalid UTF-8. */
    EXPECT(o2o_keyring_new(1, 1, secret, 31, &keyring) == O2O_STATUS_KEY_TOO_SHORT);
    EXPECT(keyring == NULL);
    EXPECT(o2o_keyring_new(1, 1, secret, 32, &keyring) == O2O_STATUS_OK);
    EXPECT(o2o_keyring_add_key(keyring, 1, secret, 32) == O2O_STATUS_KEY_DUPLICATE);
    EXPECT(o2o_keyring_retire(keyring, 1) == O2O_STATUS_KEY_RETIRING_ACTIVE);
    EXPECT(o2o_keyring_activate(keyring, 9) == O2O_STATUS_KEY_UNKNOWN);
    EXPECT(o2o_store_new(1, 1, "Mars/Olympus_Mons", "44", &store) == O2O_STATUS_INVALID_PLACE);
    EXPECT(o2o_store_new(1, 1, "Asia/Shanghai", "44-03", &store) == O2O_STATUS_INVALID_PLACE);
    EXPECT(o2o_store_new(1, 1, "Asia/\xff\xfe", "44", &store) == O2O_STATUS_INVALID_UTF8);
    EXPECT(store == NULL);
    /* A 64 KiB zone name: refused, with a message of bounded size. */
    {
        static char zone[65536];
        memset(zone, 'A', sizeof zone - 1);
        zone[sizeof zone - 1] = 0;
        EXPECT(o2o_store_new(1, 1, zone, "44", &store) == O2O_STATUS_INVALID_PLACE);
        EXPECT(o2o_last_error(NULL, 0, &needed) == O2O_STATUS_INSUFFICIENT_BUFFER);
        EXPECT(needed < 400 && needed <= O2O_MAX_ERROR_MESSAGE + 1);
    }
    EXPECT(o2o_store_new(1, 1, "Asia/Shanghai", "440305", &store) == O2O_STATUS_OK);
    EXPECT(o2o_store_set_location(store, 91000000, 0) == O2O_STATUS_INVALID_PLACE);

    /* Garbage voucher text is a refusal, not an error. */
    EXPECT(o2o_voucher_verify(keyring, store, "\xff\xfe garbage", 0, "CNY", &line, 1, NULL, 0,
                              &decision) == O2O_STATUS_INVALID_UTF8);
    EXPECT(o2o_voucher_verify(keyring, store, "NOT-A-VOUCHER", 1750000000, "CNY", &line, 1, NULL,
                              0, &decision) == O2O_STATUS_OK);
    EXPECT(!o2o_decision_accepted(decision));
    EXPECT(o2o_decision_rejection(decision) == O2O_REJECTION_MALFORMED);
    EXPECT(strcmp(o2o_rejection_name(o2o_decision_rejection(decision)), "malformed") == 0);
    EXPECT(o2o_decision_voucher_id(decision, &id) == O2O_STATUS_INVALID_ARGUMENT);
    {
        o2o_benefit benefit;
        EXPECT(o2o_decision_benefit(decision, &benefit) == O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_decision_valid_until(decision, message, sizeof message, NULL) ==
               O2O_STATUS_INVALID_ARGUMENT);
    }
    EXPECT(o2o_voucher_verify(keyring, store, "0000", 0, "C$Y", &line, 1, NULL, 0, &decision) ==
           O2O_STATUS_INVALID_MONEY);
    EXPECT(o2o_voucher_verify(keyring, store, "0000", 0, "CNY", NULL, 3, NULL, 0, &decision) ==
           O2O_STATUS_NULL_ARGUMENT);

    /* Issuing: bad JSON, and a short buffer reports the size it needs. */
    EXPECT(o2o_voucher_issue_json(keyring, "{not json", small, sizeof small, &needed) ==
           O2O_STATUS_VOUCHER_JSON);
    {
        const char *json =
            "{\"id\":7,\"merchant\":1,\"campaign\":null,\"currency\":\"CNY\","
            "\"benefit\":{\"type\":\"amount_off\",\"minor\":500},\"member\":null,"
            "\"time\":{\"valid_from\":null,\"valid_until\":null,\"weekdays\":null,\"hours\":[]},"
            "\"region\":{\"stores\":[],\"regions\":[],\"geofence\":null},"
            "\"conditions\":{\"min_spend_minor\":0,\"categories\":\"all\",\"min_tier\":null,"
            "\"new_members_only\":false,\"not_combinable\":false},"
            "\"state\":{\"max_uses\":1,\"max_uses_per_member\":null}}";
        const char *dated_json =
            "{\"id\":8,\"merchant\":1,\"currency\":\"CNY\","
            "\"benefit\":{\"type\":\"percent_off\",\"basis_points\":1500,\"cap_minor\":3000},"
            "\"time\":{\"valid_until\":\"2026-01-01T00:00\",\"hours\":[]},"
            "\"region\":{\"stores\":[],\"regions\":[]},"
            "\"conditions\":{\"min_spend_minor\":0,\"categories\":\"all\","
            "\"new_members_only\":false,\"not_combinable\":false},"
            "\"state\":{\"max_uses\":1}}";
        const char *misspelt_json =
            "{\"id\":9,\"merchant\":1,\"currency\":\"CNY\","
            "\"benefit\":{\"type\":\"amount_off\",\"minor\":500},"
            "\"time\":{\"valid_till\":\"2026-01-01T00:00\",\"hours\":[]},"
            "\"region\":{\"stores\":[],\"regions\":[]},"
            "\"conditions\":{\"min_spend_minor\":0,\"categories\":\"all\","
            "\"new_members_only\":false,\"not_combinable\":false},"
            "\"state\":{\"max_uses\":1}}";
        char text[256];
        EXPECT(o2o_voucher_issue_json(keyring, json, small, sizeof small, &needed) ==
               O2O_STATUS_INSUFFICIENT_BUFFER);
        EXPECT(needed > sizeof small && needed < sizeof text);
        EXPECT(o2o_voucher_issue_json(keyring, json, text, sizeof text, &needed) == O2O_STATUS_OK);
        EXPECT(strlen(text) + 1 == needed);
        o2o_decision_free(decision);
        decision = NULL;
        EXPECT(o2o_voucher_verify(keyring, store, text, 1750000000, "CNY", &line, 1, NULL, 0,
                                  &decision) == O2O_STATUS_OK);
        EXPECT(o2o_decision_accepted(decision));
        EXPECT(o2o_decision_discount_minor(decision) == 500);
        EXPECT(o2o_decision_voucher_id(decision, &id) == O2O_STATUS_OK && id == 7);
        /* What a receipt prints. */
        {
            o2o_benefit benefit;
            o2o_decision *dated = NULL;
            char until[32];
            EXPECT(o2o_decision_benefit(decision, &benefit) == O2O_STATUS_OK);
            EXPECT(benefit.kind == O2O_BENEFIT_KIND_AMOUNT_OFF && benefit.amount_minor == 500 &&
                   benefit.basis_points == 0 && benefit.quantity == 0);
            EXPECT(o2o_decision_benefit(NULL, &benefit) == O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_decision_benefit(decision, NULL) == O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_decision_valid_until(decision, until, sizeof until, NULL) == O2O_STATUS_OK);
            EXPECT(until[0] == 0); /* never expires */
            EXPECT(o2o_voucher_issue_json(keyring, dated_json, text, sizeof text, NULL) ==
                   O2O_STATUS_OK);
            EXPECT(o2o_voucher_verify(keyring, store, text, 1750000000, "CNY", &line, 1, NULL, 0,
                                      &dated) == O2O_STATUS_OK);
            EXPECT(o2o_decision_benefit(dated, &benefit) == O2O_STATUS_OK);
            EXPECT(benefit.kind == O2O_BENEFIT_KIND_PERCENT_OFF && benefit.basis_points == 1500 &&
                   benefit.cap_minor == 3000 && benefit.amount_minor == 0);
            EXPECT(o2o_decision_valid_until(dated, until, 4, &needed) ==
                   O2O_STATUS_INSUFFICIENT_BUFFER);
            EXPECT(needed == strlen("2026-01-01T00:00") + 1);
            EXPECT(o2o_decision_valid_until(dated, until, sizeof until, &needed) ==
                   O2O_STATUS_OK);
            EXPECT(strcmp(until, "2026-01-01T00:00") == 0);
            o2o_decision_free(dated);
        }
        /* A misspelt field is refused, by name; a NULL buffer with a capacity too. */
        EXPECT(o2o_voucher_issue_json(keyring, misspelt_json, text, sizeof text, &needed) ==
               O2O_STATUS_VOUCHER_JSON);
        EXPECT(o2o_last_error(message, sizeof message, NULL) == O2O_STATUS_OK);
        EXPECT(strstr(message, "valid_till") != NULL);
        EXPECT(o2o_voucher_issue_json(keyring, json, NULL, 64, &needed) ==
               O2O_STATUS_NULL_ARGUMENT);
    }

    /* QR and check-in codes. */
    {
        size_t side = 0, count = 0;
        uint8_t modules[21 * 21];
        o2o_check_in check_in;
        static const uint8_t blank[64 * 64] = {0};
        EXPECT(o2o_qr_render_svg("HELLO", 9, 4, NULL, 0, &needed) == O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_qr_render_svg("HELLO", O2O_QR_EC_M, 4, small, sizeof small, &needed) ==
               O2O_STATUS_INSUFFICIENT_BUFFER);
        EXPECT(needed > sizeof small);
        EXPECT(o2o_qr_modules("HELLO", O2O_QR_EC_M, NULL, 0, &needed, &side) ==
               O2O_STATUS_INSUFFICIENT_BUFFER);
        EXPECT(side == 21 && needed == 21 * 21);
        EXPECT(o2o_qr_modules("HELLO", O2O_QR_EC_M, modules, sizeof modules, &needed, &side) ==
               O2O_STATUS_OK);
        EXPECT(modules[0] == 1 && modules[6] == 1 && modules[7] == 0); /* finder edge, separator */
        EXPECT(o2o_qr_decode_luma(NULL, 0, 8, 8, 8, NULL, 0, &needed, &count) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_qr_decode_luma(blank, sizeof blank, 64, 64, 32, NULL, 0, &needed, &count) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_qr_decode_luma(blank, sizeof blank, 64, 64, 64, message, sizeof message,
                                  &needed, &count) == O2O_STATUS_OK);
        EXPECT(count == 0 && message[0] == 0);
        EXPECT(o2o_qr_decode_luma(blank, sizeof blank, 64, 64, 64, NULL, 8, &needed, &count) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_qr_modules("HELLO", O2O_QR_EC_M, NULL, 8, NULL, &side) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_qr_modules("HELLO", O2O_QR_EC_M, modules, sizeof modules, NULL, &side) ==
               O2O_STATUS_OK);
        {
            /* 56 megapixels: refused before any of it is copied or scanned. */
            size_t w = 8000, h = 7000;
            uint8_t *huge = (uint8_t *)calloc(w * h, 1);
            if (huge != NULL) {
                EXPECT(o2o_qr_decode_luma(huge, w * h, w, h, w, NULL, 0, &needed, &count) ==
                       O2O_STATUS_QR_FRAME_TOO_LARGE);
                free(huge);
            }
        }
        {
            /* A kiosk's decoder: the 21×21 code above at 4 pixels a module, NULLs, a short
             * buffer, an index past the count, and a bad frame that leaves it usable. */
            enum { SCALE = 4, QUIET = 4, SIDE = (21 + 2 * QUIET) * SCALE };
            static uint8_t frame[SIDE * SIDE];
            o2o_qr_decoder *decoder = NULL;
            size_t x, y, found = 99;
            char code_text[8];
            for (y = 0; y < SIDE; y++) {
                for (x = 0; x < SIDE; x++) {
                    size_t mx = x / SCALE, my = y / SCALE;
                    int dark = mx >= QUIET && my >= QUIET && mx < QUIET + 21 && my < QUIET + 21 &&
                               modules[(my - QUIET) * 21 + (mx - QUIET)] == 1;
                    frame[y * SIDE + x] = dark ? 0 : 255;
                }
            }
            EXPECT(o2o_qr_decoder_new(NULL) == O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_qr_decoder_new(&decoder) == O2O_STATUS_OK);
            EXPECT(o2o_qr_decoder_decode(NULL, frame, sizeof frame, SIDE, SIDE, SIDE, &found) ==
                   O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_qr_decoder_decode(decoder, frame, sizeof frame, SIDE, SIDE, SIDE, NULL) ==
                   O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_qr_decoder_decode(decoder, NULL, 0, SIDE, SIDE, SIDE, &found) ==
                   O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_qr_decoder_decode(decoder, frame, sizeof frame, SIDE, SIDE, SIDE, &found) ==
                   O2O_STATUS_OK);
            EXPECT(found == 1);
            EXPECT(o2o_qr_decoder_text(decoder, 0, code_text, 3, &needed) ==
                   O2O_STATUS_INSUFFICIENT_BUFFER);
            EXPECT(needed == 6);
            EXPECT(o2o_qr_decoder_text(decoder, 0, code_text, sizeof code_text, &needed) ==
                   O2O_STATUS_OK);
            EXPECT(strcmp(code_text, "HELLO") == 0);
            EXPECT(o2o_qr_decoder_text(decoder, 1, code_text, sizeof code_text, &needed) ==
                   O2O_STATUS_INVALID_ARGUMENT);
            EXPECT(o2o_qr_decoder_text(NULL, 0, code_text, sizeof code_text, &needed) ==
                   O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_qr_decoder_decode(decoder, frame, 10, SIDE, SIDE, SIDE, &found) ==
                   O2O_STATUS_INVALID_ARGUMENT);
            EXPECT(o2o_qr_decoder_text(decoder, 0, code_text, sizeof code_text, &needed) ==
                   O2O_STATUS_INVALID_ARGUMENT);
            EXPECT(o2o_qr_decoder_decode(decoder, blank, sizeof blank, 64, 64, 64, &found) ==
                   O2O_STATUS_OK);
            EXPECT(found == 0);
            EXPECT(o2o_qr_decoder_decode(decoder, frame, sizeof frame, SIDE, SIDE, SIDE, &found) ==
                   O2O_STATUS_OK);
            EXPECT(found == 1);
            o2o_qr_decoder_free(decoder);
            o2o_qr_decoder_free(NULL);
        }
        EXPECT(o2o_check_in_verify(keyring, "GARBAGE", 1750000000, 30, 1, 0, &check_in) ==
               O2O_STATUS_OK);
        EXPECT(check_in.rejection == O2O_REJECTION_MALFORMED &&
               check_in.presence == O2O_PRESENCE_NONE);
        EXPECT(o2o_check_in_verify(keyring, "GARBAGE", 1750000000, 0, 1, 0, &check_in) ==
               O2O_STATUS_INVALID_ARGUMENT);
    }

    /* A till's journal: NULLs, a ledger that keeps none, short buffers, bad acknowledgements. */
    {
        /* RFC 8032 test 1's public key: a valid root key that signed none of this. */
        static const uint8_t root[32] = {
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
            0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
        static const uint8_t garbage_ack[40] = {'O', '2', 'O', 'J', 'A', 1, 88, 1};
        o2o_ledger *till = NULL;
        o2o_sync_status sync;
        o2o_offline_allowance allowance = {"Asia/Shanghai", 0, -1, 0};
        uint8_t batch[4096];
        size_t batch_len = 0;
        snprintf(path, sizeof path, "%s/till.ledger", argv[1]);
        EXPECT(o2o_ledger_open_till(NULL, 1, 1, secret, 32, NULL, &till) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_open_till(path, 1, 1, NULL, 32, NULL, &till) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_open_till(path, 1, 1, secret, 32, NULL, NULL) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_open_till(path, 1, 1, secret, 32, NULL, &till) ==
               O2O_STATUS_LEDGER_NOT_FOUND);
        EXPECT(o2o_ledger_create(path, 1, &till) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_sync_status(till, &sync) == O2O_STATUS_SYNC_NO_JOURNAL);
        EXPECT(o2o_ledger_export_journal(till, 10, 1780000000, batch, sizeof batch, &batch_len) ==
               O2O_STATUS_SYNC_NO_JOURNAL);
        o2o_ledger_close(till);
        till = NULL;
        EXPECT(o2o_ledger_open_till(path, 1, 1, secret, 16, NULL, &till) ==
               O2O_STATUS_KEY_TOO_SHORT);
        EXPECT(o2o_ledger_open_till(path, 1, 1, secret, 32, &allowance, &till) ==
               O2O_STATUS_INVALID_ARGUMENT);
        allowance.max_seconds_since_sync = 0;
        allowance.time_zone = "Mars/Olympus_Mons";
        EXPECT(o2o_ledger_open_till(path, 1, 1, secret, 32, &allowance, &till) ==
               O2O_STATUS_INVALID_PLACE);
        allowance.time_zone = NULL;
        EXPECT(o2o_ledger_open_till(path, 1, 1, secret, 32, &allowance, &till) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(till == NULL);
        allowance.time_zone = "Asia/Shanghai";
        EXPECT(o2o_ledger_open_till(path, 1, 1, secret, 32, &allowance, &till) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_sync_status(till, &sync) == O2O_STATUS_OK && sync.till_id == 1 &&
               sync.written == 0 && sync.last_sync_unix_seconds == -1);
        EXPECT(o2o_ledger_sync_status(till, NULL) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_sync_status(NULL, &sync) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_export_journal(till, 10, 0, batch, sizeof batch, &batch_len) ==
               O2O_STATUS_LEDGER_IMPLAUSIBLE_INSTANT);
        EXPECT(o2o_ledger_export_journal(till, 10, 1780000000, NULL, 0, &batch_len) ==
                   O2O_STATUS_INSUFFICIENT_BUFFER &&
               batch_len > 5);
        EXPECT(o2o_ledger_export_journal(till, 10, 1780000000, NULL, 8, &batch_len) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_export_journal(till, 10, 1780000000, batch, 3, NULL) ==
               O2O_STATUS_INSUFFICIENT_BUFFER);
        EXPECT(o2o_ledger_export_journal(till, 10, 1780000000, batch, sizeof batch, &batch_len) ==
               O2O_STATUS_OK);
        EXPECT(memcmp(batch, "O2OJB", 5) == 0);
        EXPECT(o2o_ledger_apply_sync_ack(till, NULL, 10, root, 32, 0, &sync) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_apply_sync_ack(till, garbage_ack, sizeof garbage_ack, root, 31, 0,
                                         &sync) == O2O_STATUS_KEY_INVALID);
        EXPECT(o2o_ledger_apply_sync_ack(till, batch, batch_len, root, 32, 1780000000, &sync) ==
               O2O_STATUS_SYNC_MALFORMED);
        EXPECT(o2o_ledger_apply_sync_ack(till, garbage_ack, sizeof garbage_ack, root, 32,
                                         1780000000, NULL) == O2O_STATUS_SYNC_BAD_ACK);
        EXPECT(o2o_ledger_apply_sync_ack(till, garbage_ack, sizeof garbage_ack, root, 32, 0,
                                         NULL) == O2O_STATUS_LEDGER_IMPLAUSIBLE_INSTANT);
        EXPECT(o2o_ledger_apply_sync_ack(till, garbage_ack, 5, root, 32, 1780000000, NULL) ==
               O2O_STATUS_SYNC_MALFORMED);
        EXPECT(o2o_ledger_load_deny_list_into(till, NULL) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_load_deny_list_into(NULL, NULL) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_sync_status(till, &sync) == O2O_STATUS_OK && sync.acknowledged == 0);
        o2o_ledger_close(till);
        /* The file is till 1's: another till's key cannot journal into it. */
        till = NULL;
        EXPECT(o2o_ledger_open_till(path, 1, 2, secret, 32, NULL, &till) ==
               O2O_STATUS_SYNC_WRONG_TILL);
        EXPECT(till == NULL);
    }

    /* A corrupt ledger file is refused and left alone. */
    snprintf(path, sizeof path, "%s/corrupt.ledger", argv[1]);
    file = fopen(path, "wb");
    if (file) {
        fputs("this is not a database, it is a shopping list: tea, rice, ginger\n", file);
        fclose(file);
    }
    EXPECT(o2o_ledger_open(path, 1, &ledger) == O2O_STATUS_LEDGER_NOT_A_DATABASE);
    EXPECT(ledger == NULL);

    /* A good ledger: redeem once, retry, void, bad receipt, bad idempotency key. */
    snprintf(path, sizeof path, "%s/good.ledger", argv[1]);
    EXPECT(o2o_ledger_open(path, 2, &ledger) == O2O_STATUS_LEDGER_NOT_FOUND);
    EXPECT(ledger == NULL);
    EXPECT(o2o_ledger_create(path, 2, &ledger) == O2O_STATUS_OK);
    {
        o2o_redemption r;
        o2o_voucher_state state;
        EXPECT(o2o_ledger_redeem(ledger, decision, "sale-1", -1, &r) ==
               O2O_STATUS_LEDGER_WRONG_MERCHANT);
        o2o_ledger_close(ledger);
        EXPECT(o2o_ledger_open(path, 1, &ledger) == O2O_STATUS_LEDGER_WRONG_MERCHANT);
        EXPECT(o2o_ledger_create(path, 2, &ledger) == O2O_STATUS_LEDGER_ALREADY_EXISTS);
        snprintf(path, sizeof path, "%s/good-1.ledger", argv[1]);
        ledger = NULL;
        EXPECT(o2o_ledger_create(path, 1, &ledger) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_set_busy_timeout(ledger, 250) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_set_busy_timeout(NULL, 250) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_redeem(ledger, decision, "", -1, &r) ==
               O2O_STATUS_INVALID_IDEMPOTENCY_KEY);
        EXPECT(o2o_ledger_redeem(ledger, decision, "sale\t1", -1, &r) ==
               O2O_STATUS_INVALID_IDEMPOTENCY_KEY);
        /* An amount is -1 (as much as allowed) or at least 1: 0 and -2 spend nothing. */
        EXPECT(o2o_ledger_redeem(ledger, decision, "sale-0", 0, &r) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_ledger_redeem(ledger, decision, "sale-0", -2, &r) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_ledger_redeem(ledger, decision, "sale-1", -1, &r) == O2O_STATUS_OK);
        EXPECT(r.rejection == O2O_REJECTION_NONE && r.amount_minor == 500 && !r.replayed);
        EXPECT(o2o_ledger_redeem(ledger, decision, "sale-1", -1, &r) == O2O_STATUS_OK);
        EXPECT(r.rejection == O2O_REJECTION_NONE && r.replayed);
        EXPECT(o2o_ledger_redeem(ledger, decision, "sale-2", -1, &r) == O2O_STATUS_OK);
        EXPECT(r.rejection == O2O_REJECTION_ALREADY_USED);
        EXPECT(o2o_ledger_state(ledger, 7, "Asia/Shanghai", 1750000000, &state) == O2O_STATUS_OK);
        EXPECT(state.status == O2O_VOUCHER_STATUS_EXHAUSTED && state.uses == 1);
        EXPECT(o2o_ledger_void(ledger, 999, 1750000100) == O2O_STATUS_LEDGER_UNKNOWN_RECEIPT);
        EXPECT(o2o_ledger_void(ledger, 1, 1749999999) ==
               O2O_STATUS_LEDGER_VOID_BEFORE_REDEMPTION);
        EXPECT(o2o_ledger_void(ledger, 1, 0) == O2O_STATUS_LEDGER_IMPLAUSIBLE_INSTANT);
        EXPECT(o2o_ledger_void(ledger, 1, 1750000100) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_void(ledger, 1, 1750000200) == O2O_STATUS_LEDGER_ALREADY_VOIDED);
        EXPECT(o2o_ledger_state(ledger, 7, "Asia/Shanghai", 1750000000, &state) == O2O_STATUS_OK);
        EXPECT(state.status == O2O_VOUCHER_STATUS_ISSUED && state.uses_left == 1);
        EXPECT(o2o_ledger_revoke(ledger, 7, 1750000300) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_revoke(ledger, 7, 1750000400) == O2O_STATUS_LEDGER_ALREADY_REVOKED);
        /* A member's marketing choice at the till. */
        EXPECT(o2o_ledger_set_marketing_opt_out(ledger, 42, true, 1750000500) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_set_marketing_opt_out(ledger, 42, false, 1750000600) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_set_marketing_opt_out(NULL, 42, true, 1750000500) ==
               O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_set_marketing_opt_out(ledger, 42, true, INT64_MAX) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_ledger_redeem(ledger, decision, "sale-3", -1, &r) == O2O_STATUS_OK);
        EXPECT(r.rejection == O2O_REJECTION_REVOKED);
        EXPECT(o2o_ledger_state(ledger, 8, "Asia/Shanghai", 1750000000, &state) == O2O_STATUS_OK);
        EXPECT(state.status == O2O_VOUCHER_STATUS_UNKNOWN);
        /* A backup while the ledger is open; never over an existing file. */
        snprintf(path, sizeof path, "%s/backup.ledger", argv[1]);
        EXPECT(o2o_ledger_backup(ledger, path) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_backup(ledger, path) == O2O_STATUS_LEDGER_ALREADY_EXISTS);
        EXPECT(o2o_ledger_backup(NULL, path) == O2O_STATUS_NULL_ARGUMENT);
        {
            o2o_ledger *restored = NULL;
            EXPECT(o2o_ledger_open(path, 1, &restored) == O2O_STATUS_OK);
            EXPECT(o2o_ledger_state(restored, 7, "Asia/Shanghai", 1750000000, &state) ==
                   O2O_STATUS_OK);
            EXPECT(state.status == O2O_VOUCHER_STATUS_REVOKED);
            o2o_ledger_close(restored);
        }
        EXPECT(o2o_ledger_report_json(ledger, "Asia/Shanghai", 7, NULL, 0, &needed) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_ledger_report_json(ledger, "Asia/Shanghai", O2O_GRANULARITY_MONTH, NULL, 0,
                                      &needed) == O2O_STATUS_INSUFFICIENT_BUFFER);
        {
            char report[2048];
            EXPECT(needed < sizeof report);
            EXPECT(o2o_ledger_report_json(ledger, "Asia/Shanghai", O2O_GRANULARITY_MONTH, report,
                                          sizeof report, &needed) == O2O_STATUS_OK);
            EXPECT(strstr(report, "\"period\":\"2025-06\"") != NULL);
            EXPECT(strstr(report, "\"visits\":1") != NULL);
        }
    }

    /* Enrollment: NULLs, a short key, invalid UTF-8, a bad kind, bad rules, a refused scan. */
    if (ledger != NULL && store != NULL && keyring != NULL) {
        o2o_identity_key *ikey = NULL;
        o2o_member_check_in *enrollment = NULL;
        o2o_member_check_in_details details;
        o2o_check_in_rules rules = {30, 1, NULL, 0};
        o2o_member_scan scan = {"GARBAGE", O2O_IDENTITY_PHONE, "+8613800138000", NULL,
                                1750000000, 1};
        char card[64];
        EXPECT(o2o_identity_key_new(secret, 31, &ikey) == O2O_STATUS_KEY_TOO_SHORT);
        EXPECT(o2o_identity_key_new(NULL, 32, &ikey) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_identity_key_new(secret, 32, NULL) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(ikey == NULL);
        EXPECT(o2o_identity_key_new(secret, 32, &ikey) == O2O_STATUS_OK);
        EXPECT(o2o_ledger_check_in_member(NULL, keyring, ikey, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, NULL, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, NULL, &scan,
                                          &enrollment) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, &rules, &scan, NULL) ==
               O2O_STATUS_NULL_ARGUMENT);
        scan.identity = NULL;
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_NULL_ARGUMENT);
        scan.identity = "+86\xff\xfe";
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_INVALID_UTF8);
        scan.identity = "not a phone";
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_INVALID_IDENTITY);
        scan.identity = "+8613800138000";
        scan.identity_kind = 7;
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_INVALID_ARGUMENT);
        scan.identity_kind = O2O_IDENTITY_APP_ACCOUNT;
        rules.period_secs = 0;
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_INVALID_ARGUMENT);
        rules.period_secs = 30;
        rules.welcome_voucher_json = "{not json";
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_VOUCHER_JSON);
        rules.welcome_voucher_json = NULL;
        EXPECT(enrollment == NULL);
        /* A garbage code is refused: a normal outcome with no card. */
        EXPECT(o2o_ledger_check_in_member(ledger, keyring, ikey, store, &rules, &scan,
                                          &enrollment) == O2O_STATUS_OK);
        EXPECT(o2o_member_check_in_read(enrollment, &details) == O2O_STATUS_OK);
        EXPECT(details.rejection == O2O_REJECTION_MALFORMED && !details.enrolled &&
               details.member_id == 0 && details.card_number[0] == 0 && !details.has_welcome);
        EXPECT(o2o_member_check_in_card_text(enrollment, card, sizeof card, &needed) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_member_check_in_welcome_text(enrollment, card, sizeof card, &needed) ==
               O2O_STATUS_INVALID_ARGUMENT);
        EXPECT(o2o_member_check_in_read(NULL, &details) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_member_check_in_read(enrollment, NULL) == O2O_STATUS_NULL_ARGUMENT);
        EXPECT(o2o_member_check_in_card_text(NULL, card, sizeof card, &needed) ==
               O2O_STATUS_NULL_ARGUMENT);
        o2o_member_check_in_free(enrollment);
        o2o_member_check_in_free(NULL);
        /* Cards and share codes: NULLs, garbage, a mistyped card number, an unknown card. */
        {
            o2o_card read;
            o2o_member_record record;
            bool found = true;
            EXPECT(o2o_share_code_text(NULL, 1, card, sizeof card, &needed) ==
                   O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_share_code_text(keyring, 1, card, 4, &needed) ==
                   O2O_STATUS_INSUFFICIENT_BUFFER);
            EXPECT(needed > 4 && needed <= sizeof card);
            EXPECT(o2o_share_code_text(keyring, 1, card, sizeof card, &needed) == O2O_STATUS_OK);
            /* A share code is not a membership card. */
            EXPECT(o2o_membership_card_verify(keyring, card, &read) == O2O_STATUS_OK);
            EXPECT(read.rejection == O2O_REJECTION_WRONG_KIND && read.member_id == 0);
            EXPECT(o2o_membership_card_verify(keyring, "GARBAGE", &read) == O2O_STATUS_OK);
            EXPECT(read.rejection == O2O_REJECTION_MALFORMED);
            EXPECT(o2o_membership_card_verify(keyring, NULL, &read) == O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_membership_card_verify(keyring, "x", NULL) == O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_ledger_member_by_card(ledger, "0000 0000 0000 0001", &record, &found) ==
                   O2O_STATUS_INVALID_CARD);
            EXPECT(o2o_ledger_member_by_card(ledger, "0000 0000 0000 0000", &record, &found) ==
                   O2O_STATUS_OK);
            EXPECT(!found);
            EXPECT(o2o_ledger_member_by_card(ledger, "0000000000000000", NULL, &found) ==
                   O2O_STATUS_NULL_ARGUMENT);
            EXPECT(o2o_ledger_member_by_card(NULL, "0000000000000000", &record, &found) ==
                   O2O_STATUS_NULL_ARGUMENT);
        }
        o2o_identity_key_free(ikey);
        o2o_identity_key_free(NULL);
    }

    o2o_decision_free(decision);
    o2o_ledger_close(ledger);
    o2o_store_free(store);
    o2o_keyring_free(keyring);
    printf("abi_edges: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
