/*
 * Generic internal snapshot operations: what qemu-img 7.2's block layer
 * does before it hands a snapshot operation to the format driver.
 */
#include "block/block_int.h"

/* 7.2 carries a new snapshot's name in a 256-byte buffer. */
#define SNAPSHOT_NAME_MAX 255

/*
 * A format without snapshots of its own (raw) passes the request to its
 * file, which has none either: 7.2's answer is -ENOTSUP.
 */
static const BlockDriver *snapshot_driver(BlockDriverState *bs)
{
    return bs->drv->snapshot_list ? bs->drv : NULL;
}

int bdrv_snapshot_list(BlockDriverState *bs, SnapshotInfoList **list,
                       Error **errp)
{
    const BlockDriver *drv = snapshot_driver(bs);

    *list = NULL;
    if (!drv) {
        error_setg(errp, "Block driver does not support snapshots");
        return -ENOTSUP;
    }
    return drv->snapshot_list(bs, list, errp);
}

int bdrv_snapshot_create(BlockDriverState *bs, const char *name,
                         Error **errp)
{
    const BlockDriver *drv = snapshot_driver(bs);
    g_autofree char *kept = g_strndup(name, SNAPSHOT_NAME_MAX);
    int ret;

    if (!drv || !drv->snapshot_create) {
        error_setg(errp, "Block driver does not support snapshots");
        return -ENOTSUP;
    }
    ret = drv->snapshot_create(bs, kept, errp);
    return ret < 0 ? ret : bdrv_flush(bs, errp);
}

int bdrv_snapshot_goto(BlockDriverState *bs, const char *name, Error **errp)
{
    const BlockDriver *drv = snapshot_driver(bs);
    Error *local_err = NULL;
    int ret;

    if (!drv || !drv->snapshot_goto) {
        error_setg(errp, "Block driver does not support snapshots");
        return -ENOTSUP;
    }
    /* Their contents would no longer describe the disk: 7.2 refuses. */
    if (bdrv_has_bitmaps(bs)) {
        error_setg(errp, "Device has active dirty bitmaps");
        return -EBUSY;
    }
    ret = drv->snapshot_goto(bs, name, &local_err);
    if (ret < 0) {
        /* 7.2 prints the cause on a line of its own, then the errno. */
        if (local_err) {
            error_report_err(local_err);
        }
        error_setg_errno(errp, -ret, "Failed to load snapshot");
        return ret;
    }
    return bdrv_flush(bs, errp);
}

/*
 * qemu-img 7.2 looks the snapshot up by name only (the first one of
 * that name, as listed, so with names cut to 255 bytes), then asks the
 * driver to delete the snapshot with that ID and that name.
 */
int bdrv_snapshot_delete(BlockDriverState *bs, const char *name,
                         Error **errp)
{
    g_autoptr(SnapshotInfoList) list = NULL;
    const SnapshotInfo *found = NULL;
    Error *local_err = NULL;
    int ret;

    if (bdrv_snapshot_list(bs, &list, &local_err) < 0) {
        error_free(local_err);
    }
    for (const SnapshotInfoList *l = list; l && !found; l = l->next) {
        if (!strcmp(l->value->name, name)) {
            found = l->value;
        }
    }
    if (!found) {
        error_setg(errp, "snapshot not found");
        return -ENOENT;
    }
    if (!bs->drv->snapshot_delete) {
        error_setg(errp, "Block driver does not support snapshots");
        return -ENOTSUP;
    }
    ret = bs->drv->snapshot_delete(bs, found->id, found->name, errp);
    return ret < 0 ? ret : bdrv_flush(bs, errp);
}

int bdrv_snapshot_load_tmp(BlockDriverState *bs, const char *id,
                           const char *name, Error **errp)
{
    if (!bs->drv->snapshot_load_tmp) {
        error_setg(errp, "Block format '%s' used by device '' does not "
                   "support temporarily loading internal snapshots",
                   bs->drv->format_name);
        return -ENOTSUP;
    }
    return bs->drv->snapshot_load_tmp(bs, id, name, errp);
}

int bdrv_snapshot_load_tmp_by_id_or_name(BlockDriverState *bs,
                                         const char *id_or_name,
                                         Error **errp)
{
    Error *local_err = NULL;
    int ret = bdrv_snapshot_load_tmp(bs, id_or_name, NULL, &local_err);

    if (ret == -ENOENT) {
        error_free(local_err);
        return bdrv_snapshot_load_tmp(bs, NULL, id_or_name, errp);
    }
    error_propagate(errp, local_err);
    return ret;
}
