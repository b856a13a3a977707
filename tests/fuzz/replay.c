/*
 * Replays inputs through a fuzz target without libFuzzer: each argument
 * is a file, or a directory whose files (not recursively) are replayed
 * in name order.  Run under ASan+UBSan, a crash, sanitizer report or
 * leak fails the program; it prints one line per input it ran.
 */
#include "fuzz-common.h"

static int replay_file(const char *path)
{
    g_autofree char *data = NULL;
    gsize len;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        fprintf(stderr, "%s\n", err->message);
        return -1;
    }
    /* An exact copy, so that ASan sees any read past the input. */
    {
        g_autofree uint8_t *copy = g_malloc(len ? len : 1);

        memcpy(copy, data, len);

        printf("replay %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
        fflush(stdout);
        LLVMFuzzerTestOneInput(len ? copy : (const uint8_t *)"", len);
    }
    return 0;
}

static int name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *path, int *count)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) dir = g_dir_open(path, 0, &err);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    if (!dir) {
        fprintf(stderr, "%s\n", err->message);
        return -1;
    }
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(path, name, NULL);

        if (name[0] != '.' && g_file_test(p, G_FILE_TEST_IS_REGULAR)) {
            g_ptr_array_add(names, g_steal_pointer(&p));
        }
    }
    g_ptr_array_sort(names, name_cmp);
    for (guint i = 0; i < names->len; i++) {
        if (replay_file(names->pdata[i]) < 0) {
            return -1;
        }
        (*count)++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int count = 0;

    for (int i = 1; i < argc; i++) {
        int ret;

        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            ret = replay_dir(argv[i], &count);
        } else {
            ret = replay_file(argv[i]);
            count++;
        }
        if (ret < 0) {
            return 1;
        }
    }
    printf("%d inputs replayed\n", count);
    return 0;
}
