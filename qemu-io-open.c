/*
 * qemu-io's image: opening it (command line and `open`), closing it,
 * reopening it in another mode (`reopen`), and what the other commands
 * need to know of it.
 */
#include <getopt.h>
#include "qemu-io-internal.h"
#include "qemu/cutils.h"

static BlockDriverState *qemuio_bs;
static int qemuio_flags;        /* BDRV_O_* the current image has */
static bool qemuio_writeback;   /* false: flush after every write */
/*
 * 7.2's qemu-io holds the write permission on the image from a
 * read-write open, or from the first writing command on a writable
 * image, until a reopen asks for read-only.  It decides whether a
 * reopen to read-only by "-o read-only=on" is refused.
 */
static bool qemuio_write_perm;

/* How the current image was opened: `reopen` opens it so again. */
static char *qemuio_open_name;      /* NULL: all in the options */
static char *qemuio_open_fmt;       /* the format the open found */
static QDict *qemuio_open_options;  /* NULL: none */

BlockDriverState *qemuio_image(void)
{
    return qemuio_bs;
}

bool qemuio_image_writeback(void)
{
    return qemuio_writeback;
}

bool qemuio_take_write_perm(void)
{
    if (qemuio_write_perm) {
        return true;
    }
    /* Taken now, as 7.2 does; only a read-only image refuses it. */
    if (!(qemuio_flags & BDRV_O_RDWR)) {
        error_report("Block node is read-only");
        return false;
    }
    qemuio_write_perm = true;
    return true;
}



bool qemuio_check_cache_mode(const char *mode, bool *writeback)
{
    static const struct {
        const char *name;
        bool writeback;
    } modes[] = {
        { "none", true }, { "off", true }, { "writeback", true },
        { "unsafe", true }, { "writethrough", false },
        { "directsync", false },
    };

    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        if (!strcmp(mode, modes[i].name)) {
            *writeback = modes[i].writeback;
            return true;
        }
    }
    error_report("Invalid cache option: %s", mode);
    return false;
}

bool qemuio_check_discard_mode(const char *mode)
{
    if (!strcmp(mode, "off") || !strcmp(mode, "ignore") ||
        !strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        return true;
    }
    error_report("Invalid discard option: %s", mode);
    return false;
}

bool qemuio_check_aio_mode(const char *mode)
{
    if (!strcmp(mode, "threads") || !strcmp(mode, "native") ||
        !strcmp(mode, "io_uring")) {
        return true;
    }
    error_report("Invalid aio option: %s", mode);
    return false;
}

bool qemuio_parse_keyval(QDict *dict, const char *str)
{
    g_autoptr(GString) key = g_string_new(NULL);
    g_autoptr(GString) val = g_string_new(NULL);
    const char *p = str;
    bool seen_eq;

    while (*p) {
        p = keyval_next(p, key, val, &seen_eq);
        if (!seen_eq) {
            /* 7.2 still takes "name" as "name=on", with a warning. */
            warn_report("short-form boolean option '%s' deprecated",
                        key->str);
            error_printf("Please use %s=on instead\n", key->str);
            g_string_assign(val, "on");
        }
        qdict_put_str(dict, key->str, val->str);
    }
    return true;
}

static bool has_any_key(QDict *d, const char *const *keys)
{
    for (; *keys; keys++) {
        if (d && qdict_haskey(d, *keys)) {
            return true;
        }
    }
    return false;
}

/* A shallow copy: the values are shared, and never changed. */
static QDict *qdict_copy(QDict *src)
{
    QDict *dst = qdict_new();

    for (const QDictEntry *e = qdict_first(src); e; e = qdict_next(src, e)) {
        qdict_put_obj(dst, qdict_entry_key(e),
                      qobject_ref_impl(qdict_entry_value(e)));
    }
    return dst;
}

int qemuio_open(const char *name, QemuIOOpenOpts *o)
{
    static const char *const driver_keys[] = { "driver", NULL };
    static const char *const file_keys[] = {
        "file", "file.filename", "filename", NULL,
    };
    g_autoptr(QDict) opts = g_steal_pointer(&o->options);
    bool probed = !o->fmt && !has_any_key(opts, driver_keys);
    Error *err = NULL;

    if (qemuio_bs) {
        error_report("file open already, try 'help close'");
        return -1;
    }
    if (!name && !has_any_key(opts, file_keys)) {
        error_report("can't open: %s", has_any_key(opts, driver_keys)
                     ? "A block device must be specified for \"file\""
                     : "Must specify either driver or file");
        return -1;
    }
    if ((o->flags & BDRV_O_FORCE_SHARE) && (o->flags & BDRV_O_RDWR)) {
        error_setg(&err, "force-share=on can only be used with read-only "
                   "images");
    } else {
        g_autoptr(QDict) saved = opts ? qdict_copy(opts) : NULL;

        qemuio_bs = bdrv_open(name, o->fmt, g_steal_pointer(&opts),
                              o->flags, &err);
        if (qemuio_bs) {
            qemuio_open_name = g_strdup(name);
            qemuio_open_fmt = g_strdup(bdrv_get_format_name(qemuio_bs));
            qemuio_open_options = g_steal_pointer(&saved);
        }
    }
    if (!qemuio_bs) {
        if (name) {
            error_report("can't open device %s: %s", name,
                         error_get_pretty(err));
        } else {
            error_report("can't open: %s", error_get_pretty(err));
        }
        error_free(err);
        return -1;
    }
    qemuio_flags = o->flags;
    qemuio_writeback = o->writeback;
    qemuio_write_perm = o->flags & BDRV_O_RDWR;
    if (probed && (o->flags & BDRV_O_RDWR) &&
        !strcmp(bdrv_get_format_name(qemuio_bs), "raw")) {
        bdrv_raw_warn_probed(qemuio_bs);
    }
    return 0;
}

