/*
 * Generic image creation: the option lists of each format (and of the
 * file protocol below it), their parsing and checking, the size taken
 * from a backing file, the "Formatting ..." line, and the dispatch to
 * the format's .create.  Messages are qemu-img 7.2's.
 */
#include "block/block_int.h"
#include "qemu/cutils.h"

typedef enum CreateOptType {
    CREATE_OPT_STRING,
    CREATE_OPT_BOOL,
    CREATE_OPT_NUMBER,
    CREATE_OPT_SIZE,
} CreateOptType;

typedef struct CreateOptDesc {
    const char *name;
    CreateOptType type;
    const char *help;
    const char *def;        /* printed on the "Formatting" line if unset */
} CreateOptDesc;

/*
 * Each list is in the order 7.2 prints the "Formatting" line; -o help
 * sorts by name.  The protocol's options follow the format's.
 */
static const CreateOptDesc qcow2_create_opts[] = {
    { "encryption", CREATE_OPT_BOOL, "Encrypt the image with format 'aes'. "
      "(Deprecated in favor of encrypt.format=aes)" },
    { "encrypt.format", CREATE_OPT_STRING,
      "Encrypt the image, format choices: 'aes', 'luks'" },
    { "encrypt.key-secret", CREATE_OPT_STRING,
      "ID of secret providing qcow AES key or LUKS passphrase" },
    { "encrypt.cipher-alg", CREATE_OPT_STRING,
      "Name of encryption cipher algorithm" },
    { "encrypt.cipher-mode", CREATE_OPT_STRING,
      "Name of encryption cipher mode" },
    { "encrypt.ivgen-alg", CREATE_OPT_STRING,
      "Name of IV generator algorithm" },
    { "encrypt.ivgen-hash-alg", CREATE_OPT_STRING,
      "Name of IV generator hash algorithm" },
    { "encrypt.hash-alg", CREATE_OPT_STRING,
      "Name of encryption hash algorithm" },
    { "encrypt.iter-time", CREATE_OPT_NUMBER,
      "Time to spend in PBKDF in milliseconds" },
    { "cluster_size", CREATE_OPT_SIZE, "qcow2 cluster size", "65536" },
    { "extended_l2", CREATE_OPT_BOOL, "Extended L2 tables", "off" },
    { "preallocation", CREATE_OPT_STRING,
      "Preallocation mode (allowed values: off, metadata, falloc, full)" },
    { "compression_type", CREATE_OPT_STRING,
      "Compression method used for image cluster compression", "zlib" },
    { "size", CREATE_OPT_SIZE, "Virtual disk size" },
    { "compat", CREATE_OPT_STRING,
      "Compatibility level (v2 [0.10] or v3 [1.1])" },
    { "backing_file", CREATE_OPT_STRING, "File name of a base image" },
    { "backing_fmt", CREATE_OPT_STRING, "Image format of the base image" },
    { "data_file", CREATE_OPT_STRING, "File name of an external data file" },
    { "data_file_raw", CREATE_OPT_BOOL,
      "The external data file must stay valid as a raw image" },
    { "lazy_refcounts", CREATE_OPT_BOOL, "Postpone refcount updates", "off" },
    { "refcount_bits", CREATE_OPT_NUMBER,
      "Width of a reference count entry in bits", "16" },
    { NULL }
};

static const CreateOptDesc raw_create_opts[] = {
    { "size", CREATE_OPT_SIZE, "Virtual disk size" },
    { NULL }
};

static const CreateOptDesc file_create_opts[] = {
    { "size", CREATE_OPT_SIZE, "Virtual disk size" },
    { "nocow", CREATE_OPT_BOOL,
      "Turn off copy-on-write (valid only on btrfs)" },
    { "preallocation", CREATE_OPT_STRING,
      "Preallocation mode (allowed values: off, falloc, full)" },
    { "extent_size_hint", CREATE_OPT_SIZE,
      "Extent size hint for the image file, 0 to disable" },
    { NULL }
};

