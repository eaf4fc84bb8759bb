/*
 * enroll.c — a store's sign-up kiosk: a customer scans the store's check-in code and types
 * their phone number; o2okit enrolls them (once), records the visit and hands out the
 * membership card and the welcome voucher, through the C ABI.
 *
 *   enroll --ledger FILE [--create-ledger] --merchant N (--key-id N --key HEX | --role-key SPEC...)
 *          --identity-key HEX --store N --tz ZONE --region CODE --at UNIX_SECONDS --phone NUMBER [--share SHARE_CODE]
 *          [--welcome-json JSON --welcome-days N --welcome-id N] CHECK_IN_CODE
 *
 * A kiosk of a chain holds store-scoped keys only, each given as --role-key
 * ID:ROLE:SCOPE:SCHEME:HEX (ROLE all|vouchers|store_vouchers|members|check_in|journal, SCOPE the
 * store or till id or 0, SCHEME hmac|ed25519|public): its store's check-in key (to verify the
 * screen's codes), a members key (cards and share codes) and its store's voucher key (welcome
 * vouchers valid in this store only; give them a "stores" limit of this store). --key (one
 * HMAC key for everything) is the single-shop setup.
 *
 * Prints and exits with:
 *   0  ENROLLED member=… card=… referred_by=…  (or VISIT member=… card=… for a known member)
 *      CARD <membership card text>              (read back and looked up by its number)
 *      SHARE <share code text>                  (for the member to pass to friends)
 *      WELCOME <welcome voucher text>            (new members, when a welcome offer is given)
 *   2  REFUSED reason=… (stale_code, replayed_code, already_checked_in, wrong_store, …)
 *   1  ERROR status=… message=…
 *
 * Build (see README): cc -std=c99 -Iinclude examples/enroll.c target/release/libo2okit.a \
 *                       -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o enroll
 */
#include "o2okit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, o2o_status status) {
    char message[512];
    size_t needed = 0;
    if (o2o_last_error(message, sizeof message, &needed) != O2O_STATUS_OK) {
        strcpy(message, "(message too long)");
    }
    printf("ERROR status=%u during %s: %s\n", (unsigned)status, what, message);
    return 1;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes hex into out (capacity bytes); returns the length or -1. */
