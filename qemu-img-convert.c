/*
 * qemu-img convert: copies the guest content of one or more images (in
 * sequence) into a new or existing image, as qemu-img 7.2 does it:
 * ranges that the source's block status reports as zeros are not
 * written to a target that already reads as zeros, zero runs inside
 * data are detected (-S), with -B only what the source's top layer
 * allocates is copied, and with -c every cluster is written compressed.
 *
 * 7.2 copies with several coroutines but writes in order (unless -W),
 * so a sequential copy gives the same images.
 */
#include "qemu/cutils.h"
#include "qapi-visit.h"
#include "qemu-img.h"

#define BDRV_SECTOR_SIZE    512
/* 7.2's copy buffer, the largest -S, and the largest -m. */
#define IO_BUF_SECTORS      ((2 * 1024 * 1024) / BDRV_SECTOR_SIZE)
#define MAX_BUF_SECTORS     32768
#define MAX_COROUTINES      16

/* -l snapshot.id=...,snapshot.name=... */
#define SNAPSHOT_OPT_BASE   "snapshot."

enum {
    OPTION_TARGET_IMAGE_OPTS = 300,
    OPTION_SALVAGE,
    OPTION_TARGET_IS_ZERO,
    OPTION_BITMAPS,
    OPTION_SKIP_BROKEN,
};

/* What a run of sectors is, for the copy. */
typedef enum ConvertStatus {
    CONVERT_DATA,           /* read and write (maybe detecting zeros) */
    CONVERT_ZERO,           /* reads as zeros */
    CONVERT_BACKING,        /* the target's backing file shows through */
} ConvertStatus;

typedef struct ConvertState {
    BlockDriverState **src;
    int64_t *src_sectors;
    int64_t *src_alignment;     /* sectors: cluster or request alignment */
    int src_num;
    int64_t total_sectors;
    int64_t allocated_sectors;  /* to copy: the progress's 100% */
    int64_t allocated_done;
    int64_t sector_next_status; /* end of the run status describes */
    ConvertStatus status;
    BlockDriverState *target;
    bool has_zero_init;
    bool compressed;
    bool target_is_new;
    bool target_has_backing;
    int64_t target_backing_sectors;     /* -1: unknown or none */
    int64_t min_sparse;         /* sectors; 0: write everything */
    int64_t alignment;          /* of zero detection, sectors */
    int64_t cluster_sectors;
    int64_t buf_sectors;
    bool salvage;
    bool quiet;
    bool copy_range;            /* -C: data is copied as it is */
} ConvertState;

/* ---------------------------------------------------------------------
 * Progress, as 7.2's -p prints it: redrawn with \r on stdout when it
 * moved by more than a percent, or reached 0 or 100.
 */
static struct {
    bool enabled;
    float current;
    float last_print;
} progress;

static void progress_print(float current)
{
    if (!progress.enabled) {
        return;
    }
    current = MIN(current, 100.0f);
    progress.current = current;
    if (current > progress.last_print + 1.0f ||
        current < progress.last_print - 1.0f ||
        current == 100.0f || current == 0.0f) {
        progress.last_print = current;
        printf("    (%3.2f/100%%)\r", current);
        fflush(stdout);
    }
}

static void progress_end(void)
{
    if (progress.enabled) {
        printf("\n");
    }
}

/* ---------------------------------------------------------------------
 * Option checks
 */

/* 7.2's cache modes; they mean nothing to a synchronous copy. */
static bool cache_mode_valid(const char *mode)
{
    static const char *const modes[] = {
        "none", "off", "writeback", "unsafe", "writethrough", "directsync",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        if (!strcmp(mode, modes[i])) {
            return true;
        }
    }
    return false;
}

/* -l snapshot.id=ID,snapshot.name=NAME into *@id and *@name. */
static bool parse_snapshot_param(const char *arg, char **id, char **name)
{
    g_autoptr(GString) key = g_string_new(NULL);
    g_autoptr(GString) val = g_string_new(NULL);
    const char *p = arg;
    bool has_eq;

    while (*p) {
        char **dst;

        p = keyval_next(p, key, val, &has_eq);
        if (!strcmp(key->str, SNAPSHOT_OPT_BASE "id")) {
            dst = id;
        } else if (!strcmp(key->str, SNAPSHOT_OPT_BASE "name")) {
            dst = name;
        } else {
            error_report("Invalid parameter '%s'", key->str);
            return false;
        }
        g_free(*dst);
        *dst = g_strdup(has_eq ? val->str : "on");
    }
    return true;
}

