/*
 * Generic block layer: driver registry, format probing, opening nodes
 * and backing chains, guest reads through the chain.
 */
#include <sys/stat.h>
#include "block/block_int.h"
#include "qemu/cutils.h"

/* A backing chain longer than this is refused (also catches loops). */
#define BDRV_MAX_BACKING_DEPTH 256

/* Bytes read for format probing, as much as any probe needs. */
#define BDRV_PROBE_BYTES 512

static const BlockDriver *const block_drivers[] = {
    &bdrv_file,
    &bdrv_qcow,
    &bdrv_qcow2,
    &bdrv_raw,
};

const BlockDriver *bdrv_find_format(const char *format_name)
{
    for (size_t i = 0; i < ARRAY_SIZE(block_drivers); i++) {
        if (!strcmp(block_drivers[i]->format_name, format_name)) {
            return block_drivers[i];
        }
    }
    return NULL;
}

static BlockDriverState *bdrv_new(const BlockDriver *drv, const char *name,
                                  int flags)
{
    BlockDriverState *bs = g_new0(BlockDriverState, 1);

    bs->drv = drv;
    bs->opaque = drv->instance_size ? g_malloc0(drv->instance_size) : NULL;
    bs->filename = g_strdup(name);
    bs->open_flags = flags;
    bs->read_only = !(flags & BDRV_O_RDWR);
    return bs;
}

void bdrv_unref(BlockDriverState *bs)
{
    if (!bs) {
        return;
    }
    if (bs->drv && bs->drv->close) {
        bs->drv->close(bs);
    }
    bdrv_unref(bs->backing);
    bdrv_unref(bs->data_file);
    bdrv_unref(bs->file);
    g_free(bs->opaque);
    g_free(bs->filename);
    g_free(bs->backing_file);
    g_free(bs->backing_format);
    g_free(bs->full_backing_filename);
    g_free(bs);
}

BlockDriverState *(*bdrv_protocol_override)(const char *filename, int flags,
                                            Error **errp);

BlockDriverState *bdrv_open_protocol(const char *filename, int flags,
                                     Error **errp)
{
    BlockDriverState *bs;

    if (!*filename) {
        error_setg(errp, "The 'file' block driver requires a file name");
        return NULL;
    }
    if (bdrv_protocol_override) {
        /* A test harness: no host file may be opened (block/mem.c). */
        return bdrv_protocol_override(filename, flags, errp);
    }
    bs = bdrv_new(&bdrv_file, filename, flags);
    if (bdrv_file.open(bs, NULL, flags, errp) < 0) {
        bdrv_unref(bs);
        return NULL;
    }
    return bs;
}

int bdrv_file_check_read(int64_t offset, int64_t bytes, Error **errp)
{
    if (offset < 0 || bytes < 0 || offset > INT64_MAX - bytes) {
        error_setg(errp, "Invalid read of %" PRId64 " bytes at %" PRId64,
                   bytes, offset);
        return -EIO;
    }
    return 0;
}

int bdrv_file_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    void *buf, Error **errp)
{
    int ret = bdrv_file_check_read(offset, bytes, errp);

    g_assert(bs->drv->pread);
    return ret < 0 ? ret : bs->drv->pread(bs, offset, bytes, buf, errp);
}

int bdrv_file_pwrite(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const void *buf, Error **errp)
{
    if (bs->read_only || !bs->drv->pwrite) {
        error_setg(errp, "Cannot write to '%s': opened read-only",
                   bs->filename);
        return -EACCES;
    }
    return bs->drv->pwrite(bs, offset, bytes, buf, errp);
}

int bdrv_file_flush(BlockDriverState *bs, Error **errp)
{
    return bs->drv->flush ? bs->drv->flush(bs, errp) : 0;
}

int bdrv_file_pwrite_sync(BlockDriverState *bs, int64_t offset, int64_t bytes,
                          const void *buf, Error **errp)
{
    int ret = bdrv_file_pwrite(bs, offset, bytes, buf, errp);

    return ret < 0 ? ret : bdrv_file_flush(bs, errp);
}

