/*
 * qcow2 internal snapshots: reading the snapshot table, writing it anew
 * (what check -r all does with a damaged one), and creating, applying
 * and deleting snapshots.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

/* The longest ID and name 7.2 lists (longer ones are cut). */
#define SNAPSHOT_LIST_ID_MAX 127
#define SNAPSHOT_LIST_NAME_MAX 255

static void free_snapshot(Qcow2Snapshot *sn)
{
    g_free(sn->id_str);
    g_free(sn->name);
    g_free(sn->unknown_extra);
}

void qcow2_free_snapshots(BDRVQcow2State *s)
{
    if (!s->snapshots) {
        return;
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        free_snapshot(&s->snapshots[i]);
    }
    g_clear_pointer(&s->snapshots, g_free);
}

/*
 * Reads @len bytes at @pos bytes into the snapshot table; bytes past
 * the end of the file read as zeros (as in 7.2).  Every read is small:
 * extra data is read up to QEMU's 1 KiB limit only, the rest skipped.
 */
static int read_table_bytes(BlockDriverState *bs, uint64_t pos, size_t len,
                            void *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    return qcow2_pread_zero_padded(bs, s->snapshots_offset + pos, len, buf,
                                   errp);
}

/*
 * Reads entry @i at *@pos (bytes into the table), which moves to where
 * the next entry starts; *@end is where this one ends on disk, and
 * *@table_len the table's length as QEMU counts it (with extra data
 * that is dropped not counted).  @repair (check -r all) drops extra
 * data past QEMU's limit instead of failing, counting it in *@dropped.
 * -EFBIG with "Snapshot table is too big" when the table passes QEMU's
 * caps: 64 MiB long, or an entry ending more than 2 GiB in.
 */
static int read_snapshot(BlockDriverState *bs, uint64_t *pos, uint64_t *end,
                         uint64_t *table_len, uint32_t i, bool repair,
                         int *dropped, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Snapshot *sn = &s->snapshots[i];
    uint8_t h[QCOW2_SNAPSHOT_HEADER_SIZE];
    uint8_t extra[QCOW_MAX_SNAPSHOT_EXTRA_DATA];
    g_autofree uint8_t *names = NULL;
    uint64_t on_disk_extra;
    uint16_t id_len, name_len;
    int ret;

    ret = read_table_bytes(bs, *pos, sizeof(h), h, errp);
    if (ret < 0) {
        return ret;
    }
    sn->l1_table_offset = ldq_be_p(h);
    sn->l1_size = ldl_be_p(h + 8);
    id_len = lduw_be_p(h + 12);
    name_len = lduw_be_p(h + 14);
    sn->date_sec = ldl_be_p(h + 16);
    sn->date_nsec = ldl_be_p(h + 20);
    sn->vm_clock_nsec = ldq_be_p(h + 24);
    sn->vm_state_size = ldl_be_p(h + 32);
    sn->extra_data_size = ldl_be_p(h + 36);
    sn->icount = -1;
    sn->disk_size = s->size;
    on_disk_extra = sn->extra_data_size;
    if (sn->extra_data_size > QCOW_MAX_SNAPSHOT_EXTRA_DATA && repair) {
        fprintf(stderr, "Discarding too much extra metadata in snapshot "
                "table entry %" PRIu32 " (%" PRIu32 " > %d)\n", i,
                sn->extra_data_size, QCOW_MAX_SNAPSHOT_EXTRA_DATA);
        (*dropped)++;
        sn->extra_data_size = QCOW_MAX_SNAPSHOT_EXTRA_DATA;
    } else if (sn->extra_data_size > QCOW_MAX_SNAPSHOT_EXTRA_DATA) {
        error_setg(errp, "Too much extra metadata in snapshot table "
                   "entry %" PRIu32, i);
        error_append_hint(errp, "You can force-remove this extra metadata "
                          "with qemu-img check -r all\n");
        return -EFBIG;
    }
    ret = read_table_bytes(bs, *pos + sizeof(h), sn->extra_data_size, extra,
                           errp);
    if (ret < 0) {
        return ret;
    }
    /* id and name follow all of the extra data, dropped part included. */
    names = g_malloc((size_t)id_len + name_len + 1);
    ret = read_table_bytes(bs, *pos + sizeof(h) + on_disk_extra,
                           (size_t)id_len + name_len, names, errp);
    if (ret < 0) {
        return ret;
    }
    if (sn->extra_data_size >= 8) {
        sn->vm_state_size = ldq_be_p(extra);
    }
    if (sn->extra_data_size >= 16) {
        sn->disk_size = ldq_be_p(extra + 8);
    }
    if (sn->extra_data_size >= 24) {
        sn->icount = (int64_t)ldq_be_p(extra + 16);
    }
    /* Extra data this program does not know is kept, to be written back. */
    if (sn->extra_data_size > QCOW2_SNAPSHOT_EXTRA_KNOWN) {
        sn->unknown_extra_size = sn->extra_data_size -
                                 QCOW2_SNAPSHOT_EXTRA_KNOWN;
        sn->unknown_extra = g_memdup2(extra + QCOW2_SNAPSHOT_EXTRA_KNOWN,
                                      sn->unknown_extra_size);
    }
    sn->id_str = g_strndup((const char *)names, id_len);
    sn->name = g_strndup((const char *)names + id_len, name_len);
    *end = *pos + sizeof(h) + on_disk_extra + id_len + name_len;
    *table_len = QEMU_ALIGN_UP(*table_len, 8) + sizeof(h) +
                 sn->extra_data_size + id_len + name_len;
    /* Each entry starts 8-byte aligned; the last one is not padded. */
    *pos = QEMU_ALIGN_UP(*end, 8);
    if (*table_len > QCOW_MAX_SNAPSHOTS_SIZE || *end > INT_MAX) {
        error_setg(errp, "Snapshot table is too big");
        error_append_hint(errp, "You can force-remove all %" PRIu32
                          " overhanging snapshots with qemu-img check -r "
                          "all\n", s->nb_snapshots - i);
        return -EFBIG;
    }
    return 0;
}

