/*
 * qemu-io's vectored and asynchronous requests: readv, writev,
 * aio_read, aio_write and aio_flush.  Several lengths after the offset
 * make one request of their sum (7.2 gives each its own buffer; the
 * guest sees one request either way).
 *
 * 7.2 submits aio_read and aio_write and prints their results when the
 * requests complete: while a later command waits for its own I/O, at
 * aio_flush, or when the image is closed.  We have no event loop, so
 * an aio request runs to completion when it is submitted and prints at
 * once.  The text is 7.2's; only its place among other commands'
 * output can differ, where 7.2 would have left the request in flight
 * (then 7.2's own order depends on thread timing).  After every aio
 * command, an aio_flush makes both orders the same.
 */
#include <getopt.h>
#include "qemu-io-internal.h"

/*
 * The lengths of a vectored request: their sum, or -1 after 7.2's
 * message.  The total is checked as it grows, so a too large total
 * is reported before a bad length after it.
 */
static int64_t parse_lengths(int nr, char **args)
{
    int64_t total = 0;

    for (int i = 0; i < nr; i++) {
        int64_t len = qemuio_cvtnum(args[i]);

        if (len < 0) {
            return -1;
        }
        if (len > QEMU_IO_MAX_REQUEST) {
            printf("Argument '%s' exceeds maximum size %lld\n", args[i],
                   QEMU_IO_MAX_REQUEST);
            return -1;
        }
        if (len > QEMU_IO_MAX_REQUEST - total) {
            printf("The total number of bytes exceed the maximum size "
                   "%lld\n", QEMU_IO_MAX_REQUEST);
            return -1;
        }
        total += len;
    }
    return total;
}

/*
 * The common part of readv and aio_read, from the "off len [len..]"
 * operands in @args on.  An aio_read counts as done once submitted:
 * I/O errors and pattern mismatches do not fail it (7.2).
 */
static bool vectored_read(BlockDriverState *bs, int nargs, char **args,
                          const IOCommonOpts *o, bool vflag, bool aio)
{
    g_autofree uint8_t *buf = NULL;
    int64_t offset, count;
    bool ok = true;
    double start = 0;
    int ret;

    offset = qemuio_cvtnum(args[0]);
    if (offset < 0) {
        return false;
    }
    count = parse_lengths(nargs - 1, args + 1);
    if (count < 0) {
        return false;
    }
    ret = qemuio_check_request(bs, offset, count);
    if (ret == 0) {
        /* Made only for a request inside the image. */
        buf = g_malloc(MAX(count, 1));
        start = qemuio_now();
        ret = qemuio_do_read(bs, offset, count, buf);
    }
    if (ret < 0) {
        /* aio_read's message names readv too (7.2). */
        printf("readv failed: %s\n", strerror(-ret));
        return aio;
    }
    start = qemuio_now() - start;
    if (o->has_pattern) {
        ok = qemuio_check_pattern(buf, offset, 0, count, o->pattern);
    }
    if (!o->quiet) {
        if (vflag) {
            qemuio_dump_buffer(buf, offset, count);
        }
        qemuio_print_report("read", start, offset, count, o->csv);
    }
    return aio || ok;
}

/* readv, or with @aio aio_read, which also takes -i. */
static bool read_cmd(BlockDriverState *bs, int argc, char **argv, bool aio)
{
    const QemuIOCmd *cmd = aio ? &qemuio_aio_read_cmd : &qemuio_readv_cmd;
    IOCommonOpts o = { 0 };
    bool vflag = false;
    int c, ret;

    while ((c = getopt(argc, argv, aio ? "CP:iqv" : "CP:qv")) != -1) {
        if (c == 'v') {
            vflag = true;
            continue;
        }
        if (c == 'i') {
            /* 7.2 only counts an invalid request, whatever follows. */
            printf("injecting invalid read request\n");
            return true;
        }
        ret = qemuio_common_option(c, optarg, &o);
        if (ret < 0) {
            return false;
        } else if (ret == 0) {
            qemuio_print_usage(argv[0], cmd);
            return false;
        }
    }
    if (optind > argc - 2) {
        qemuio_print_usage(argv[0], cmd);
        return false;
    }
    return vectored_read(bs, argc - optind, argv + optind, &o, vflag, aio);
}