int bdrv_file_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       Error **errp)
{
    if (bs->read_only || !bs->drv->pdiscard) {
        error_setg(errp, "Cannot discard in '%s'", bs->filename);
        return -EACCES;
    }
    return bs->drv->pdiscard(bs, offset, bytes, errp);
}

int bdrv_file_truncate(BlockDriverState *bs, int64_t size, Error **errp)
{
    if (bs->read_only || !bs->drv->truncate) {
        error_setg(errp, "Cannot resize '%s'", bs->filename);
        return -EACCES;
    }
    return bs->drv->truncate(bs, size, errp);
}

static const BlockDriver *bdrv_probe(BlockDriverState *file, Error **errp)
{
    uint8_t buf[BDRV_PROBE_BYTES] = { 0 };
    int64_t len = bdrv_getlength(file);
    const BlockDriver *best = NULL;
    int best_score = 0;

    if (len < 0) {
        error_setg_errno(errp, (int)-len, "Could not determine image size");
        return NULL;
    }
    if (bdrv_file_pread(file, 0, MIN(len, (int64_t)sizeof(buf)), buf,
                        errp) < 0) {
        return NULL;
    }
    for (size_t i = 0; i < ARRAY_SIZE(block_drivers); i++) {
        const BlockDriver *drv = block_drivers[i];
        int score;

        if (!drv->probe) {
            continue;
        }
        score = drv->probe(buf, MIN(len, (int64_t)sizeof(buf)),
                           file->filename);
        if (score > best_score) {
            best_score = score;
            best = drv;
        }
    }
    g_assert(best);     /* raw accepts anything */
    return best;
}

/*
 * Options of the format node: "driver", "file" / "file.filename",
 * "file.driver" (only "file" exists) and "filename".  Anything else is
 * refused with QEMU's message.
 */
static int bdrv_parse_options(QDict *options, const char **fmt,
                              const char **filename, Error **errp)
{
    const char *file_driver = qdict_get_try_str(options, "file.driver");
    const char *s;

    if ((s = qdict_get_try_str(options, "driver"))) {
        *fmt = s;
    }
    if ((s = qdict_get_try_str(options, "filename"))) {
        *filename = s;
    }
    if ((s = qdict_get_try_str(options, "file.filename")) ||
        (s = qdict_get_try_str(options, "file"))) {
        *filename = s;
    }
    if (file_driver && strcmp(file_driver, "file")) {
        error_setg(errp, "Unknown protocol '%s'", file_driver);
        return -EINVAL;
    }
    for (const QDictEntry *e = qdict_first(options); e;
         e = qdict_next(options, e)) {
        const char *key = qdict_entry_key(e);
        /* encrypt.*: LUKS keys, not needed to read metadata. */
        if (*fmt && !strcmp(*fmt, "qcow2") &&
            g_str_has_prefix(key, "encrypt.")) {
            continue;
        }
        if (strcmp(key, "driver") && strcmp(key, "filename") &&
            strcmp(key, "file") && strcmp(key, "file.filename") &&
            strcmp(key, "file.driver")) {
            error_setg(errp, "Block format '%s' does not support the "
                       "option '%s'", *fmt ? *fmt : "raw", key);
            return -EINVAL;
        }
    }
    if (!*filename) {
        error_setg(errp, "The 'file' block driver requires a file name");
        return -EINVAL;
    }
    return 0;
}

/* Flatten nested dicts of a json: name into dotted keys. */
static void qdict_flatten_into(QDict *src, const char *prefix, QDict *dst)
{
    for (const QDictEntry *e = qdict_first(src); e; e = qdict_next(src, e)) {
        g_autofree char *key = prefix
            ? g_strdup_printf("%s.%s", prefix, qdict_entry_key(e))
            : g_strdup(qdict_entry_key(e));
        QObject *value = qdict_entry_value(e);
        QDict *sub = qobject_to_qdict(value);

        if (sub) {
            qdict_flatten_into(sub, key, dst);
        } else {
            qdict_put_obj(dst, key, qobject_ref_impl(value));
        }
    }
}

