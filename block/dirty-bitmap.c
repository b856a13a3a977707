/*
 * Persistent dirty bitmaps: the format-independent entry points.  The
 * driver keeps the bitmaps (qcow2: block/qcow2-bitmap-store.c); formats
 * without them answer as QEMU 7.2 does for such nodes.
 */
#include "qemu/osdep.h"
#include "block/block_int.h"

static const BdrvBitmapOps *ops(BlockDriverState *bs)
{
    return bs->drv ? bs->drv->bitmap_ops : NULL;
}

char *bdrv_node_name(BlockDriverState *bs)
{
    /*
     * 7.2's messages name the node by its generated name: "#block", a
     * counter (1 for the first node a tool creates) and two random
     * digits.  Ours has no node names; this is the same shape.
     */
    return g_strdup_printf("#block1%02d", g_random_int_range(0, 100));
}

bool bdrv_supports_persistent_bitmaps(BlockDriverState *bs)
{
    return ops(bs) != NULL;
}

int bdrv_list_bitmaps(BlockDriverState *bs, Qcow2BitmapInfoList **list,
                      Error **errp)
{
    *list = NULL;
    if (!ops(bs)) {
        error_setg(errp, "Format driver '%s' does not support bitmaps",
                   bs->drv->format_name);
        return -ENOTSUP;
    }
    return ops(bs)->list(bs, list, errp);
}

bool bdrv_has_bitmaps(BlockDriverState *bs)
{
    return ops(bs) && ops(bs)->any(bs);
}

int bdrv_bitmap_add(BlockDriverState *bs, const char *name,
                    uint32_t granularity, Error **errp)
{
    if (!ops(bs)) {
        g_autofree char *node = bdrv_node_name(bs);

        error_setg(errp, "Can't store persistent bitmaps to %s: Operation "
                   "not supported", node);
        return -ENOTSUP;
    }
    return ops(bs)->add(bs, name, granularity, errp);
}

int bdrv_bitmap_remove(BlockDriverState *bs, const char *name, Error **errp)
{
    if (!ops(bs)) {
        error_setg(errp, "Dirty bitmap '%s' not found", name);
        return -ENOENT;
    }
    return ops(bs)->remove(bs, name, errp);
}

int bdrv_bitmap_clear(BlockDriverState *bs, const char *name, Error **errp)
{
    if (!ops(bs)) {
        error_setg(errp, "Dirty bitmap '%s' not found", name);
        return -ENOENT;
    }
    return ops(bs)->clear(bs, name, errp);
}

int bdrv_bitmap_set_enabled(BlockDriverState *bs, const char *name,
                            bool enabled, Error **errp)
{
    if (!ops(bs)) {
        error_setg(errp, "Dirty bitmap '%s' not found", name);
        return -ENOENT;
    }
    return ops(bs)->set_enabled(bs, name, enabled, errp);
}

int bdrv_bitmap_get(BlockDriverState *bs, const char *name,
                    BdrvBitmapData *data, Error **errp)
{
    memset(data, 0, sizeof(*data));
    if (!ops(bs)) {
        error_setg(errp, "Dirty bitmap '%s' not found", name);
        return -ENOENT;
    }
    return ops(bs)->get(bs, name, data, errp);
}

int bdrv_bitmap_runs(BlockDriverState *bs, const char *name,
                     uint8_t *granularity_bits, BdrvBitmapRunFn *fn,
                     void *opaque, Error **errp)
{
    if (!ops(bs)) {
        error_setg(errp, "Dirty bitmap '%s' not found", name);
        return -ENOENT;
    }
    return ops(bs)->runs(bs, name, granularity_bits, fn, opaque, errp);
}

int bdrv_bitmap_merge(BlockDriverState *bs, const char *name,
                      BlockDriverState *src, const char *src_name,
                      Error **errp)
{
    BdrvBitmapData data;
    int ret;

    /* 7.2 looks the destination up first. */
    if (!ops(bs)) {
        error_setg(errp, "Dirty bitmap '%s' not found", name);
        return -ENOENT;
    }
    ret = ops(bs)->merge(bs, name, NULL, errp);
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_bitmap_get(src, src_name, &data, errp);
    if (ret < 0) {
        return ret;
    }
    ret = ops(bs)->merge(bs, name, &data, errp);
    g_free(data.bits);
    return ret;
}

int bdrv_inactivate(BlockDriverState *bs, Error **errp)
{
    return bs->drv && bs->drv->inactivate ? bs->drv->inactivate(bs, errp)
                                          : 0;
}
