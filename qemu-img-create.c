/*
 * qemu-img create: parses the command line; the block layer checks the
 * options, prints the "Formatting" line and writes the image.
 */
#include "qemu-img.h"

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

/* An element "help" or "?" asks for the option list. */
static bool has_help_option(const char *options)
{
    g_auto(GStrv) parts = g_strsplit(options, ",", -1);

    for (int i = 0; parts[i]; i++) {
        if (!strcmp(parts[i], "help") || !strcmp(parts[i], "?")) {
            return true;
        }
    }
    return false;
}

int img_create(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { NULL, 0, NULL, 0 }
    };
    ImgCommonOpts o = { .fmt = "raw" };
    const char *base_fmt = NULL, *base_filename = NULL;
    const char *filename;
    g_autofree char *options = NULL;
    Error *local_err = NULL;
    bool quiet = false, no_backing = false;
    int64_t img_size = -1;
    int c;

    while ((c = img_getopt(argc, argv, ":F:b:f:ho:qu", long_options))
           != -1) {
        if (img_common_option(c, optarg, &o) < 0) {
            return EXIT_FAILURE;
        }
        switch (c) {
        case 'F':
            base_fmt = optarg;
            break;
        case 'b':
            base_filename = optarg;
            break;
        case 'o':
            if (!is_valid_option_list(optarg)) {
                error_report("Invalid option list: %s", optarg);
                return EXIT_FAILURE;
            }
            if (options) {
                char *merged = g_strdup_printf("%s,%s", options, optarg);
                g_free(options);
                options = merged;
            } else {
                options = g_strdup(optarg);
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 'u':
            no_backing = true;
            break;
        }
    }

    /* -o help needs no file name */
    if (options && has_help_option(options)) {
        filename = optind < argc ? argv[optind] : NULL;
        if (bdrv_create_print_help(o.fmt, filename, &local_err) < 0) {
            error_report_err(local_err);
            return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
    }
    if (optind >= argc) {
        error_exit("Expecting image file name");
    }
    filename = argv[optind++];
    if (optind < argc) {
        img_size = img_cvtnum("image size", argv[optind++]);
        if (img_size < 0) {
            return EXIT_FAILURE;
        }
    }
    if (optind != argc) {
        error_exit("Unexpected argument: %s", argv[optind]);
    }

    if (bdrv_img_create(filename, o.fmt, base_filename, base_fmt, options,
                        img_size, no_backing, quiet, &local_err) < 0) {
        error_prepend(&local_err, "%s: ", filename);
        error_report_err(local_err);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