int qcow2_read_snapshots(BlockDriverState *bs, Error **errp)
{
    return qcow2_read_snapshots_repair(bs, false, NULL, NULL, errp);
}

int qcow2_read_snapshots_repair(BlockDriverState *bs, bool repair,
                                int *dropped, uint32_t *discarded,
                                Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t pos = 0, end = 0, table_len = 0;

    if (!s->nb_snapshots) {
        return 0;
    }
    /* nb_snapshots <= QCOW_MAX_SNAPSHOTS: checked with the table. */
    s->snapshots = g_new0(Qcow2Snapshot, s->nb_snapshots);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        Error *local_err = NULL;
        uint64_t end_before = end;
        int ret = read_snapshot(bs, &pos, &end, &table_len, i, repair,
                                dropped, &local_err);

        /* In repair mode EFBIG can only mean a table past the caps. */
        if (ret == -EFBIG && repair) {
            /* check -r all: the entries past QEMU's cap are dropped. */
            error_free(local_err);
            free_snapshot(&s->snapshots[i]);
            *discarded = s->nb_snapshots - i;
            end = end_before;   /* the table ends with the entry before */
            fprintf(stderr, "Discarding %" PRIu32 " overhanging snapshots "
                    "(snapshot table is too big)\n", *discarded);
            s->nb_snapshots = i;
            break;
        }
        if (ret < 0) {
            error_propagate(errp, local_err);
            qcow2_free_snapshots(s);
            return ret;
        }
    }
    s->snapshots_size = end;
    return 0;
}

int qcow2_snapshot_list(BlockDriverState *bs, SnapshotInfoList **list,
                        Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    SnapshotInfoList **tail = list;

    *list = NULL;
    for (uint32_t i = 0; s->snapshots && i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        SnapshotInfo *info = g_new0(SnapshotInfo, 1);

        /* 7.2 lists IDs and names from 128- and 256-byte buffers. */
        info->id = g_strndup(sn->id_str, SNAPSHOT_LIST_ID_MAX);
        info->name = g_strndup(sn->name, SNAPSHOT_LIST_NAME_MAX);
        info->vm_state_size = (int64_t)sn->vm_state_size;
        info->date_sec = sn->date_sec;
        info->date_nsec = sn->date_nsec;
        info->vm_clock_sec = (int64_t)(sn->vm_clock_nsec / 1000000000);
        info->vm_clock_nsec = (int64_t)(sn->vm_clock_nsec % 1000000000);
        if (sn->icount != -1) {
            info->has_icount = true;
            info->icount = sn->icount;
        }
        *tail = g_new0(SnapshotInfoList, 1);
        (*tail)->value = info;
        tail = &(*tail)->next;
    }
    return 0;
}

