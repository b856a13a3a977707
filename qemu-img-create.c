/*
 * qemu-img create: parses the command line; the block layer checks the
 * options, prints the "Formatting" line and writes the image.
 */
#include "qemu-img.h"

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
            if (img_accumulate_options(&options, optarg) < 0) {
                return EXIT_FAILURE;
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
    if (options && img_has_help_option(options)) {
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
