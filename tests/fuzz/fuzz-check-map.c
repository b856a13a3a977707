/*
 * Fuzz target: `qemu-img check -M`: the walk that records the metadata
 * map, then the generated emitters in JSON (the whole ImageCheck) and
 * in the human form.
 */
#include "fuzz-common.h"
#include "qapi/emitter.h"
#include "qapi-emit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    BlockDriverState *bs = fuzz_open(data, size, "qcow2", BDRV_O_CHECK);
    g_autoptr(ImageCheck) check = NULL;
    BdrvCheckResult res;
    Error *err = NULL;

    if (!bs) {
        return 0;
    }
    bdrv_check(bs, &res, BDRV_CHECK_MAP, NULL, &err);
    error_free(err);
    check = g_new0(ImageCheck, 1);
    check->filename = g_strdup(bdrv_get_filename(bs));
    check->format = g_strdup(bdrv_get_format_name(bs));
    check->check_errors = res.check_errors;
    check->has_viscera = res.metadata != NULL;
    check->viscera = res.metadata;
    bdrv_unref(bs);
    if (check->has_viscera) {
        QapiEmitter *e = qapi_human_emitter_new(fuzz_sink(), 1);

        qapi_emit_Qcow2Metadata(e, check->viscera);
        qapi_emitter_free(e);
    }
    {
        QapiEmitter *e = qapi_json_emitter_new(fuzz_sink());

        qapi_emit_ImageCheck(e, check);
        qapi_emitter_free(e);
    }
    return 0;
}