static bool readv_f(BlockDriverState *bs, int argc, char **argv)
{
    return read_cmd(bs, argc, argv, false);
}

static bool aio_read_f(BlockDriverState *bs, int argc, char **argv)
{
    return read_cmd(bs, argc, argv, true);
}

/* What writev and aio_write were asked for. */
typedef struct VectoredWrite {
    IOCommonOpts o;
    bool fua;               /* -f */
    bool zeroes;            /* -z (aio_write) */
    bool unmap;             /* -u (aio_write) */
} VectoredWrite;

/*
 * The common part of writev and aio_write, from the operands on.  As
 * for reads, aio_write counts as done once submitted.
 */
static bool vectored_write(BlockDriverState *bs, int nargs, char **args,
                           const VectoredWrite *w, bool aio)
{
    g_autofree uint8_t *buf = NULL;
    int64_t offset, count;
    double start;
    int ret;

    offset = qemuio_cvtnum(args[0]);
    if (offset < 0) {
        return false;
    }
    /* Zeroes have no buffer, hence no length limit but the image's. */
    count = w->zeroes ? qemuio_cvtnum(args[1])
                      : parse_lengths(nargs - 1, args + 1);
    if (count < 0) {
        return false;
    }
    /* A request outside the image fails before its buffer is made. */
    ret = qemuio_check_request(bs, offset, count);
    if (ret == 0 && !w->zeroes) {
        buf = g_malloc(MAX(count, 1));
        memset(buf, w->o.pattern, count);
    }
    start = qemuio_now();
    if (ret == 0) {
        ret = qemuio_do_write(bs, offset, count, buf,
                              w->unmap ? BDRV_REQ_MAY_UNMAP : 0, w->zeroes,
                              false, w->fua);
    }
    if (ret < 0) {
        printf("%s failed: %s\n", aio ? "aio_write" : "writev",
               strerror(-ret));
        return aio;
    }
    /*
     * 7.2's aio_write -z never records its start time, so it reports
     * the monotonic clock itself (the time since boot) as its duration.
     */
    start = w->zeroes ? qemuio_now() : qemuio_now() - start;
    if (!w->o.quiet) {
        qemuio_print_report("wrote", start, offset, count, w->o.csv);
    }
    return true;
}

/* writev, or with @aio aio_write, which also takes -i, -u and -z. */
static bool write_cmd(BlockDriverState *bs, int argc, char **argv, bool aio)
{
    const QemuIOCmd *cmd = aio ? &qemuio_aio_write_cmd : &qemuio_writev_cmd;
    VectoredWrite w = { .o.pattern = 0xcd };
    int c, ret;

    while ((c = getopt(argc, argv, aio ? "CfiP:quz" : "CfP:q")) != -1) {
        switch (c) {
        case 'f':
            w.fua = true;
            continue;
        case 'u':
            w.unmap = true;
            continue;
        case 'z':
            w.zeroes = true;
            continue;
        case 'i':
            printf("injecting invalid write request\n");
            return true;
        }
        ret = qemuio_common_option(c, optarg, &w.o);
        if (ret < 0) {
            return false;
        } else if (ret == 0) {
            qemuio_print_usage(argv[0], cmd);
            return false;
        }
    }
    if (optind > argc - 2) {
        qemuio_print_usage(argv[0], cmd);
        return false;
    }
    if (w.unmap && !w.zeroes) {
        printf("-u requires -z to be specified\n");
        return false;
    }
    /* -z with -P is no error in 7.2: the pattern is ignored. */
    if (w.zeroes && optind != argc - 2) {
        printf("-z supports only a single length parameter\n");
        return false;
    }
    return vectored_write(bs, argc - optind, argv + optind, &w, aio);
}

static bool writev_f(BlockDriverState *bs, int argc, char **argv)
{
    return write_cmd(bs, argc, argv, false);
}

static bool aio_write_f(BlockDriverState *bs, int argc, char **argv)
{
    return write_cmd(bs, argc, argv, true);
}

/* Requests are complete when submitted: nothing is in flight. */
static bool aio_flush_f(BlockDriverState *bs, int argc, char **argv)
{
    return true;
}