/*
 * The snapshot table as it is written: every entry with the extra data
 * this program knows in full (so an incomplete v3 entry is completed),
 * then the extra data it does not know, then id and name; entries start
 * 8-byte aligned.  Returns the table, its length in *@len.
 */
uint8_t *qcow2_snapshot_table_serialize(const BDRVQcow2State *s,
                                        uint64_t *len)
{
    g_autoptr(GByteArray) t = g_byte_array_new();

    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        uint32_t extra = QCOW2_SNAPSHOT_EXTRA_KNOWN + sn->unknown_extra_size;
        size_t id_len = strlen(sn->id_str), name_len = strlen(sn->name);
        uint8_t h[QCOW2_SNAPSHOT_HEADER_SIZE + QCOW2_SNAPSHOT_EXTRA_KNOWN];
        static const uint8_t pad[8];

        g_byte_array_append(t, pad, QEMU_ALIGN_UP(t->len, 8) - t->len);
        stq_be_p(h, sn->l1_table_offset);
        stl_be_p(h + 8, sn->l1_size);
        stw_be_p(h + 12, id_len);
        stw_be_p(h + 14, name_len);
        stl_be_p(h + 16, sn->date_sec);
        stl_be_p(h + 20, sn->date_nsec);
        stq_be_p(h + 24, sn->vm_clock_nsec);
        /* The 32-bit field only when the size fits it. */
        stl_be_p(h + 32, sn->vm_state_size <= UINT32_MAX
                         ? (uint32_t)sn->vm_state_size : 0);
        stl_be_p(h + 36, extra);
        stq_be_p(h + 40, sn->vm_state_size);
        stq_be_p(h + 48, sn->disk_size);
        stq_be_p(h + 56, (uint64_t)sn->icount);
        g_byte_array_append(t, h, sizeof(h));
        if (sn->unknown_extra_size) {
            g_byte_array_append(t, sn->unknown_extra, sn->unknown_extra_size);
        }
        g_byte_array_append(t, (const uint8_t *)sn->id_str, id_len);
        g_byte_array_append(t, (const uint8_t *)sn->name, name_len);
    }
    *len = t->len;
    return g_byte_array_free(g_steal_pointer(&t), FALSE);
}


/*
 * Creating, applying and deleting snapshots.
 *
 * A snapshot holds one reference to each L2 table its L1 table names and
 * one to each cluster those L2 tables name (the check counts the same
 * way, L1 table by L1 table), so taking a snapshot adds one reference
 * through the active L1 table and deleting one drops the references
 * through its own.  QCOW_OFLAG_COPIED is made exact in every table
 * walked: set where the refcount is 1, clear elsewhere.  The writes are
 * ordered so that a crash leaves leaks at worst: references are added
 * before the table naming them is written, and dropped only after
 * nothing names them.
 */

/* Reads a table of the walk; what lies past the end of file is zeros. */
static int read_padded(BlockDriverState *bs, uint64_t offset, uint64_t len,
                       void *buf, Error **errp)
{
    int64_t end = bdrv_getlength(bs->file);

    if (end < 0) {
        error_setg_errno(errp, (int)-end, "Could not get the image size");
        return (int)end;
    }
    memset(buf, 0, len);
    if (offset >= (uint64_t)end) {
        return 0;
    }
    return bdrv_file_pread(bs->file, offset,
                           MIN(len, (uint64_t)end - offset), buf, errp);
}

/*
 * Drops one reference to each cluster of [offset, offset + len); the
 * clusters left unused are discarded, as 7.2 passes the discards of
 * snapshot operations down to the file (they then read as zeros).
 */