static QDict *bdrv_parse_json_filename(const char *filename, Error **errp)
{
    g_autoptr(QObject) obj = qobject_from_json(filename + strlen("json:"),
                                               errp);
    QDict *dict, *flat;

    if (!obj) {
        return NULL;
    }
    dict = qobject_to_qdict(obj);
    if (!dict) {
        error_setg(errp, "Invalid JSON object given");
        return NULL;
    }
    flat = qdict_new();
    qdict_flatten_into(dict, NULL, flat);
    return flat;
}

static BlockDriverState *bdrv_open_format(const char *filename,
                                          const char *fmt, int flags,
                                          Error **errp)
{
    const BlockDriver *drv = NULL;
    BlockDriverState *file, *bs;

    if (fmt) {
        drv = bdrv_find_format(fmt);
        if (!drv) {
            error_setg(errp, "Unknown driver '%s'", fmt);
            return NULL;
        }
    }
    file = bdrv_open_protocol(filename, flags, errp);
    if (!file) {
        return NULL;
    }
    if (!drv) {
        drv = bdrv_probe(file, errp);
        if (!drv) {
            bdrv_unref(file);
            return NULL;
        }
    }
    if (drv->is_protocol) {
        return file;
    }
    bs = bdrv_new(drv, filename, flags);
    bs->file = file;
    if (drv->open(bs, NULL, flags, errp) < 0) {
        bdrv_unref(bs);
        return NULL;
    }
    return bs;
}

/*
 * The name `info` prints for a node opened with options beyond the
 * driver and the file name: QEMU's "json:{...}" form, format options
 * flat, the protocol's nested under "file".
 */
static char *bdrv_json_filename(QDict *opts, const char *fmt,
                                const char *file_name)
{
    g_autoptr(QDict) top = qdict_new();
    g_autoptr(GString) json = NULL;
    QDict *file = qdict_new();
    bool extra = false;

    for (const QDictEntry *e = qdict_first(opts); e;
         e = qdict_next(opts, e)) {
        const char *key = qdict_entry_key(e);
        if (strcmp(key, "driver") && strcmp(key, "filename") &&
            strcmp(key, "file") && !g_str_has_prefix(key, "file.")) {
            qdict_put_obj(top, key, qobject_ref_impl(qdict_entry_value(e)));
            extra = true;
        }
    }
    if (!extra) {
        qobject_unref(file);
        return g_strdup(file_name);
    }
    qdict_put_str(top, "driver", fmt);
    qdict_put_str(file, "driver", "file");
    qdict_put_str(file, "filename", file_name);
    qdict_put(top, "file", file);
    json = qobject_to_json(QOBJECT(top));
    return g_strdup_printf("json:%s", json->str);
}

BlockDriverState *bdrv_open(const char *filename, const char *fmt,
                            QDict *options, int flags, Error **errp)
{
    g_autoptr(QDict) opts = options;
    const char *file_name = NULL;
    BlockDriverState *bs;

    if (filename && g_str_has_prefix(filename, "json:")) {
        g_autoptr(QDict) json = bdrv_parse_json_filename(filename, errp);
        if (!json) {
            return NULL;
        }
        if (opts) {
            qdict_flatten_into(opts, NULL, json);
        }
        qobject_unref(opts);
        opts = g_steal_pointer(&json);
    } else if (filename) {
        file_name = filename;
    }
    if (opts && bdrv_parse_options(opts, &fmt, &file_name, errp) < 0) {
        return NULL;
    }
    if (!file_name) {
        error_setg(errp, "The 'file' block driver requires a file name");
        return NULL;
    }
    if (strlen(file_name) >= BDRV_NAME_MAX) {
        error_setg(errp, "File name too long");
        return NULL;
    }
    if (opts && qdict_haskey(opts, "encrypt.key-secret")) {
        flags |= BDRV_O_HAS_KEY;
    }
    bs = bdrv_open_format(file_name, fmt, flags, errp);
    if (!bs) {
        return NULL;
    }
    if (opts) {
        g_free(bs->filename);
        bs->filename = bdrv_json_filename(opts, bs->drv->format_name,
                                          file_name);
    }
    if (!(flags & BDRV_O_NO_BACKING) && bs->backing_file &&
        bdrv_open_backing(bs, flags, errp) < 0) {
        bdrv_unref(bs);
        return NULL;
    }
    return bs;
}

