/*
 * qemu-img: command-line compatible with QEMU 7.2's qemu-img for qcow2
 * and raw images.  This file parses options and calls the block layer;
 * it knows nothing about any format's internals.
 */
#include <getopt.h>
#include "block/block.h"
#include "qemu/cutils.h"
#include "qapi-visit.h"
#include "qemu-img-help.h"
#include "qemu-img.h"

/* Exit after a usage error, with QEMU's hint line. */
void G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) error_exit(const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("%s", msg);
    g_free(msg);    /* exit() runs no g_autofree cleanups */
    fprintf(stderr, "Try '%s --help' for more information\n",
            error_get_progname());
    exit(EXIT_FAILURE);
}

void G_GNUC_NORETURN missing_argument(const char *option)
{
    error_exit("missing argument for option '%s'", option);
}

void G_GNUC_NORETURN unrecognized_option(const char *option)
{
    error_exit("unrecognized option '%s'", option);
}

/* getopt_long with QEMU's conventions: ':' first, our own messages. */
int img_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);

    if (c == ':') {
        missing_argument(argv[optind - 1]);
    } else if (c == '?') {
        unrecognized_option(argv[optind - 1]);
    }
    return c;
}

int img_parse_output_format(const char *arg, OutputFormat *fmt)
{
    if (!strcmp(arg, "json")) {
        *fmt = OFORMAT_JSON;
    } else if (!strcmp(arg, "human")) {
        *fmt = OFORMAT_HUMAN;
    } else {
        error_report("--output must be used with human or json as "
                     "argument.");
        return -EINVAL;
    }
    return 0;
}

/*
 * A size argument (--start-offset, the image size, ...) with qemu-img
 * 7.2's two messages, which name it: 0 to INT64_MAX, or -1 once they
 * are printed.
 */
int64_t img_cvtnum(const char *name, const char *value)
{
    uint64_t res;
    int err = qemu_strtosz(value, &res);

    if (err < 0 && err != -ERANGE) {
        error_report("Invalid %s specified. You may use "
                     "k, M, G, T, P or E suffixes for", name);
        error_report("kilobytes, megabytes, gigabytes, terabytes, "
                     "petabytes and exabytes.");
        return -1;
    }
    if (err == -ERANGE || res > INT64_MAX) {
        error_report("Invalid %s specified. Must be between 0 and %" PRId64
                     ".", name, INT64_MAX);
        return -1;
    }
    return res;
}

/*
 * "key=value,key2=value2" as --image-opts takes it; ",," is a literal
 * comma.  A leading element without '=' names a node, which a
 * command-line tool never has.
 */
QDict *img_parse_image_opts(const char *str, Error **errp)
{
    g_autoptr(QDict) dict = qdict_new();
    g_autoptr(GString) key = g_string_new(NULL);
    g_autoptr(GString) val = g_string_new(NULL);
    const char *p = str;
    bool seen_eq;

    while (*p) {
        p = keyval_next(p, key, val, &seen_eq);
        if (!seen_eq) {
            error_setg(errp, "Cannot find device='%s' nor node-name='%s'",
                       key->str, key->str);
            return NULL;
        }
        qdict_put_str(dict, key->str, val->str);
    }
    return g_steal_pointer(&dict);
}

BlockDriverState *img_open(bool image_opts, const char *filename,
                           const char *fmt, int flags)
{
    Error *local_err = NULL;
    BlockDriverState *bs;

    if (image_opts) {
        QDict *opts;
        if (fmt) {
            error_report("--image-opts and --format are mutually exclusive");
            return NULL;
        }
        opts = img_parse_image_opts(filename, &local_err);
        if (!opts) {
            error_report("Could not open '%s': %s", filename,
                         error_get_pretty(local_err));
            error_free(local_err);
            return NULL;
        }
        bs = bdrv_open(NULL, NULL, opts, flags, &local_err);
    } else {
        bs = bdrv_open(filename, fmt, NULL, flags, &local_err);
    }
    if (!bs) {
        error_prepend(&local_err, "Could not open '%s': ", filename);
        error_report_err(local_err);
        return NULL;
    }
    return bs;
}

