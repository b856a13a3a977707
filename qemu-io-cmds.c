/*
 * qemu-io's commands.  Every message, its stream and the order of the
 * checks follow qemu-io 7.2 as the binary behaves: results and most
 * command errors on stdout, usage and permission errors on stderr.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include "qemu-io-internal.h"
#include "qapi-emit.h"
#include "qemu/cutils.h"

/* Bytes per line of a `read -v` dump. */
#define DUMP_LINE_BYTES 16

/* Unit of VM state and compressed requests, and alloc's default count. */
#define SECTOR_SIZE 512

static bool quit_requested;

/* ---------------------------------------------------------------------
 * Numbers and sizes
 */

/*
 * A number argument: qemu_strtosz(), the size syntax qemu-img also
 * takes (7.2 parses both alike), up to INT64_MAX, with qemu-io 7.2's
 * messages.
 */
int64_t qemuio_cvtnum(const char *s)
{
    uint64_t v;
    int ret = qemu_strtosz(s, &v);

    if (ret == -ERANGE || (ret == 0 && v > INT64_MAX)) {
        printf("Parsing error: argument too large -- %s\n", s);
        return -1;
    } else if (ret < 0) {
        printf("Parsing error: non-numeric argument, or "
               "extraneous/unrecognized suffix -- %s\n", s);
        return -1;
    }
    return (int64_t)v;
}

/* A pattern byte: C integer syntax (0x.., 0..), 0 to 255. */
int qemuio_parse_pattern(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 0);
    if (errno || end == s || *end || v < 0 || v > 255) {
        printf("%s is not a valid pattern byte\n", s);
        return -1;
    }
    return (int)v;
}

/*
 * "512 bytes", "1.500 KiB": three decimals for the binary prefixes,
 * six for bytes, and none when they are all zeros.
 */
static void cvtstr(double value, char *buf, size_t len)
{
    static const char *const units[] = {
        "EiB", "PiB", "TiB", "GiB", "MiB", "KiB",
    };
    const char *unit = "bytes";
    const char *zeros = ".000000";
    int decimals = 6;
    char *dot;

    for (int i = 0; i < 6; i++) {
        double scale = ldexp(1.0, 10 * (6 - i));
        if (value >= scale) {
            value /= scale;
            unit = units[i];
            decimals = 3;
            zeros = ".000";
            break;
        }
    }
    snprintf(buf, len, "%.*f", decimals, value);
    dot = strchr(buf, '.');
    if (dot && !strcmp(dot, zeros)) {
        *dot = '\0';
    }
    g_strlcat(buf, " ", len);
    g_strlcat(buf, unit, len);
}

/* ---------------------------------------------------------------------
 * Reports
 */

double qemuio_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void timestr(double secs, bool fixed, char *buf, size_t len)
{
    unsigned long total_cs = (unsigned long)(secs * 100);
    unsigned long cs = total_cs % 100, s = total_cs / 100;
    unsigned long h = s / 3600, m = s / 60 % 60;

    s %= 60;
    if (fixed || h) {
        snprintf(buf, len, "%lu:%02lu:%02lu.%02lu", h, m, s, cs);
    } else if (m) {
        snprintf(buf, len, "%lu:%02lu.%02lu", m, s, cs);
    } else {
        snprintf(buf, len, "%02lu.%02lu sec", s, cs);
    }
}

/*
 * The two result lines of read/write/discard, or with -C one line of
 * comma-separated values.
 */
void qemuio_print_report(const char *op, double secs, int64_t offset,
                         int64_t bytes, bool cflag)
{
    char tbuf[64], sbuf[64], rbuf[64];
    double bps = bytes / secs, ops = 1 / secs;

    if (cflag) {
        timestr(secs, true, tbuf, sizeof(tbuf));
        printf("%" PRId64 ",%d,%s,%.3f,%.3f\n", bytes, 1, tbuf, bps, ops);
        return;
    }
    timestr(secs, false, tbuf, sizeof(tbuf));
    cvtstr(bytes, sbuf, sizeof(sbuf));
    cvtstr(bps, rbuf, sizeof(rbuf));
    printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n",
           op, bytes, bytes, offset);
    printf("%s, %d ops; %s (%s/sec and %.4f ops/sec)\n",
           sbuf, 1, tbuf, rbuf, ops);
}