/* Whether host file @name is the file of @bs or of an image above it. */
static bool bdrv_chain_has_file(BlockDriverState *bs, const char *name)
{
    struct stat want, st;

    if (stat(name, &want) < 0) {
        return false;   /* the open reports why */
    }
    for (BlockDriverState *p = bs; p; p = p->overlay) {
        BlockDriverState *f = p->file ? p->file : p;
        if (stat(f->filename, &st) == 0 && st.st_dev == want.st_dev &&
            st.st_ino == want.st_ino) {
            return true;
        }
    }
    return false;
}

int bdrv_open_backing(BlockDriverState *bs, int flags, Error **errp)
{
    Error *local_err = NULL;
    BlockDriverState *backing;
    const char *name = bs->full_backing_filename;

    if (bs->backing_depth >= BDRV_MAX_BACKING_DEPTH) {
        error_setg(errp, "Backing chain is longer than %d images (is there "
                   "a loop?)", BDRV_MAX_BACKING_DEPTH);
        return -ELOOP;
    }
    if (!name) {
        error_setg(errp, "Cannot use relative backing file names for '%s'",
                   bs->filename);
        return -EINVAL;
    }
    if (bdrv_chain_has_file(bs, name)) {
        /* 7.2 opens images forever here; a loop is refused at once. */
        error_setg(errp, "Could not open backing file: Backing file '%s' is "
                   "already in the backing chain (a loop)", name);
        return -ELOOP;
    }
    /* A backing file is only read, whatever the overlay's mode. */
    backing = bdrv_open_format(name, bs->backing_format,
                               flags & ~BDRV_O_RDWR, &local_err);
    if (!backing) {
        error_propagate(errp, local_err);
        error_prepend(errp, "Could not open backing file: ");
        return -EINVAL;
    }
    backing->backing_depth = bs->backing_depth + 1;
    backing->overlay = bs;
    bs->backing = backing;
    if (!(flags & BDRV_O_NO_BACKING) && backing->backing_file) {
        return bdrv_open_backing(backing, flags, errp);
    }
    return 0;
}

const char *bdrv_get_format_name(const BlockDriverState *bs)
{
    return bs->drv->format_name;
}

const char *bdrv_get_filename(const BlockDriverState *bs)
{
    return bs->filename;
}

BlockDriverState *bdrv_backing(const BlockDriverState *bs)
{
    return bs->backing;
}

int64_t bdrv_getlength(BlockDriverState *bs)
{
    if (bs->drv->getlength) {
        return bs->drv->getlength(bs);
    }
    return bs->total_bytes;
}

int bdrv_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
               void *buf, Error **errp)
{
    int64_t len = bdrv_getlength(bs);
    int64_t avail;

    if (offset < 0 || bytes < 0 || len < 0 || offset > INT64_MAX - bytes) {
        error_setg(errp, "Invalid read request");
        return -EINVAL;
    }
    /* Beyond the end, a backing file reads as zeros. */
    avail = offset >= len ? 0 : MIN(bytes, len - offset);
    memset((uint8_t *)buf + avail, 0, bytes - avail);
    if (!avail) {
        return 0;
    }
    if (bs->drv->co_preadv) {
        return bs->drv->co_preadv(bs, offset, avail, buf, errp);
    }
    return bdrv_file_pread(bs, offset, avail, buf, errp);
}

int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res, int fix,
               BdrvProgressFn *progress, Error **errp)
{
    memset(res, 0, sizeof(*res));
    if (!bs->drv->check) {
        return -ENOTSUP;
    }
    return bs->drv->check(bs, res, fix, progress, errp);
}

