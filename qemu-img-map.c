/*
 * qemu-img map: where each guest range of an image comes from (data at
 * a host offset, zeros, a backing layer), in qemu-img 7.2's two output
 * formats.  Adjacent ranges are merged as 7.2 merges them.
 */
#include "qemu-img.h"
#include "qapi/emitter.h"
#include "qapi-emit.h"

enum {
    OPTION_BITMAP = 1000,
};

/* One output line: a guest range and what backs it. */
typedef struct MapRange {
    int64_t start;
    int64_t length;
    bool data;
    bool zero;
    bool present;           /* some layer allocates it */
    int depth;              /* the layer that answered, 0 = the image */
    bool has_offset;
    int64_t offset;         /* host offset, with has_offset */
    const char *filename;   /* file at that offset (NULL: none) */
} MapRange;

/*
 * Status of [offset, offset + bytes) through the chain, one layer at a
 * time: the first layer that has data or zeros answers (7.2's
 * get_block_status() in qemu-img).
 */
static int map_get_range(BlockDriverState *bs, int64_t offset, int64_t bytes,
                         MapRange *r, Error **errp)
{
    BlockDriverState *file = NULL;
    int64_t map = 0;
    int depth = 0;
    int ret;

    for (;;) {
        ret = bdrv_block_status(bs, offset, bytes, &bytes, &map, &file,
                                errp);
        if (ret < 0) {
            return ret;
        }
        if (!bytes) {
            error_setg(errp, "Block status made no progress");
            return -EIO;
        }
        if (ret & (BDRV_BLOCK_ZERO | BDRV_BLOCK_DATA)) {
            break;
        }
        bs = bdrv_backing(bs);
        if (!bs) {
            ret = 0;
            break;
        }
        depth++;
    }
    *r = (MapRange) {
        .start = offset,
        .length = bytes,
        .data = ret & BDRV_BLOCK_DATA,
        .zero = ret & BDRV_BLOCK_ZERO,
        .present = ret & BDRV_BLOCK_ALLOCATED,
        .depth = depth,
        .has_offset = ret & BDRV_BLOCK_OFFSET_VALID,
        .offset = map,
    };
    if (file && r->has_offset) {
        r->filename = bdrv_get_filename(file);
    }
    return 0;
}

static bool map_mergeable(const MapRange *curr, const MapRange *next)
{
    if (curr->length == 0 || curr->zero != next->zero ||
        curr->data != next->data || curr->depth != next->depth ||
        curr->present != next->present ||
        !curr->filename != !next->filename ||
        curr->has_offset != next->has_offset) {
        return false;
    }
    if (curr->filename && strcmp(curr->filename, next->filename)) {
        return false;
    }
    return !curr->has_offset || curr->offset + curr->length == next->offset;
}

/*
 * Prints @e; @next (NULL for the last) is the range that follows.  The
 * human format shows data only, so it folds zeros and holes into one
 * kind to merge more, as 7.2 does.
 */
static int map_dump(OutputFormat ofmt, const MapRange *e, MapRange *next)
{
    if (ofmt == OFORMAT_HUMAN) {
        if (e->data && !e->has_offset) {
            error_report("File contains external, encrypted or compressed "
                         "clusters.");
            return -1;
        }
        if (e->data && !e->zero) {
            printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n",
                   (uint64_t)e->start, (uint64_t)e->length,
                   (uint64_t)(e->has_offset ? e->offset : 0),
                   e->filename ? e->filename : "");
        }
        if (next && (!next->data || next->zero)) {
            next->data = false;
            next->zero = true;
        }
        return 0;
    }
    printf("{ \"start\": %" PRId64 ", \"length\": %" PRId64 ", "
           "\"depth\": %d, \"present\": %s, \"zero\": %s, \"data\": %s",
           e->start, e->length, e->depth, e->present ? "true" : "false",
           e->zero ? "true" : "false", e->data ? "true" : "false");
    if (e->has_offset) {
        printf(", \"offset\": %" PRId64, e->offset);
    }
    putchar('}');
    if (next) {
        puts(",");
    }
    return 0;
}

static int map_image(BlockDriverState *bs, OutputFormat ofmt,
                     int64_t start, int64_t max_length, const char *filename)
{
    MapRange curr = { .start = start }, next;
    int64_t length = bdrv_getlength(bs);

    if (length < 0) {
        error_report("Failed to get size for '%s'", filename);
        return -1;
    }
    if (max_length != -1) {
        /* 7.2 adds without an overflow check: the sum wraps. */
        length = MIN((int64_t)((uint64_t)start + (uint64_t)max_length),
                     length);
    }
    if (ofmt == OFORMAT_HUMAN) {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to",
               "File");
    } else {
        putchar('[');
    }
    while (curr.start + curr.length < length) {
        int64_t offset = curr.start + curr.length;
        Error *local_err = NULL;
        int ret = map_get_range(bs, offset, length - offset, &next,
                                &local_err);

        if (ret < 0) {
            error_free(local_err);
            error_report("Could not read file metadata: %s", strerror(-ret));
            return -1;
        }
        if (map_mergeable(&curr, &next)) {
            curr.length += next.length;
            continue;
        }
        if (curr.length > 0 && map_dump(ofmt, &curr, &next) < 0) {
            return -1;
        }
        curr = next;
    }
    if (map_dump(ofmt, &curr, NULL) < 0) {
        return -1;
    }
    if (ofmt == OFORMAT_JSON) {
        puts("]");
    }
    return 0;
}

