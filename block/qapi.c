/*
 * ImageInfo: collecting it from an open image, and printing it for
 * people exactly as qemu-img 7.2 does.
 */
#include <time.h>
#include "block/block_int.h"
#include "qemu/cutils.h"
#include "qapi-emit.h"

ImageInfo *bdrv_query_image_info(BlockDriverState *bs, Error **errp)
{
    g_autoptr(ImageInfo) info = g_new0(ImageInfo, 1);
    const BlockDriver *drv = bs->drv;
    int64_t size = bdrv_getlength(bs);
    int64_t allocated;

    if (size < 0) {
        error_setg_errno(errp, (int)-size, "Can't get image size '%s'",
                         bs->filename);
        return NULL;
    }
    info->filename = g_strdup(bs->filename);
    info->format = g_strdup(drv->format_name);
    info->virtual_size = size;
    allocated = drv->get_allocated_file_size
                ? drv->get_allocated_file_size(bs)
                : bs->file->drv->get_allocated_file_size(bs->file);
    if (allocated >= 0) {
        info->has_actual_size = true;
        info->actual_size = allocated;
    }
    info->has_dirty_flag = true;
    if (drv->get_info && drv->get_info(bs, info, errp) < 0) {
        return NULL;
    }
    if (bs->encrypted) {
        info->has_encrypted = true;
        info->encrypted = true;
    }
    if (bs->backing_file) {
        info->has_backing_filename = true;
        info->backing_filename = g_strdup(bs->backing_file);
        if (bs->full_backing_filename) {
            info->has_full_backing_filename = true;
            info->full_backing_filename = g_strdup(bs->full_backing_filename);
        }
        if (bs->backing_format) {
            info->has_backing_filename_format = true;
            info->backing_filename_format = g_strdup(bs->backing_format);
        }
    }
    if (drv->snapshot_list) {
        if (drv->snapshot_list(bs, &info->snapshots, errp) < 0) {
            return NULL;
        }
        info->has_snapshots = info->snapshots != NULL;
    }
    if (drv->get_specific_info) {
        Error *local_err = NULL;
        info->format_specific = drv->get_specific_info(bs, &local_err);
        if (local_err) {
            error_propagate(errp, local_err);
            return NULL;
        }
        info->has_format_specific = info->format_specific != NULL;
    }
    return g_steal_pointer(&info);
}

static void dump_snapshot_row(GString *out, const char *id, const char *tag,
                              const char *vm_size, const char *date,
                              const char *clock, const char *icount)
{
    g_string_append_printf(out, "%-9s %-16s %8s %19s %12s %10s\n",
                           id, tag, vm_size, date, clock, icount);
}

void bdrv_snapshot_dump(GString *out, const SnapshotInfo *sn)
{
    g_autofree char *vm_size = size_to_str(sn->vm_state_size);
    char date[64] = "";
    g_autofree char *clock = NULL;
    g_autofree char *icount = NULL;
    time_t t = sn->date_sec;
    struct tm tm;
    int64_t secs = sn->vm_clock_sec;

    if (localtime_r(&t, &tm)) {
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
    }
    clock = g_strdup_printf("%02" PRId64 ":%02d:%02d.%03d", secs / 3600,
                            (int)(secs / 60 % 60), (int)(secs % 60),
                            (int)(sn->vm_clock_nsec / 1000000));
    icount = sn->has_icount ? g_strdup_printf("%" PRId64, sn->icount)
                            : g_strdup("");
    dump_snapshot_row(out, sn->id, sn->name, vm_size, date, clock, icount);
}

void bdrv_snapshot_dump_header(GString *out)
{
    dump_snapshot_row(out, "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK",
                      "ICOUNT");
}

static void dump_backing(GString *out, const ImageInfo *info)
{
    g_string_append_printf(out, "backing file: %s", info->backing_filename);
    if (!info->has_full_backing_filename) {
        g_string_append(out, " (cannot determine actual path)");
    } else if (strcmp(info->backing_filename, info->full_backing_filename)) {
        g_string_append_printf(out, " (actual path: %s)",
                               info->full_backing_filename);
    }
    g_string_append_c(out, '\n');
    if (info->has_backing_filename_format) {
        g_string_append_printf(out, "backing file format: %s\n",
                               info->backing_filename_format);
    }
}

/*
 * qemu-img prints the "data" member of the format's branch, not the
 * tagged union around it, with the generic human printer.
 */
static void dump_format_specific(GString *out, const ImageInfoSpecific *spec)
{
    g_autoptr(QapiEmitter) e = qapi_human_emitter_new_gstring(out, 1);

    switch (spec->type) {
    case IMAGE_INFO_SPECIFIC_KIND_QCOW2:
        qapi_emit_ImageInfoSpecificQCow2(e, spec->u.qcow2.data);
        break;
    default:
        break;
    }
}

void bdrv_image_info_dump(const ImageInfo *info, GString *out)
{
    g_autofree char *vsize = size_to_str(info->virtual_size);

    g_string_append_printf(out, "image: %s\nfile format: %s\n"
                           "virtual size: %s (%" PRId64 " bytes)\n",
                           info->filename, info->format, vsize,
                           info->virtual_size);
    if (info->has_actual_size) {
        g_autofree char *dsize = size_to_str(info->actual_size);
        g_string_append_printf(out, "disk size: %s\n", dsize);
    } else {
        g_string_append(out, "disk size: unavailable\n");
    }
    if (info->has_encrypted && info->encrypted) {
        g_string_append(out, "encrypted: yes\n");
    }
    if (info->has_cluster_size) {
        g_string_append_printf(out, "cluster_size: %" PRId64 "\n",
                               info->cluster_size);
    }
    if (info->has_dirty_flag && info->dirty_flag) {
        g_string_append(out, "cleanly shut down: no\n");
    }
    if (info->has_backing_filename) {
        dump_backing(out, info);
    }
    if (info->has_snapshots) {
        g_string_append(out, "Snapshot list:\n");
        bdrv_snapshot_dump_header(out);
        for (const SnapshotInfoList *l = info->snapshots; l; l = l->next) {
            bdrv_snapshot_dump(out, l->value);
        }
    }
    if (info->has_format_specific) {
        g_string_append(out, "Format specific information:\n");
        dump_format_specific(out, info->format_specific);
    }
}