void qemuio_dump_buffer(const uint8_t *buf, int64_t offset, int64_t len)
{
    for (int64_t i = 0; i < len; i += DUMP_LINE_BYTES) {
        int64_t n = MIN(DUMP_LINE_BYTES, len - i);

        printf("%08" PRIx64 ":  ", (uint64_t)(offset + i));
        for (int64_t j = 0; j < n; j++) {
            printf("%02x ", buf[i + j]);
        }
        putchar(' ');
        for (int64_t j = 0; j < n; j++) {
            uint8_t c = buf[i + j];
            /* 7.2 shows letters and digits only. */
            putchar(g_ascii_isalnum(c) ? c : '.');
        }
        putchar('\n');
    }
}

void qemuio_print_usage(const char *name, const QemuIOCmd *ct)
{
    if (ct->args) {
        printf("%s %s -- %s\n", name, ct->args, ct->oneline);
    } else {
        printf("%s -- %s\n", name, ct->oneline);
    }
}

/* Requests must lie inside the image (7.2 fails them with EIO). */
int qemuio_check_request(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    int64_t len = bdrv_getlength(bs);

    if (len < 0) {
        return (int)len;
    }
    if (offset > len || bytes > len - offset) {
        return -EIO;
    }
    return 0;
}

int qemuio_do_read(BlockDriverState *bs, int64_t offset, int64_t count,
                   uint8_t *buf)
{
    Error *err = NULL;
    int ret = qemuio_check_request(bs, offset, count);

    if (ret == 0 && count) {
        ret = bdrv_pread(bs, offset, count, buf, &err);
        error_free(err);
    }
    return ret;
}

bool qemuio_check_pattern(const uint8_t *buf, int64_t offset,
                          int64_t pattern_offset, int64_t count,
                          int pattern)
{
    for (int64_t i = 0; i < count; i++) {
        if (buf[pattern_offset + i] != pattern) {
            printf("Pattern verification failed at offset %" PRId64
                   ", %" PRId64 " bytes\n", offset + pattern_offset, count);
            return false;
        }
    }
    return true;
}

/*
 * The "off len" operands of read, write and discard, then the length
 * limit (which write -n lifts).  False after 7.2's message.
 */
static bool parse_offset_count(char **args, int64_t *offset, int64_t *count,
                               bool write, bool no_fallback)
{
    *offset = qemuio_cvtnum(args[0]);
    if (*offset < 0) {
        return false;
    }
    *count = qemuio_cvtnum(args[1]);
    if (*count < 0) {
        return false;
    }
    if (*count > QEMU_IO_MAX_REQUEST && !no_fallback) {
        printf("length cannot exceed %lld%s, given %s\n",
               QEMU_IO_MAX_REQUEST, write ? " without -n" : "", args[1]);
        return false;
    }
    return true;
}

int qemuio_common_option(int c, const char *arg, IOCommonOpts *o)
{
    switch (c) {
    case 'b':
        o->vmstate = true;
        return 1;
    case 'C':
        o->csv = true;
        return 1;
    case 'p':
        return 1;       /* 7.2: ignored for backwards compatibility */
    case 'P':
        o->has_pattern = true;
        o->pattern = qemuio_parse_pattern(arg);
        return o->pattern < 0 ? -1 : 1;
    case 'q':
        o->quiet = true;
        return 1;
    }
    return 0;
}

static bool check_sector_aligned(int64_t value, const char *what)
{
    if (value % SECTOR_SIZE) {
        printf("%" PRId64 " is not a sector-aligned value for '%s'\n",
               value, what);
        return false;
    }
    return true;
}

/*
 * The end of write and discard: 7.2's "@op failed" line for an error,
 * else the report (@done names the operation there) unless -q.
 */
static bool end_request(const char *op, const char *done, int ret,
                        double secs, int64_t offset, int64_t count,
                        const IOCommonOpts *o)
{
    if (ret < 0) {
        printf("%s failed: %s\n", op, strerror(-ret));
        return false;
    }
    if (!o->quiet) {
        qemuio_print_report(done, secs, offset, count, o->csv);
    }
    return true;
}

/* ---------------------------------------------------------------------
 * read
 */

static const QemuIOCmd read_cmd;

