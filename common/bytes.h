/*
 * common/bytes.h — bounds-checked reads of untrusted packet bytes.
 *
 * Every packet byte the daemon looks at goes through these helpers, in
 * the manner of tcpdump's extract.h: the caller names the buffer, its length
 * and the offset, and gets false instead of a read past the end. Multi-byte
 * values are read in network byte order one byte at a time, so no packed or
 * cast-to-host structs are ever laid over packet memory.
 */
#ifndef WSSTATS_BYTES_H
#define WSSTATS_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when [off, off+n) lies inside a buffer of len bytes (overflow-safe). */
static inline bool bytes_have(size_t len, size_t off, size_t n)
{
    return off <= len && n <= len - off;
}

static inline bool bytes_u8(const uint8_t *p, size_t len, size_t off, uint8_t *out)
{
    if (!bytes_have(len, off, 1))
        return false;
    *out = p[off];
    return true;
}

static inline bool bytes_be16(const uint8_t *p, size_t len, size_t off, uint16_t *out)
{
    if (!bytes_have(len, off, 2))
        return false;
    *out = (uint16_t)((unsigned)p[off] << 8 | p[off + 1]);
    return true;
}

static inline bool bytes_be32(const uint8_t *p, size_t len, size_t off, uint32_t *out)
{
    if (!bytes_have(len, off, 4))
        return false;
    *out = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
           (uint32_t)p[off + 2] << 8 | (uint32_t)p[off + 3];
    return true;
}

/* Host-order 32-bit read, for BSD loopback (DLT_NULL) headers. */
static inline bool bytes_le32(const uint8_t *p, size_t len, size_t off, uint32_t *out)
{
    if (!bytes_have(len, off, 4))
        return false;
    *out = (uint32_t)p[off + 3] << 24 | (uint32_t)p[off + 2] << 16 |
           (uint32_t)p[off + 1] << 8 | (uint32_t)p[off];
    return true;
}

/* Reads inside a range the caller has already checked with bytes_have():
 * the fixed part of a header is checked once, then its fields are read. */
static inline uint16_t bytes_be16_at(const uint8_t *p, size_t off)
{
    return (uint16_t)((unsigned)p[off] << 8 | p[off + 1]);
}

static inline uint32_t bytes_be32_at(const uint8_t *p, size_t off)
{
    return (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | (uint32_t)p[off + 2] << 8 | (uint32_t)p[off + 3];
}

/* Big-endian read of n <= 8 bytes into a 64-bit value. */
static inline bool bytes_be_n(const uint8_t *p, size_t len, size_t off, size_t n, uint64_t *out)
{
    if (n > 8 || !bytes_have(len, off, n))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[off + i];
    *out = v;
    return true;
}

#endif