static int drop_refs(BlockDriverState *bs, uint64_t offset, uint64_t len,
                     Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t last;
    int ret;

    if (!len) {
        return 0;
    }
    ret = qcow2_update_refcount(bs, offset, len, -1, errp);
    if (ret < 0) {
        return ret;
    }
    last = (offset + len - 1) >> s->cluster_bits;
    for (uint64_t k = offset >> s->cluster_bits; k <= last; k++) {
        Error *ignored = NULL;
        uint64_t rc;

        ret = qcow2_get_refcount(bs, k, &rc, errp);
        if (ret < 0) {
            return ret;
        }
        /* Advisory: without hole punching the bytes simply stay. */
        if (!rc && bdrv_file_pdiscard(bs->file, k << s->cluster_bits,
                                      s->cluster_size, &ignored) < 0) {
            error_free(ignored);
        }
    }
    return 0;
}

static int change_refs(BlockDriverState *bs, uint64_t offset, uint64_t len,
                       int addend, Error **errp)
{
    if (addend < 0) {
        return drop_refs(bs, offset, len, errp);
    }
    return qcow2_update_refcount(bs, offset, len, addend, errp);
}

/* The host bytes of a compressed cluster: whole 512-byte sectors. */
static void compressed_range(const BDRVQcow2State *s, uint64_t entry,
                             uint64_t *offset, uint64_t *len)
{
    uint64_t coffset = entry & s->cluster_offset_mask;
    uint64_t sectors = ((entry >> s->csize_shift) & s->csize_mask) + 1;

    *offset = QEMU_ALIGN_DOWN(coffset, QCOW2_COMPRESSED_SECTOR_SIZE);
    *len = sectors * QCOW2_COMPRESSED_SECTOR_SIZE;
}

/*
 * The host range an L2 entry holds a reference to: *@len is 0 when it
 * holds none (unallocated, or zeros without a cluster).  *@copied_ok
 * says whether COPIED applies to it (compressed clusters never have it,
 * and 7.2 leaves their entries as they are).
 */
static int l2_entry_range(const BDRVQcow2State *s, uint64_t entry,
                          uint64_t l2_offset, uint64_t j, uint64_t *offset,
                          uint64_t *len, bool *copied_ok, Error **errp)
{
    *copied_ok = false;
    *len = 0;
    if (entry & QCOW_OFLAG_COMPRESSED) {
        compressed_range(s, entry, offset, len);
        return 0;
    }
    *offset = entry & L2E_OFFSET_MASK;
    if (!*offset) {
        return 0;
    }
    if (offset_into_cluster(s, *offset)) {
        error_setg(errp, QCOW2_UNALIGNED_CLUSTER_FMT, *offset, l2_offset,
                   (uint64_t)j);
        return -EIO;
    }
    *len = s->cluster_size;
    *copied_ok = true;
    return 0;
}

/*
 * Makes COPIED in the entry at @p say whether @refcount is 1; returns
 * whether the entry changed.
 */
static bool set_copied(uint8_t *p, uint64_t refcount)
{
    uint64_t entry = ldq_be_p(p);
    uint64_t fixed = refcount == 1 ? entry | QCOW_OFLAG_COPIED
                                   : entry & ~QCOW_OFLAG_COPIED;

    stq_be_p(p, fixed);
    return fixed != entry;
}

/*
 * One pass over the entries of the L2 table in @l2: with @count, adds
 * @addend to what each entry references; with @flags, makes COPIED
 * exact for a refcount @flag_bias more than the one found now.
 * *@modified is set if an entry changed.
 */
static int l2_pass(BlockDriverState *bs, uint64_t l2_offset, uint8_t *l2,
                   bool count, int addend, bool flags, int flag_bias,
                   bool *modified, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    for (uint64_t j = 0; j < s->l2_size; j++) {
        uint8_t *p = l2 + j * s->l2_entry_size;
        uint64_t offset, len, rc;
        bool copied_ok;

        ret = l2_entry_range(s, ldq_be_p(p), l2_offset, j, &offset, &len,
                             &copied_ok, errp);
        if (ret < 0) {
            return ret;
        }
        if (count && len) {
            ret = change_refs(bs, offset, len, addend, errp);
            if (ret < 0) {
                return ret;
            }
        }
        if (flags && copied_ok) {
            ret = qcow2_get_refcount(bs, offset >> s->cluster_bits, &rc,
                                     errp);
            if (ret < 0) {
                return ret;
            }
            *modified |= set_copied(p, rc + flag_bias);
        }
    }
    return 0;
}

