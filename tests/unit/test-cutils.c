/*
 * Size formatting and parsing, path combination.
 */
#include "qemu/cutils.h"

static void test_size_to_str(void)
{
    static const struct {
        uint64_t in;
        const char *out;
    } cases[] = {
        { 0, "0 B" },
        { 999, "999 B" },
        { 1000, "0.977 KiB" },
        { 4096, "4 KiB" },
        { 229376, "224 KiB" },
        { 2297856, "2.19 MiB" },
        { 10485760, "10 MiB" },
        { 1073741824, "1 GiB" },
        { 4ull << 40, "4 TiB" },
        { UINT64_MAX, "16 EiB" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = size_to_str(cases[i].in);
        g_assert_cmpstr(s, ==, cases[i].out);
    }
}

static void test_strtosz(void)
{
    uint64_t v;

    g_assert_cmpint(qemu_strtosz("10M", &v), ==, 0);
    g_assert_cmpuint(v, ==, 10 << 20);
    g_assert_cmpint(qemu_strtosz("512", &v), ==, 0);
    g_assert_cmpuint(v, ==, 512);
    g_assert_cmpint(qemu_strtosz("1.5k", &v), ==, 0);
    g_assert_cmpuint(v, ==, 1536);
    g_assert_cmpint(qemu_strtosz("4T", &v), ==, 0);
    g_assert_cmpuint(v, ==, 4ull << 40);
    /* Exact to 2^64 - 1: the callers apply their own limits. */
    g_assert_cmpint(qemu_strtosz("8E", &v), ==, 0);
    g_assert_cmpuint(v, ==, 1ull << 63);
    g_assert_cmpint(qemu_strtosz("9223372036854775807", &v), ==, 0);
    g_assert_cmpuint(v, ==, INT64_MAX);
    g_assert_cmpint(qemu_strtosz("0x10b", &v), ==, 0);
    g_assert_cmpuint(v, ==, 0x10b);
    g_assert_cmpint(qemu_strtosz("16E", &v), ==, -ERANGE);
    g_assert_cmpint(qemu_strtosz("18446744073709551616", &v), ==, -ERANGE);
    /* Too many digits and a tail: malformed, as in 7.2. */
    g_assert_cmpint(qemu_strtosz("18446744073709551616k", &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtosz("-1", &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtosz("12Q", &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtosz("", &v), ==, -EINVAL);
}

static void test_path_combine(void)
{
    static const struct {
        const char *base, *name, *out;
    } cases[] = {
        { "a.qcow2", "b.qcow2", "b.qcow2" },
        { "dir/a.qcow2", "b.qcow2", "dir/b.qcow2" },
        { "/x/y/a", "../b", "/x/y/../b" },
        { "dir/a", "/abs/b", "/abs/b" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = path_combine(cases[i].base, cases[i].name);
        g_assert_cmpstr(s, ==, cases[i].out);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cutils/size_to_str", test_size_to_str);
    g_test_add_func("/cutils/strtosz", test_strtosz);
    g_test_add_func("/cutils/path_combine", test_path_combine);
    return g_test_run();
}
