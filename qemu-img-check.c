/*
 * qemu-img check
 */
#include <unistd.h>
#include "qemu-img.h"
#include "qapi/emitter.h"
#include "qapi-emit.h"

/* Exit codes, as qemu-img 7.2 documents them. */
#define CHECK_EXIT_OK           0
#define CHECK_EXIT_FAILED       1
#define CHECK_EXIT_CORRUPTIONS  2
#define CHECK_EXIT_LEAKS        3
#define CHECK_EXIT_UNSUPPORTED  63

/*
 * -p: "    (NN.NN/100%)" redrawn in place on stderr, like 7.2's progress
 * for convert; only on a terminal, so logs and pipes stay clean.
 */
static void print_progress(double percent)
{
    fprintf(stderr, "    (%3.2f/100%%)\r", percent);
    fflush(stderr);
}

static void end_progress(void)
{
    fputc('\n', stderr);
}

static ImageCheck *image_check_new(BlockDriverState *bs,
                                   const BdrvCheckResult *r)
{
    ImageCheck *check = g_new0(ImageCheck, 1);

    check->filename = g_strdup(bdrv_get_filename(bs));
    check->format = g_strdup(bdrv_get_format_name(bs));
    check->check_errors = r->check_errors;
    /* Optional counters appear only when non-zero, as in 7.2. */
#define SET_OPT(member, value) \
    (check->has_##member = (value) != 0, check->member = (int64_t)(value))
    SET_OPT(corruptions, r->corruptions);
    SET_OPT(leaks, r->leaks);
    SET_OPT(corruptions_fixed, r->corruptions_fixed);
    SET_OPT(leaks_fixed, r->leaks_fixed);
    SET_OPT(image_end_offset, r->image_end_offset);
    SET_OPT(total_clusters, r->bfi.total_clusters);
    SET_OPT(allocated_clusters, r->bfi.allocated_clusters);
    SET_OPT(fragmented_clusters, r->bfi.fragmented_clusters);
    SET_OPT(compressed_clusters, r->bfi.compressed_clusters);
#undef SET_OPT
    check->has_viscera = r->metadata != NULL;
    check->viscera = r->metadata;
    return check;
}

/* A -M result, kept to the end of the process (see img_check()). */
static ImageCheck *volatile kept_until_exit;

static void dump_human_image_check(const ImageCheck *check, bool quiet)
{
    if (quiet) {
        return;
    }
    if (!check->corruptions && !check->leaks && !check->check_errors) {
        printf("No errors were found on the image.\n");
    } else {
        if (check->corruptions) {
            printf("\n%" PRId64 " errors were found on the image.\n"
                   "Data may be corrupted, or further writes to the image "
                   "may corrupt it.\n", check->corruptions);
        }
        if (check->leaks) {
            printf("\n%" PRId64 " leaked clusters were found on the image.\n"
                   "This means waste of disk space, but no harm to data.\n",
                   check->leaks);
        }
        if (check->check_errors) {
            printf("\n%" PRId64 " internal errors have occurred during the "
                   "check.\n", check->check_errors);
        }
    }
    if (check->total_clusters != 0 && check->allocated_clusters != 0) {
        printf("%" PRId64 "/%" PRId64 " = %0.2f%% allocated, %0.2f%% "
               "fragmented, %0.2f%% compressed clusters\n",
               check->allocated_clusters, check->total_clusters,
               check->allocated_clusters * 100.0 / check->total_clusters,
               check->fragmented_clusters * 100.0 /
               check->allocated_clusters,
               check->compressed_clusters * 100.0 /
               check->allocated_clusters);
    }
    if (check->image_end_offset) {
        printf("Image end offset: %" PRId64 "\n", check->image_end_offset);
    }
    if (check->has_viscera) {
        /* Beyond 7.2: the map, the way info prints format details. */
        g_autoptr(QapiEmitter) e = qapi_human_emitter_new(stdout, 1);

        printf("Metadata:\n");
        qapi_emit_Qcow2Metadata(e, check->viscera);
    }
}

/* Printed as it is walked: a map may hold millions of entries. */
static void dump_json_image_check(const ImageCheck *check)
{
    g_autoptr(QapiEmitter) e = qapi_json_emitter_new(stdout);

    qapi_emit_ImageCheck(e, check);
    qapi_emitter_free(g_steal_pointer(&e));
    printf("\n");
}

static int check_exit_code(const ImageCheck *check)
{
    if (check->corruptions) {
        return CHECK_EXIT_CORRUPTIONS;
    }
    return check->leaks ? CHECK_EXIT_LEAKS : CHECK_EXIT_OK;
}

int img_check(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "repair", required_argument, NULL, 'r' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "dump-meta", no_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 }
    };
    ImgCommonOpts o = { 0 };
    OutputFormat ofmt = OFORMAT_HUMAN;
    const char *filename;
    bool quiet = false, progress = false, dump_meta = false;
    int fix = 0, map, flags = BDRV_O_CHECK, c, ret;
    g_autoptr(ImageCheck) check = NULL;
    BdrvCheckResult result;
    BlockDriverState *bs;
    Error *local_err = NULL;

    while ((c = img_getopt(argc, argv, ":hf:r:T:pqUM", long_options)) != -1) {
        ret = img_common_option(c, optarg, &o);
        if (ret < 0) {
            return CHECK_EXIT_FAILED;
        } else if (ret > 0) {
            continue;
        }
        switch (c) {
        case 'r':
            flags |= BDRV_O_RDWR;
            if (!strcmp(optarg, "leaks")) {
                fix = BDRV_FIX_LEAKS;
            } else if (!strcmp(optarg, "all")) {
                fix = BDRV_FIX_LEAKS | BDRV_FIX_ERRORS;
            } else {
                error_exit("Unknown option value for -r (expecting 'leaks' "
                           "or 'all'): %s", optarg);
            }
            break;
        case 'T':
            /* Cache modes do not apply to a synchronous tool. */
            break;
        case 'p':
            /* Beyond 7.2: progress for long checks. */
            progress = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'M':
            /* Beyond 7.2: the metadata map (docs/metadata-map.md). */
            dump_meta = true;
            break;
        }
    }
    filename = img_one_image(argc, argv, &o, &ofmt);
    if (!filename) {
        return CHECK_EXIT_FAILED;
    }
    if (o.force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    bs = img_open(o.image_opts, filename, o.fmt, flags);
    if (!bs) {
        return CHECK_EXIT_FAILED;
    }
    /* Findings also go to stderr: progress only where nothing parses it. */
    progress = progress && !quiet && isatty(STDERR_FILENO);
    map = dump_meta ? BDRV_CHECK_MAP : 0;
    ret = bdrv_check(bs, &result, fix | map,
                     progress ? print_progress : NULL, &local_err);
    if (progress) {
        end_progress();
    }
    if (ret == -ENOTSUP && !local_err) {
        error_report("This image format does not support checks");
        bdrv_unref(bs);
        return CHECK_EXIT_UNSUPPORTED;
    }
    if (ret == 0 && (result.corruptions_fixed || result.leaks_fixed)) {
        int64_t leaks_fixed = result.leaks_fixed;
        int64_t corruptions_fixed = result.corruptions_fixed;

        if (ofmt == OFORMAT_HUMAN && !quiet) {
            printf("The following inconsistencies were found and repaired:"
                   "\n\n    %" PRId64 " leaked clusters\n    %" PRId64
                   " corruptions\n\nDouble checking the fixed image now..."
                   "\n", leaks_fixed, corruptions_fixed);
        }
        /* The result reported, map included, is the state after repair. */
        qapi_free_Qcow2Metadata(result.metadata);
        ret = bdrv_check(bs, &result, map, NULL, &local_err);
        result.leaks_fixed = leaks_fixed;
        result.corruptions_fixed = corruptions_fixed;
    }
    check = image_check_new(bs, &result);
    bdrv_unref(bs);
    /*
     * A completed check is shown even when it had internal errors; with
     * -M, also one that failed, for the map of what could be located.
     */
    if (ret == 0 || check->has_viscera) {
        if (ofmt == OFORMAT_JSON) {
            /* -q silences JSON too, as in 7.2. */
            if (!quiet) {
                dump_json_image_check(check);
            }
        } else {
            dump_human_image_check(check, quiet);
        }
    }
    if (ret < 0 || result.check_errors) {
        /*
         * -M: the map first, also when both go to one pipe (7.2 has no
         * -M, and its order for the rest is kept: stdout at exit).
         */
        if (dump_meta) {
            fflush(stdout);
        }
        if (local_err) {
            error_report("Check failed: %s", error_get_pretty(local_err));
            error_free(local_err);
        } else if (ret < 0) {
            error_report("Check failed: %s", g_strerror(-ret));
        } else {
            error_report("Check failed");
        }
        return CHECK_EXIT_FAILED;
    }
    ret = check_exit_code(check);
    if (dump_meta && result.metadata_too_large) {
        /* The check is complete; what -M asked for is not there. */
        fflush(stdout);
        error_report("No metadata map: it would hold more than %" PRIu64
                     " table entries, more than the tables of a consistent "
                     "image of this size have (they overlap or lie past the "
                     "end of the file)", result.metadata_too_large);
        return CHECK_EXIT_FAILED;
    }
    if (check->has_viscera) {
        /*
         * The map of a large image has hundreds of thousands of small
         * nodes; the process ends now, so they are kept (reachable) rather
         * than freed one by one.
         */
        kept_until_exit = g_steal_pointer(&check);
    }
    return ret;
}