/* The request checks every guest write shares. */
static int bdrv_check_write(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, Error **errp)
{
    int64_t len;

    if (bs->read_only) {
        error_setg(errp, "Block node is read-only");
        return -EACCES;
    }
    if (offset < 0 || bytes < 0 || offset > INT64_MAX - bytes) {
        error_setg(errp, "Request out of bounds");
        return -EIO;
    }
    if (bs->drv->is_protocol) {
        return 0;   /* host files grow when written past their end */
    }
    len = bdrv_getlength(bs);
    if (len < 0) {
        error_setg_errno(errp, -len, "Could not get the image size");
        return len;
    }
    if (offset > len || bytes > len - offset) {
        error_setg(errp, "Request out of bounds");
        return -EIO;
    }
    return 0;
}

int bdrv_pwrite(BlockDriverState *bs, int64_t offset, int64_t bytes,
                const void *buf, Error **errp)
{
    int ret = bdrv_check_write(bs, offset, bytes, errp);

    if (ret < 0 || !bytes) {
        return ret;
    }
    if (bs->drv->co_pwritev) {
        return bs->drv->co_pwritev(bs, offset, bytes, buf, errp);
    }
    if (bs->drv->is_protocol) {
        return bdrv_file_pwrite(bs, offset, bytes, buf, errp);
    }
    error_setg(errp, "Writing %s images is not supported",
               bs->drv->format_name);
    return -ENOTSUP;
}

int bdrv_pwrite_compressed(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, const void *buf, Error **errp)
{
    int ret = bdrv_check_write(bs, offset, bytes, errp);

    if (ret < 0) {
        return ret;
    }
    if (!bs->drv->co_pwritev_compressed) {
        error_setg(errp, "Compression is not supported for this format");
        return -ENOTSUP;
    }
    /* An empty request too: it ends a series of compressed writes. */
    return bs->drv->co_pwritev_compressed(bs, offset, bytes, buf, errp);
}

bool bdrv_format_can_compress(const char *fmt)
{
    const BlockDriver *drv = bdrv_find_format(fmt);

    return drv && drv->co_pwritev_compressed;
}

int64_t bdrv_get_cluster_size(BlockDriverState *bs)
{
    g_autoptr(ImageInfo) info = NULL;

    if (!bs->drv->get_info) {
        return 0;
    }
    info = g_new0(ImageInfo, 1);
    if (bs->drv->get_info(bs, info, NULL) < 0 || !info->has_cluster_size) {
        return 0;
    }
    return info->cluster_size;
}

int bdrv_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       int flags, Error **errp)
{
    int ret = bdrv_check_write(bs, offset, bytes, errp);
    g_autofree uint8_t *zeros = NULL;

    if (ret < 0 || !bytes) {
        return ret;
    }
    if (bs->drv->co_pwrite_zeroes) {
        Error *local_err = NULL;

        ret = bs->drv->co_pwrite_zeroes(bs, offset, bytes, flags,
                                        &local_err);
        if (ret != -ENOTSUP || (flags & BDRV_REQ_NO_FALLBACK)) {
            error_propagate(errp, local_err);
            return ret;
        }
        error_free(local_err);
    } else if (flags & BDRV_REQ_NO_FALLBACK) {
        error_setg(errp, "Writing zeroes is not supported without fallback");
        return -ENOTSUP;
    }
    /* Fallback: write real zeros, a bounded buffer at a time. */
    zeros = g_malloc0(MIN(bytes, 1 << 20));
    while (bytes > 0) {
        int64_t n = MIN(bytes, 1 << 20);
        ret = bdrv_pwrite(bs, offset, n, zeros, errp);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
    }
    return 0;
}

int bdrv_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                  Error **errp)
{
    int ret = bdrv_check_write(bs, offset, bytes, errp);

    if (ret < 0 || !bytes) {
        return ret;
    }
    if (bs->drv->co_pdiscard) {
        return bs->drv->co_pdiscard(bs, offset, bytes, errp);
    }
    if (bs->drv->is_protocol && bs->drv->pdiscard) {
        return bs->drv->pdiscard(bs, offset, bytes, errp);
    }
    return 0;   /* discard is advisory: doing nothing is correct */
}