static const CreateOptDesc *create_opts_of(const char *fmt)
{
    if (!strcmp(fmt, "qcow2")) {
        return qcow2_create_opts;
    } else if (!strcmp(fmt, "raw")) {
        return raw_create_opts;
    } else if (!strcmp(fmt, "file")) {
        return file_create_opts;
    }
    return NULL;
}

/* The format's options, then the protocol's it does not have. */
static GPtrArray *create_opts_merged(const char *fmt)
{
    const CreateOptDesc *lists[2] = { create_opts_of(fmt),
                                      file_create_opts };
    GPtrArray *all = g_ptr_array_new();

    for (int l = 0; l < 2; l++) {
        for (const CreateOptDesc *d = lists[l]; d && d->name; d++) {
            bool dup = false;
            for (guint i = 0; i < all->len; i++) {
                const CreateOptDesc *o = g_ptr_array_index(all, i);
                dup |= !strcmp(o->name, d->name);
            }
            if (!dup) {
                g_ptr_array_add(all, (gpointer)d);
            }
        }
    }
    return all;
}

static const CreateOptDesc *find_opt(GPtrArray *opts, const char *name)
{
    for (guint i = 0; i < opts->len; i++) {
        const CreateOptDesc *d = g_ptr_array_index(opts, i);
        if (!strcmp(d->name, name)) {
            return d;
        }
    }
    return NULL;
}

static int cmp_opt_name(gconstpointer a, gconstpointer b)
{
    const CreateOptDesc *x = *(const CreateOptDesc *const *)a;
    const CreateOptDesc *y = *(const CreateOptDesc *const *)b;

    return strcmp(x->name, y->name);
}

static const char *opt_type_name(CreateOptType type)
{
    switch (type) {
    case CREATE_OPT_STRING:
        return "str";
    case CREATE_OPT_BOOL:
        return "bool (on/off)";
    case CREATE_OPT_NUMBER:
        return "num";
    case CREATE_OPT_SIZE:
        return "size";
    }
    g_assert_not_reached();
}

int bdrv_create_print_help(const char *fmt, const char *filename,
                           Error **errp)
{
    g_autoptr(GPtrArray) opts = NULL;

    if (!create_opts_of(fmt)) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return -EINVAL;
    }
    if (filename) {
        opts = create_opts_merged(fmt);
        printf("Supported options:\n");
    } else {
        opts = g_ptr_array_new();
        for (const CreateOptDesc *d = create_opts_of(fmt); d->name; d++) {
            g_ptr_array_add(opts, (gpointer)d);
        }
        printf("Supported %s options:\n", fmt);
    }
    g_ptr_array_sort(opts, cmp_opt_name);
    for (guint i = 0; i < opts->len; i++) {
        const CreateOptDesc *d = g_ptr_array_index(opts, i);
        g_autofree char *left = g_strdup_printf("%s=<%s>", d->name,
                                                opt_type_name(d->type));
        printf("  %-22s - %s\n", left, d->help);
    }
    if (!filename) {
        printf("\nThe protocol level may support further options.\n"
               "Specify the target filename to include those options.\n");
    }
    return 0;
}

/*
 * Checks @value against @d's type and returns the text the options
 * carry from now on: numbers and sizes normalised, the rest as given.
 */