/*
 * One L2 table of a walk: @addend to each cluster it names, COPIED made
 * exact in its entries.  The order keeps a crash harmless: a reference
 * is added only after COPIED is cleared from the entry (a shared cluster
 * must never look writable in place), and COPIED is set only after the
 * references are dropped.  @l2 is a cluster-sized buffer.
 */
static int walk_l2(BlockDriverState *bs, uint64_t l2_offset, int addend,
                   uint8_t *l2, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    bool modified = false;
    int ret;

    ret = read_padded(bs, l2_offset, s->cluster_size, l2, errp);
    if (ret < 0) {
        return ret;
    }
    if (addend > 0) {
        ret = l2_pass(bs, l2_offset, l2, false, 0, true, addend, &modified,
                      errp);
        if (ret == 0 && modified) {
            ret = bdrv_file_pwrite(bs->file, l2_offset, s->cluster_size, l2,
                                   errp);
        }
        if (ret == 0) {
            ret = l2_pass(bs, l2_offset, l2, true, addend, false, 0,
                          &modified, errp);
        }
        if (ret < 0) {
            /* Best effort: flags exact for the references now held. */
            Error *local_err = NULL;

            modified = false;
            if (l2_pass(bs, l2_offset, l2, false, 0, true, 0, &modified,
                        &local_err) == 0 && modified) {
                bdrv_file_pwrite(bs->file, l2_offset, s->cluster_size, l2,
                                 &local_err);
            }
            error_free(local_err);
        }
        return ret;
    }
    ret = l2_pass(bs, l2_offset, l2, true, addend, true, 0, &modified, errp);
    if (modified) {
        /* After an error too: the flags then match what was dropped. */
        Error *local_err = NULL;
        int wret = bdrv_file_pwrite(bs->file, l2_offset, s->cluster_size,
                                    l2, ret < 0 ? &local_err : errp);

        error_free(local_err);
        ret = ret < 0 ? ret : wret;
    }
    return ret;
}

static int write_l1(BlockDriverState *bs, uint64_t offset,
                    const uint64_t *l1, uint32_t l1_size, Error **errp)
{
    g_autofree uint8_t *buf = g_malloc((size_t)l1_size * L1E_SIZE + 1);

    for (uint32_t i = 0; i < l1_size; i++) {
        stq_be_p(buf + (size_t)i * L1E_SIZE, l1[i]);
    }
    return bdrv_file_pwrite_sync(bs->file, offset,
                                 (int64_t)l1_size * L1E_SIZE, buf, errp);
}

/*
 * Entry @i of @l1: COPIED made exact for @refcount, and written to the
 * table at @l1_offset (when not 0) if it changed.
 */
static int fix_l1_entry(BlockDriverState *bs, uint64_t *l1, uint32_t i,
                        uint64_t l1_offset, uint64_t refcount, Error **errp)
{
    uint8_t buf[L1E_SIZE];

    stq_be_p(buf, l1[i]);
    if (!set_copied(buf, refcount)) {
        return 0;
    }
    l1[i] = ldq_be_p(buf);
    if (!l1_offset) {
        return 0;
    }
    return bdrv_file_pwrite(bs->file, l1_offset + (uint64_t)i * L1E_SIZE,
                            sizeof(buf), buf, errp);
}

/*
 * Adds @addend (1, -1 or 0) to the refcount of every L2 table @l1 names
 * and of every cluster these name, and makes COPIED exact in them and in
 * @l1 (updated in memory, and at @l1_offset in the file unless that is
 * 0: a table about to be replaced).  Each L1 entry is fixed in the order
 * walk_l2() follows for its entries.
 */