int img_add_object(const char *optarg)
{
    Error *local_err = NULL;

    if (!object_option_check(optarg, &local_err)) {
        error_report_err(local_err);
        return -EINVAL;
    }
    return 0;
}

/*
 * -h, -f, -U, --output, --object and --image-opts, which mean the same
 * to every subcommand that takes them (each gets only those its getopt
 * strings name): 1 when @c was one of them, 0 when not, -1 after the
 * message for a refused --object.  -h prints the help and exits.
 */
int img_common_option(int c, const char *arg, ImgCommonOpts *o)
{
    switch (c) {
    case 'h':
        help();
    case 'f':
        o->fmt = arg;
        return 1;
    case 'U':
        o->force_share = true;
        return 1;
    case OPTION_OUTPUT:
        o->output = arg;
        return 1;
    case OPTION_OBJECT:
        return img_add_object(arg) < 0 ? -1 : 1;
    case OPTION_IMAGE_OPTS:
        o->image_opts = true;
        return 1;
    }
    return 0;
}

/*
 * After the options of a one-image subcommand: exactly one operand
 * (else the usage error, which exits), then --output into *@ofmt
 * (which may be NULL for a subcommand without --output).
 * Returns the file name, or NULL after the message.
 */
const char *img_one_image(int argc, char **argv, const ImgCommonOpts *o,
                          OutputFormat *ofmt)
{
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    if (o->output && img_parse_output_format(o->output, ofmt) < 0) {
        return NULL;
    }
    return argv[optind];
}

/* -o is valid when no comma-separated element is empty (",," escapes). */
static bool is_valid_option_list(const char *optarg)
{
    size_t len = strlen(optarg);

    if (!len || optarg[0] == ',' ||
        (optarg[len - 1] == ',' && (len < 2 || optarg[len - 2] != ','))) {
        return false;
    }
    return true;
}

int img_accumulate_options(char **options, const char *optarg)
{
    if (!is_valid_option_list(optarg)) {
        error_report("Invalid option list: %s", optarg);
        return -EINVAL;
    }
    if (*options) {
        char *merged = g_strdup_printf("%s,%s", *options, optarg);
        g_free(*options);
        *options = merged;
    } else {
        *options = g_strdup(optarg);
    }
    return 0;
}

bool img_has_help_option(const char *options)
{
    g_auto(GStrv) parts = g_strsplit(options, ",", -1);

    for (int i = 0; parts[i]; i++) {
        if (!strcmp(parts[i], "help") || !strcmp(parts[i], "?")) {
            return true;
        }
    }
    return false;
}

static int img_unimplemented(int argc, char **argv)
{
    error_report("Command '%s' is not implemented in this version",
                 argv[0]);
    return EXIT_FAILURE;
}

