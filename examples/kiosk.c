/*
 * kiosk.c — decodes the QR codes in a raw camera frame through o2okit's C ABI.
 *
 *   kiosk WIDTH HEIGHT STRIDE FRAME_FILE
 *
 * FRAME_FILE holds 8-bit grey pixels, rows STRIDE bytes apart (as a camera delivers them).
 * Prints each code's text on its own line and exits 0, or prints nothing and exits 2 when the
 * frame holds no readable code; 1 on error.
 *
 * Build (see README): cc -std=c99 -Iinclude examples/kiosk.c target/release/libo2okit.a \
 *                       -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o kiosk
 */
#include "o2okit.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    unsigned long width, height, stride;
    long length;
    FILE *file;
    uint8_t *pixels;
    char *texts = NULL;
    size_t needed = 0, count = 0;
    o2o_status status;
    int exit_code = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: kiosk WIDTH HEIGHT STRIDE FRAME_FILE\n");
        return 1;
    }
    width = strtoul(argv[1], NULL, 10);
    height = strtoul(argv[2], NULL, 10);
    stride = strtoul(argv[3], NULL, 10);
    file = fopen(argv[4], "rb");
    if (file == NULL) {
        perror(argv[4]);
        return 1;
    }
    fseek(file, 0, SEEK_END);
    length = ftell(file);
    fseek(file, 0, SEEK_SET);
    pixels = length > 0 ? (uint8_t *)malloc((size_t)length) : NULL;
    if (pixels == NULL || fread(pixels, 1, (size_t)length, file) != (size_t)length) {
        fprintf(stderr, "%s: cannot read the frame\n", argv[4]);
        fclose(file);
        free(pixels);
        return 1;
    }
    fclose(file);

    /* First call asks for the size, second one fills the buffer. */
    status = o2o_qr_decode_luma(pixels, (size_t)length, width, height, stride, NULL, 0, &needed,
                                &count);
    if (status == O2O_STATUS_INSUFFICIENT_BUFFER) {
        texts = (char *)malloc(needed);
        if (texts != NULL) {
            status = o2o_qr_decode_luma(pixels, (size_t)length, width, height, stride, texts,
                                        needed, &needed, &count);
        }
    }
    if (status != O2O_STATUS_OK || texts == NULL) {
        char message[256];
        if (o2o_last_error(message, sizeof message, &needed) != O2O_STATUS_OK) message[0] = 0;
        fprintf(stderr, "decoding failed (status %u): %s\n", (unsigned)status, message);
    } else if (count == 0) {
        exit_code = 2;
    } else {
        fputs(texts, stdout);
        exit_code = 0;
    }
    free(texts);
    free(pixels);
    return exit_code;
}
