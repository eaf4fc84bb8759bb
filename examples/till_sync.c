/*
 * till_sync.c — a till's side of sync with the head office, through o2okit's C ABI.
 *
 *   till_sync --ledger FILE --merchant N --till N --journal-key HEX --at UNIX_SECONDS
 *             export BATCH_FILE [--max N]
 *   till_sync --ledger FILE --merchant N --till N --journal-key HEX --root HEX --at UNIX_SECONDS
 *             apply ACK_FILE
 *
 * export writes the journal records the head office has not acknowledged to BATCH_FILE: send
 * those bytes to the head office (HTTP, a queue, a USB stick). apply reads the head office's
 * answer, checks it (its MAC, with the till's journal key; the deny-list delta in it, with the
 * root public key the till pins) and applies both at once. Bytes in, bytes out: this program
 * never touches the network.
 *
 * Prints one line and exits with:
 *   0  EXPORTED bytes=… written=… acknowledged=…   or   SYNCED written=… acknowledged=…
 *      deny_list_version=… last_sync=…
 *   1  ERROR status=… message=…
 *
 * Build: cc -std=c99 -Iinclude examples/till_sync.c target/release/libo2okit.a \
 *          -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o till_sync
 */
#include "o2okit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, o2o_status status) {
    char message[O2O_MAX_ERROR_MESSAGE + 1];
    if (o2o_last_error(message, sizeof message, NULL) != O2O_STATUS_OK) {
        strcpy(message, "(no message)");
    }
    printf("ERROR status=%u (%s) during %s: %s\n", (unsigned)status,
           o2o_status_name((uint32_t)status), what, message);
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

/* Exports the unacknowledged records into a malloc'd buffer; the size is asked first. */
static o2o_status export_batch(const o2o_ledger *ledger, size_t max, int64_t at,
                               uint8_t **bytes, size_t *len) {
    o2o_status status;
    size_t needed = 0;
    *bytes = NULL;
    for (;;) {
        status = o2o_ledger_export_journal(ledger, max, at, *bytes, *len, &needed);
        if (status != O2O_STATUS_INSUFFICIENT_BUFFER) break;
        /* Sales recorded between the two calls make the batch grow: ask again. */
        free(*bytes);
        *bytes = (uint8_t *)malloc(needed);
        if (*bytes == NULL) return O2O_STATUS_PANIC;
        *len = needed;
    }
    *len = needed;
    return status;
}

int main(int argc, char **argv) {
    const char *ledger_path = NULL, *key_hex = NULL, *root_hex = NULL;
    const char *command = NULL, *file_path = NULL;
    unsigned long merchant = 0, till = 0, max = 10000;
    long long at = 0;
    uint8_t key[64], root[32];
    long key_len;
    int i, exit_code = 1;
    o2o_status status;
    o2o_ledger *ledger = NULL;
    o2o_sync_status sync;
    FILE *file;

    if (o2o_version_number() != O2OKIT_VERSION_NUMBER) {
        fprintf(stderr, "libo2okit %s does not match o2okit.h %s\n", o2o_version(), O2OKIT_VERSION);
        return 1;
    }
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(arg, "--", 2) != 0) {
            if (command == NULL) command = arg;
            else file_path = arg;
            continue;
        }
        if (value == NULL) { fprintf(stderr, "%s needs a value\n", arg); return 1; }
        i++;
        if (!strcmp(arg, "--ledger")) ledger_path = value;
        else if (!strcmp(arg, "--merchant")) merchant = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--till")) till = strtoul(value, NULL, 10);
        else if (!strcmp(arg, "--journal-key")) key_hex = value;
        else if (!strcmp(arg, "--root")) root_hex = value;
        else if (!strcmp(arg, "--at")) at = strtoll(value, NULL, 10);
        else if (!strcmp(arg, "--max")) max = strtoul(value, NULL, 10);
        else { fprintf(stderr, "unknown flag %s\n", arg); return 1; }
    }
    if (!ledger_path || !key_hex || !command || !file_path || at <= 0 ||
        (strcmp(command, "export") && strcmp(command, "apply")) ||
        (!strcmp(command, "apply") && !root_hex)) {
        fprintf(stderr, "usage: till_sync --ledger FILE --merchant N --till N --journal-key HEX "
                        "--at UNIX (export BATCH_FILE | --root HEX apply ACK_FILE)\n");
        return 1;
    }
    key_len = decode_hex(key_hex, key, sizeof key);
    if (key_len < 0) { fprintf(stderr, "--journal-key is not hex\n"); return 1; }
    status = o2o_ledger_open_till(ledger_path, (uint32_t)merchant, (uint32_t)till, key,
                                  (size_t)key_len, NULL, &ledger);
    memset(key, 0, sizeof key);
    if (status != O2O_STATUS_OK) return fail("opening the till's ledger", status);

    if (!strcmp(command, "export")) {
        uint8_t *batch = NULL;
        size_t len = 0;
        if ((status = export_batch(ledger, (size_t)max, (int64_t)at, &batch, &len)) !=
            O2O_STATUS_OK) {
            exit_code = fail("exporting the journal", status);
        } else if ((file = fopen(file_path, "wb")) == NULL || fwrite(batch, 1, len, file) != len ||
                   fclose(file) != 0) {
            perror(file_path);
        } else if ((status = o2o_ledger_sync_status(ledger, &sync)) != O2O_STATUS_OK) {
            exit_code = fail("reading the sync status", status);
        } else {
            printf("EXPORTED bytes=%lu written=%llu acknowledged=%llu\n", (unsigned long)len,
                   (unsigned long long)sync.written, (unsigned long long)sync.acknowledged);
            exit_code = 0;
        }
        free(batch);
    } else {
        uint8_t *ack;
        long len;
        if (decode_hex(root_hex, root, sizeof root) != 32) {
            fprintf(stderr, "--root is not 32 bytes of hex\n");
            goto done;
        }
        if ((file = fopen(file_path, "rb")) == NULL) { perror(file_path); goto done; }
        fseek(file, 0, SEEK_END);
        len = ftell(file);
        fseek(file, 0, SEEK_SET);
        if (len < 0 || len > (64L << 20)) { fprintf(stderr, "%s: too large\n", file_path); fclose(file); goto done; }
        ack = (uint8_t *)malloc(len > 0 ? (size_t)len : 1);
        if (ack == NULL || fread(ack, 1, (size_t)len, file) != (size_t)len) {
            fprintf(stderr, "%s: cannot read\n", file_path);
            fclose(file);
            free(ack);
            goto done;
        }
        fclose(file);
        status = o2o_ledger_apply_sync_ack(ledger, ack, (size_t)len, root, sizeof root,
                                           (int64_t)at, &sync);
        free(ack);
        if (status != O2O_STATUS_OK) {
            exit_code = fail("applying the acknowledgement", status);
            goto done;
        }
        printf("SYNCED written=%llu acknowledged=%llu deny_list_version=%llu last_sync=%lld\n",
               (unsigned long long)sync.written, (unsigned long long)sync.acknowledged,
               (unsigned long long)sync.deny_list_version, (long long)sync.last_sync_unix_seconds);
        exit_code = 0;
    }
done:
    o2o_ledger_close(ledger);
    return exit_code;
}
