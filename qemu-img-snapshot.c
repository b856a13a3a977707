/*
 * qemu-img snapshot: list, create, apply and delete internal snapshots.
 */
#include "qemu-img.h"

typedef enum SnapshotAction {
    SNAPSHOT_NONE,
    SNAPSHOT_LIST,
    SNAPSHOT_APPLY,
    SNAPSHOT_CREATE,
    SNAPSHOT_DELETE,
} SnapshotAction;

/*
 * The table as 7.2 prints it: nothing at all without snapshots, and
 * nothing for a format without snapshots (its list is simply empty).
 */
static void dump_snapshots(BlockDriverState *bs)
{
    g_autoptr(SnapshotInfoList) list = NULL;
    g_autoptr(GString) out = NULL;
    Error *local_err = NULL;

    if (bdrv_snapshot_list(bs, &list, &local_err) < 0) {
        error_free(local_err);
        return;
    }
    if (!list) {
        return;
    }
    out = g_string_new("Snapshot list:\n");
    bdrv_snapshot_dump_header(out);
    for (const SnapshotInfoList *l = list; l; l = l->next) {
        bdrv_snapshot_dump(out, l->value);
    }
    fputs(out->str, stdout);
}

/*
 * Whether the format of @filename is probed: no "driver" among the
 * options of --image-opts or of a json: name.
 */
static bool format_probed(bool image_opts, const char *filename)
{
    if (image_opts) {
        g_autoptr(QDict) opts = img_parse_image_opts(filename, NULL);

        return opts && !qdict_haskey(opts, "driver");
    }
    if (g_str_has_prefix(filename, "json:")) {
        g_autoptr(QObject) obj = qobject_from_json(filename + strlen("json:"),
                                                   NULL);
        QDict *opts = qobject_to_qdict(obj);

        return opts && !qdict_haskey(opts, "driver");
    }
    return true;
}

static int run_action(BlockDriverState *bs, SnapshotAction action,
                      const char *name, bool probed_raw)
{
    Error *local_err = NULL;
    int ret;

    switch (action) {
    case SNAPSHOT_LIST:
        dump_snapshots(bs);
        return 0;
    case SNAPSHOT_CREATE:
        ret = bdrv_snapshot_create(bs, name, &local_err);
        if (ret < 0) {
            /* 7.2 prints the bare errno here, whatever the cause. */
            error_free(local_err);
            error_report("Could not create snapshot '%s': %d (%s)", name,
                         ret, g_strerror(-ret));
        }
        return ret;
    case SNAPSHOT_APPLY:
        ret = bdrv_snapshot_goto(bs, name, &local_err);
        if (ret == -ENOTSUP && probed_raw) {
            /* 7.2 reopens the raw driver after trying its file: again. */
            bdrv_raw_warn_probed(bs);
        }
        if (ret < 0) {
            error_prepend(&local_err, "Could not apply snapshot '%s': ",
                          name);
            error_report_err(local_err);
        }
        return ret;
    case SNAPSHOT_DELETE:
        ret = bdrv_snapshot_delete(bs, name, &local_err);
        if (ret < 0) {
            error_prepend(&local_err, "Could not delete snapshot '%s': ",
                          name);
            error_report_err(local_err);
        }
        return ret;
    case SNAPSHOT_NONE:
        /* 7.2 opens the image read-write and does nothing. */
        return 0;
    }
    g_assert_not_reached();
}

int img_snapshot(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    ImgCommonOpts o = { 0 };
    SnapshotAction action = SNAPSHOT_NONE;
    const char *name = NULL, *filename;
    bool probed_raw;
    BlockDriverState *bs;
    int flags = BDRV_O_RDWR;
    int c, ret;

    while ((c = img_getopt(argc, argv, ":la:c:d:hqU", long_options)) != -1) {
        SnapshotAction next = SNAPSHOT_NONE;

        if (img_common_option(c, optarg, &o) < 0) {
            return EXIT_FAILURE;
        }
        switch (c) {
        case 'l':
            next = SNAPSHOT_LIST;
            break;
        case 'a':
            next = SNAPSHOT_APPLY;
            break;
        case 'c':
            next = SNAPSHOT_CREATE;
            break;
        case 'd':
            next = SNAPSHOT_DELETE;
            break;
        case 'q':
            /* Nothing to silence: the list is printed even with -q. */
            break;
        }
        if (next != SNAPSHOT_NONE) {
            /* Even the same action twice is refused, as in 7.2. */
            if (action != SNAPSHOT_NONE) {
                error_exit("Cannot mix '-l', '-a', '-c', '-d'");
            }
            action = next;
            name = next == SNAPSHOT_LIST ? NULL : optarg;
        }
    }
    filename = img_one_image(argc, argv, &o, NULL);
    if (action == SNAPSHOT_LIST) {
        flags = 0;
    }
    if (o.force_share) {
        if (flags & BDRV_O_RDWR) {
            /* Refused before the file is even looked at, as 7.2 does. */
            error_report("Could not open '%s': force-share=on can only be "
                         "used with read-only images", filename);
            return EXIT_FAILURE;
        }
        flags |= BDRV_O_FORCE_SHARE;
    }
    bs = img_open(o.image_opts, filename, NULL, flags);
    if (!bs) {
        return EXIT_FAILURE;
    }
    probed_raw = (flags & BDRV_O_RDWR) &&
                 !strcmp(bdrv_get_format_name(bs), "raw") &&
                 format_probed(o.image_opts, filename);
    if (probed_raw) {
        bdrv_raw_warn_probed(bs);
    }
    ret = run_action(bs, action, name, probed_raw);
    bdrv_unref(bs);
    return ret < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