static bool read_f(BlockDriverState *bs, int argc, char **argv)
{
    IOCommonOpts o = { 0 };
    bool vflag = false, sflag = false, lflag = false, ok = true;
    int c, ret;
    int64_t offset, count, pattern_offset = 0, pattern_count = 0;
    g_autofree uint8_t *buf = NULL;
    double start;

    while ((c = getopt(argc, argv, "bCpP:qs:l:v")) != -1) {
        ret = qemuio_common_option(c, optarg, &o);
        if (ret < 0) {
            return false;
        } else if (ret > 0) {
            continue;
        }
        switch (c) {
        case 's':
            sflag = true;
            pattern_offset = qemuio_cvtnum(optarg);
            if (pattern_offset < 0) {
                return false;
            }
            break;
        case 'l':
            lflag = true;
            pattern_count = qemuio_cvtnum(optarg);
            if (pattern_count < 0) {
                return false;
            }
            break;
        case 'v':
            vflag = true;
            break;
        default:
            qemuio_print_usage(argv[0], &read_cmd);
            return false;
        }
    }
    if (optind != argc - 2 || ((sflag || lflag) && !o.has_pattern)) {
        qemuio_print_usage(argv[0], &read_cmd);
        return false;
    }
    if (!parse_offset_count(argv + optind, &offset, &count, false, false)) {
        return false;
    }
    if (!lflag) {
        pattern_count = count - pattern_offset;
    }
    if (pattern_offset > count || pattern_count < 0 ||
        pattern_count > count - pattern_offset) {
        printf("pattern verification range exceeds end of read data\n");
        return false;
    }
    if (o.vmstate && (!check_sector_aligned(offset, "offset") ||
                      !check_sector_aligned(count, "count"))) {
        return false;
    }

    buf = g_malloc(MAX(count, 1));
    start = qemuio_now();
    /* No VM state here: qemu-io 7.2 answers the same for raw images. */
    ret = o.vmstate ? -ENOTSUP : qemuio_do_read(bs, offset, count, buf);
    if (ret < 0) {
        printf("read failed: %s\n", strerror(-ret));
        return false;
    }
    start = qemuio_now() - start;

    if (o.has_pattern) {
        ok = qemuio_check_pattern(buf, offset, pattern_offset, pattern_count,
                                  o.pattern);
    }
    if (o.quiet) {
        return ok;
    }
    if (vflag) {
        qemuio_dump_buffer(buf, offset, count);
    }
    qemuio_print_report("read", start, offset, count, o.csv);
    return ok;
}

static const QemuIOCmd read_cmd = {
    .name = "read", .altname = "r", .cfunc = read_f,
    .argmin = 2, .argmax = -1, .needs_file = true,
    .args = "[-abCqv] [-P pattern [-s off] [-l len]] off len",
    .oneline = "reads a number of bytes at a specified offset",
    .help =
"\n"
" reads a range of bytes from the given offset\n"
"\n"
" Example:\n"
" 'read -v 512 1k' - dumps 1 kilobyte read from 512 bytes into the file\n"
"\n"
" Reads a segment of the currently open file, optionally dumping it to the\n"
" standard output stream (with -v option) for subsequent inspection.\n"
" -b, -- read from the VM state rather than the virtual disk\n"
" -C, -- report statistics in a machine parsable format\n"
" -l, -- length for pattern verification (only with -P)\n"
" -p, -- ignored for backwards compatibility\n"
" -P, -- use a pattern to verify read data\n"
" -q, -- quiet mode, do not show I/O statistics\n"
" -s, -- start offset for pattern verification (only with -P)\n"
" -v, -- dump buffer to standard output\n"
"\n",
};

/* ---------------------------------------------------------------------
 * write
 */

static const QemuIOCmd write_cmd;

/*
 * The write buffer filled from @path, repeated as often as needed.
 * Returns false with 7.2's message.
 */
static bool fill_from_file(uint8_t *buf, int64_t count, const char *path)
{
    FILE *f = fopen(path, "r");
    size_t got;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return false;
    }
    got = fread(buf, 1, count, f);
    if (ferror(f)) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        fclose(f);
        return false;
    }
    fclose(f);
    if (got == 0) {
        fprintf(stderr, "%s: file is empty\n", path);
        return false;
    }
    for (int64_t done = got; done < count; done += got) {
        memcpy(buf + done, buf, MIN((int64_t)got, count - done));
    }
    return true;
}

int qemuio_do_write(BlockDriverState *bs, int64_t offset, int64_t count,
                    const uint8_t *buf, int zflags, bool zflag, bool cflag,
                    bool fua)
{
    Error *err = NULL;
    int ret = qemuio_check_request(bs, offset, count);

    if (ret == 0 && zflag) {
        ret = bdrv_pwrite_zeroes(bs, offset, count, zflags, &err);
    } else if (ret == 0 && cflag) {
        ret = bdrv_pwrite_compressed(bs, offset, count, buf, &err);
    } else if (ret == 0) {
        ret = bdrv_pwrite(bs, offset, count, buf, &err);
    }
    /* Writethrough, 7.2's default cache mode, flushes every write. */
    if (ret == 0 && (fua || !qemuio_image_writeback())) {
        ret = bdrv_flush(bs, &err);
    }
    error_free(err);
    return ret;
}

