/*
 * Fuzz target: `qemu-img info`, human and JSON, of the image alone and
 * (as --backing-chain) of each image of its chain.
 */
#include "fuzz-common.h"
#include "qapi/emitter.h"
#include "qapi-emit.h"

static void dump_info(ImageInfo *info)
{
    g_autoptr(GString) human = g_string_new(NULL);
    g_autoptr(QapiEmitter) e = qapi_json_emitter_new(fuzz_sink());

    bdrv_image_info_dump(info, human);
    fputs(human->str, fuzz_sink());
    qapi_emit_ImageInfo(e, info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int flags[] = {
        BDRV_O_NO_BACKING | BDRV_O_NO_IO,   /* info */
        BDRV_O_NO_IO,                       /* info --backing-chain */
    };

    for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
        BlockDriverState *top = fuzz_open(data, size, "qcow2", flags[i]);

        for (BlockDriverState *bs = top; bs; bs = bdrv_backing(bs)) {
            Error *err = NULL;
            ImageInfo *info = bdrv_query_image_info(bs, &err);

            error_free(err);
            if (info) {
                dump_info(info);
                qapi_free_ImageInfo(info);
            }
        }
        bdrv_unref(top);
    }
    return 0;
}