static long decode_hex(const char *hex, uint8_t *out, size_t capacity) {
    size_t len = strlen(hex);
    size_t i;
    if (len % 2 != 0 || len / 2 > capacity) return -1;
    for (i = 0; i < len / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return (long)(len / 2);
}

/* Prints "LABEL text" from a text getter, sizing the buffer with a first call. */
static o2o_status print_text(const char *label, const o2o_member_check_in *check_in,
                             o2o_status (*get)(const o2o_member_check_in *, char *, size_t, size_t *)) {
    size_t needed = 0;
    char *text;
    o2o_status status = get(check_in, NULL, 0, &needed);
    if (status != O2O_STATUS_INSUFFICIENT_BUFFER) return status;
    text = (char *)malloc(needed);
    if (text == NULL) return O2O_STATUS_PANIC;
    status = get(check_in, text, needed, &needed);
    if (status == O2O_STATUS_OK) printf("%s %s\n", label, text);
    free(text);
    return status;
}

/* Reads the card back as a till would (scanned, then typed by its number): 0 when both agree
 * with the check-in, else an error message on standard output and 1. */
static int check_card(const o2o_keyring *keyring, const o2o_ledger *ledger,
                      const o2o_member_check_in *check_in,
                      const o2o_member_check_in_details *details) {
    char text[256]; /* an Ed25519 card or share code is about 130 characters */
    size_t needed = 0;
    o2o_card card;
    o2o_member_record record;
    bool found = false;
    o2o_status status = o2o_member_check_in_card_text(check_in, text, sizeof text, &needed);
    if (status != O2O_STATUS_OK) return fail("writing the card", status);
    if ((status = o2o_membership_card_verify(keyring, text, &card)) != O2O_STATUS_OK) {
        return fail("reading the card", status);
    }
    if (card.rejection != O2O_REJECTION_NONE || card.member_id != details->member_id ||
        strcmp(card.card_number, details->card_number) != 0) {
        printf("ERROR the card does not read back\n");
        return 1;
    }
    status = o2o_ledger_member_by_card(ledger, card.card_number, &record, &found);
    if (status != O2O_STATUS_OK) return fail("looking up the card", status);
    if (!found || record.member_id != details->member_id) {
        printf("ERROR the ledger does not know the card\n");
        return 1;
    }
    return 0;
}

static o2o_status print_share_code(const o2o_keyring *keyring, uint64_t member_id) {
    char text[256]; /* an Ed25519 card or share code is about 130 characters */
    size_t needed = 0;
    o2o_status status = o2o_share_code_text(keyring, member_id, text, sizeof text, &needed);
    if (status == O2O_STATUS_OK) printf("SHARE %s\n", text);
    return status;
}

static int index_of(const char *name, const char *const *names, int count) {
    int i;
    for (i = 0; i < count; i++) {
        if (!strcmp(name, names[i])) return i;
    }
    return -1;
}

/* Reads a decimal uint32 that fills the whole of text; -1 when it is not one. */
static long long parse_u32(const char *text) {
    char *end = NULL;
    unsigned long long value;
    if (text[0] < '0' || text[0] > '9') return -1;
    value = strtoull(text, &end, 10);
    if (*end != '\0' || value > 0xffffffffULL) return -1;
    return (long long)value;
}

/* Adds and activates one key given as ID:ROLE:SCOPE:SCHEME:HEX. */
static o2o_status add_role_key(o2o_keyring *keyring, const char *spec) {
    static const char *const roles[] = {"all", "vouchers", "store_vouchers", "members",
                                        "check_in", "journal"};
    static const char *const schemes[] = {"hmac", "ed25519", "public"};
    char id[16], role[32], scope[16], scheme[16], hex[260];
    long long key_id, scope_id;
    uint8_t material[128];
    long length;
    int role_index, scheme_index;
    o2o_status status;
    if (sscanf(spec, "%15[0-9]:%31[a-z_]:%15[0-9]:%15[a-z0-9]:%259s", id, role, scope, scheme,
               hex) != 5 ||
        (key_id = parse_u32(id)) < 0 || (scope_id = parse_u32(scope)) < 0 ||
        (role_index = index_of(role, roles, 6)) < 0 ||
        (scheme_index = index_of(scheme, schemes, 3)) < 0 ||
        (length = decode_hex(hex, material, sizeof material)) < 0) {
        memset(hex, 0, sizeof hex);
        fprintf(stderr, "--role-key is not ID:ROLE:SCOPE:SCHEME:HEX with 32-bit ids\n");
        exit(1);
    }
    memset(hex, 0, sizeof hex);
    status = o2o_keyring_add_role_key(keyring, (uint32_t)key_id, (uint32_t)role_index,
                                      (uint32_t)scope_id, (uint32_t)scheme_index, material,
                                      (size_t)length);
    memset(material, 0, sizeof material);
    if (status == O2O_STATUS_OK && scheme_index != 2) {
        status = o2o_keyring_activate(keyring, (uint32_t)key_id);
    }
    return status;
}

int main(int argc, char **argv) {
    const char *ledger_path = NULL, *key_hex = NULL, *identity_hex = NULL, *zone = NULL;
    const char *region = NULL, *phone = NULL, *code = NULL;
    unsigned long merchant = 0, key_id = 1, store_id = 0;
    uint8_t secret[128];
    long secret_len;
    int i, exit_code = 1, create_ledger = 0;
    o2o_status status;
    o2o_keyring *keyring = NULL;
    o2o_identity_key *identity_key = NULL;
    o2o_store *store = NULL;
    o2o_ledger *ledger = NULL;
    o2o_member_check_in *check_in = NULL;
    o2o_check_in_rules rules;
    o2o_member_scan scan;
    o2o_member_check_in_details details;
    const char *role_keys[8];
    int role_key_count = 0;

    memset(&rules, 0, sizeof rules);
    memset(&scan, 0, sizeof scan);
    rules.period_secs = 30;
    rules.skew_steps = 1;
    rules.welcome_valid_days = 14;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--create-ledger")) { create_ledger = 1; continue; }
        if (strncmp(arg, "--", 2) != 0) { code = arg; continue; }
        if (value == NULL) { fprintf(stderr, "%s needs a value\n", arg); return 1; }
        i++;
        if (!strcmp(arg, "--ledger")) ledger_path = value;
        else if (!strcmp(arg, "--merchant")) merchant = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--key-id")) key_id = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--key")) key_hex = value;
        else if (!strcmp(arg, "--role-key")) {
            if (role_key_count == 8) { fprintf(stderr, "at most 8 --role-key\n"); return 1; }
            role_keys[role_key_count++] = value;
        }
        else if (!strcmp(arg, "--identity-key")) identity_hex = value;
        else if (!strcmp(arg, "--store")) store_id = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--tz")) zone = value;
        else if (!strcmp(arg, "--region")) region = value;
        else if (!strcmp(arg, "--at")) scan.at_unix_seconds = strtoll(value, NULL, 10);
        else if (!strcmp(arg, "--phone")) phone = value;
        else if (!strcmp(arg, "--share")) scan.share_code_text = value;
        else if (!strcmp(arg, "--welcome-json")) rules.welcome_voucher_json = value;
        else if (!strcmp(arg, "--welcome-days")) rules.welcome_valid_days = (uint32_t)strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--welcome-id")) scan.welcome_voucher_id = strtoull(value, NULL, 10);
        else { fprintf(stderr, "unknown flag %s\n", arg); return 1; }
    }
    if (rules.welcome_voucher_json != NULL && scan.welcome_voucher_id == 0) {
        fprintf(stderr, "--welcome-json needs --welcome-id (an id the ledger has never seen)\n");
        return 1;
    }
    if (key_hex && role_key_count) {
        fprintf(stderr, "give --key or --role-key, not both\n");
        return 1;
    }
    if (!ledger_path || !(key_hex || role_key_count) || !identity_hex || !zone || !region ||
        !phone || !code) {
        fprintf(stderr, "usage: enroll --ledger FILE --merchant N --key HEX --identity-key HEX "
                        "--store N --tz ZONE --region CODE --at UNIX --phone NUMBER CODE\n");
        return 1;
    }
    scan.code_text = code;
    scan.identity_kind = O2O_IDENTITY_PHONE;
    scan.identity = phone;

    if (key_hex != NULL) {
        secret_len = decode_hex(key_hex, secret, sizeof secret);
        if (secret_len < 0) { fprintf(stderr, "--key is not hex\n"); return 1; }
        status = o2o_keyring_new((uint32_t)merchant, (uint32_t)key_id, secret,
                                 (size_t)secret_len, &keyring);
        if (status != O2O_STATUS_OK) return fail("loading the signing key", status);
    } else {
        status = o2o_keyring_new_empty((uint32_t)merchant, &keyring);
        if (status != O2O_STATUS_OK) return fail("making the keyring", status);
        for (i = 0; i < role_key_count; i++) {
            if ((status = add_role_key(keyring, role_keys[i])) != O2O_STATUS_OK) {
                exit_code = fail("loading a role key", status);
                goto done;
            }
        }
    }
    secret_len = decode_hex(identity_hex, secret, sizeof secret);
    if (secret_len < 0) {
        fprintf(stderr, "--identity-key is not hex\n");
        goto done;
    }
    status = o2o_identity_key_new(secret, (size_t)secret_len, &identity_key);
    memset(secret, 0, sizeof secret);
    if (status != O2O_STATUS_OK) {
        exit_code = fail("loading the identity key", status);
        goto done;
    }
    if ((status = o2o_store_new((uint32_t)store_id, (uint32_t)merchant, zone, region, &store)) !=
        O2O_STATUS_OK) {
        exit_code = fail("describing the store", status);
        goto done;
    }
    /* A ledger is created once, at install; every later start opens it, and a missing
     * ledger is an error (O2O_STATUS_LEDGER_NOT_FOUND), never silently a new empty one. */
    status = create_ledger ? o2o_ledger_create(ledger_path, (uint32_t)merchant, &ledger)
                           : o2o_ledger_open(ledger_path, (uint32_t)merchant, &ledger);
    if (status != O2O_STATUS_OK) {
        exit_code = fail(create_ledger ? "creating the ledger" : "opening the ledger", status);
        goto done;
    }
    status = o2o_ledger_check_in_member(ledger, keyring, identity_key, store, &rules, &scan,
                                        &check_in);
    if (status != O2O_STATUS_OK) {
        exit_code = fail("checking in", status);
        goto done;
    }
    if ((status = o2o_member_check_in_read(check_in, &details)) != O2O_STATUS_OK) {
        exit_code = fail("reading the check-in", status);
        goto done;
    }
    if (details.rejection != O2O_REJECTION_NONE) {
        printf("REFUSED reason=%s\n", o2o_rejection_name(details.rejection));
        exit_code = 2;
        goto done;
    }
    if (details.enrolled) {
        printf("ENROLLED member=%llu card=%s referred_by=%llu\n",
               (unsigned long long)details.member_id, details.card_number,
               (unsigned long long)details.referred_by);
    } else {
        printf("VISIT member=%llu card=%s\n", (unsigned long long)details.member_id,
               details.card_number);
    }
    if ((status = print_text("CARD", check_in, o2o_member_check_in_card_text)) != O2O_STATUS_OK) {
        exit_code = fail("writing the card", status);
        goto done;
    }
    if ((exit_code = check_card(keyring, ledger, check_in, &details)) != 0) goto done;
    exit_code = 1;
    if ((status = print_share_code(keyring, details.member_id)) != O2O_STATUS_OK) {
        exit_code = fail("writing the share code", status);
        goto done;
    }
    if (details.has_welcome &&
        (status = print_text("WELCOME", check_in, o2o_member_check_in_welcome_text)) !=
            O2O_STATUS_OK) {
        exit_code = fail("writing the welcome voucher", status);
        goto done;
    }
    exit_code = 0;

done:
    o2o_member_check_in_free(check_in);
    o2o_ledger_close(ledger);
    o2o_store_free(store);
    o2o_identity_key_free(identity_key);
    o2o_keyring_free(keyring);
    return exit_code;
}