static bool write_f(BlockDriverState *bs, int argc, char **argv)
{
    IOCommonOpts o = { .pattern = 0xcd };
    bool cflag = false, zflag = false, uflag = false, nflag = false;
    bool fflag = false;
    const char *source = NULL;
    int c, ret, zflags = 0;
    int64_t offset, count;
    g_autofree uint8_t *buf = NULL;
    double start;

    while ((c = getopt(argc, argv, "bcCfnpP:qs:uz")) != -1) {
        ret = qemuio_common_option(c, optarg, &o);
        if (ret < 0) {
            return false;
        } else if (ret > 0) {
            continue;
        }
        switch (c) {
        case 'c':
            cflag = true;
            break;
        case 'f':
            fflag = true;
            break;
        case 'n':
            nflag = true;
            break;
        case 's':
            source = optarg;
            break;
        case 'u':
            uflag = true;
            break;
        case 'z':
            zflag = true;
            break;
        default:
            qemuio_print_usage(argv[0], &write_cmd);
            return false;
        }
    }
    if (optind != argc - 2) {
        qemuio_print_usage(argv[0], &write_cmd);
        return false;
    }
    if (nflag && !zflag) {
        printf("-n requires -z to be specified\n");
        return false;
    }
    if (uflag && !zflag) {
        printf("-u requires -z to be specified\n");
        return false;
    }
    if (zflag + o.has_pattern + !!source > 1) {
        printf("Only one of -z, -P, and -s can be specified at the same "
               "time\n");
        return false;
    }
    if (!parse_offset_count(argv + optind, &offset, &count, true, nflag)) {
        return false;
    }
    if ((o.vmstate || cflag) && (!check_sector_aligned(offset, "offset") ||
                                 !check_sector_aligned(count, "count"))) {
        return false;
    }
    if (!zflag) {
        buf = g_malloc(MAX(count, 1));
        if (source) {
            if (!fill_from_file(buf, count, source)) {
                return false;
            }
        } else {
            memset(buf, o.pattern, count);
        }
    }
    zflags = (uflag ? BDRV_REQ_MAY_UNMAP : 0) |
             (nflag ? BDRV_REQ_NO_FALLBACK : 0);

    start = qemuio_now();
    if (o.vmstate) {
        /* No VM state in this implementation. */
        ret = -ENOTSUP;
    } else {
        ret = qemuio_do_write(bs, offset, count, buf, zflags, zflag, cflag,
                              fflag);
    }
    return end_request("write", "wrote", ret, qemuio_now() - start,
                       offset, count, &o);
}

static const QemuIOCmd write_cmd = {
    .name = "write", .altname = "w", .cfunc = write_f,
    .argmin = 2, .argmax = -1, .needs_file = true, .needs_write = true,
    .args = "[-bcCfnquz] [-P pattern | -s source_file] off len",
    .oneline = "writes a number of bytes at a specified offset",
    .help =
"\n"
" writes a range of bytes from the given offset\n"
"\n"
" Example:\n"
" 'write 512 1k' - writes 1 kilobyte at 512 bytes into the open file\n"
"\n"
" Writes into a segment of the currently open file, using a buffer\n"
" filled with a set pattern (0xcdcdcdcd).\n"
" -b, -- write to the VM state rather than the virtual disk\n"
" -c, -- write compressed data with blk_write_compressed\n"
" -f, -- use Force Unit Access semantics\n"
" -n, -- with -z, don't allow slow fallback\n"
" -p, -- ignored for backwards compatibility\n"
" -P, -- use different pattern to fill file\n"
" -s, -- use a pattern file to fill the write buffer\n"
" -C, -- report statistics in a machine parsable format\n"
" -q, -- quiet mode, do not show I/O statistics\n"
" -u, -- with -z, allow unmapping\n"
" -z, -- write zeroes using blk_co_pwrite_zeroes\n"
"\n",
};

/* ---------------------------------------------------------------------
 * discard
 */

static const QemuIOCmd discard_cmd;

