/*
 * pos.c — a till that verifies and redeems a scanned voucher through o2okit's C ABI.
 *
 *   pos (--ledger FILE [--create-ledger] | --pg CONNINFO) --merchant N
 *       (--key-set FILE --root HEX | --key-id N --key HEX)
 *       --store N --tz ZONE --region CODE --at UNIX_SECONDS --spend MINOR --currency CODE
 *       --sale IDEMPOTENCY_KEY [--member ID --tier N] [--other-vouchers N] [VOUCHER_TEXT]
 *
 * A till of a chain loads the key set the head office publishes (--key-set), checked against
 * the root public key it pins (--root, 32 bytes in hex): it then holds public keys only and
 * can mint nothing. --min-key-set-version N refuses a set older than the newest one the till
 * has loaded before (keep that number across restarts). --key (an HMAC secret) is the single-shop setup, where the till's key
 * could also sign. --deny-list FILE (with --root) loads the head office's list of revoked and
 * spent vouchers, which the till refuses even while its ledger is out of reach.
 *
 * --ledger is the store's own SQLite file; --pg the chain's PostgreSQL database that every
 * till shares (libpq "host=… user=… dbname=…"; the library must be built with the `postgres`
 * feature). Nothing else changes between the two.
 *
 * A chain's till working offline opens its own ledger as a till's (--till N --journal-key HEX,
 * provisioned by the head office): every decision is journaled for the head office
 * (examples/till_sync.c sends it), the deny list the head office sent back is consulted, and
 * its offline allowance applies: --offline-max MINOR (largest discount), --offline-cap MINOR
 * (discount per store-local day), --max-since-sync SECONDS.
 *
 * Without VOUCHER_TEXT it reads one line from standard input, as a keyboard-wedge barcode
 * scanner types it (the trailing Enter is fine).
 *
 * --opt-out MEMBER (or --opt-in MEMBER) records, instead of a sale, a member's choice at the
 * till about marketing: an opted-out member is never targeted by a campaign. It prints
 * MARKETING member=… opted_out=yes|no and exits 0.
 *
 * Prints one line and exits with:
 *   0  REDEEMED receipt=… discount=… replayed=yes|no offline=yes|no voucher=… benefit=…
 *      valid_until=…|-
 *   2  REFUSED reason=… (verification: expired, wrong_store, bad_signature, …)
 *   3  REFUSED reason=… (ledger: already_used, revoked, …)
 *   1  ERROR status=… message=…
 *
 * Build (see README): cc -std=c99 -Iinclude examples/pos.c target/release/libo2okit.a \
 *                       -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o pos
 */
#include "o2okit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, o2o_status status) {
    /* Every message fits in O2O_MAX_ERROR_MESSAGE bytes and its NUL. */
    char message[O2O_MAX_ERROR_MESSAGE + 1];
    if (o2o_last_error(message, sizeof message, NULL) != O2O_STATUS_OK) {
        strcpy(message, "(no message)");
    }
    printf("ERROR status=%u (%s) during %s: %s\n", (unsigned)status,
           o2o_status_name((uint32_t)status), what, message);
    return 1;
}

static const char *benefit_name(o2o_benefit_kind kind) {
    switch (kind) {
    case O2O_BENEFIT_KIND_AMOUNT_OFF: return "amount_off";
    case O2O_BENEFIT_KIND_PERCENT_OFF: return "percent_off";
    case O2O_BENEFIT_KIND_GIFT_ITEM: return "gift_item";
    case O2O_BENEFIT_KIND_STORED_VALUE: return "stored_value";
    }
    return "unknown";
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

/* Reads the whole file at path (at most max bytes) into a malloc'd buffer; exits on failure. */
static uint8_t *read_file(const char *path, long max, const char *what, long *length) {
    uint8_t *bytes;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        perror(path);
        exit(1);
    }
    fseek(file, 0, SEEK_END);
    *length = ftell(file);
    fseek(file, 0, SEEK_SET);
    if (*length < 0 || *length > max) {
        fprintf(stderr, "%s: not a %s (%ld bytes)\n", path, what, *length);
        exit(1);
    }
    bytes = (uint8_t *)malloc(*length > 0 ? (size_t)*length : 1);
    if (bytes == NULL || fread(bytes, 1, (size_t)*length, file) != (size_t)*length) {
        fprintf(stderr, "%s: cannot read the %s\n", path, what);
        exit(1);
    }
    fclose(file);
    return bytes;
}

