/*
 * qemu-img bitmap: add, remove, clear, enable, disable and merge
 * persistent dirty bitmaps, the actions in the order given.
 */
#include "qemu-img.h"

enum {
    OPTION_ADD = 1000,
    OPTION_REMOVE,
    OPTION_CLEAR,
    OPTION_ENABLE,
    OPTION_DISABLE,
    OPTION_MERGE,
};

typedef struct BitmapAction {
    int kind;                   /* OPTION_ADD ... */
    const char *src;            /* --merge */
} BitmapAction;

static const char *action_name(int kind)
{
    switch (kind) {
    case OPTION_ADD:
        return "add";
    case OPTION_REMOVE:
        return "remove";
    case OPTION_CLEAR:
        return "clear";
    case OPTION_ENABLE:
        return "enable";
    case OPTION_DISABLE:
        return "disable";
    default:
        return "merge";
    }
}

static int run_action(BlockDriverState *bs, const BitmapAction *a,
                      const char *name, uint32_t granularity,
                      BlockDriverState *src_bs, Error **errp)
{
    switch (a->kind) {
    case OPTION_ADD:
        return bdrv_bitmap_add(bs, name, granularity, errp);
    case OPTION_REMOVE:
        return bdrv_bitmap_remove(bs, name, errp);
    case OPTION_CLEAR:
        return bdrv_bitmap_clear(bs, name, errp);
    case OPTION_ENABLE:
    case OPTION_DISABLE:
        return bdrv_bitmap_set_enabled(bs, name, a->kind == OPTION_ENABLE,
                                       errp);
    default:
        return bdrv_bitmap_merge(bs, name, src_bs ? src_bs : bs, a->src,
                                 errp);
    }
}

/* 7.2's default: the cluster size, within 4 KiB to 64 KiB. */
static uint32_t default_granularity(BlockDriverState *bs)
{
    g_autoptr(ImageInfo) info = bdrv_query_image_info(bs, NULL);
    int64_t cs = info && info->has_cluster_size ? info->cluster_size : 65536;

    return MIN(MAX(cs, 4096), 65536);
}

int img_bitmap(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "add", no_argument, NULL, OPTION_ADD },
        { "remove", no_argument, NULL, OPTION_REMOVE },
        { "clear", no_argument, NULL, OPTION_CLEAR },
        { "enable", no_argument, NULL, OPTION_ENABLE },
        { "disable", no_argument, NULL, OPTION_DISABLE },
        { "merge", required_argument, NULL, OPTION_MERGE },
        { "granularity", required_argument, NULL, 'g' },
        { "source-file", required_argument, NULL, 'b' },
        { "source-format", required_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 }
    };
    g_autoptr(GArray) actions = g_array_new(FALSE, FALSE,
                                            sizeof(BitmapAction));
    ImgCommonOpts o = { 0 };
    const char *src_file = NULL, *src_fmt = NULL, *filename, *name;
    BlockDriverState *bs, *src_bs = NULL;
    int64_t granularity = 0;
    bool merge = false, add = false;
    int c, ret = 0;

    while ((c = img_getopt(argc, argv, ":b:f:F:g:h", long_options)) != -1) {
        BitmapAction a = { c, NULL };

        if (img_common_option(c, optarg, &o) < 0) {
            return EXIT_FAILURE;
        }
        switch (c) {
        case 'b':
            src_file = optarg;
            break;
        case 'F':
            src_fmt = optarg;
            break;
        case 'g':
            granularity = img_cvtnum("granularity", optarg);
            if (granularity < 0) {
                return EXIT_FAILURE;
            }
            break;
        case OPTION_MERGE:
            a.src = optarg;
            merge = true;
            /* fall through */
        case OPTION_ADD:
        case OPTION_REMOVE:
        case OPTION_CLEAR:
        case OPTION_ENABLE:
        case OPTION_DISABLE:
            add |= c == OPTION_ADD;
            g_array_append_val(actions, a);
            break;
        }
    }
    if (!actions->len) {
        error_report("Need at least one of --add, --remove, --clear, "
                     "--enable, --disable, or --merge");
        return EXIT_FAILURE;
    }
    if (granularity && !add) {
        error_report("granularity only supported with --add");
        return EXIT_FAILURE;
    }
    if (src_fmt && !src_file) {
        error_report("-F only supported with -b");
        return EXIT_FAILURE;
    }
    if (src_file && !merge) {
        error_report("Merge bitmap source file only supported with --merge");
        return EXIT_FAILURE;
    }
    if (optind != argc - 2) {
        error_report("Expecting filename and bitmap name");
        return EXIT_FAILURE;
    }
    filename = argv[optind];
    name = argv[optind + 1];
    bs = img_open(o.image_opts, filename, o.fmt,
                  BDRV_O_RDWR | BDRV_O_NO_BACKING);
    if (!bs) {
        return EXIT_FAILURE;
    }
    if (src_file) {
        src_bs = img_open(false, src_file, src_fmt, BDRV_O_NO_BACKING);
        if (!src_bs) {
            bdrv_unref(bs);
            return EXIT_FAILURE;
        }
    }
    if (!granularity) {
        granularity = default_granularity(bs);
    }
    for (guint i = 0; i < actions->len; i++) {
        const BitmapAction *a = &g_array_index(actions, BitmapAction, i);
        Error *local_err = NULL;

        /* 4 GiB and more wrap as 7.2's 32-bit granularity does. */
        ret = run_action(bs, a, name, (uint32_t)granularity, src_bs,
                         &local_err);
        if (ret < 0) {
            error_prepend(&local_err, "Operation %s on bitmap %s failed: ",
                          action_name(a->kind), name);
            error_report_err(local_err);
            break;
        }
    }
    if (src_bs) {
        bdrv_unref(src_bs);
    }
    /* What the actions did is written back now, errors included. */
    {
        Error *local_err = NULL;

        if (bdrv_inactivate(bs, &local_err) < 0) {
            error_report_err(local_err);
            ret = -EIO;
        }
    }
    bdrv_unref(bs);
    return ret < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