static bool discard_f(BlockDriverState *bs, int argc, char **argv)
{
    IOCommonOpts o = { 0 };
    int64_t offset, count;
    double start;
    int c, ret;

    /* Only -C and -q reach qemuio_common_option() here. */
    while ((c = getopt(argc, argv, "Cq")) != -1) {
        if (qemuio_common_option(c, optarg, &o) <= 0) {
            qemuio_print_usage(argv[0], &discard_cmd);
            return false;
        }
    }
    if (optind != argc - 2) {
        qemuio_print_usage(argv[0], &discard_cmd);
        return false;
    }
    if (!parse_offset_count(argv + optind, &offset, &count, false, false)) {
        return false;
    }

    start = qemuio_now();
    ret = qemuio_check_request(bs, offset, count);
    if (ret == 0) {
        Error *err = NULL;
        ret = bdrv_pdiscard(bs, offset, count, &err);
        if (ret == 0 && !qemuio_image_writeback()) {
            ret = bdrv_flush(bs, &err);
        }
        error_free(err);
    }
    return end_request("discard", "discard", ret, qemuio_now() - start,
                       offset, count, &o);
}

static const QemuIOCmd discard_cmd = {
    .name = "discard", .altname = "d", .cfunc = discard_f,
    .argmin = 2, .argmax = -1, .needs_file = true, .needs_write = true,
    .args = "[-Cq] off len",
    .oneline = "discards a number of bytes at a specified offset",
    .help =
"\n"
" discards a range of bytes from the given offset\n"
"\n"
" Example:\n"
" 'discard 512 1k' - discards 1 kilobyte from 512 bytes into the file\n"
"\n"
" Discards a segment of the currently open file.\n"
" -C, -- report statistics in a machine parsable format\n"
" -q, -- quiet mode, do not show I/O statistics\n"
"\n",
};

/* ---------------------------------------------------------------------
 * alloc, map
 */

/*
 * Allocation status of the range starting at @offset, clamped to the
 * image end; *pnum 0 at the end.
 */
static int is_allocated(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        int64_t *pnum)
{
    int64_t len = bdrv_getlength(bs);
    Error *err = NULL;
    int ret;

    if (len < 0) {
        return (int)len;
    }
    if (offset >= len) {
        *pnum = 0;
        return 0;
    }
    bytes = MIN(bytes, len - offset);
    ret = bdrv_is_allocated(bs, offset, bytes, pnum, &err);
    error_free(err);
    if (ret >= 0 && (*pnum <= 0 || *pnum > bytes)) {
        return -EIO;    /* a block layer answer we cannot make progress on */
    }
    return ret;
}

static bool alloc_f(BlockDriverState *bs, int argc, char **argv)
{
    int64_t offset, count = SECTOR_SIZE, remaining, sum = 0;
    char sbuf[64];

    offset = qemuio_cvtnum(argv[1]);
    if (offset < 0) {
        return false;
    }
    if (argc == 3) {
        count = qemuio_cvtnum(argv[2]);
        if (count < 0) {
            return false;
        }
    }
    remaining = count;
    while (remaining) {
        int64_t num;
        int ret = is_allocated(bs, offset + (count - remaining), remaining,
                               &num);
        if (ret < 0) {
            printf("is_allocated failed: %s\n", strerror(-ret));
            return false;
        }
        if (!num) {
            break;
        }
        if (ret) {
            sum += num;
        }
        remaining -= num;
    }
    cvtstr(offset, sbuf, sizeof(sbuf));
    printf("%" PRId64 "/%" PRId64 " bytes allocated at offset %s\n",
           sum, count - remaining, sbuf);
    return true;
}

static bool map_f(BlockDriverState *bs, int argc, char **argv)
{
    int64_t len = bdrv_getlength(bs), offset = 0;

    if (len < 0) {
        printf("could not get image length: %s\n", strerror((int)-len));
        return false;
    }
    while (offset < len) {
        int64_t num, start = offset, run = 0;
        int first = -1;
        char nbuf[64], obuf[64];

        /* Neighbouring answers with the same status make one line. */
        while (offset < len) {
            int ret = is_allocated(bs, offset, len - offset, &num);
            if (ret < 0) {
                printf("Failed to get allocation status: %s\n",
                       strerror(-ret));
                return false;
            }
            if (first >= 0 && !!ret != first) {
                break;
            }
            first = !!ret;
            run += num;
            offset += num;
        }
        cvtstr(run, nbuf, sizeof(nbuf));
        cvtstr(start, obuf, sizeof(obuf));
        printf("%s (0x%" PRIx64 ") bytes %s allocated at offset %s "
               "(0x%" PRIx64 ")\n", nbuf, (uint64_t)run,
               first ? "   " : "not", obuf, (uint64_t)start);
    }
    return true;
}

