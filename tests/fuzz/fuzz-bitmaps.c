/*
 * Fuzz target: persistent bitmaps: the directory (read at open), the
 * list `info` prints, each bitmap's table, with and without the -M
 * description of its entries, and its contents as `map --bitmap` reads
 * them.
 */
#include "fuzz-common.h"
#include "block/qcow2.h"

static int count_run(void *opaque, uint64_t first_bit, uint64_t nb_bits,
                     bool dirty)
{
    *(uint64_t *)opaque += dirty ? nb_bits : 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    BlockDriverState *bs = fuzz_open(data, size, "qcow2",
                                     BDRV_O_NO_BACKING | BDRV_O_NO_IO);
    BDRVQcow2State *s;
    Error *err = NULL;

    if (!bs) {
        return 0;
    }
    s = bs->opaque;
    qapi_free_Qcow2BitmapInfoList(qcow2_get_bitmap_info_list(bs, &err));
    error_free(err);
    for (uint32_t i = 0; s->bitmaps_loaded && i < s->nb_bitmaps; i++) {
        uint64_t *table = NULL;
        Qcow2BitmapTable *map = NULL;
        uint32_t held;

        err = NULL;
        qcow2_bitmap_table_load(bs, &s->bitmaps[i], &table, &held, NULL, &err);
        error_free(err);
        g_free(table);
        table = NULL;
        err = NULL;
        qcow2_bitmap_table_load(bs, &s->bitmaps[i], &table, &held, &map, &err);
        error_free(err);
        g_free(table);
        qapi_free_Qcow2BitmapTable(map);
        {
            uint64_t dirty = 0;
            uint8_t gran;

            err = NULL;
            bdrv_bitmap_runs(bs, s->bitmaps[i].name, &gran, count_run,
                             &dirty, &err);
            error_free(err);
        }
    }
    bdrv_unref(bs);
    /* An open that may do I/O loads the consistent tables itself. */
    bdrv_unref(fuzz_open(data, size, "qcow2", BDRV_O_NO_BACKING));
    return 0;
}