static char *opt_normalise(const CreateOptDesc *d, const char *value,
                           Error **errp)
{
    uint64_t n;
    bool b;
    const char *end;
    int ret;

    switch (d->type) {
    case CREATE_OPT_STRING:
        return g_strdup(value);
    case CREATE_OPT_BOOL:
        if (!bdrv_parse_bool(value, &b)) {
            error_setg(errp, "Parameter '%s' expects 'on' or 'off'",
                       d->name);
            return NULL;
        }
        return g_strdup(value);
    case CREATE_OPT_NUMBER:
        for (end = value; g_ascii_isspace(*end); end++) {
        }
        errno = 0;
        if (*end == '-' || !*end) {
            error_setg(errp, "Parameter '%s' expects a number", d->name);
            return NULL;
        }
        n = g_ascii_strtoull(value, (char **)&end, 0);
        if (*end || end == value) {
            error_setg(errp, "Parameter '%s' expects a number", d->name);
            return NULL;
        }
        if (errno == ERANGE) {
            error_setg(errp, "Value '%s' is out of range for parameter '%s'",
                       value, d->name);
            return NULL;
        }
        return g_strdup_printf("%" PRId64, (int64_t)n);
    case CREATE_OPT_SIZE:
        ret = qemu_strtosz(value, &n);
        if (ret == -ERANGE) {
            error_setg(errp, "Value '%s' is out of range for parameter '%s'",
                       value, d->name);
            return NULL;
        } else if (ret < 0) {
            error_setg(errp, "Parameter '%s' expects a non-negative number "
                       "below 2^64\nOptional suffix k, M, G, T, P or E means "
                       "kilo-, mega-, giga-, tera-, peta-\n"
                       "and exabytes, respectively.", d->name);
            return NULL;
        }
        return g_strdup_printf("%" PRId64, (int64_t)n);
    }
    g_assert_not_reached();
}

/* "a=1,b=x,,y": ",," is a literal comma; a key alone means "on". */
static int parse_opt_string(const char *str, GPtrArray *opts, QDict *out,
                            Error **errp)
{
    g_autoptr(GString) key = g_string_new(NULL);
    g_autoptr(GString) val = g_string_new(NULL);
    const char *p = str;
    bool has_eq;

    while (*p) {
        const CreateOptDesc *d;
        char *norm;

        p = keyval_next(p, key, val, &has_eq);
        d = find_opt(opts, key->str);
        if (!d) {
            error_setg(errp, "Invalid parameter '%s'", key->str);
            return -EINVAL;
        }
        norm = opt_normalise(d, has_eq ? val->str : "on", errp);
        if (!norm) {
            return -EINVAL;
        }
        qdict_put_str(out, key->str, norm);
        g_free(norm);
    }
    return 0;
}

/* The value as the "Formatting" line prints it: commas doubled. */
static void append_escaped(GString *out, const char *value)
{
    for (; *value; value++) {
        if (*value == ',') {
            g_string_append_c(out, ',');
        }
        g_string_append_c(out, *value);
    }
}

static void print_formatting(const char *filename, const char *fmt,
                             GPtrArray *opts, QDict *values)
{
    g_autoptr(GString) line = g_string_new(NULL);

    g_string_append_printf(line, "Formatting '%s', fmt=%s", filename, fmt);
    for (guint i = 0; i < opts->len; i++) {
        const CreateOptDesc *d = g_ptr_array_index(opts, i);
        const char *v = qdict_get_try_str(values, d->name);
        if (!v) {
            v = d->def;
        }
        if (v) {
            g_string_append_printf(line, " %s=", d->name);
            append_escaped(line, v);
        }
    }
    printf("%s\n", line->str);
    fflush(stdout);
}

/*
 * The size of a new overlay from its backing file, opened read-only
 * without its own backing chain (only its length is needed).
 */
static int64_t backing_size(const char *filename, const char *backing,
                            const char *backing_fmt, QDict *values,
                            Error **errp)
{
    g_autofree char *full = NULL;
    BlockDriverState *bs;
    int64_t size;

    if (g_str_has_prefix(backing, "json:")) {
        full = g_strdup(backing);
    } else {
        full = path_combine(filename, backing);
    }
    bs = bdrv_open(full, backing_fmt, NULL, BDRV_O_NO_BACKING, errp);
    if (!bs) {
        error_append_hint(errp, "Could not open backing image.\n");
        return -EINVAL;
    }
    if (!backing_fmt) {
        error_setg(errp, "Backing file specified without backing format");
        error_append_hint(errp, "Detected format of %s.",
                          bdrv_get_format_name(bs));
        bdrv_unref(bs);
        return -EINVAL;
    }
    size = bdrv_getlength(bs);
    bdrv_unref(bs);
    if (size < 0) {
        error_setg_errno(errp, -size, "Could not get size of '%s'", backing);
        return size;
    }
    return size;
}

