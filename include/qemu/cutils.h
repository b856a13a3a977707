/*
 * Small string helpers shared by the tools.
 */
#ifndef QEMU_CUTILS_H
#define QEMU_CUTILS_H

#include "qemu/osdep.h"

/*
 * Human-readable size with IEC prefixes, as qemu-img prints it:
 * three significant digits ("%0.3g"), e.g. "2.19 MiB", "0 B".
 */
char *size_to_str(uint64_t val);

/*
 * Parse a size with an optional suffix (b, k/K, M, G, T, P, E; powers
 * of 1024; a bare number is bytes).  Returns 0, or -EINVAL for a
 * malformed string and -ERANGE when it does not fit in 63 bits.
 */
int qemu_strtosz(const char *str, uint64_t *result);

/* True when @path is absolute. */
bool path_is_absolute(const char *path);

/*
 * Resolve @name relative to the directory of @base (used for backing
 * file names): absolute names and bases without a directory are
 * returned as they are.
 */
char *path_combine(const char *base, const char *name);

#endif
