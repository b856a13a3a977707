/*
 * Size formatting/parsing, option strings and path helpers.
 */
#include "qemu/cutils.h"
#include "qapi/error.h"

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

/* C's isspace() in the C locale; GLib's set lacks the vertical tab. */
static bool is_c_space(char c)
{
    return c && strchr(" \t\n\v\f\r", c);
}

/*
 * Decimal or hexadecimal digits into *@val; false on overflow, the
 * digits being consumed all the same.
 */
static bool parse_uint_digits(const char **p, int base, uint64_t *val)
{
    bool ok = true;

    *val = 0;
    for (;; (*p)++) {
        int d = g_ascii_xdigit_value(**p);
        if (d < 0 || (base == 10 && !g_ascii_isdigit(**p))) {
            break;
        }
        if (*val > (UINT64_MAX - d) / base) {
            ok = false;
        }
        *val = *val * base + d;
    }
    return ok;
}

int qemu_strtosz(const char *str, uint64_t *result)
{
    const char *p = str, *digits;
    const char *suffixes = "bkmgtpe";
    uint64_t val, mul = 1, frac_part;
    double fraction = 0;
    bool hex = false;

    while (is_c_space(*p)) {
        p++;
    }
    if (*p == '-') {
        return -EINVAL;
    }
    if (*p == '+') {
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        g_ascii_isxdigit(p[2])) {
        hex = true;
        p += 2;
    }
    digits = p;
    if (!parse_uint_digits(&p, hex ? 16 : 10, &val)) {
        /* Too many digits: too large alone, malformed with a tail. */
        return *p ? -EINVAL : -ERANGE;
    }
    if (p == digits) {
        return -EINVAL;
    }
    if (*p == '.') {
        g_autoptr(GString) f = g_string_new("0.");
        if (hex) {
            return -EINVAL;
        }
        for (p++; g_ascii_isdigit(*p); p++) {
            g_string_append_c(f, *p);
        }
        fraction = g_ascii_strtod(f->str, NULL);
        /* Digits that round up to a whole unit are dropped, as 7.2 does. */
        if (fraction >= 1.0) {
            fraction = 0;
        }
    }
    if (*p) {
        const char *s = strchr(suffixes, g_ascii_tolower(*p));
        if (!s) {
            return -EINVAL;
        }
        for (int i = 0; i < s - suffixes; i++) {
            mul *= 1024;
        }
        p++;
        /* 7.2 warns as soon as it sees the suffix, even if more fails. */
        if (hex) {
            warn_report("Using a multiplier suffix on hex numbers is "
                        "deprecated: %s", str);
        }
    }
    if (*p || (fraction > 0 && mul == 1)) {
        return -EINVAL;
    }
    frac_part = (uint64_t)(fraction * (double)mul + 0.5);
    if (val > (UINT64_MAX - frac_part) / mul) {
        return -ERANGE;
    }
    *result = val * mul + frac_part;
    return 0;
}

const char *keyval_next(const char *p, GString *key, GString *value,
                        bool *has_value)
{
    GString *cur = key;

    g_string_truncate(key, 0);
    g_string_truncate(value, 0);
    *has_value = false;
    for (; *p; p++) {
        if (*p == ',') {
            if (p[1] != ',') {
                return p + 1;
            }
            p++;
        } else if (*p == '=' && !*has_value) {
            *has_value = true;
            cur = value;
            continue;
        }
        g_string_append_c(cur, *p);
    }
    return p;
}

bool object_option_check(const char *optarg, Error **errp)
{
    size_t len = strcspn(optarg, ",");

    if (len != strlen("secret") || strncmp(optarg, "secret", len)) {
        error_setg(errp, "Parameter 'qom-type' does not accept value '%.*s'",
                   (int)len, optarg);
        return false;
    }
    return true;
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
