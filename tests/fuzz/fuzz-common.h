/*
 * Shared helpers of the fuzz targets: each target is one file with
 * LLVMFuzzerTestOneInput(); linked with libFuzzer (meson -Dfuzzing=true,
 * clang) it fuzzes, linked with replay.c it replays a corpus.
 *
 * Inputs are whole image files opened through block/mem.c: backing and
 * data file names "mem:OFFSET" point into the same input.  Every output
 * goes to a sink, never to stdout; findings the check prints on stderr
 * are left there (the fuzz runs close it, the replay keeps a log).
 */
#ifndef TESTS_FUZZ_COMMON_H
#define TESTS_FUZZ_COMMON_H

#include "block/block_int.h"

/* Bounds on the work one input may cause in a walking target. */
#define FUZZ_MAX_STEPS      4096            /* block status calls */
#define FUZZ_MAX_READ       (4 << 20)       /* bytes of guest reads */
#define FUZZ_READ_CHUNK     (64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Where printed output goes: /dev/null, or the file named by $FUZZ_SINK
 * (to look at what a target does with an input: FUZZ_SINK=/dev/stdout).
 */
static inline FILE *fuzz_sink(void)
{
    static FILE *sink;

    if (!sink) {
        const char *name = getenv("FUZZ_SINK");

        sink = fopen(name ? name : "/dev/null", "w");
        g_assert(sink);
    }
    return sink;
}

/* Opens @data as @fmt (NULL: probe); errors are expected and dropped. */
static inline BlockDriverState *fuzz_open(const uint8_t *data, size_t size,
                                          const char *fmt, int flags)
{
    Error *err = NULL;
    BlockDriverState *bs = bdrv_open_mem(data, size, fmt, flags, &err);

    error_free(err);
    return bs;
}

#endif
