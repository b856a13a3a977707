/*
 * qemu-img info
 */
#include "qemu-img.h"
#include "qapi/emitter.h"
#include "qapi-emit.h"

/* A chain longer than this is refused: it is a loop or hostile. */
#define INFO_MAX_CHAIN 256

static ImageInfo *info_one(bool image_opts, const char *filename,
                           const char *fmt, bool force_share)
{
    int flags = BDRV_O_NO_BACKING | BDRV_O_NO_IO;
    BlockDriverState *bs;
    ImageInfo *info;
    Error *local_err = NULL;

    if (force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    bs = img_open(image_opts, filename, fmt, flags);
    if (!bs) {
        return NULL;
    }
    info = bdrv_query_image_info(bs, &local_err);
    if (!info) {
        error_report_err(local_err);
    }
    bdrv_unref(bs);
    return info;
}

/*
 * Every image of the chain is opened and queried before anything is
 * printed, so a broken chain prints nothing but the error.
 */
static ImageInfoList *collect_image_info_list(bool image_opts,
                                              const char *filename,
                                              const char *fmt, bool chain,
                                              bool force_share)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal,
                                                       g_free, NULL);
    ImageInfoList *head = NULL, **tail = &head;
    g_autofree char *cur_name = g_strdup(filename);
    g_autofree char *cur_fmt = g_strdup(fmt);

    for (int depth = 0; cur_name; depth++) {
        ImageInfo *info;

        if (g_hash_table_contains(seen, cur_name) ||
            depth >= INFO_MAX_CHAIN) {
            error_report("Backing file '%s' creates an infinite loop.",
                         cur_name);
            goto fail;
        }
        g_hash_table_add(seen, g_strdup(cur_name));
        info = info_one(image_opts, cur_name, cur_fmt, force_share);
        if (!info) {
            goto fail;
        }
        *tail = g_new0(ImageInfoList, 1);
        (*tail)->value = info;
        tail = &(*tail)->next;
        if (!chain) {
            break;
        }
        g_clear_pointer(&cur_name, g_free);
        g_clear_pointer(&cur_fmt, g_free);
        if (info->has_full_backing_filename) {
            cur_name = g_strdup(info->full_backing_filename);
        } else if (info->has_backing_filename) {
            error_report("Could not determine absolute backing filename,"
                         " but backing filename '%s' present",
                         info->backing_filename);
            goto fail;
        }
        if (info->has_backing_filename_format) {
            cur_fmt = g_strdup(info->backing_filename_format);
        }
        image_opts = false;
    }
    return head;

fail:
    qapi_free_ImageInfoList(head);
    return NULL;
}

static void dump_info_list(const ImageInfoList *list, OutputFormat ofmt,
                           bool chain)
{
    if (ofmt == OFORMAT_JSON) {
        /* Streamed: 65536 snapshots make a tree of hundreds of MiB. */
        g_autoptr(QapiEmitter) e = qapi_json_emitter_new(stdout);

        if (chain) {
            qapi_emit_ImageInfoList(e, list);
        } else {
            qapi_emit_ImageInfo(e, list->value);
        }
        qapi_emitter_free(g_steal_pointer(&e));
        printf("\n");
        return;
    }
    for (const ImageInfoList *l = list; l; l = l->next) {
        g_autoptr(GString) out = g_string_new(NULL);
        if (l != list) {
            g_string_append_c(out, '\n');
        }
        bdrv_image_info_dump(l->value, out);
        fputs(out->str, stdout);
    }
}

int img_info(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "backing-chain", no_argument, NULL, OPTION_BACKING_CHAIN },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    ImgCommonOpts o = { 0 };
    OutputFormat ofmt = OFORMAT_HUMAN;
    const char *filename;
    bool chain = false;
    g_autoptr(ImageInfoList) list = NULL;
    int c, ret;

    while ((c = img_getopt(argc, argv, ":f:hU", long_options)) != -1) {
        ret = img_common_option(c, optarg, &o);
        if (ret < 0) {
            return EXIT_FAILURE;
        }
        if (c == OPTION_BACKING_CHAIN) {
            chain = true;
        }
    }
    filename = img_one_image(argc, argv, &o, &ofmt);
    if (!filename) {
        return EXIT_FAILURE;
    }
    list = collect_image_info_list(o.image_opts, filename, o.fmt, chain,
                                   o.force_share);
    if (!list) {
        return EXIT_FAILURE;
    }
    dump_info_list(list, ofmt, chain);
    return EXIT_SUCCESS;
}
