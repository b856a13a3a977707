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
 * Beyond 7.2 (docs/man/qemu-img.1): --bitmap NAME lists the runs of a
 * persistent dirty bitmap, clean and dirty, within [start, start +
 * max_length).  QEMU shows them only through an NBD export.
 */
static int map_bitmap(BlockDriverState *bs, const char *name,
                      OutputFormat ofmt, int64_t start, int64_t max_length)
{
    g_autoptr(BitmapRangeList) list = NULL;
    BitmapRangeList **tail = &list;
    Error *local_err = NULL;
    BdrvBitmapData data;
    int64_t end = bdrv_getlength(bs);
    int64_t pos;

    if (bdrv_bitmap_get(bs, name, &data, &local_err) < 0) {
        error_report_err(local_err);
        return -EINVAL;
    }
    if (max_length >= 0 && max_length < end - start) {
        end = start + max_length;
    }
    for (pos = start; pos < end;) {
        uint64_t bit = (uint64_t)pos >> data.granularity_bits;
        bool dirty = data.bits[bit / 8] & (1u << (bit % 8));
        int64_t next = pos;
        BitmapRange *r;

        /* The run of bits like this one. */
        while (next < end) {
            uint64_t b = (uint64_t)next >> data.granularity_bits;

            if (!!(data.bits[b / 8] & (1u << (b % 8))) != dirty) {
                break;
            }
            next = MIN((int64_t)((b + 1) << data.granularity_bits), end);
        }
        r = g_new0(BitmapRange, 1);
        r->start = pos;
        r->length = next - pos;
        r->dirty = dirty;
        QAPI_LIST_APPEND(tail, r);
        pos = next;
    }
    g_free(data.bits);
    if (ofmt == OFORMAT_JSON) {
        g_autoptr(QapiEmitter) e = qapi_json_emitter_new(stdout);

        qapi_emit_BitmapRangeList(e, list);
        qapi_emitter_free(g_steal_pointer(&e));
        printf("\n");
        return 0;
    }
    printf("%-16s%-16s%s\n", "Offset", "Length", "Dirty");
    for (const BitmapRangeList *l = list; l; l = l->next) {
        printf("%#-16" PRIx64 "%#-16" PRIx64 "%s\n", l->value->start,
               l->value->length, l->value->dirty ? "yes" : "no");
    }
    return 0;
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