QDict *bdrv_create_opts_parse(const char *fmt, const char *options,
                              int64_t size, const char *base_filename,
                              const char *base_fmt, Error **errp)
{
    g_autoptr(GPtrArray) opts = NULL;
    g_autoptr(QDict) values = qdict_new();
    g_autofree char *size_str = NULL;

    if (!create_opts_of(fmt)) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return NULL;
    }
    opts = create_opts_merged(fmt);
    if (options && parse_opt_string(options, opts, values, errp) < 0) {
        return NULL;
    }
    /* The sources' size wins over any -o size. */
    size_str = g_strdup_printf("%" PRId64, size);
    qdict_put_str(values, "size", size_str);
    if (base_filename) {
        if (!find_opt(opts, "backing_file")) {
            error_setg(errp, "Backing file not supported for file format "
                       "'%s'", fmt);
            return NULL;
        }
        qdict_put_str(values, "backing_file", base_filename);
    }
    if (base_fmt) {
        if (!find_opt(opts, "backing_fmt")) {
            error_setg(errp, "Backing file format not supported for file "
                       "format '%s'", fmt);
            return NULL;
        }
        qdict_put_str(values, "backing_fmt", base_fmt);
    }
    return g_steal_pointer(&values);
}

int bdrv_img_create(const char *filename, const char *fmt,
                    const char *base_filename, const char *base_fmt,
                    const char *options, int64_t img_size, bool no_backing,
                    bool quiet, Error **errp)
{
    g_autoptr(GPtrArray) opts = NULL;
    g_autoptr(QDict) values = qdict_new();
    const char *backing, *backing_fmt;

    if (!create_opts_of(fmt)) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return -EINVAL;
    }
    opts = create_opts_merged(fmt);
    if (img_size >= 0) {
        g_autofree char *s = g_strdup_printf("%" PRId64, img_size);
        qdict_put_str(values, "size", s);
    }
    if (options) {
        g_autoptr(QDict) parsed = qdict_new();
        if (parse_opt_string(options, opts, parsed, errp) < 0) {
            return -EINVAL;
        }
        if (img_size >= 0 && qdict_haskey(parsed, "size")) {
            error_setg(errp, "The image size must be specified only once");
            return -EINVAL;
        }
        for (const QDictEntry *e = qdict_first(parsed); e;
             e = qdict_next(parsed, e)) {
            qdict_put_str(values, qdict_entry_key(e),
                          qdict_get_try_str(parsed, qdict_entry_key(e)));
        }
    }
    if (base_filename) {
        if (!find_opt(opts, "backing_file")) {
            error_setg(errp, "Backing file not supported for file format "
                       "'%s'", fmt);
            return -EINVAL;
        }
        qdict_put_str(values, "backing_file", base_filename);
    }
    if (base_fmt) {
        if (!find_opt(opts, "backing_fmt")) {
            error_setg(errp, "Backing file format not supported for file "
                       "format '%s'", fmt);
            return -EINVAL;
        }
        qdict_put_str(values, "backing_fmt", base_fmt);
    }
    backing = qdict_get_try_str(values, "backing_file");
    backing_fmt = qdict_get_try_str(values, "backing_fmt");
    if (backing) {
        if (!strcmp(filename, backing)) {
            error_setg(errp, "Error: Trying to create an image with the "
                       "same filename as the backing file");
            return -EINVAL;
        }
        if (!*backing) {
            error_setg(errp, "Expected backing file name, got empty string");
            return -EINVAL;
        }
    }
    if (backing && !no_backing) {
        int64_t size = backing_size(filename, backing, backing_fmt, values,
                                    errp);
        if (size < 0) {
            return size;
        }
        if (!qdict_haskey(values, "size")) {
            g_autofree char *s = g_strdup_printf("%" PRId64, size);
            qdict_put_str(values, "size", s);
        }
    } else if (backing && !backing_fmt) {
        error_setg(errp, "Backing file specified without backing format");
        return -EINVAL;
    }
    if (!qdict_haskey(values, "size")) {
        error_setg(errp, "Image creation needs a size parameter");
        return -EINVAL;
    }

    if (!quiet) {
        print_formatting(filename, fmt, opts, values);
    }
    return bdrv_create(fmt, filename, values, errp);
}

