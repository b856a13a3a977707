/*
 * qemu-io's command interpreter: the command table, number parsing and
 * output helpers, and the one image the commands work on.
 */
#ifndef QEMU_IO_CMDS_H
#define QEMU_IO_CMDS_H

#include "block/block.h"

/* The QEMU release whose command line and output we reproduce. */
#define QEMU_IO_COMPAT_VERSION "7.2.22"
#ifndef PACKAGE_STRING
#define PACKAGE_STRING "qcow2-tools 0.1.0"
#endif
#define QEMU_IO_COPYRIGHT_LINE \
    "Copyright (c) 2026 the qcow2-tools developers (clean-room, not QEMU)"

/* How an image is to be opened (command line or `open`). */
typedef struct QemuIOOpenOpts {
    int flags;              /* BDRV_O_* */
    const char *fmt;        /* NULL: probe (or "driver" in @options) */
    QDict *options;         /* --image-opts / -o; may be NULL; taken */
    bool writeback;         /* false: every write is flushed (7.2's default) */
} QemuIOOpenOpts;

/*
 * Opens @name as the current image, reporting failures on stderr as
 * 7.2 does.  Returns 0 or -1.
 */
int qemuio_open(const char *name, QemuIOOpenOpts *o);

/* Flushes and closes the current image, if any. */
void qemuio_close(void);

/*
 * Runs one command line.  Returns false when the command failed (the
 * program's exit status becomes 1).
 */
bool qemuio_command(const char *line);

/* True once `quit` has run. */
bool qemuio_quit_requested(void);

/*
 * A cache mode (-t) or discard mode (-d) as 7.2 accepts them; false,
 * with 7.2's message on stderr, for anything else.
 */
bool qemuio_check_cache_mode(const char *mode, bool *writeback);
bool qemuio_check_discard_mode(const char *mode);
bool qemuio_check_aio_mode(const char *mode);

/*
 * One option that both the command line and `open` take (-r -s -n -C
 * -k -U -t -d -i): applied to @o.  Returns 1 when @c was one of them,
 * 0 when not, -1 after 7.2's message for a bad one.
 */
int qemuio_open_option(int c, const char *arg, QemuIOOpenOpts *o);

/*
 * Parses "key=value,key2=value" (",," is a comma) into @dict; false,
 * with the message on stderr, when an element has no '='.
 */
bool qemuio_parse_keyval(QDict *dict, const char *str);

#endif
