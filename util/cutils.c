/*
 * Size formatting/parsing and path helpers.
 */
#include <math.h>
#include "qemu/cutils.h"

char *size_to_str(uint64_t val)
{
    static const char *const suffixes[] = {
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"
    };
    unsigned i = 0;
    double div = 1;

    /*
     * Move to the next unit once the value reaches 1000 of the current
     * one (not 1024), so that the printed number never needs a fourth
     * digit: 1000 KiB prints as "0.977 MiB", as qemu-img does.
     */
    while (i + 1 < ARRAY_SIZE(suffixes) &&
           (double)val / div >= 1000.0) {
        div *= 1024;
        i++;
    }
    return g_strdup_printf("%0.3g %sB", (double)val / div, suffixes[i]);
}

int qemu_strtosz(const char *str, uint64_t *result)
{
    char *end;
    double mul = 1;
    double val;
    const char *p = str;

    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (*p == '-' || !*p) {
        return -EINVAL;
    }
    errno = 0;
    val = g_ascii_strtod(p, &end);
    if (end == p || errno == ERANGE || !isfinite(val)) {
        return -EINVAL;
    }
    switch (*end) {
    case 'b': case 'B':
        end++;
        break;
    case 'k': case 'K':
        mul = 1024.0;
        end++;
        break;
    case 'm': case 'M':
        mul = 1024.0 * 1024;
        end++;
        break;
    case 'g': case 'G':
        mul = 1024.0 * 1024 * 1024;
        end++;
        break;
    case 't': case 'T':
        mul = 1024.0 * 1024 * 1024 * 1024;
        end++;
        break;
    case 'p': case 'P':
        mul = 1024.0 * 1024 * 1024 * 1024 * 1024;
        end++;
        break;
    case 'e': case 'E':
        mul = 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024;
        end++;
        break;
    }
    if (*end) {
        return -EINVAL;
    }
    val *= mul;
    if (val >= 0x1p63) {
        return -ERANGE;
    }
    *result = (uint64_t)val;
    return 0;
}

bool path_is_absolute(const char *path)
{
    return path[0] == '/';
}

char *path_combine(const char *base, const char *name)
{
    const char *slash;

    if (path_is_absolute(name) || !(slash = strrchr(base, '/'))) {
        return g_strdup(name);
    }
    return g_strdup_printf("%.*s%s", (int)(slash - base + 1), base, name);
}