static int walk_l1(BlockDriverState *bs, uint64_t *l1, uint32_t l1_size,
                   uint64_t l1_offset, int addend, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *l2 = g_malloc(s->cluster_size);
    int ret;

    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t l2_offset = l1[i] & L1E_OFFSET_MASK, rc;

        if (!l2_offset) {
            continue;
        }
        if (offset_into_cluster(s, l2_offset)) {
            error_setg(errp, "L2 table offset %#" PRIx64 " unaligned (L1 "
                       "index: %#" PRIx32 ")", l2_offset, i);
            return -EIO;
        }
        ret = qcow2_get_refcount(bs, l2_offset >> s->cluster_bits, &rc,
                                 errp);
        if (ret < 0) {
            return ret;
        }
        if (addend > 0 &&
            (ret = fix_l1_entry(bs, l1, i, l1_offset, rc + addend,
                                errp)) < 0) {
            return ret;
        }
        if ((ret = walk_l2(bs, l2_offset, addend, l2, errp)) < 0 ||
            (ret = change_refs(bs, l2_offset, s->cluster_size, addend,
                               errp)) < 0) {
            /* Best effort, as in walk_l2(). */
            Error *local_err = NULL;

            if (addend > 0 &&
                qcow2_get_refcount(bs, l2_offset >> s->cluster_bits, &rc,
                                   &local_err) == 0) {
                fix_l1_entry(bs, l1, i, l1_offset, rc, &local_err);
            }
            error_free(local_err);
            return ret;
        }
        if ((ret = qcow2_get_refcount(bs, l2_offset >> s->cluster_bits, &rc,
                                      errp)) < 0 ||
            (ret = fix_l1_entry(bs, l1, i, l1_offset, rc, errp)) < 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * Writes the snapshot table of s->snapshots as a new table, points the
 * header at it (count and offset in one write), then frees the old one.
 */
static int write_snapshot_table(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old_offset = s->snapshots_offset, old_size = s->snapshots_size;
    uint64_t len;
    g_autofree uint8_t *table = qcow2_snapshot_table_serialize(s, &len);
    uint8_t hdr[12];
    int64_t offset;
    int ret;

    if (len > QCOW_MAX_SNAPSHOTS_SIZE) {
        error_setg(errp, "Snapshot table is too big");
        return -EFBIG;
    }
    offset = qcow2_alloc_clusters(bs, len, errp);
    if (offset < 0) {
        return (int)offset;
    }
    if (len) {
        ret = bdrv_file_pwrite_sync(bs->file, offset, len, table, errp);
        if (ret < 0) {
            return ret;
        }
    }
    stl_be_p(hdr, s->nb_snapshots);
    stq_be_p(hdr + 4, offset);
    ret = bdrv_file_pwrite_sync(bs->file, QCOW2_HEADER_NB_SNAPSHOTS_OFFSET,
                                sizeof(hdr), hdr, errp);
    if (ret < 0) {
        return ret;
    }
    s->snapshots_offset = offset;
    s->snapshots_size = len;
    return drop_refs(bs, old_offset, old_size, errp);
}

/* The snapshot operations write: refcounts must have been loaded. */
static int check_writable(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (has_data_file(s)) {
        /* 7.2 refuses them: the data file has no room for VM state. */
        error_setg(errp, "Internal snapshots are not supported with an "
                   "external data file");
        return -ENOTSUP;
    }
    if (bs->read_only || !s->refcount_table) {
        error_setg(errp, "The image is not open for writing");
        return -EACCES;
    }
    return 0;
}

/* Index of the snapshot with ID @id, or -1. */
static int64_t find_by_id(const BDRVQcow2State *s, const char *id)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].id_str, id)) {
            return i;
        }
    }
    return -1;
}

/* Index of the first snapshot named @name, or -1. */
static int64_t find_by_name(const BDRVQcow2State *s, const char *name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].name, name)) {
            return i;
        }
    }
    return -1;
}

/*
 * The ID 7.2 gives a new snapshot: one more than the largest ID read as
 * a number by strtoul (so "abc" counts as 0, and an overflowing ID
 * wraps the new one to 0, as it does in 7.2).
 */