/* -m: a whole number (strtol, any base) from 1 to 16. */
static bool parse_coroutines(const char *arg)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(arg, &end, 0);
    if (errno || end == arg || *end || n < 1 || n > MAX_COROUTINES) {
        error_report("Invalid number of coroutines. Allowed number of "
                     "coroutines is between 1 and %d", MAX_COROUTINES);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------
 * Bitmaps
 */

static bool bitmap_has_flag(const Qcow2BitmapInfo *bm,
                            Qcow2BitmapInfoFlags flag)
{
    for (Qcow2BitmapInfoFlagsList *f = bm->flags; f; f = f->next) {
        if (f->value == flag) {
            return true;
        }
    }
    return false;
}

static bool bitmap_in_use(const Qcow2BitmapInfo *bm)
{
    return bitmap_has_flag(bm, QCOW2_BITMAP_INFO_FLAGS_IN_USE);
}

/*
 * The bitmaps of @list (the file's order) in the order 7.2 visits them:
 * it keeps the bitmaps of an image newest first.
 */
static GPtrArray *newest_first(Qcow2BitmapInfoList *list)
{
    GPtrArray *a = g_ptr_array_new();

    for (; list; list = list->next) {
        g_ptr_array_insert(a, 0, list->value);
    }
    return a;
}

/*
 * Before anything is created: the source must be able to hold bitmaps,
 * and every bitmap to copy must be consistent (unless skipped).
 */
static int convert_check_bitmaps(BlockDriverState *src, bool skip_broken)
{
    Qcow2BitmapInfoList *list = NULL;
    g_autoptr(GPtrArray) order = NULL;
    Error *local_err = NULL;
    int ret = 0;

    if (!bdrv_supports_persistent_bitmaps(src)) {
        error_report("Source lacks bitmap support");
        return -1;
    }
    if (bdrv_list_bitmaps(src, &list, &local_err) < 0) {
        error_report_err(local_err);
        return -1;
    }
    order = newest_first(list);
    for (guint i = 0; i < order->len && !ret; i++) {
        Qcow2BitmapInfo *bm = g_ptr_array_index(order, i);

        if (!skip_broken && bitmap_in_use(bm)) {
            error_report("Cannot copy inconsistent bitmap '%s'", bm->name);
            error_printf("Try --skip-broken-bitmaps, or use 'qemu-img bitmap "
                         "--remove' to delete it\n");
            ret = -1;
        }
    }
    qapi_free_Qcow2BitmapInfoList(list);
    return ret;
}

/*
 * After the data: the source's persistent bitmaps into the target, each
 * with its granularity and enabled state, then filled by a merge
 * (inconsistent ones skipped, with a warning, when @skip_broken).  They
 * are stored when the target is closed.
 */
static int convert_copy_bitmaps(BlockDriverState *src, BlockDriverState *dst,
                                bool skip_broken)
{
    Qcow2BitmapInfoList *list = NULL;
    g_autoptr(GPtrArray) order = NULL;
    Error *local_err = NULL;
    int ret = 0;

    if (bdrv_list_bitmaps(src, &list, &local_err) < 0) {
        error_report_err(local_err);
        return -1;
    }
    order = newest_first(list);
    for (guint i = 0; i < order->len && !ret; i++) {
        Qcow2BitmapInfo *bm = g_ptr_array_index(order, i);
        const char *name = bm->name;

        if (skip_broken && bitmap_in_use(bm)) {
            warn_report("Skipping inconsistent bitmap '%s'", name);
            continue;
        }
        if (bdrv_bitmap_add(dst, name, bm->granularity, &local_err) < 0 ||
            (!bitmap_has_flag(bm, QCOW2_BITMAP_INFO_FLAGS_AUTO) &&
             bdrv_bitmap_set_enabled(dst, name, false, &local_err) < 0)) {
            error_prepend(&local_err, "Failed to create bitmap %s: ", name);
            error_report_err(local_err);
            ret = -1;
        } else if (bdrv_bitmap_merge(dst, name, src, name, &local_err) < 0) {
            error_prepend(&local_err, "Failed to populate bitmap %s: ",
                          name);
            error_report_err(local_err);
            bdrv_bitmap_remove(dst, name, NULL);
            ret = -1;
        }
    }
    qapi_free_Qcow2BitmapInfoList(list);
    return ret;
}

/* ---------------------------------------------------------------------
 * The copy
 */

/* The source holding sector @sector_num, and the sector it starts at. */
static void convert_select_part(ConvertState *s, int64_t sector_num,
                                int *src_cur, int64_t *src_cur_offset)
{
    *src_cur = 0;
    *src_cur_offset = 0;
    while (*src_cur < s->src_num - 1 &&
           sector_num - *src_cur_offset >= s->src_sectors[*src_cur]) {
        *src_cur_offset += s->src_sectors[*src_cur];
        (*src_cur)++;
    }
}

/*
 * How many sectors from @sector_num have one status (into s->status),
 * from the source's block status, cut as 7.2 cuts runs: at the source's
 * cluster alignment, at the end of the target's backing file, at the
 * copy buffer's size for data, and to whole clusters when compressing.
 */
static int64_t convert_iteration_sectors(ConvertState *s, int64_t sector_num)
{
    int64_t src_cur_offset, n;
    bool post_backing_zero = false;
    int src_cur;

    convert_select_part(s, sector_num, &src_cur, &src_cur_offset);
    n = MIN(s->total_sectors - sector_num, INT_MAX / BDRV_SECTOR_SIZE);
    if (s->target_backing_sectors >= 0) {
        if (sector_num >= s->target_backing_sectors) {
            post_backing_zero = true;
        } else if (sector_num + n > s->target_backing_sectors) {
            /* Zeros after the backing file's end need no write. */
            n = s->target_backing_sectors - sector_num;
        }
    }

    if (s->sector_next_status <= sector_num) {
        BlockDriverState *src_bs = s->src[src_cur];
        BlockDriverState *base = s->target_has_backing ? bdrv_backing(src_bs)
                                                        : NULL;
        int64_t offset = (sector_num - src_cur_offset) * BDRV_SECTOR_SIZE;
        int64_t in_src = s->src_sectors[src_cur] -
                         (sector_num - src_cur_offset);
        int64_t count, tail;
        int ret;

        n = MIN(n, in_src);
        for (;;) {
            Error *local_err = NULL;

            count = n * BDRV_SECTOR_SIZE;
            ret = bdrv_block_status_above(src_bs, base, offset, count,
                                          &count, NULL, NULL, NULL,
                                          &local_err);
            error_free(local_err);
            if (ret >= 0 && count <= 0) {
                /*
                 * Past the end of the source: a snapshot (-l) smaller
                 * than the image, whose size the copy keeps.
                 */
                ret = BDRV_BLOCK_ZERO;
                count = n * BDRV_SECTOR_SIZE;
            }
            if (ret >= 0) {
                break;
            }
            if (!s->salvage) {
                error_report("error while reading block status at offset %"
                             PRId64 ": %s", offset, strerror(-ret));
                return ret;
            }
            if (n == 1) {
                if (!s->quiet) {
                    warn_report("error while reading block status at "
                                "offset %" PRId64 ": %s", offset,
                                strerror(-ret));
                }
                /* Just try to read the data, then. */
                ret = BDRV_BLOCK_DATA;
                count = BDRV_SECTOR_SIZE;
                break;
            }
            n = DIV_ROUND_UP(n, 4);     /* retry on a shorter range */
        }
        n = DIV_ROUND_UP(count, BDRV_SECTOR_SIZE);
        /* Runs end on the source's clusters, so none is read twice. */
        tail = (sector_num - src_cur_offset + n) % s->src_alignment[src_cur];
        if (n > tail) {
            n -= tail;
        }
        if (ret & BDRV_BLOCK_ZERO) {
            s->status = post_backing_zero ? CONVERT_BACKING : CONVERT_ZERO;
        } else if (ret & BDRV_BLOCK_DATA) {
            s->status = CONVERT_DATA;
        } else {
            s->status = s->target_has_backing ? CONVERT_BACKING
                                              : CONVERT_DATA;
        }
        s->sector_next_status = sector_num + n;
    }

    n = MIN(n, s->sector_next_status - sector_num);
    if (s->status == CONVERT_DATA ||
        (!s->min_sparse && s->status == CONVERT_ZERO)) {
        n = MIN(n, s->buf_sectors);     /* goes through the buffer */
    }
    /* Compressed clusters are written whole: a short gap is data too. */
    if (s->compressed) {
        if (n < s->cluster_sectors) {
            n = MIN(s->cluster_sectors, s->total_sectors - sector_num);
            s->status = CONVERT_DATA;
        } else {
            n = QEMU_ALIGN_DOWN(n, s->cluster_sectors);
        }
    }
    return n;
}

static bool sector_is_zero(const uint8_t *buf)
{
    for (int i = 0; i < BDRV_SECTOR_SIZE; i++) {
        if (buf[i]) {
            return false;
        }
    }
    return true;
}

/*
 * The first run of @n sectors of @buf that is all zeros or all data,
 * with its end moved to a multiple of @alignment sectors (counted from
 * the image start, @sector_num being the first): data ends rounded up,
 * zeros rounded down, and a zero run shorter than that is data.
 * Returns true for data; *@pnum gets the length.
 */
static bool run_is_data(const uint8_t *buf, int64_t n, int64_t *pnum,
                        int64_t sector_num, int64_t alignment)
{
    bool zero;
    int64_t i, tail;

    if (n <= 0) {
        *pnum = 0;
        return false;
    }
    zero = sector_is_zero(buf);
    for (i = 1; i < n; i++) {
        if (sector_is_zero(buf + i * BDRV_SECTOR_SIZE) != zero) {
            break;
        }
    }
    if (i == n) {
        /* All of it alike: no alignment to keep. */
        *pnum = n;
        return !zero;
    }
    tail = (sector_num + i) & (alignment - 1);
    if (tail) {
        if (zero && i <= tail) {
            zero = false;       /* only a short tail of zeros */
        }
        if (!zero) {
            i = MIN(i + alignment - tail, n);
        } else {
            i -= tail;
        }
    }
    *pnum = i;
    return !zero;
}

/*
 * Whether the start of @buf must be written as data: data runs, and the
 * zero runs between them shorter than @min sectors, make one write;
 * *@pnum gets its length.  A leading zero run (false) is returned alone.
 */
static bool data_to_write(const uint8_t *buf, int64_t n, int64_t *pnum,
                          int64_t min, int64_t sector_num, int64_t alignment)
{
    int64_t used, checked, run;

    min = MIN(min, n);
    if (!run_is_data(buf, n, pnum, sector_num, alignment)) {
        return false;
    }
    used = checked = *pnum;
    while (checked < n) {
        bool data = run_is_data(buf + checked * BDRV_SECTOR_SIZE,
                                n - checked, &run, sector_num + checked,
                                alignment);
        checked += run;
        if (data) {
            used = checked;
        } else if (run >= min) {
            break;
        }
    }
    *pnum = used;
    return true;
}

static bool buffer_is_zero(const uint8_t *buf, size_t len)
{
    return len == 0 || (buf[0] == 0 && !memcmp(buf, buf + 1, len - 1));
}

/* Reads @n sectors of the concatenated sources at @sector_num. */
static int convert_read(ConvertState *s, int64_t sector_num, int64_t n,
                        uint8_t *buf)
{
    while (n > 0) {
        int64_t src_cur_offset, bytes, offset;
        Error *local_err = NULL;
        int src_cur, ret;

        convert_select_part(s, sector_num, &src_cur, &src_cur_offset);
        bytes = MIN(n, s->src_sectors[src_cur] -
                       (sector_num - src_cur_offset)) * BDRV_SECTOR_SIZE;
        offset = (sector_num - src_cur_offset) * BDRV_SECTOR_SIZE;
        ret = bdrv_pread(s->src[src_cur], offset, bytes, buf, &local_err);
        error_free(local_err);
        if (ret < 0 && s->salvage) {
            /* Sector by sector: what cannot be read becomes zeros. */
            for (int64_t o = 0; o < bytes; o += BDRV_SECTOR_SIZE) {
                if (bdrv_pread(s->src[src_cur], offset + o, BDRV_SECTOR_SIZE,
                               buf + o, NULL) < 0) {
                    if (!s->quiet) {
                        warn_report("error while reading offset %" PRId64
                                    ": %s", offset + o, strerror(-ret));
                    }
                    memset(buf + o, 0, BDRV_SECTOR_SIZE);
                }
            }
            ret = 0;
        }
        if (ret < 0) {
            return ret;
        }
        sector_num += bytes / BDRV_SECTOR_SIZE;
        n -= bytes / BDRV_SECTOR_SIZE;
        buf += bytes;
    }
    return 0;
}

static int convert_write(ConvertState *s, int64_t sector_num, int64_t n,
                         const uint8_t *buf, ConvertStatus status)
{
    while (n > 0) {
        int64_t offset = sector_num * BDRV_SECTOR_SIZE;
        int64_t len = n;
        Error *local_err = NULL;
        int ret = 0;

        switch (status) {
        case CONVERT_BACKING:
            /* Left unallocated: the backing file shows through. */
            break;
        case CONVERT_DATA:
            /*
             * Written unless it is zeros worth skipping (-S); compressed
             * clusters are written whole, so only an all-zero one is.
             * 7.2's copy offloading (-C) copies without looking.
             */
            if (!s->min_sparse || s->copy_range ||
                (!s->compressed &&
                 data_to_write(buf, n, &len, s->min_sparse, sector_num,
                               s->alignment)) ||
                (s->compressed &&
                 !buffer_is_zero(buf, n * BDRV_SECTOR_SIZE))) {
                int64_t bytes = MIN(len * BDRV_SECTOR_SIZE,
                                    s->total_sectors * BDRV_SECTOR_SIZE -
                                    offset);
                ret = s->compressed
                      ? bdrv_pwrite_compressed(s->target, offset, bytes,
                                               buf, &local_err)
                      : bdrv_pwrite(s->target, offset, bytes, buf,
                                    &local_err);
                break;
            }
            /* Zeros: as below */
            /* fall through */
        case CONVERT_ZERO:
            if (s->has_zero_init) {
                break;
            }
            ret = bdrv_pwrite_zeroes(s->target, offset,
                                     len * BDRV_SECTOR_SIZE,
                                     BDRV_REQ_MAY_UNMAP, &local_err);
            break;
        }
        error_free(local_err);
        if (ret < 0) {
            return ret;
        }
        sector_num += len;
        n -= len;
        buf += len * BDRV_SECTOR_SIZE;
    }
    return 0;
}

/*
 * Clusters to be written compressed into a new image, gathered so that
 * the driver compresses them in parallel: one request of consecutive
 * clusters, written before anything after them (the order of the writes
 * and so the file stay those of one cluster at a time).
 */
typedef struct CompressBatch {
    uint8_t *buf;
    int64_t start;              /* first sector */
    int64_t sectors;            /* gathered */
    int64_t max_sectors;        /* room in buf */
    GArray *runs;               /* int64_t sectors of each, for progress */
} CompressBatch;

/* 7.2 writes a cluster at a time; this many bytes go in one request. */
#define COMPRESS_BATCH_BYTES    (2 * 1024 * 1024)

static int batch_flush(ConvertState *s, CompressBatch *b)
{
    Error *local_err = NULL;
    int64_t offset = b->start * BDRV_SECTOR_SIZE;
    int64_t bytes;
    int ret;

    if (!b->sectors) {
        return 0;
    }
    bytes = MIN(b->sectors * BDRV_SECTOR_SIZE,
                s->total_sectors * BDRV_SECTOR_SIZE - offset);
    ret = bdrv_pwrite_compressed(s->target, offset, bytes, b->buf,
                                 &local_err);
    error_free(local_err);
    if (ret < 0) {
        error_report("error while writing at byte %" PRId64 ": %s", offset,
                     strerror(-ret));
        return ret;
    }
    for (guint i = 0; i < b->runs->len; i++) {
        s->allocated_done += g_array_index(b->runs, int64_t, i);
        progress_print(100.0 * s->allocated_done / s->allocated_sectors);
    }
    g_array_set_size(b->runs, 0);
    b->sectors = 0;
    return 0;
}

/*
 * Whether the @n sectors of @buf at @sector_num join the batch: data to
 * be written compressed into a new image (an existing one may refuse a
 * cluster, and 7.2 names the cluster that failed).
 */
static bool batch_takes(ConvertState *s, ConvertStatus status,
                        const uint8_t *buf, int64_t n)
{
    return s->compressed && s->target_is_new && status == CONVERT_DATA &&
           (!s->min_sparse || !buffer_is_zero(buf, n * BDRV_SECTOR_SIZE));
}

static int convert_do_copy(ConvertState *s)
{
    g_autoptr(GArray) runs = g_array_new(false, false, sizeof(int64_t));
    g_autofree uint8_t *batch_buf = NULL;
    CompressBatch batch = { .runs = runs };
    g_autofree uint8_t *buf = NULL;
    int64_t sector_num = 0, n;
    int ret;

    if (!s->has_zero_init && s->target_is_new && s->min_sparse &&
        !s->target_has_backing) {
        /* A new image without backing file reads as zeros. */
        s->has_zero_init = true;
    }
    if (s->compressed) {
        if (s->cluster_sectors <= 0 || s->cluster_sectors > s->buf_sectors) {
            error_report("invalid cluster size");
            return -EINVAL;
        }
        s->buf_sectors = s->cluster_sectors;
    }

    /* What to copy, for the progress. */
    while (sector_num < s->total_sectors) {
        n = convert_iteration_sectors(s, sector_num);
        if (n < 0) {
            return n;
        }
        if (s->status == CONVERT_DATA ||
            (!s->min_sparse && s->status == CONVERT_ZERO)) {
            s->allocated_sectors += n;
        }
        sector_num += n;
    }

    buf = g_malloc(s->buf_sectors * BDRV_SECTOR_SIZE);
    if (s->compressed && s->target_is_new) {
        batch.max_sectors = MAX(COMPRESS_BATCH_BYTES / BDRV_SECTOR_SIZE,
                                s->buf_sectors);
        batch_buf = g_malloc(batch.max_sectors * BDRV_SECTOR_SIZE);
        batch.buf = batch_buf;
    }
    s->sector_next_status = 0;
    for (sector_num = 0; sector_num < s->total_sectors; sector_num += n) {
        ConvertStatus status;

        n = convert_iteration_sectors(s, sector_num);
        if (n < 0) {
            return n;
        }
        status = s->status;
        if (status == CONVERT_DATA) {
            ret = convert_read(s, sector_num, n, buf);
            if (ret < 0) {
                error_report("error while reading at byte %" PRId64 ": %s",
                             sector_num * BDRV_SECTOR_SIZE, strerror(-ret));
                return ret;
            }
        } else if (!s->min_sparse && status == CONVERT_ZERO) {
            status = CONVERT_DATA;
            memset(buf, 0, n * BDRV_SECTOR_SIZE);
        }
        if (batch_takes(s, status, buf, n)) {
            if (batch.sectors &&
                (batch.start + batch.sectors != sector_num ||
                 batch.sectors + n > batch.max_sectors)) {
                ret = batch_flush(s, &batch);
                if (ret < 0) {
                    return ret;
                }
            }
            if (!batch.sectors) {
                batch.start = sector_num;
            }
            memcpy(batch.buf + batch.sectors * BDRV_SECTOR_SIZE, buf,
                   n * BDRV_SECTOR_SIZE);
            batch.sectors += n;
            g_array_append_val(batch.runs, n);
            continue;
        }
        ret = batch_flush(s, &batch);
        if (ret < 0) {
            return ret;
        }
        ret = convert_write(s, sector_num, n, buf, status);
        if (ret < 0) {
            error_report("error while writing at byte %" PRId64 ": %s",
                         sector_num * BDRV_SECTOR_SIZE, strerror(-ret));
            return ret;
        }
        if (status == CONVERT_DATA) {
            s->allocated_done += n;
            progress_print(100.0 * s->allocated_done / s->allocated_sectors);
        }
    }
    ret = batch_flush(s, &batch);
    if (ret < 0) {
        return ret;
    }
    if (s->compressed) {
        /* The end of the compressed writes (the file gets whole sectors) */
        Error *local_err = NULL;

        ret = bdrv_pwrite_compressed(s->target, 0, 0, NULL, &local_err);
        if (ret < 0) {
            error_report_err(local_err);
            return ret;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * The command
 */

typedef struct ConvertOpts {
    ImgCommonOpts common;
    const char *out_fmt;
    const char *out_baseimg;
    const char *backing_fmt;
    const char *cache;
    const char *src_cache;
    const char *snapshot_name;
    char *sn_id;
    char *sn_name;
    bool sn_opts;
    char *options;
    bool tgt_image_opts;
    bool skip_create;
    bool progress;
    bool copy_range;
    bool explicit_min_sparse;
    bool bitmaps;
    bool skip_broken;
} ConvertOpts;

/* Parses the command line into @o and @s; false after the message. */
static bool convert_parse(int argc, char **argv, ConvertOpts *o,
                          ConvertState *s)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "target-image-opts", no_argument, NULL, OPTION_TARGET_IMAGE_OPTS },
        { "salvage", no_argument, NULL, OPTION_SALVAGE },
        { "target-is-zero", no_argument, NULL, OPTION_TARGET_IS_ZERO },
        { "bitmaps", no_argument, NULL, OPTION_BITMAPS },
        { "skip-broken-bitmaps", no_argument, NULL, OPTION_SKIP_BROKEN },
        { NULL, 0, NULL, 0 }
    };
    int c, ret;

    while ((c = img_getopt(argc, argv, ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:",
                           long_options)) != -1) {
        ret = img_common_option(c, optarg, &o->common);
        if (ret < 0) {
            return false;
        } else if (ret > 0) {
            continue;
        }
        switch (c) {
        case 'O':
            o->out_fmt = optarg;
            break;
        case 'B':
            o->out_baseimg = optarg;
            break;
        case 'C':
            o->copy_range = true;
            s->copy_range = true;
            break;
        case 'c':
            s->compressed = true;
            break;
        case 'F':
            o->backing_fmt = optarg;
            break;
        case 'o':
            if (img_accumulate_options(&o->options, optarg) < 0) {
                return false;
            }
            break;
        case 'l':
            if (g_str_has_prefix(optarg, SNAPSHOT_OPT_BASE)) {
                if (!parse_snapshot_param(optarg, &o->sn_id, &o->sn_name)) {
                    error_report("Failed in parsing snapshot param '%s'",
                                 optarg);
                    return false;
                }
                o->sn_opts = true;
            } else {
                o->snapshot_name = optarg;
            }
            break;
        case 'S': {
            int64_t sval = img_cvtnum("buffer size for sparse output",
                                      optarg);

            if (sval < 0) {
                return false;
            }
            if (sval % BDRV_SECTOR_SIZE ||
                sval / BDRV_SECTOR_SIZE > MAX_BUF_SECTORS) {
                error_report("Invalid buffer size for sparse output "
                             "specified. Valid sizes are multiples of %d up "
                             "to %d. Select 0 to disable sparse detection "
                             "(fully allocates output).", BDRV_SECTOR_SIZE,
                             MAX_BUF_SECTORS * BDRV_SECTOR_SIZE);
                return false;
            }
            s->min_sparse = sval / BDRV_SECTOR_SIZE;
            o->explicit_min_sparse = true;
            break;
        }
        case 'p':
            o->progress = true;
            break;
        case 't':
            o->cache = optarg;
            break;
        case 'T':
            o->src_cache = optarg;
            break;
        case 'q':
            s->quiet = true;
            break;
        case 'n':
            o->skip_create = true;
            break;
        case 'm':
            if (!parse_coroutines(optarg)) {
                return false;
            }
            break;
        case 'W':
            /* Out-of-order writes: a sequential copy has none. */
            break;
        case 'r':
            /* A rate limit is checked, then has nothing to slow down. */
            if (img_cvtnum("rate limit", optarg) < 0) {
                return false;
            }
            break;
        case OPTION_TARGET_IMAGE_OPTS:
            o->tgt_image_opts = true;
            break;
        case OPTION_SALVAGE:
            s->salvage = true;
            break;
        case OPTION_TARGET_IS_ZERO:
            /* The caller vouches for it: zeros need no write. */
            s->has_zero_init = true;
            break;
        case OPTION_BITMAPS:
            o->bitmaps = true;
            break;
        case OPTION_SKIP_BROKEN:
            o->skip_broken = true;
            break;
        }
    }

    if (!o->out_fmt && !o->tgt_image_opts) {
        o->out_fmt = "raw";
    }
    if (o->skip_broken && !o->bitmaps) {
        error_report("Use of --skip-broken-bitmaps requires --bitmaps");
        return false;
    }
    if (o->copy_range && s->compressed) {
        error_report("Cannot enable copy offloading when -c is used");
        return false;
    }
    if (o->explicit_min_sparse && o->copy_range) {
        error_report("Cannot enable copy offloading when -S is used");
        return false;
    }
    if (o->copy_range && s->salvage) {
        error_report("Cannot use copy offloading in salvaging mode");
        return false;
    }
    if (o->tgt_image_opts && !o->skip_create) {
        error_report("--target-image-opts requires use of -n flag");
        return false;
    }
    if (o->skip_create && o->options) {
        error_report("-o has no effect when skipping image creation");
        return false;
    }
    if (s->has_zero_init && !o->skip_create) {
        error_report("--target-is-zero requires use of -n flag");
        return false;
    }
    return true;
}

/* Opens the sources (and their snapshot); fills the sizes of @s. */
static int convert_open_sources(ConvertOpts *o, ConvertState *s,
                                char **names)
{
    Error *local_err = NULL;
    int flags = o->common.force_share ? BDRV_O_FORCE_SHARE : 0;
    int ret = 0;

    s->src = g_new0(BlockDriverState *, s->src_num);
    s->src_sectors = g_new0(int64_t, s->src_num);
    s->src_alignment = g_new0(int64_t, s->src_num);
    for (int i = 0; i < s->src_num; i++) {
        int64_t len, cluster;

        s->src[i] = img_open(o->common.image_opts, names[i], o->common.fmt,
                             flags);
        if (!s->src[i]) {
            return -1;
        }
        len = bdrv_getlength(s->src[i]);
        if (len < 0) {
            error_report("Could not get size of %s: %s", names[i],
                         strerror(-len));
            return -1;
        }
        s->src_sectors[i] = DIV_ROUND_UP(len, BDRV_SECTOR_SIZE);
        cluster = bdrv_get_cluster_size(s->src[i]);
        s->src_alignment[i] = MAX(1, cluster / BDRV_SECTOR_SIZE);
        s->total_sectors += s->src_sectors[i];
    }

    if (o->sn_opts) {
        ret = bdrv_snapshot_load_tmp(s->src[0], o->sn_id, o->sn_name,
                                     &local_err);
    } else if (o->snapshot_name) {
        if (s->src_num > 1) {
            error_report("No support for concatenating multiple snapshot");
            return -1;
        }
        ret = bdrv_snapshot_load_tmp_by_id_or_name(s->src[0],
                                                   o->snapshot_name,
                                                   &local_err);
    }
    if (ret < 0) {
        error_prepend(&local_err, "Failed to load snapshot: ");
        error_report_err(local_err);
        return -1;
    }
    /*
     * As in 7.2, the copy keeps the image's size, not the snapshot's:
     * what lies past the snapshot's end reads as zeros.
     */
    return 0;
}

/*
 * The checks 7.2 makes before it creates the target, then the creation.
 * Returns 0, -1 after the message, or 1 when 7.2 stops with exit status
 * 0 after an error message.
 */
static int convert_create(ConvertOpts *o, ConvertState *s,
                          const char *out_filename)
{
    g_autoptr(QDict) values = NULL;
    Error *local_err = NULL;
    const char *out_baseimg = o->out_baseimg;
    const char *prealloc = NULL;

    if (!o->skip_create) {
        values = bdrv_create_opts_parse(o->out_fmt, o->options,
                                        s->total_sectors * BDRV_SECTOR_SIZE,
                                        o->out_baseimg, o->backing_fmt,
                                        &local_err);
        if (!values) {
            error_report_err(local_err);
            return -1;
        }
        if (qdict_haskey(values, "backing_file")) {
            out_baseimg = qdict_get_try_str(values, "backing_file");
        }
        prealloc = qdict_get_try_str(values, "preallocation");
    }
    s->target_has_backing = out_baseimg;
    if (s->has_zero_init && s->target_has_backing) {
        error_report("Cannot use --target-is-zero when the destination "
                     "image has a backing file");
        return 1;       /* 7.2 stops here, yet exits with success */
    }
    if (s->src_num > 1 && out_baseimg) {
        error_report("Having a backing file for the target makes no sense "
                     "when concatenating multiple input images");
        return -1;
    }
    if (values && out_baseimg && !qdict_haskey(values, "backing_fmt")) {
        error_report("Use of backing file requires explicit backing format");
        return -1;
    }
    if (s->compressed) {
        if (!o->skip_create && !bdrv_format_can_compress(o->out_fmt)) {
            error_report("Compression not supported for this file format");
            return -1;
        }
        if (values && (qdict_haskey(values, "encryption") ||
                       qdict_haskey(values, "encrypt.format"))) {
            const char *enc = qdict_get_try_str(values, "encryption");
            if (!enc || strcmp(enc, "off") ||
                qdict_haskey(values, "encrypt.format")) {
                error_report("Compression and encryption not supported at "
                             "the same time");
                return -1;
            }
        }
        if (prealloc && strcmp(prealloc, "off")) {
            error_report("Compression and preallocation not supported at "
                         "the same time");
            return -1;
        }
    }
    if (o->bitmaps) {
        if (s->src_num > 1) {
            error_report("Copying bitmaps only possible with single source");
            return -1;
        }
        if (convert_check_bitmaps(s->src[0], o->skip_broken) < 0) {
            return -1;
        }
    }
    if (!o->skip_create &&
        bdrv_create(o->out_fmt, out_filename, values, &local_err) < 0) {
        error_prepend(&local_err, "%s: error while converting %s: ",
                      out_filename, o->out_fmt);
        error_report_err(local_err);
        return -1;
    }
    return 0;
}

/* Opens the target and sets up the copy's parameters. */
static int convert_open_target(ConvertOpts *o, ConvertState *s,
                               const char *out_filename)
{
    BlockDriverState *backing;
    int64_t cluster;

    if (o->cache && !cache_mode_valid(o->cache)) {
        error_report("Invalid cache option: %s", o->cache);
        return -1;
    }
    s->target = img_open(o->skip_create && o->tgt_image_opts, out_filename,
                         o->out_fmt, BDRV_O_RDWR);
    if (!s->target) {
        return -1;
    }
    if (o->bitmaps && !bdrv_supports_persistent_bitmaps(s->target)) {
        error_report("Format driver '%s' does not support bitmaps",
                     bdrv_get_format_name(s->target));
        return -1;
    }
    if (s->compressed &&
        !bdrv_format_can_compress(bdrv_get_format_name(s->target))) {
        error_report("Compression not supported for this file format");
        return -1;
    }
    s->buf_sectors = IO_BUF_SECTORS;
    cluster = bdrv_get_cluster_size(s->target);
    s->cluster_sectors = cluster / BDRV_SECTOR_SIZE;
    if (s->compressed && s->cluster_sectors <= 0) {
        error_report("could not get block driver info");
        return -1;
    }
    if (o->skip_create) {
        int64_t len = bdrv_getlength(s->target);

        if (len < 0) {
            error_report("unable to get output image length: %s",
                         strerror(-len));
            return -1;
        }
        if (DIV_ROUND_UP(len, BDRV_SECTOR_SIZE) < s->total_sectors) {
            error_report("output file is smaller than input file");
            return -1;
        }
    }
    s->target_backing_sectors = -1;
    backing = bdrv_backing(s->target);
    if (s->target_has_backing && s->target_is_new && backing) {
        int64_t len = bdrv_getlength(backing);
        if (len >= 0) {
            s->target_backing_sectors = DIV_ROUND_UP(len, BDRV_SECTOR_SIZE);
        }
    }
    /* Zero detection works in units of -S, rounded down to a power of 2 */
    s->alignment = 1;
    while (s->alignment * 2 <= s->min_sparse) {
        s->alignment *= 2;
    }
    return 0;
}

int img_convert(int argc, char **argv)
{
    ConvertOpts o = { 0 };
    ConvertState s = { .min_sparse = 8 };     /* -S 4k */
    const char *out_filename;
    bool stop = false;
    int ret = -1;

    if (!convert_parse(argc, argv, &o, &s)) {
        ret = -1;
        goto out_free;
    }
    s.src_num = argc - optind - 1;
    out_filename = s.src_num >= 1 ? argv[argc - 1] : NULL;
    if (o.options && img_has_help_option(o.options)) {
        Error *local_err = NULL;

        if (!o.out_fmt) {
            error_report("Option help requires a format be specified");
            goto out_free;
        }
        if (bdrv_create_print_help(o.out_fmt, out_filename, &local_err) < 0) {
            error_report_err(local_err);
            goto out_free;
        }
        ret = 0;
        goto out_free;
    }
    if (s.src_num < 1) {
        error_report("Must specify image file name");
        goto out_free;
    }
    if (o.src_cache && !cache_mode_valid(o.src_cache)) {
        error_report("Invalid source cache option: %s", o.src_cache);
        goto out_free;
    }

    progress.enabled = o.progress && !s.quiet;
    progress_print(0);
    ret = convert_open_sources(&o, &s, argv + optind);
    if (ret == 0) {
        ret = convert_create(&o, &s, out_filename);
        if (ret > 0) {
            stop = true;
            ret = 0;
        }
    }
    if (ret == 0 && !stop) {
        s.target_is_new = !o.skip_create;
        ret = convert_open_target(&o, &s, out_filename);
    }
    if (ret == 0 && !stop) {
        ret = convert_do_copy(&s);
    }
    if (ret == 0 && !stop && o.bitmaps) {
        ret = convert_copy_bitmaps(s.src[0], s.target, o.skip_broken);
        if (ret == 0) {
            /* Stored now, so that an error can be reported. */
            Error *local_err = NULL;

            ret = bdrv_inactivate(s.target, &local_err);
            if (ret < 0) {
                error_report_err(local_err);
            }
        }
    }
    if (ret == 0 && s.target && o.cache && strcmp(o.cache, "unsafe")) {
        /* 7.2's default cache mode for the target, unsafe, never flushes */
        Error *local_err = NULL;

        ret = bdrv_flush(s.target, &local_err);
        if (ret < 0) {
            error_report_err(local_err);
        }
    }
    if (ret == 0) {
        progress_print(100);
    }
    progress_end();

    if (s.target) {
        bdrv_unref(s.target);
    }
    for (int i = 0; s.src && i < s.src_num; i++) {
        if (s.src[i]) {
            bdrv_unref(s.src[i]);
        }
    }
out_free:
    g_free(s.src);
    g_free(s.src_sectors);
    g_free(s.src_alignment);
    g_free(o.options);
    g_free(o.sn_id);
    g_free(o.sn_name);
    return ret ? EXIT_FAILURE : EXIT_SUCCESS;
}
