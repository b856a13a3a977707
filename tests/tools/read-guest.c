/*
 * read-guest [-f FMT] IMAGE OUT: writes the guest-visible contents of
 * IMAGE (through its backing chain) to OUT as raw bytes.  Test tool for
 * the read path, compared with `qemu-img convert -O raw`.
 */
#include "block/block.h"

#define CHUNK (4 * 1024 * 1024)

int main(int argc, char **argv)
{
    const char *fmt = NULL;
    Error *err = NULL;
    BlockDriverState *bs;
    g_autofree uint8_t *buf = NULL;
    int64_t len;
    FILE *out;
    int argi = 1;

    error_set_progname("read-guest");
    if (argc > 3 && !strcmp(argv[1], "-f")) {
        fmt = argv[2];
        argi = 3;
    }
    if (argc - argi != 2) {
        fprintf(stderr, "usage: read-guest [-f FMT] IMAGE OUT\n");
        return 2;
    }
    bs = bdrv_open(argv[argi], fmt, NULL, 0, &err);
    if (!bs) {
        error_report_err(err);
        return 1;
    }
    out = fopen(argv[argi + 1], "wb");
    if (!out) {
        error_report("Could not create '%s': %s", argv[argi + 1],
                     g_strerror(errno));
        bdrv_unref(bs);
        return 1;
    }
    len = bdrv_getlength(bs);
    buf = g_malloc(CHUNK);
    for (int64_t off = 0; off < len; off += CHUNK) {
        int64_t n = MIN(CHUNK, len - off);
        if (bdrv_pread(bs, off, n, buf, &err) < 0) {
            error_report_err(err);
            fclose(out);
            bdrv_unref(bs);
            return 1;
        }
        if (fwrite(buf, 1, n, out) != (size_t)n) {
            error_report("Write error");
            fclose(out);
            bdrv_unref(bs);
            return 1;
        }
    }
    fclose(out);
    bdrv_unref(bs);
    return 0;
}