static const ImgCmd img_cmds[] = {
    { "amend", img_unimplemented,
      "amend [--object objectdef] [--image-opts] [-p] [-q] [-f fmt] "
      "[-t cache] [--force] -o options filename" },
    { "bench", img_unimplemented,
      "bench [-c count] [-d depth] [-f fmt] "
      "[--flush-interval=flush_interval] [-i aio] [-n] [--no-drain] "
      "[-o offset] [--pattern=pattern] [-q] [-s buffer_size] "
      "[-S step_size] [-t cache] [-w] [-U] filename" },
    { "bitmap", img_bitmap,
      "bitmap (--merge SOURCE | --add | --remove | --clear | --enable | "
      "--disable)... [-b source_file [-F source_fmt]] [-g granularity] "
      "[--object objectdef] [--image-opts | -f fmt] filename bitmap" },
    { "check", img_check,
      "check [--object objectdef] [--image-opts] [-q] [-f fmt] "
      "[--output=ofmt] [-r [leaks | all]] [-T src_cache] [-U] filename" },
    { "commit", img_unimplemented,
      "commit [--object objectdef] [--image-opts] [-q] [-f fmt] "
      "[-t cache] [-b base] [-r rate_limit] [-d] [-p] filename" },
    { "compare", img_unimplemented,
      "compare [--object objectdef] [--image-opts] [-f fmt] [-F fmt] "
      "[-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2" },
    { "convert", img_convert,
      "convert [--object objectdef] [--image-opts] [--target-image-opts] "
      "[--target-is-zero] [--bitmaps] [-U] [-C] [-c] [-p] [-q] [-n] "
      "[-f fmt] [-t cache] [-T src_cache] [-O output_fmt] "
      "[-B backing_file [-F backing_fmt]] [-o options] "
      "[-l snapshot_param] [-S sparse_size] [-r rate_limit] "
      "[-m num_coroutines] [-W] [--salvage] "
      "filename [filename2 [...]] output_filename" },
    { "create", img_create,
      "create [--object objectdef] [-q] [-f fmt] "
      "[-b backing_file [-F backing_fmt]] [-u] [-o options] "
      "filename [size]" },
    { "dd", img_unimplemented,
      "dd [--image-opts] [-U] [-f fmt] [-O output_fmt] [bs=block_size] "
      "[count=blocks] [skip=blocks] if=input of=output" },
    { "info", img_info,
      "info [--object objectdef] [--image-opts] [-f fmt] [--output=ofmt] "
      "[--backing-chain] [-U] filename" },
    { "map", img_map,
      "map [--object objectdef] [--image-opts] [-f fmt] "
      "[--start-offset=offset] [--max-length=len] [--output=ofmt] [-U] "
      "filename" },
    { "measure", img_unimplemented,
      "measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | "
      "[--object objectdef] [--image-opts] [-f fmt] [-l snapshot_param] "
      "filename]" },
    { "snapshot", img_snapshot,
      "snapshot [--object objectdef] [--image-opts] [-U] [-q] "
      "[-l | -a snapshot | -c snapshot | -d snapshot] filename" },
    { "rebase", img_unimplemented,
      "rebase [--object objectdef] [--image-opts] [-U] [-q] [-f fmt] "
      "[-t cache] [-T src_cache] [-p] [-u] -b backing_file "
      "[-F backing_fmt] filename" },
    { "resize", img_unimplemented,
      "resize [--object objectdef] [--image-opts] [-f fmt] "
      "[--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size" },
};

static void print_version(void)
{
    printf("qemu-img version " QEMU_COMPAT_VERSION " (" PACKAGE_STRING ")\n"
           COPYRIGHT_LINE "\n");
}

void G_GNUC_NORETURN help(void)
{
    print_version();
    printf("%s", QEMU_IMG_HELP_USAGE);
    for (size_t i = 0; i < G_N_ELEMENTS(img_cmds); i++) {
        printf("  %s\n", img_cmds[i].syntax);
    }
    printf("%s", QEMU_IMG_HELP_PARAMS);
    printf("Supported formats: file qcow2 raw\n");
    printf("%s", QEMU_IMG_HELP_TRAILER);
    exit(EXIT_SUCCESS);
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "trace", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmdname;
    int c;

    error_set_progname("qemu-img");
    if (argc < 2) {
        error_exit("Not enough arguments");
    }
    /* Global options stop at the command name ('+'). */
    while ((c = img_getopt(argc, argv, "+:hVT:", long_options)) != -1) {
        switch (c) {
        case 'h':
            help();
        case 'V':
            print_version();
            return EXIT_SUCCESS;
        case 'T':
            /* Tracing is QEMU-internal; accepted and ignored. */
            break;
        }
    }
    if (optind >= argc) {
        error_exit("Not enough arguments");
    }
    cmdname = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 0;     /* glibc: reinitialise for the subcommand */
    for (size_t i = 0; i < G_N_ELEMENTS(img_cmds); i++) {
        if (!strcmp(cmdname, img_cmds[i].name)) {
            return img_cmds[i].handler(argc, argv);
        }
    }
    error_exit("Command not found: %s", cmdname);
}