int bdrv_flush(BlockDriverState *bs, Error **errp)
{
    int ret;

    if (!bs || bs->read_only) {
        return 0;
    }
    if (bs->drv->co_flush) {
        ret = bs->drv->co_flush(bs, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (bs->drv->is_protocol) {
        return bdrv_file_flush(bs, errp);
    }
    if (bs->data_file && bs->data_file != bs->file) {
        ret = bdrv_flush(bs->data_file, errp);
        if (ret < 0) {
            return ret;
        }
    }
    return bs->file ? bdrv_flush(bs->file, errp) : 0;
}

int bdrv_truncate(BlockDriverState *bs, int64_t offset, Error **errp)
{
    if (bs->read_only) {
        error_setg(errp, "Block node is read-only");
        return -EACCES;
    }
    if (bs->drv->co_truncate) {
        return bs->drv->co_truncate(bs, offset, errp);
    }
    if (bs->drv->is_protocol) {
        return bdrv_file_truncate(bs, offset, errp);
    }
    error_setg(errp, "Image format driver does not support resize");
    return -ENOTSUP;
}

/* The options of every node that a reopen may set (7.2's generic ones). */
static const BdrvRuntimeOpt bdrv_generic_reopen_opts[] = {
    { "read-only", BDRV_OPT_BOOL },     /* its effect is the caller's */
    { "auto-read-only", BDRV_OPT_BOOL },
    { "cache.direct", BDRV_OPT_BOOL },
    { "cache.no-flush", BDRV_OPT_BOOL },
    { "discard", BDRV_OPT_ENUM,
      (const char *const[]) { "ignore", "off", "unmap", "on", NULL } },
    { NULL }
};

static const BdrvRuntimeOpt *find_runtime_opt(const BdrvRuntimeOpt *opts,
                                              const char *name)
{
    for (; opts && opts->name; opts++) {
        if (!strcmp(opts->name, name)) {
            return opts;
        }
    }
    return NULL;
}

bool bdrv_parse_bool(const char *s, bool *val)
{
    static const char *const on[] = { "on", "yes", "true", "y", NULL };
    static const char *const off[] = { "off", "no", "false", "n", NULL };

    if (g_strv_contains(on, s)) {
        *val = true;
    } else if (g_strv_contains(off, s)) {
        *val = false;
    } else {
        return false;
    }
    return true;
}

/*
 * The syntax of a runtime option's value, with 7.2's message when it
 * is bad; an enum is checked here only for a @generic option.
 */
static int check_runtime_syntax(const BdrvRuntimeOpt *opt, const char *v,
                                bool generic, Error **errp)
{
    uint64_t size;
    char *end;
    bool b;

    switch (opt->type) {
    case BDRV_OPT_BOOL:
        if (!bdrv_parse_bool(v, &b)) {
            error_setg(errp, "Parameter '%s' expects 'on' or 'off'",
                       opt->name);
            return -EINVAL;
        }
        return 0;
    case BDRV_OPT_SIZE:
        if (*v == '-' || qemu_strtosz(v, &size) < 0) {
            error_setg(errp, "Parameter '%s' expects a non-negative number "
                       "below 2^64", opt->name);
            error_append_hint(errp, "Optional suffix k, M, G, T, P or E "
                              "means kilo-, mega-, giga-, tera-, peta-\n"
                              "and exabytes, respectively.\n");
            return -EINVAL;
        }
        return 0;
    case BDRV_OPT_NUMBER:
        /* strtoull's syntax: "-1" is the largest number. */
        errno = 0;
        (void)strtoull(v, &end, 0);
        if (end == v || *end) {
            error_setg(errp, "Parameter '%s' expects a number", opt->name);
            return -EINVAL;
        }
        if (errno == ERANGE) {
            error_setg(errp, "Value '%s' is too large for parameter '%s'",
                       v, opt->name);
            return -EINVAL;
        }
        return 0;
    case BDRV_OPT_ENUM:
        if (!generic || g_strv_contains(opt->values, v)) {
            return 0;
        }
        error_setg(errp, "Invalid %s option", opt->name);
        return -EINVAL;
    }
    g_assert_not_reached();
}

/*
 * What a driver checks once the values parse: a number's maximum, an
 * enum's value.
 */
static int check_runtime_limits(const BlockDriverState *bs,
                                const BdrvRuntimeOpt *opt, const char *v,
                                Error **errp)
{
    g_autoptr(GString) allowed = NULL;

    if (opt->type == BDRV_OPT_NUMBER) {
        if (opt->max_error && strtoull(v, NULL, 0) > opt->max) {
            error_setg(errp, "%s", opt->max_error);
            return -EINVAL;
        }
        return 0;
    }
    if (opt->type != BDRV_OPT_ENUM || g_strv_contains(opt->values, v)) {
        return 0;
    }
    allowed = g_string_new(NULL);
    for (const char *const *p = opt->values; *p; p++) {
        g_string_append_printf(allowed, "%s%s", p == opt->values ? "" : ", ",
                               *p);
    }
    error_setg(errp, "Unsupported value '%s' for %s option '%s'. Allowed "
               "are any of the following: %s", v, bs->drv->format_name,
               opt->name, allowed->str);
    return -EINVAL;
}

/* The syntax of the options in @options that @opts describes. */
static int check_options_syntax(QDict *options, const BdrvRuntimeOpt *opts,
                                bool generic, Error **errp)
{
    for (const QDictEntry *e = qdict_first(options); e;
         e = qdict_next(options, e)) {
        const char *key = qdict_entry_key(e);
        const char *v = qdict_get_try_str(options, key);
        const BdrvRuntimeOpt *opt = find_runtime_opt(opts, key);

        if (opt && v && check_runtime_syntax(opt, v, generic, errp) < 0) {
            return -EINVAL;
        }
    }
    return 0;
}

/* Whether option @key = @v of a reopen leaves @bs as it is. */
static bool reopen_keeps(const BlockDriverState *bs, const char *key,
                         const char *v)
{
    if (!strcmp(key, "driver")) {
        return !strcmp(v, bs->drv->format_name);
    }
    if (!strcmp(key, "file.driver")) {
        return bs->file && !strcmp(v, bs->file->drv->format_name);
    }
    if (!strcmp(key, "file.filename")) {
        return bs->file && !strcmp(v, bs->file->filename);
    }
    return false;
}

int bdrv_reopen_check(BlockDriverState *bs, QDict *options, Error **errp)
{
    const BdrvRuntimeOpt *opts = bs->drv->runtime_opts;

    /*
     * 7.2's order: the generic options parse, then the driver's, then
     * the driver's rules between them, its limits (in its own order),
     * and last what nobody takes.
     */
    if (check_options_syntax(options, bdrv_generic_reopen_opts, true,
                             errp) < 0 ||
        check_options_syntax(options, opts, false, errp) < 0) {
        return -EINVAL;
    }
    if (bs->drv->reopen_check && bs->drv->reopen_check(bs, options,
                                                       errp) < 0) {
        return -EINVAL;
    }
    for (; opts && opts->name; opts++) {
        const char *v = qdict_get_try_str(options, opts->name);

        if (v && check_runtime_limits(bs, opts, v, errp) < 0) {
            return -EINVAL;
        }
    }
    for (const QDictEntry *e = qdict_first(options); e;
         e = qdict_next(options, e)) {
        const char *key = qdict_entry_key(e);
        const char *v = qdict_get_try_str(options, key);

        if (find_runtime_opt(bdrv_generic_reopen_opts, key) ||
            find_runtime_opt(bs->drv->runtime_opts, key) ||
            (v && reopen_keeps(bs, key, v))) {
            continue;
        }
        /* The protocol node names its own options without "file.". */
        if (g_str_has_prefix(key, "file.")) {
            key += strlen("file.");
        }
        error_setg(errp, "Cannot change the option '%s'", key);
        return -EINVAL;
    }
    return 0;
}