/* Flushes and closes the current image; `reopen` may open it again. */
static void close_image(void)
{
    BlockDriverState *bs = g_steal_pointer(&qemuio_bs);
    Error *err = NULL;

    if (!bs) {
        return;
    }
    if (bdrv_flush(bs, &err) < 0) {
        error_report_err(err);
    }
    bdrv_unref(bs);
}

void qemuio_close(void)
{
    close_image();
    g_clear_pointer(&qemuio_open_name, g_free);
    g_clear_pointer(&qemuio_open_fmt, g_free);
    g_clear_pointer(&qemuio_open_options, qdict_unref);
}

int qemuio_open_option(int c, const char *arg, QemuIOOpenOpts *o)
{
    switch (c) {
    case 's':
        error_report("Snapshot mode (-s) is not supported by this qemu-io");
        return -1;
    case 'n':
        o->writeback = true;    /* -t none */
        return 1;
    case 'C':
    case 'k':
        /* Copy-on-read and AIO do not change results. */
        return 1;
    case 'r':
        o->flags &= ~BDRV_O_RDWR;
        return 1;
    case 'U':
        o->flags |= BDRV_O_FORCE_SHARE;
        return 1;
    case 't':
        return qemuio_check_cache_mode(arg, &o->writeback) ? 1 : -1;
    case 'd':
        return qemuio_check_discard_mode(arg) ? 1 : -1;
    case 'i':
        return qemuio_check_aio_mode(arg) ? 1 : -1;
    }
    return 0;
}

static bool open_f(BlockDriverState *bs, int argc, char **argv)
{
    QemuIOOpenOpts o = { .flags = BDRV_O_RDWR };
    g_autoptr(QDict) opts = qdict_new();
    int c, ret;

    while ((c = getopt(argc, argv, "snCrkt:d:o:Ui:")) != -1) {
        ret = qemuio_open_option(c, optarg, &o);
        if (ret < 0) {
            return false;
        } else if (ret > 0) {
            continue;
        }
        if (c == 'o') {
            qemuio_parse_keyval(opts, optarg);
        } else {
            qemuio_print_usage(argv[0], &qemuio_open_cmd);
            return false;
        }
    }
    if (optind == argc - 1) {
        o.options = qdict_size(opts) ? g_steal_pointer(&opts) : NULL;
        return qemuio_open(argv[optind], &o) == 0;
    }
    if (optind == argc && qdict_size(opts)) {
        o.options = g_steal_pointer(&opts);
        return qemuio_open(NULL, &o) == 0;
    }
    qemuio_print_usage(argv[0], &qemuio_open_cmd);
    return false;
}

const QemuIOCmd qemuio_open_cmd = {
    .name = "open", .altname = "o", .cfunc = open_f,
    .argmin = 1, .argmax = -1,
    .args = "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]",
    .oneline = "open the file specified by path",
    .help =
"\n"
" opens a new file in the requested mode\n"
"\n"
" Example:\n"
" 'open -n -o driver=raw /tmp/data' - opens raw data file read-write, "
"uncached\n"
"\n"
" Opens a file for subsequent use by all of the other qemu-io commands.\n"
" -r, -- open file read-only\n"
" -s, -- use snapshot file\n"
" -C, -- use copy-on-read\n"
" -n, -- disable host cache, short for -t none\n"
" -U, -- force shared permissions\n"
" -k, -- use kernel AIO implementation (Linux only, prefer use of -i)\n"
" -i, -- use AIO mode (threads, native or io_uring)\n"
" -t, -- use the given cache mode for the image\n"
" -d, -- use the given discard mode for the image\n"
" -o, -- options to be given to the block driver\n",
};

static bool close_f(BlockDriverState *bs, int argc, char **argv)
{
    qemuio_close();
    return true;
}

const QemuIOCmd qemuio_close_cmd = {
    .name = "close", .altname = "c", .cfunc = close_f,
    .needs_file = true,
    .oneline = "close the current open file",
};