/* ---------------------------------------------------------------------
 * truncate, length, info, flush
 */

static const QemuIOCmd truncate_cmd;

static bool truncate_f(BlockDriverState *bs, int argc, char **argv)
{
    Error *err = NULL;
    int64_t size;
    int c;

    while ((c = getopt(argc, argv, "m:")) != -1) {
        switch (c) {
        case 'm':
            /*
             * Preallocation changes how the host file is filled, not
             * what the guest reads; we accept the modes raw accepts.
             */
            if (!strcmp(optarg, "metadata")) {
                error_report("Unsupported preallocation mode: %s", optarg);
                return false;
            }
            if (strcmp(optarg, "off") && strcmp(optarg, "full") &&
                strcmp(optarg, "falloc")) {
                error_report("Invalid preallocation mode '%s'", optarg);
                return false;
            }
            break;
        default:
            qemuio_print_usage(argv[0], &truncate_cmd);
            return false;
        }
    }
    if (optind != argc - 1) {
        qemuio_print_usage(argv[0], &truncate_cmd);
        return false;
    }
    size = qemuio_cvtnum(argv[optind]);
    if (size < 0) {
        return false;
    }
    if (bdrv_truncate(bs, size, &err) < 0) {
        error_report_err(err);
        return false;
    }
    return true;
}

static const QemuIOCmd truncate_cmd = {
    .name = "truncate", .altname = "t", .cfunc = truncate_f,
    .argmin = 1, .argmax = 3, .needs_file = true, .needs_write = true,
    .args = "[-m prealloc_mode] off",
    .oneline = "truncates the current file at the given offset",
};

static bool length_f(BlockDriverState *bs, int argc, char **argv)
{
    int64_t len = bdrv_getlength(bs);
    char sbuf[64];

    if (len < 0) {
        printf("getlength: %s\n", strerror((int)-len));
        return false;
    }
    cvtstr(len, sbuf, sizeof(sbuf));
    printf("%s\n", sbuf);
    return true;
}

/*
 * Where qcow2 keeps the VM state: right after the guest data, at the
 * first L1 entry the disk does not need.
 */
static int64_t vm_state_offset(const ImageInfo *info)
{
    const ImageInfoSpecific *spec = info->format_specific;
    int64_t entries, span;

    if (!info->has_cluster_size || info->cluster_size <= 0 || !spec ||
        spec->type != IMAGE_INFO_SPECIFIC_KIND_QCOW2) {
        return 0;
    }
    entries = info->cluster_size /
              (spec->u.qcow2.data->extended_l2 ? 16 : 8);
    span = info->cluster_size * entries;
    return DIV_ROUND_UP(info->virtual_size, span) * span;
}

static bool info_f(BlockDriverState *bs, int argc, char **argv)
{
    g_autoptr(ImageInfo) info = NULL;
    char cbuf[64], vbuf[64];
    Error *err = NULL;

    info = bdrv_query_image_info(bs, &err);
    if (!info) {
        error_report_err(err);
        return false;
    }
    cvtstr(info->has_cluster_size ? info->cluster_size : 0, cbuf,
           sizeof(cbuf));
    cvtstr(vm_state_offset(info), vbuf, sizeof(vbuf));
    printf("format name: %s\n", info->format);
    printf("cluster size: %s\n", cbuf);
    printf("vm state offset: %s\n", vbuf);
    if (info->format_specific &&
        info->format_specific->type == IMAGE_INFO_SPECIFIC_KIND_QCOW2) {
        g_autoptr(GString) out = g_string_new("Format specific "
                                              "information:\n");
        g_autoptr(QapiEmitter) e = qapi_human_emitter_new_gstring(out, 1);

        qapi_emit_ImageInfoSpecificQCow2(e,
                                         info->format_specific->u.qcow2.data);
        g_clear_pointer(&e, qapi_emitter_free);
        fputs(out->str, stdout);
    }
    return true;
}

