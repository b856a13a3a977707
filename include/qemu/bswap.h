/*
 * Explicit big-endian loads and stores: on-disk structures are never
 * cast over buffers, so parsing does not depend on host byte order or
 * struct packing.
 */
#ifndef QEMU_BSWAP_H
#define QEMU_BSWAP_H

#include "qemu/osdep.h"

static inline uint16_t lduw_be_p(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t ldl_be_p(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
           (uint32_t)b[2] << 8 | b[3];
}

static inline uint64_t ldq_be_p(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)ldl_be_p(b) << 32 | ldl_be_p(b + 4);
}

static inline uint16_t lduw_le_p(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[1] << 8 | b[0]);
}

static inline uint32_t ldl_le_p(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 |
           (uint32_t)b[1] << 8 | b[0];
}

static inline void stw_be_p(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = v >> 8;
    b[1] = v;
}

static inline void stl_be_p(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = v >> 24;
    b[1] = v >> 16;
    b[2] = v >> 8;
    b[3] = v;
}

static inline void stq_be_p(void *p, uint64_t v)
{
    stl_be_p(p, v >> 32);
    stl_be_p((uint8_t *)p + 4, (uint32_t)v);
}

#endif