int bdrv_create_file_sized(const char *filename, uint64_t size,
                           const char *prealloc, Error **errp)
{
    BlockDriverState *bs;
    int ret;

    if (strcmp(prealloc, "off") && strcmp(prealloc, "falloc") &&
        strcmp(prealloc, "full") && strcmp(prealloc, "metadata")) {
        error_setg(errp, "invalid parameter value: %s", prealloc);
        return -EINVAL;
    }
    ret = bdrv_file_create(filename, errp);
    if (ret < 0) {
        return ret;
    }
    if (!strcmp(prealloc, "metadata")) {
        error_setg(errp, "Unsupported preallocation mode: metadata");
        return -ENOTSUP;
    }
    bs = bdrv_open_protocol(filename, BDRV_O_RDWR, errp);
    if (!bs) {
        return -EIO;
    }
    ret = bdrv_file_preallocate(bs, 0, size, prealloc, errp);
    if (ret == 0 && size && !strcmp(prealloc, "off")) {
        /*
         * 7.2 writes the first block of a new file (so that a later
         * O_DIRECT open can probe the alignment): it reads as data.
         */
        uint64_t len = MIN(size, 4096);
        g_autofree uint8_t *zeros = g_malloc0(len);

        ret = bdrv_file_pwrite(bs, 0, len, zeros, errp);
    }
    bdrv_unref(bs);
    return ret;
}

int bdrv_file_preallocate(BlockDriverState *bs, uint64_t old_size,
                          uint64_t size, const char *prealloc, Error **errp)
{
    Error *local_err = NULL;
    int ret = bdrv_file_truncate(bs, size, &local_err);

    if (ret < 0) {
        /* 7.2's words at creation; -EFBIG is the format's to explain. */
        error_free(local_err);
        error_setg_errno(errp, -ret, "Could not resize file");
        return ret;
    }
    if (size <= old_size) {
        return 0;
    }
    if (!strcmp(prealloc, "falloc") || !strcmp(prealloc, "full")) {
        /* Zeros either way; full writes them where falloc cannot. */
        ret = bdrv_file_allocate(bs, old_size, size - old_size,
                                 !strcmp(prealloc, "full"), errp);
    }
    return ret;
}

static int raw_like_create(const char *filename, QDict *opts, Error **errp)
{
    const char *prealloc = qdict_get_try_str(opts, "preallocation");
    uint64_t size = g_ascii_strtoull(qdict_get_try_str(opts, "size"),
                                     NULL, 10);
    Error *local_err = NULL;
    int ret;

    /* Whole sectors, as 7.2 rounds every new image's size. */
    size = QEMU_ALIGN_UP(size, BDRV_SECTOR_SIZE);
    ret = bdrv_create_file_sized(filename, size,
                                 prealloc ? prealloc : "off", &local_err);
    if (ret == -EFBIG) {
        error_free(local_err);
        error_setg(errp, "The image size is too large for file format "
                   "'raw'");
    } else if (ret < 0) {
        error_propagate(errp, local_err);
    }
    return ret;
}

int bdrv_create(const char *fmt, const char *filename, QDict *opts,
                Error **errp)
{
    const BlockDriver *drv = bdrv_find_format(fmt);

    if (drv && drv->create) {
        return drv->create(filename, opts, errp);
    }
    if (!strcmp(fmt, "raw") || !strcmp(fmt, "file")) {
        return raw_like_create(filename, opts, errp);
    }
    error_setg(errp, "Format driver '%s' does not support image creation",
               fmt);
    return -ENOTSUP;
}