static char *new_snapshot_id(const BDRVQcow2State *s)
{
    unsigned long max = 0;

    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        unsigned long id = strtoul(s->snapshots[i].id_str, NULL, 10);

        max = MAX(max, id);
    }
    return g_strdup_printf("%lu", max + 1);
}

/* Reads the L1 table of @sn (host byte order) after validating it. */
static int load_snapshot_l1(BlockDriverState *bs, const Qcow2Snapshot *sn,
                            uint64_t **l1, Error **errp)
{
    size_t bytes = (size_t)sn->l1_size * L1E_SIZE;
    g_autofree uint8_t *raw = NULL;
    g_autofree uint64_t *table = NULL;
    int ret;

    ret = qcow2_validate_table(bs, sn->l1_table_offset, sn->l1_size,
                               L1E_SIZE, QCOW_MAX_L1_SIZE,
                               "Snapshot L1 table", errp);
    if (ret < 0) {
        return ret;
    }
    if (sn->l1_size && !sn->l1_table_offset) {
        /* The header is no L1 table, and it would be written to. */
        error_setg(errp, "Snapshot L1 table offset invalid");
        return -EINVAL;
    }
    raw = g_malloc(bytes + 1);
    ret = read_padded(bs, sn->l1_table_offset, bytes, raw, errp);
    if (ret < 0) {
        return ret;
    }
    table = g_new0(uint64_t, sn->l1_size + 1);
    for (uint32_t i = 0; i < sn->l1_size; i++) {
        table[i] = ldq_be_p(raw + (size_t)i * L1E_SIZE);
    }
    *l1 = g_steal_pointer(&table);
    return 0;
}

int qcow2_snapshot_create(BlockDriverState *bs, const char *name,
                          Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_bytes = (uint64_t)s->l1_size * L1E_SIZE;
    int64_t now = g_get_real_time(), l1_offset;
    Qcow2Snapshot *sn;
    int ret = check_writable(bs, errp);

    if (ret < 0) {
        return ret;
    }
    if (s->nb_snapshots >= QCOW_MAX_SNAPSHOTS) {
        error_setg(errp, "Too many snapshots");
        return -EFBIG;
    }
    /* The copy keeps the active entries as they are, COPIED too (7.2). */
    l1_offset = qcow2_alloc_clusters(bs, l1_bytes, errp);
    if (l1_offset < 0) {
        return (int)l1_offset;
    }
    if (l1_bytes) {
        ret = write_l1(bs, l1_offset, s->l1_table, s->l1_size, errp);
        if (ret < 0) {
            return ret;
        }
    }
    ret = walk_l1(bs, s->l1_table, s->l1_size, s->l1_table_offset, 1,
                  errp);
    if (ret < 0) {
        return ret;
    }
    s->snapshots = g_renew(Qcow2Snapshot, s->snapshots,
                           s->nb_snapshots + 1);
    sn = &s->snapshots[s->nb_snapshots];
    *sn = (Qcow2Snapshot) {
        .l1_table_offset = l1_offset,
        .l1_size = s->l1_size,
        .id_str = new_snapshot_id(s),
        .name = g_strdup(name),
        .disk_size = bs->total_bytes,
        .date_sec = now / G_USEC_PER_SEC,
        .date_nsec = now % G_USEC_PER_SEC * 1000,
        .icount = 0,        /* what qemu-img 7.2 records */
        .extra_data_size = QCOW2_SNAPSHOT_EXTRA_KNOWN,
    };
    s->nb_snapshots++;
    return write_snapshot_table(bs, errp);
}

