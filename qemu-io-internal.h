/*
 * What the files of qemu-io's command interpreter share: the command
 * descriptor, the number parsers and the report printers.  Not a
 * public interface (qemu-io-cmds.h is the one qemu-io.c uses).
 */
#ifndef QEMU_IO_INTERNAL_H
#define QEMU_IO_INTERNAL_H

#include "qemu-io-cmds.h"

/* Longest single request qemu-io 7.2 accepts (INT_MAX, sector aligned). */
#define QEMU_IO_MAX_REQUEST 2147483136LL

typedef struct QemuIOCmd {
    const char *name;
    const char *altname;
    bool (*cfunc)(BlockDriverState *bs, int argc, char **argv);
    int argmin;
    int argmax;             /* -1: no limit */
    bool needs_file;
    bool needs_write;       /* refused on a read-only image */
    const char *args;       /* NULL: no argument part in help lines */
    const char *oneline;
    const char *help;       /* extended `help CMD` text, or NULL */
} QemuIOCmd;

/* The options read, write and their vectored forms share. */
typedef struct IOCommonOpts {
    bool vmstate;           /* -b */
    bool csv;               /* -C: the report as comma-separated values */
    bool quiet;             /* -q */
    bool has_pattern;       /* -P */
    int pattern;
} IOCommonOpts;

/* A number or size argument; -1 after 7.2's message. */
int64_t qemuio_cvtnum(const char *s);
/* A pattern byte (0 to 255); -1 after 7.2's message. */
int qemuio_parse_pattern(const char *s);
/*
 * Applies -b, -C, -p, -P or -q to @o: 1 when @c was one of them, 0
 * when not, -1 after the message for a bad pattern.
 */
int qemuio_common_option(int c, const char *arg, IOCommonOpts *o);

double qemuio_now(void);
/* "read N/N bytes at offset" and the timing line, or the -C line. */
void qemuio_print_report(const char *op, double secs, int64_t offset,
                         int64_t bytes, bool csv);
/* The -v hex dump of @len bytes read at @offset. */
void qemuio_dump_buffer(const uint8_t *buf, int64_t offset, int64_t len);
/*
 * -P: whether @count bytes of @buf from @pattern_offset are all
 * @pattern; 7.2's message (naming @offset + @pattern_offset) if not.
 */
bool qemuio_check_pattern(const uint8_t *buf, int64_t offset,
                          int64_t pattern_offset, int64_t count,
                          int pattern);
void qemuio_print_usage(const char *name, const QemuIOCmd *ct);

/* 0, or -EIO when the range leaves the image (7.2's answer). */
int qemuio_check_request(BlockDriverState *bs, int64_t offset,
                         int64_t bytes);
/*
 * A guest read of the whole range, 0 or a negative errno.  @buf holds
 * @count bytes.
 */
int qemuio_do_read(BlockDriverState *bs, int64_t offset, int64_t count,
                   uint8_t *buf);
/*
 * A guest write: zeroes (@zflag, with BDRV_REQ_* @zflags), compressed
 * (@cflag) or @buf; then a flush for @fua or writethrough.  0 or a
 * negative errno.
 */
int qemuio_do_write(BlockDriverState *bs, int64_t offset, int64_t count,
                    const uint8_t *buf, int zflags, bool zflag, bool cflag,
                    bool fua);

/* qemu-io-open.c: the current image (NULL: none). */
BlockDriverState *qemuio_image(void);
/* False: writethrough, every write is flushed (7.2's default). */
bool qemuio_image_writeback(void);
/*
 * Before a writing command: takes the write permission as 7.2 does,
 * false after its message when the image is read-only.
 */
bool qemuio_take_write_perm(void);
extern const QemuIOCmd qemuio_open_cmd;
extern const QemuIOCmd qemuio_close_cmd;
extern const QemuIOCmd qemuio_reopen_cmd;

/* qemu-io-vcmds.c: readv, writev, aio_read, aio_write, aio_flush. */
extern const QemuIOCmd qemuio_readv_cmd;
extern const QemuIOCmd qemuio_writev_cmd;
extern const QemuIOCmd qemuio_aio_read_cmd;
extern const QemuIOCmd qemuio_aio_write_cmd;
extern const QemuIOCmd qemuio_aio_flush_cmd;

#endif
