/*
 * Shared conventions of the qemu-img subcommands.
 */
#ifndef QEMU_IMG_H
#define QEMU_IMG_H

#include <getopt.h>
#include "block/block.h"

/* The QEMU release whose command line and output we reproduce. */
#define QEMU_COMPAT_VERSION "7.2.22"
#ifndef PACKAGE_STRING
#define PACKAGE_STRING "qcow2-tools 0.1.0"
#endif
#define COPYRIGHT_LINE \
    "Copyright (c) 2026 the qcow2-tools developers (clean-room, not QEMU)"

typedef enum OutputFormat {
    OFORMAT_HUMAN,
    OFORMAT_JSON,
} OutputFormat;

/* Long options without a short form. */
enum {
    OPTION_OUTPUT = 256,
    OPTION_BACKING_CHAIN,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
};

/* The options most subcommands share, as img_common_option() sets them. */
typedef struct ImgCommonOpts {
    const char *fmt;        /* -f */
    const char *output;     /* --output, checked by img_one_image() */
    bool image_opts;        /* --image-opts */
    bool force_share;       /* -U */
} ImgCommonOpts;

typedef struct ImgCmd {
    const char *name;
    int (*handler)(int argc, char **argv);
    const char *syntax;
} ImgCmd;

void G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) error_exit(const char *fmt, ...);
void G_GNUC_NORETURN missing_argument(const char *option);
void G_GNUC_NORETURN unrecognized_option(const char *option);
void G_GNUC_NORETURN help(void);
int img_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts);
int img_parse_output_format(const char *arg, OutputFormat *fmt);
int64_t img_cvtnum(const char *name, const char *value);
QDict *img_parse_image_opts(const char *str, Error **errp);
BlockDriverState *img_open(bool image_opts, const char *filename,
                           const char *fmt, int flags);
int img_add_object(const char *optarg);
int img_common_option(int c, const char *arg, ImgCommonOpts *o);
/*
 * -o OPTIONS (create, convert): appended to *@options with a comma;
 * an empty element is refused with 7.2's message (-EINVAL).
 */
int img_accumulate_options(char **options, const char *optarg);
/* An element "help" or "?" asks for the option list. */
bool img_has_help_option(const char *options);
const char *img_one_image(int argc, char **argv, const ImgCommonOpts *o,
                          OutputFormat *ofmt);

/* Subcommands, one file each. */
int img_info(int argc, char **argv);
int img_check(int argc, char **argv);
int img_create(int argc, char **argv);
int img_convert(int argc, char **argv);
int img_map(int argc, char **argv);
int img_snapshot(int argc, char **argv);
int img_bitmap(int argc, char **argv);

#endif