int qcow2_snapshot_goto(BlockDriverState *bs, const char *name,
                        Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint64_t *sn_l1 = NULL;
    g_autofree uint64_t *old_l1 = NULL;
    const Qcow2Snapshot *sn;
    int64_t i = find_by_id(s, name);
    int ret;

    if (i < 0) {
        i = find_by_name(s, name);
    }
    if (i < 0) {
        return -ENOENT;     /* the generic layer words it */
    }
    sn = &s->snapshots[i];
    if ((ret = check_writable(bs, errp)) < 0 ||
        (ret = load_snapshot_l1(bs, sn, &sn_l1, errp)) < 0 ||
        (ret = qcow2_grow_l1_table(bs, sn->l1_size, errp)) < 0 ||
        (ret = walk_l1(bs, sn_l1, sn->l1_size, sn->l1_table_offset, 1,
                       errp)) < 0) {
        return ret;
    }
    /* The snapshot's table becomes the active one, zeros after it. */
    old_l1 = g_steal_pointer(&s->l1_table);
    s->l1_table = g_new0(uint64_t, s->l1_size + 1);
    s->l1_held = s->l1_size;
    memcpy(s->l1_table, sn_l1, (size_t)sn->l1_size * sizeof(uint64_t));
    if ((ret = write_l1(bs, s->l1_table_offset, s->l1_table, s->l1_size,
                        errp)) < 0 ||
        (ret = walk_l1(bs, old_l1, s->l1_size, 0, -1, errp)) < 0) {
        return ret;
    }
    return walk_l1(bs, s->l1_table, s->l1_size, s->l1_table_offset, 0,
                   errp);
}

int qcow2_snapshot_delete(BlockDriverState *bs, const char *id,
                          const char *name, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint64_t *sn_l1 = NULL;
    Qcow2Snapshot sn;
    int64_t i = find_by_id(s, id);
    int ret;

    if (i < 0 || strcmp(s->snapshots[i].name, name)) {
        error_setg(errp, "Can't find the snapshot");
        return -ENOENT;
    }
    if ((ret = check_writable(bs, errp)) < 0 ||
        (ret = load_snapshot_l1(bs, &s->snapshots[i], &sn_l1, errp)) < 0) {
        return ret;
    }
    /* Out of the table first: from then on nothing names its clusters. */
    sn = s->snapshots[i];
    memmove(&s->snapshots[i], &s->snapshots[i + 1],
            (s->nb_snapshots - i - 1) * sizeof(sn));
    s->nb_snapshots--;
    ret = write_snapshot_table(bs, errp);
    g_free(sn.id_str);
    g_free(sn.name);
    g_free(sn.unknown_extra);
    if (ret < 0) {
        error_prepend(errp, "Failed to remove snapshot from snapshot list: ");
        return ret;
    }
    if ((ret = walk_l1(bs, sn_l1, sn.l1_size, 0, -1, errp)) < 0 ||
        (ret = drop_refs(bs, sn.l1_table_offset,
                         (uint64_t)sn.l1_size * L1E_SIZE, errp)) < 0) {
        error_prepend(errp, "Failed to free the cluster and L1 table: ");
        return ret;
    }
    /* Clusters the snapshot shared may be the active state's alone now. */
    ret = walk_l1(bs, s->l1_table, s->l1_size, s->l1_table_offset, 0, errp);
    if (ret < 0) {
        error_prepend(errp, "Failed to update snapshot status in disk: ");
    }
    return ret;
}

int qcow2_snapshot_load_tmp(BlockDriverState *bs, const char *id,
                            const char *name, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2Snapshot *sn = NULL;
    uint64_t *l1 = NULL;
    int ret;

    if (!bs->read_only) {
        error_setg(errp, "Device '' is writable");
        return -EINVAL;
    }
    for (uint32_t i = 0; i < s->nb_snapshots && !sn; i++) {
        const Qcow2Snapshot *c = &s->snapshots[i];

        if ((!id || !strcmp(c->id_str, id)) &&
            (!name || !strcmp(c->name, name)) && (id || name)) {
            sn = c;
        }
    }
    if (!sn) {
        error_setg(errp, "Can't find snapshot");
        return -ENOENT;
    }
    ret = load_snapshot_l1(bs, sn, &l1, errp);
    if (ret < 0) {
        return ret;
    }
    /* Read-only from now on: the snapshot's view replaces the active one. */
    g_free(s->l1_table);
    s->l1_table = l1;
    s->l1_size = sn->l1_size;
    s->l1_held = sn->l1_size;
    s->size = sn->disk_size;
    bs->total_bytes = (int64_t)QEMU_ALIGN_DOWN(sn->disk_size,
                                               BDRV_SECTOR_SIZE);
    qcow2_map_cache_drop(bs);
    return 0;
}