const QemuIOCmd qemuio_readv_cmd = {
    .name = "readv", .cfunc = readv_f,
    .argmin = 2, .argmax = -1, .needs_file = true,
    .args = "[-Cqv] [-P pattern] off len [len..]",
    .oneline = "reads a number of bytes at a specified offset",
    .help =
"\n"
" reads a range of bytes from the given offset into multiple buffers\n"
"\n"
" Example:\n"
" 'readv -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the "
"file\n"
"\n"
" Reads a segment of the currently open file, optionally dumping it to the\n"
" standard output stream (with -v option) for subsequent inspection.\n"
" Uses multiple iovec buffers if more than one byte range is specified.\n"
" -C, -- report statistics in a machine parsable format\n"
" -P, -- use a pattern to verify read data\n"
" -v, -- dump buffer to standard output\n"
" -q, -- quiet mode, do not show I/O statistics\n"
"\n",
};

const QemuIOCmd qemuio_writev_cmd = {
    .name = "writev", .cfunc = writev_f,
    .argmin = 2, .argmax = -1, .needs_file = true, .needs_write = true,
    .args = "[-Cfq] [-P pattern] off len [len..]",
    .oneline = "writes a number of bytes at a specified offset",
    .help =
"\n"
" writes a range of bytes from the given offset source from multiple "
"buffers\n"
"\n"
" Example:\n"
" 'writev 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open file\n"
"\n"
" Writes into a segment of the currently open file, using a buffer\n"
" filled with a set pattern (0xcdcdcdcd).\n"
" -P, -- use different pattern to fill file\n"
" -C, -- report statistics in a machine parsable format\n"
" -f, -- use Force Unit Access semantics\n"
" -q, -- quiet mode, do not show I/O statistics\n"
"\n",
};

const QemuIOCmd qemuio_aio_read_cmd = {
    .name = "aio_read", .cfunc = aio_read_f,
    .argmin = 2, .argmax = -1, .needs_file = true,
    .args = "[-Ciqv] [-P pattern] off len [len..]",
    .oneline = "asynchronously reads a number of bytes",
    .help =
"\n"
" asynchronously reads a range of bytes from the given offset\n"
"\n"
" Example:\n"
" 'aio_read -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into "
"the file\n"
"\n"
" Reads a segment of the currently open file, optionally dumping it to the\n"
" standard output stream (with -v option) for subsequent inspection.\n"
" The read is performed asynchronously and the aio_flush command must be\n"
" used to ensure all outstanding aio requests have been completed.\n"
" Note that due to its asynchronous nature, this command will be\n"
" considered successful once the request is submitted, independently\n"
" of potential I/O errors or pattern mismatches.\n"
" -C, -- report statistics in a machine parsable format\n"
" -P, -- use a pattern to verify read data\n"
" -i, -- treat request as invalid, for exercising stats\n"
" -v, -- dump buffer to standard output\n"
" -q, -- quiet mode, do not show I/O statistics\n"
"\n",
};

const QemuIOCmd qemuio_aio_write_cmd = {
    .name = "aio_write", .cfunc = aio_write_f,
    .argmin = 2, .argmax = -1, .needs_file = true, .needs_write = true,
    .args = "[-Cfiquz] [-P pattern] off len [len..]",
    .oneline = "asynchronously writes a number of bytes",
    .help =
"\n"
" asynchronously writes a range of bytes from the given offset source\n"
" from multiple buffers\n"
"\n"
" Example:\n"
" 'aio_write 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open "
"file\n"
"\n"
" Writes into a segment of the currently open file, using a buffer\n"
" filled with a set pattern (0xcdcdcdcd).\n"
" The write is performed asynchronously and the aio_flush command must be\n"
" used to ensure all outstanding aio requests have been completed.\n"
" Note that due to its asynchronous nature, this command will be\n"
" considered successful once the request is submitted, independently\n"
" of potential I/O errors or pattern mismatches.\n"
" -P, -- use different pattern to fill file\n"
" -C, -- report statistics in a machine parsable format\n"
" -f, -- use Force Unit Access semantics\n"
" -i, -- treat request as invalid, for exercising stats\n"
" -q, -- quiet mode, do not show I/O statistics\n"
" -u, -- with -z, allow unmapping\n"
" -z, -- write zeroes using blk_aio_pwrite_zeroes\n"
"\n",
};

const QemuIOCmd qemuio_aio_flush_cmd = {
    .name = "aio_flush", .cfunc = aio_flush_f,
    .needs_file = true,
    .oneline = "completes all outstanding aio requests",
};