static void decode_root(const char *root_hex, uint8_t root[32]) {
    if (decode_hex(root_hex, root, 32) != 32) {
        fprintf(stderr, "--root is not 32 bytes of hex\n");
        exit(1);
    }
}

/* Loads the key set at path, checked against the root public key in hex, into a keyring
 * that verifies and cannot sign. */
static o2o_status load_key_set(const char *path, const char *root_hex, uint32_t merchant,
                               long long at, uint64_t min_version, o2o_keyring **out) {
    uint8_t root[32];
    long length;
    uint8_t *bytes;
    o2o_status status;
    decode_root(root_hex, root);
    bytes = read_file(path, 1L << 20, "key set", &length); /* a key set is at most 1 MiB */
    status = o2o_keyring_from_key_set(merchant, bytes, (size_t)length, root, sizeof root,
                                      (int64_t)at, min_version, out);
    free(bytes);
    if (status == O2O_STATUS_OK && o2o_keyring_can_sign(*out)) {
        fprintf(stderr, "a keyring from a key set signs nothing\n");
        exit(1);
    }
    return status;
}

int main(int argc, char **argv) {
    const char *ledger_path = NULL, *pg_conninfo = NULL, *key_hex = NULL, *zone = NULL, *region = NULL;
    const char *currency = "CNY", *sale = NULL, *voucher_text = NULL;
    const char *key_set_path = NULL, *root_hex = NULL, *deny_list_path = NULL;
    unsigned long long min_key_set_version = 0;
    unsigned long merchant = 0, key_id = 1, store_id = 0, other_vouchers = 0, busy_ms = 2000;
    unsigned long till = 0;
    const char *journal_key_hex = NULL;
    o2o_offline_allowance allowance = {NULL, 0, 0, 0};
    long long at = 0, spend = 0;
    int has_member = 0, marketing_choice = 0;
    unsigned long long marketing_member = 0;
    bool opted_out = false;
    o2o_member member = {0, 0, false};
    uint8_t secret[128];
    long secret_len;
    char scanned[1024];
    int i, exit_code, create_ledger = 0;
    o2o_status status;
    o2o_keyring *keyring = NULL;
    o2o_store *store = NULL;
    o2o_ledger *ledger = NULL;
    o2o_decision *decision = NULL;
    o2o_basket_line line;
    o2o_redemption redemption;
    o2o_benefit benefit;
    uint64_t voucher_id = 0;
    char valid_until[32];

    /* The library this program runs with must be the one its header describes. */
    if (o2o_version_number() != O2OKIT_VERSION_NUMBER) {
        fprintf(stderr, "libo2okit %s does not match o2okit.h %s\n", o2o_version(),
                O2OKIT_VERSION);
        return 1;
    }
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--create-ledger")) { create_ledger = 1; continue; }
        if (strncmp(arg, "--", 2) != 0) { voucher_text = arg; continue; }
        if (value == NULL) { fprintf(stderr, "%s needs a value\n", arg); return 1; }
        i++;
        if (!strcmp(arg, "--ledger")) ledger_path = value;
        else if (!strcmp(arg, "--pg")) pg_conninfo = value;
        else if (!strcmp(arg, "--merchant")) merchant = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--key-id")) key_id = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--key")) key_hex = value;
        else if (!strcmp(arg, "--key-set")) key_set_path = value;
        else if (!strcmp(arg, "--root")) root_hex = value;
        else if (!strcmp(arg, "--deny-list")) deny_list_path = value;
        else if (!strcmp(arg, "--min-key-set-version")) min_key_set_version = strtoull(value, NULL, 10);
        else if (!strcmp(arg, "--store")) store_id = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--tz")) zone = value;
        else if (!strcmp(arg, "--region")) region = value;
        else if (!strcmp(arg, "--at")) at = strtoll(value, NULL, 10);
        else if (!strcmp(arg, "--spend")) spend = strtoll(value, NULL, 10);
        else if (!strcmp(arg, "--currency")) currency = value;
        else if (!strcmp(arg, "--sale")) sale = value;
        else if (!strcmp(arg, "--member")) { member.id = strtoull(value, NULL, 10); has_member = 1; }
        else if (!strcmp(arg, "--opt-out") || !strcmp(arg, "--opt-in")) {
            marketing_member = strtoull(value, NULL, 10);
            opted_out = !strcmp(arg, "--opt-out");
            marketing_choice = 1;
        }
        else if (!strcmp(arg, "--tier")) member.tier = (uint8_t)strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--other-vouchers")) other_vouchers = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--busy-ms")) busy_ms = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--till")) till = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--journal-key")) journal_key_hex = value;
        else if (!strcmp(arg, "--offline-max")) allowance.max_discount_minor = strtoull(value, NULL, 10);
        else if (!strcmp(arg, "--offline-cap")) allowance.daily_discount_cap_minor = strtoull(value, NULL, 10);
        else if (!strcmp(arg, "--max-since-sync")) allowance.max_seconds_since_sync = strtoll(value, NULL, 10);
        else { fprintf(stderr, "unknown flag %s\n", arg); return 1; }
    }
    if (key_hex && key_set_path) {
        fprintf(stderr, "give --key-set or --key, not both\n");
        return 1;
    }
    if (ledger_path && pg_conninfo) {
        fprintf(stderr, "give --ledger or --pg, not both\n");
        return 1;
    }
    if (!(ledger_path || pg_conninfo) || !(key_hex || (key_set_path && root_hex)) || !zone || !region ||
        !(sale || marketing_choice) || spend < 0) {
        fprintf(stderr, "usage: pos (--ledger FILE | --pg CONNINFO) --merchant N (--key-set FILE --root HEX | --key HEX) "
                        "--store N --tz ZONE --region CODE --at UNIX --spend MINOR --sale KEY [VOUCHER]\n");
        return 1;
    }
    if (voucher_text == NULL && !marketing_choice) {
        if (fgets(scanned, sizeof scanned, stdin) == NULL) {
            fprintf(stderr, "no voucher on standard input\n");
            return 1;
        }
        voucher_text = scanned;
    }
    if (key_set_path != NULL) {
        if ((status = load_key_set(key_set_path, root_hex, (uint32_t)merchant, at,
                                   (uint64_t)min_key_set_version, &keyring)) != O2O_STATUS_OK) {
            return fail("loading the key set", status);
        }
    } else {
        secret_len = decode_hex(key_hex, secret, sizeof secret);
        if (secret_len < 0) { fprintf(stderr, "--key is not hex\n"); return 1; }
        if ((status = o2o_keyring_new((uint32_t)merchant, (uint32_t)key_id, secret,
                                      (size_t)secret_len, &keyring)) != O2O_STATUS_OK) {
            return fail("loading the key", status);
        }
        memset(secret, 0, sizeof secret);
    }
    if (deny_list_path != NULL) {
        uint8_t root[32];
        long length;
        uint8_t *list;
        if (root_hex == NULL) {
            fprintf(stderr, "--deny-list needs --root\n");
            exit_code = 1;
            goto done;
        }
        decode_root(root_hex, root);
        list = read_file(deny_list_path, 64L << 20, "deny list", &length);
        status = o2o_keyring_load_deny_list(keyring, list, (size_t)length, root, sizeof root);
        free(list);
        if (status != O2O_STATUS_OK) {
            exit_code = fail("loading the deny list", status);
            goto done;
        }
    }
    if ((status = o2o_store_new((uint32_t)store_id, (uint32_t)merchant, zone, region, &store)) !=
        O2O_STATUS_OK) {
        exit_code = fail("describing the store", status);
        goto done;
    }
    /* A ledger is created once, at install; every later start opens it, and a missing
     * ledger is an error (O2O_STATUS_LEDGER_NOT_FOUND), never silently a new empty one. */
    if (pg_conninfo != NULL) {
        status = o2o_ledger_open_pg(pg_conninfo, (uint32_t)merchant, &ledger);
    } else if (journal_key_hex != NULL) {
        uint8_t journal_key[64];
        long journal_key_len = decode_hex(journal_key_hex, journal_key, sizeof journal_key);
        if (journal_key_len < 0) { fprintf(stderr, "--journal-key is not hex\n"); exit_code = 1; goto done; }
        if (create_ledger) {
            status = o2o_ledger_create(ledger_path, (uint32_t)merchant, &ledger);
            o2o_ledger_close(ledger);
            ledger = NULL;
            if (status != O2O_STATUS_OK) { exit_code = fail("creating the ledger", status); goto done; }
        }
        allowance.time_zone = zone;
        status = o2o_ledger_open_till(ledger_path, (uint32_t)merchant, (uint32_t)till, journal_key,
                                      (size_t)journal_key_len, &allowance, &ledger);
        memset(journal_key, 0, sizeof journal_key);
        /* The deny list this till received at its last sync. */
        if (status == O2O_STATUS_OK) status = o2o_ledger_load_deny_list_into(ledger, keyring);
    } else if (create_ledger) {
        status = o2o_ledger_create(ledger_path, (uint32_t)merchant, &ledger);
    } else {
        status = o2o_ledger_open(ledger_path, (uint32_t)merchant, &ledger);
    }
    if (status != O2O_STATUS_OK) {
        exit_code = fail(create_ledger ? "creating the ledger" : "opening the ledger", status);
        goto done;
    }
    /* A till waits at most this long for a back office holding the ledger's lock. */
    if ((status = o2o_ledger_set_busy_timeout(ledger, (uint32_t)busy_ms)) != O2O_STATUS_OK) {
        exit_code = fail("setting the busy timeout", status);
        goto done;
    }
    if (marketing_choice) {
        status = o2o_ledger_set_marketing_opt_out(ledger, (uint64_t)marketing_member, opted_out,
                                                  (int64_t)at);
        if (status != O2O_STATUS_OK) {
            exit_code = fail("recording the marketing choice", status);
            goto done;
        }
        printf("MARKETING member=%llu opted_out=%s\n", marketing_member, opted_out ? "yes" : "no");
        exit_code = 0;
        goto done;
    }
    line.category = 0;
    line.amount_minor = (uint64_t)spend;
    status = o2o_voucher_verify(keyring, store, voucher_text, (int64_t)at, currency, &line, 1,
                                has_member ? &member : NULL, (uint32_t)other_vouchers, &decision);
    if (status != O2O_STATUS_OK) {
        exit_code = fail("verifying", status);
        goto done;
    }
    if (!o2o_decision_accepted(decision)) {
        printf("REFUSED reason=%s\n", o2o_rejection_name(o2o_decision_rejection(decision)));
        fprintf(stderr, "%s\n", o2o_rejection_text(o2o_decision_rejection(decision)));
        exit_code = 2;
        goto done;
    }
    status = o2o_ledger_redeem(ledger, decision, sale, -1, &redemption);
    if (status != O2O_STATUS_OK) {
        exit_code = fail("redeeming", status);
        goto done;
    }
    if (redemption.rejection != O2O_REJECTION_NONE) {
        printf("REFUSED reason=%s\n", o2o_rejection_name(redemption.rejection));
        fprintf(stderr, "%s\n", o2o_rejection_text(redemption.rejection));
        exit_code = 3;
        goto done;
    }
    /* What the receipt prints: which voucher, what it gives, until when. */
    if ((status = o2o_decision_voucher_id(decision, &voucher_id)) != O2O_STATUS_OK ||
        (status = o2o_decision_benefit(decision, &benefit)) != O2O_STATUS_OK ||
        (status = o2o_decision_valid_until(decision, valid_until, sizeof valid_until, NULL)) !=
            O2O_STATUS_OK) {
        exit_code = fail("reading the voucher", status);
        goto done;
    }
    printf("REDEEMED receipt=%llu discount=%llu replayed=%s offline=%s voucher=%llu benefit=%s "
           "valid_until=%s\n",
           (unsigned long long)redemption.receipt_id, (unsigned long long)redemption.amount_minor,
           redemption.replayed ? "yes" : "no", redemption.offline ? "yes" : "no",
           (unsigned long long)voucher_id,
           benefit_name(benefit.kind), valid_until[0] ? valid_until : "-");
    exit_code = 0;

done:
    o2o_decision_free(decision);
    o2o_ledger_close(ledger);
    o2o_store_free(store);
    o2o_keyring_free(keyring);
    return exit_code;
}
