/*
 * Small string helpers shared by the tools.
 */
#ifndef QEMU_CUTILS_H
#define QEMU_CUTILS_H

#include "qemu/osdep.h"
#include "qapi/error.h"

/*
 * Human-readable size with IEC prefixes, as qemu-img prints it:
 * three significant digits ("%0.3g"), e.g. "2.19 MiB", "0 B".
 */
char *size_to_str(uint64_t val);

/*
 * A size as every QEMU 7.2 tool parses one (qemu-img's size arguments
 * and size options, qemu-io's numbers): decimal or 0x hexadecimal, a
 * decimal fraction only with a suffix, an optional suffix b, k, M, G,
 * T, P or E (powers of 1024, any case).  Exact to the byte up to
 * 2^64 - 1; callers apply their own upper limits.  A suffix on a hex
 * number draws 7.2's deprecation warning.  Returns 0, or -EINVAL for
 * a malformed string and -ERANGE for one too large.
 */
int qemu_strtosz(const char *str, uint64_t *result);

/*
 * Splits the next element off an option string "key=value,key2=value2"
 * as --image-opts, -o and qemu-io's open -o take it: ",," is a literal
 * comma, the first '=' ends the key.  Fills @key and @value (emptied
 * first), sets *@has_value when there was an '=', and returns where the
 * next element starts (the final NUL after the last).
 */
const char *keyval_next(const char *p, GString *key, GString *value,
                        bool *has_value);

/*
 * --object TYPE,...: only 'secret' objects (LUKS keys) exist in these
 * tools; any other type is refused in 7.2's words.
 */
bool object_option_check(const char *optarg, Error **errp);

/* True when @path is absolute. */
bool path_is_absolute(const char *path);

/*
 * Resolve @name relative to the directory of @base (used for backing
 * file names): absolute names and bases without a directory are
 * returned as they are.
 */
char *path_combine(const char *base, const char *name);

#endif