static bool flush_f(BlockDriverState *bs, int argc, char **argv)
{
    Error *err = NULL;

    if (bdrv_flush(bs, &err) < 0) {
        error_report_err(err);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------
 * break, remove_break, resume, wait_break
 *
 * Breakpoints need QEMU's blkdebug driver, which we do not have.  On
 * any other image 7.2 answers ENOTSUP, as here.
 */

static bool break_f(BlockDriverState *bs, int argc, char **argv)
{
    printf("Could not set breakpoint: %s\n", strerror(ENOTSUP));
    return false;
}

static bool remove_break_f(BlockDriverState *bs, int argc, char **argv)
{
    printf("Could not remove breakpoint %s: %s\n", argv[1],
           strerror(ENOTSUP));
    return false;
}

static bool resume_f(BlockDriverState *bs, int argc, char **argv)
{
    printf("Could not resume request: %s\n", strerror(ENOTSUP));
    return false;
}

/*
 * 7.2 waits until a request with the tag is suspended, which without
 * blkdebug never happens: it waits forever (a signal ends it).
 */
static bool wait_break_f(BlockDriverState *bs, int argc, char **argv)
{
    bool suspended = false;

    while (!suspended) {
        pause();
    }
    return true;
}

/* ---------------------------------------------------------------------
 * abort, sigraise, sleep, quit, help
 */

static bool abort_f(BlockDriverState *bs, int argc, char **argv)
{
    /* On purpose: buffered output and unwritten metadata are lost. */
    abort();
}

static bool sigraise_f(BlockDriverState *bs, int argc, char **argv)
{
    int64_t sig = qemuio_cvtnum(argv[1]);

    if (sig < 0) {
        return false;
    }
    if (sig > NSIG) {
        printf("signal argument '%s' is too large to be a valid signal\n",
               argv[1]);
        return false;
    }
    /* What was printed so far must survive a fatal signal. */
    fflush(stdout);
    fflush(stderr);
    raise((int)sig);
    return true;
}

static bool sleep_f(BlockDriverState *bs, int argc, char **argv)
{
    char *end;
    long ms;

    /* Plain C integers here, not sizes; too large sleeps nothing (7.2). */
    errno = 0;
    ms = strtol(argv[1], &end, 0);
    if (end == argv[1] || *end || ms < 0) {
        printf("%s is not a valid number\n", argv[1]);
        return false;
    }
    if (errno != ERANGE) {
        g_usleep((gulong)ms * 1000);
    }
    return true;
}

static bool quit_f(BlockDriverState *bs, int argc, char **argv)
{
    quit_requested = true;
    return true;
}

static bool help_f(BlockDriverState *bs, int argc, char **argv);

/* Sorted by name: `help` lists them in this order. */
static const QemuIOCmd *const cmdtab[] = {
    &(const QemuIOCmd) {
        .name = "abort", .cfunc = abort_f,
        .oneline = "simulate a program crash using abort(3)",
    },
    &qemuio_aio_flush_cmd,
    &qemuio_aio_read_cmd,
    &qemuio_aio_write_cmd,
    &(const QemuIOCmd) {
        .name = "alloc", .altname = "a", .cfunc = alloc_f,
        .argmin = 1, .argmax = 2, .needs_file = true,
        .args = "offset [count]",
        .oneline = "checks if offset is allocated in the file",
    },
    &(const QemuIOCmd) {
        .name = "break", .cfunc = break_f,
        .argmin = 2, .argmax = 2, .needs_file = true,
        .args = "event tag",
        .oneline = "sets a breakpoint on event and tags the stopped "
                   "request as tag",
    },
    &qemuio_close_cmd,
    &discard_cmd,
    &(const QemuIOCmd) {
        .name = "flush", .altname = "f", .cfunc = flush_f,
        .needs_file = true,
        .oneline = "flush all in-core file state to disk",
    },
    &(const QemuIOCmd) {
        .name = "help", .altname = "?", .cfunc = help_f,
        .argmin = 0, .argmax = 1,
        .args = "[command]",
        .oneline = "help for one or all commands",
    },
    &(const QemuIOCmd) {
        .name = "info", .altname = "i", .cfunc = info_f,
        .needs_file = true,
        .oneline = "prints information about the current file",
    },
    &(const QemuIOCmd) {
        .name = "length", .altname = "l", .cfunc = length_f,
        .needs_file = true,
        .oneline = "gets the length of the current file",
    },
    &(const QemuIOCmd) {
        .name = "map", .cfunc = map_f,
        .needs_file = true,
        .args = "",
        .oneline = "prints the allocated areas of a file",
    },
    &qemuio_open_cmd,
    &(const QemuIOCmd) {
        .name = "quit", .altname = "q", .cfunc = quit_f,
        .argmin = 0, .argmax = -1,
        .oneline = "exit the program",
    },
    &read_cmd,
    &qemuio_readv_cmd,
    &(const QemuIOCmd) {
        .name = "remove_break", .cfunc = remove_break_f,
        .argmin = 1, .argmax = 1, .needs_file = true,
        .args = "tag",
        .oneline = "remove a breakpoint by tag",
    },
    &qemuio_reopen_cmd,
    &(const QemuIOCmd) {
        .name = "resume", .cfunc = resume_f,
        .argmin = 1, .argmax = 1, .needs_file = true,
        .args = "tag",
        .oneline = "resumes the request tagged as tag",
    },
    &(const QemuIOCmd) {
        .name = "sigraise", .cfunc = sigraise_f,
        .argmin = 1, .argmax = 1,
        .args = "signal",
        .oneline = "raises a signal",
        .help =
"\n"
" raises the given signal\n"
"\n"
" Example:\n"
" 'sigraise 15' - raises SIGTERM\n"
"\n"
" Invokes raise(signal), where \"signal\" is the mandatory integer argument\n"
" given to sigraise.\n"
"\n",
    },
    &(const QemuIOCmd) {
        .name = "sleep", .cfunc = sleep_f,
        .argmin = 1, .argmax = 1,
        .oneline = "waits for the given value in milliseconds",
    },
    &truncate_cmd,
    &(const QemuIOCmd) {
        .name = "wait_break", .cfunc = wait_break_f,
        .argmin = 1, .argmax = 1, .needs_file = true,
        .args = "tag",
        .oneline = "waits for the suspension of a request",
    },
    &write_cmd,
    &qemuio_writev_cmd,
};

static const QemuIOCmd *find_command(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(cmdtab); i++) {
        if (!strcmp(name, cmdtab[i]->name) ||
            (cmdtab[i]->altname && !strcmp(name, cmdtab[i]->altname))) {
            return cmdtab[i];
        }
    }
    return NULL;
}

static bool help_f(BlockDriverState *bs, int argc, char **argv)
{
    const QemuIOCmd *ct;

    if (argc == 1) {
        for (size_t i = 0; i < ARRAY_SIZE(cmdtab); i++) {
            qemuio_print_usage(cmdtab[i]->name, cmdtab[i]);
        }
        printf("\nUse 'help commandname' for extended help.\n");
        return true;
    }
    ct = find_command(argv[1]);
    if (!ct) {
        printf("command %s not found\n", argv[1]);
        return false;
    }
    qemuio_print_usage(argv[1], ct);
    if (ct->help) {
        fputs(ct->help, stdout);
    }
    return true;
}

/* ---------------------------------------------------------------------
 * Dispatch
 */

static bool check_argc(const QemuIOCmd *ct, const char *name, int nargs)
{
    if (nargs >= ct->argmin && (ct->argmax < 0 || nargs <= ct->argmax)) {
        return true;
    }
    if (ct->argmax < 0) {
        fprintf(stderr, "bad argument count %d to %s, expected at least %d "
                "arguments\n", nargs, name, ct->argmin);
    } else if (ct->argmin == ct->argmax) {
        fprintf(stderr, "bad argument count %d to %s, expected %d "
                "arguments\n", nargs, name, ct->argmin);
    } else {
        fprintf(stderr, "bad argument count %d to %s, expected between %d "
                "and %d arguments\n", nargs, name, ct->argmin, ct->argmax);
    }
    return false;
}

bool qemuio_command(const char *line)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) words = g_strsplit(line, " ", -1);
    const QemuIOCmd *ct;
    char **argv;

    /* Words are separated by spaces; runs of spaces make no words. */
    for (char **w = words; *w; w++) {
        if (**w) {
            g_ptr_array_add(args, g_strdup(*w));
        }
    }
    if (!args->len) {
        return true;
    }
    g_ptr_array_add(args, NULL);
    argv = (char **)args->pdata;

    ct = find_command(argv[0]);
    if (!ct) {
        fprintf(stderr, "command \"%s\" not found\n", argv[0]);
        return false;
    }
    if (ct->needs_file && !qemuio_image()) {
        fprintf(stderr, "no file open, try 'help open'\n");
        return false;
    }
    if (!check_argc(ct, argv[0], (int)args->len - 2)) {
        return false;
    }
    if (ct->needs_write && !qemuio_take_write_perm()) {
        return false;
    }
    optind = 0;     /* glibc: a fresh getopt scan for every command */
    return ct->cfunc(qemuio_image(), (int)args->len - 1, argv);
}

bool qemuio_quit_requested(void)
{
    return quit_requested;
}