/*
 * Runs of a bitmap as byte ranges inside [start, end), merged, each
 * printed once the next one starts: the output is streamed.
 */
typedef struct BitmapRangesState {
    uint8_t granularity_bits;
    int64_t start, end;
    QapiEmitter *json;          /* NULL: human output */
    BitmapRange pending;
    bool has_pending;
} BitmapRangesState;

static void print_pending(BitmapRangesState *st)
{
    if (!st->has_pending) {
        return;
    }
    if (st->json) {
        qapi_emit_BitmapRange(st->json, &st->pending);
    } else {
        printf("%#-16" PRIx64 "%#-16" PRIx64 "%s\n", st->pending.start,
               st->pending.length, st->pending.dirty ? "yes" : "no");
    }
    st->has_pending = false;
}

static int add_bitmap_run(void *opaque, uint64_t first_bit, uint64_t nb_bits,
                          bool dirty)
{
    BitmapRangesState *st = opaque;
    int64_t from = MAX((int64_t)(first_bit << st->granularity_bits),
                       st->start);
    int64_t to = MIN((int64_t)((first_bit + nb_bits) << st->granularity_bits),
                     st->end);

    if (from >= to) {
        return 0;
    }
    if (st->has_pending && st->pending.dirty == dirty) {
        st->pending.length = to - st->pending.start;
        return 0;
    }
    print_pending(st);
    st->pending = (BitmapRange) { .start = from, .length = to - from,
                                  .dirty = dirty };
    st->has_pending = true;
    return 0;
}

/*
 * Beyond 7.2 (docs/man/qemu-img.1): --bitmap NAME lists the runs of a
 * persistent dirty bitmap, clean and dirty, within [start, start +
 * max_length).  QEMU shows them only through an NBD export.
 */
static int map_bitmap(BlockDriverState *bs, const char *name,
                      OutputFormat ofmt, int64_t start, int64_t max_length)
{
    BitmapRangesState st = { .start = start, .end = bdrv_getlength(bs) };
    Error *local_err = NULL;
    uint8_t gran;
    int ret;

    if (max_length >= 0 && max_length < st.end - start) {
        st.end = start + max_length;
    }
    /* Looked up first, so that a bad name prints nothing on stdout. */
    ret = bdrv_bitmap_runs(bs, name, &gran, NULL, NULL, &local_err);
    if (ret < 0) {
        error_report_err(local_err);
        return ret;
    }
    st.granularity_bits = gran;
    if (ofmt == OFORMAT_JSON) {
        st.json = qapi_json_emitter_new(stdout);
        qapi_emitter_start_list(st.json);
    } else {
        printf("%-16s%-16s%s\n", "Offset", "Length", "Dirty");
    }
    ret = bdrv_bitmap_runs(bs, name, &gran, add_bitmap_run, &st,
                           &local_err);
    print_pending(&st);
    if (st.json) {
        qapi_emitter_end_list(st.json);
        qapi_emitter_free(st.json);
        printf("\n");
    }
    if (ret < 0) {
        fflush(stdout);
        error_report_err(local_err);
    }
    return ret;
}

int img_map(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "start-offset", required_argument, NULL, 's' },
        { "max-length", required_argument, NULL, 'l' },
        { "bitmap", required_argument, NULL, OPTION_BITMAP },
        { NULL, 0, NULL, 0 }
    };
    ImgCommonOpts o = { 0 };
    OutputFormat ofmt = OFORMAT_HUMAN;
    const char *filename, *bitmap = NULL;
    int64_t start = 0, max_length = -1;
    BlockDriverState *bs;
    int c, ret;

    while ((c = img_getopt(argc, argv, ":f:s:l:hU", long_options)) != -1) {
        ret = img_common_option(c, optarg, &o);
        if (ret < 0) {
            return EXIT_FAILURE;
        } else if (ret > 0) {
            continue;
        }
        switch (c) {
        case 's':
            start = img_cvtnum("start offset", optarg);
            if (start < 0) {
                return EXIT_FAILURE;
            }
            break;
        case 'l':
            max_length = img_cvtnum("max length", optarg);
            if (max_length < 0) {
                return EXIT_FAILURE;
            }
            break;
        case OPTION_BITMAP:
            bitmap = optarg;
            break;
        }
    }
    filename = img_one_image(argc, argv, &o, &ofmt);
    if (!filename) {
        return EXIT_FAILURE;
    }
    bs = img_open(o.image_opts, filename, o.fmt,
                  o.force_share ? BDRV_O_FORCE_SHARE : 0);
    if (!bs) {
        return EXIT_FAILURE;
    }
    ret = bitmap ? map_bitmap(bs, bitmap, ofmt, start, max_length)
                 : map_image(bs, ofmt, start, max_length, filename);
    bdrv_unref(bs);
    return ret < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