/* ---------------------------------------------------------------------
 * reopen
 */


/*
 * -o read-only=VALUE (a boolean bdrv_reopen_check() accepted) into
 * *@flags.  7.2 refuses read-only=on while it holds the write
 * permission.
 */
static bool reopen_read_only_option(BlockDriverState *bs, const char *v,
                                    int *flags)
{
    bool read_only = true;

    bdrv_parse_bool(v, &read_only);
    if (!read_only) {
        *flags |= BDRV_O_RDWR;
        return true;
    }
    if (qemuio_write_perm) {
        g_autofree char *node = bdrv_node_name(bs);

        error_report("Read-only block node '%s' cannot support read-write "
                     "users", node);
        return false;
    }
    *flags &= ~BDRV_O_RDWR;
    return true;
}

/*
 * A change between read-only and read-write closes the image and opens
 * it again through the ordinary open, as it was first opened: closing
 * the writable image writes back what it keeps in memory (bitmaps, the
 * dirty bit), a read-write open marks bitmaps in use.  The file ends
 * as 7.2's reopen leaves it.  If the new mode cannot be had, the image
 * is opened in the old one again.
 */
static bool reopen_image(int flags)
{
    g_autoptr(QDict) opts = NULL;
    Error *err = NULL;

    close_image();
    opts = qemuio_open_options ? qdict_copy(qemuio_open_options) : NULL;
    qemuio_bs = bdrv_open(qemuio_open_name, qemuio_open_fmt,
                          g_steal_pointer(&opts), flags, &err);
    if (qemuio_bs) {
        qemuio_flags = flags;
        return true;
    }
    error_report_err(err);
    err = NULL;
    opts = qemuio_open_options ? qdict_copy(qemuio_open_options) : NULL;
    qemuio_bs = bdrv_open(qemuio_open_name, qemuio_open_fmt,
                          g_steal_pointer(&opts), qemuio_flags, &err);
    if (!qemuio_bs) {
        error_report_err(err);
        qemuio_close();
    }
    return false;
}

static bool reopen_f(BlockDriverState *bs, int argc, char **argv)
{
    g_autoptr(QDict) opts = qdict_new();
    int flags = qemuio_flags;
    bool writeback = qemuio_writeback, mode_given = false;
    const char *ro;
    Error *err = NULL;
    int c;

    while ((c = getopt(argc, argv, "c:o:rw")) != -1) {
        switch (c) {
        case 'c':
            if (!qemuio_check_cache_mode(optarg, &writeback)) {
                return false;
            }
            break;
        case 'o':
            qemuio_parse_keyval(opts, optarg);
            break;
        case 'r':
        case 'w':
            if (mode_given) {
                error_report("Only one -r/-w option may be given");
                return false;
            }
            mode_given = true;
            flags = c == 'r' ? flags & ~BDRV_O_RDWR : flags | BDRV_O_RDWR;
            break;
        default:
            qemuio_print_usage(argv[0], &qemuio_reopen_cmd);
            return false;
        }
    }
    if (optind != argc) {
        qemuio_print_usage(argv[0], &qemuio_reopen_cmd);
        return false;
    }
    /*
     * 7.2 gives up the write permission for a read-only mode before it
     * looks at the options, and keeps it given up if they fail.
     */
    if (!(flags & BDRV_O_RDWR)) {
        qemuio_write_perm = false;
    }
    ro = qdict_get_try_str(opts, "read-only");
    if (ro && mode_given) {
        error_report("Cannot set both -r/-w and 'read-only'");
        return false;
    }
    if (bdrv_reopen_check(bs, opts, &err) < 0) {
        error_report_err(err);
        return false;
    }
    if (ro && !reopen_read_only_option(bs, ro, &flags)) {
        return false;
    }
    if (flags & BDRV_O_RDWR) {
        /* 7.2 drops -U's sharing for a writable image. */
        flags &= ~BDRV_O_FORCE_SHARE;
    }
    qemuio_writeback = writeback;
    if (flags == qemuio_flags) {
        return true;    /* the file does not change */
    }
    return reopen_image(flags);
}

const QemuIOCmd qemuio_reopen_cmd = {
    .name = "reopen", .cfunc = reopen_f,
    .argmin = 0, .argmax = -1, .needs_file = true,
    .args = "[(-r|-w)] [-c cache] [-o options]",
    .oneline = "reopens an image with new options",
    .help =
"\n"
" Changes the open options of an already opened image\n"
"\n"
" Example:\n"
" 'reopen -o lazy-refcounts=on' - activates lazy refcount writeback on a "
"qcow2 image\n"
"\n"
" -r, -- Reopen the image read-only\n"
" -w, -- Reopen the image read-write\n"
" -c, -- Change the cache mode to the given value\n"
" -o, -- Changes block driver options (cf. 'open' command)\n"
"\n",
};
