/*
 * kiosk.c — decodes the QR codes in raw camera frames through o2okit's C ABI, as a kiosk's
 * camera loop does: one decoder kept across frames (its buffers reused), each frame decoded
 * once, then its texts fetched.
 *
 *   kiosk WIDTH HEIGHT STRIDE FRAME_FILE...
 *
 * Each FRAME_FILE holds 8-bit grey pixels, rows STRIDE bytes apart (as a camera delivers
 * them). Prints each code's text on its own line and exits 0, or prints nothing and exits 2
 * when no frame holds a readable code; 1 on error.
 *
 * Build (see README): cc -std=c99 -Iinclude examples/kiosk.c target/release/libo2okit.a \
 *                       -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o kiosk
 */
#include "o2okit.h"

#include <stdio.h>
#include <stdlib.h>

/* Reads a whole file; NULL on failure (reported). */
static uint8_t *read_frame(const char *path, size_t *length) {
    FILE *file = fopen(path, "rb");
    long size;
    uint8_t *pixels;
    if (file == NULL) {
        perror(path);
        return NULL;
    }
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    pixels = size > 0 ? (uint8_t *)malloc((size_t)size) : NULL;
    if (pixels == NULL || fread(pixels, 1, (size_t)size, file) != (size_t)size) {
        fprintf(stderr, "%s: cannot read the frame\n", path);
        free(pixels);
        pixels = NULL;
    }
    fclose(file);
    *length = (size_t)size;
    return pixels;
}

/* Prints the library's message for a failed call. */
static void report(const char *what, o2o_status status) {
    char message[256];
    size_t needed = 0;
    if (o2o_last_error(message, sizeof message, &needed) != O2O_STATUS_OK) message[0] = 0;
    fprintf(stderr, "%s failed (status %u): %s\n", what, (unsigned)status, message);
}

int main(int argc, char **argv) {
    unsigned long width, height, stride;
    o2o_qr_decoder *decoder = NULL;
    o2o_status status;
    char text[1024];
    int frame, found_any = 0, exit_code = 1;

    if (argc < 5) {
        fprintf(stderr, "usage: kiosk WIDTH HEIGHT STRIDE FRAME_FILE...\n");
        return 1;
    }
    width = strtoul(argv[1], NULL, 10);
    height = strtoul(argv[2], NULL, 10);
    stride = strtoul(argv[3], NULL, 10);
    status = o2o_qr_decoder_new(&decoder);
    if (status != O2O_STATUS_OK) {
        report("o2o_qr_decoder_new", status);
        return 1;
    }
    for (frame = 4; frame < argc; frame++) {
        size_t length = 0, count = 0, i, needed = 0;
        uint8_t *pixels = read_frame(argv[frame], &length);
        if (pixels == NULL) goto done;
        status = o2o_qr_decoder_decode(decoder, pixels, length, width, height, stride, &count);
        free(pixels);
        if (status != O2O_STATUS_OK) {
            report("decoding", status);
            goto done;
        }
        for (i = 0; i < count; i++) {
            /* A voucher's text fits in 1 KiB; a longer code is reported, not cut. */
            status = o2o_qr_decoder_text(decoder, i, text, sizeof text, &needed);
            if (status != O2O_STATUS_OK) {
                report("o2o_qr_decoder_text", status);
                goto done;
            }
            puts(text);
            found_any = 1;
        }
    }
    exit_code = found_any ? 0 : 2;
done:
    o2o_qr_decoder_free(decoder);
    return exit_code;
}
