/*
 * common/mem.h — what a heap block costs, as every memcap counts it.
 *
 * The daemon's --memcap bounds flows, connection state, nDPI's state and
 * held out-of-order bytes together (docs/design.md, "Memory"). Each module
 * charges what it allocates by the same rule: the bytes asked for plus
 * malloc's own header, about 16 bytes a block on glibc's 64-bit malloc
 * (for one-byte segments held out of order, a third of the total).
 */
#ifndef WSSTATS_MEM_H
#define WSSTATS_MEM_H

#include <stddef.h>

#define MEM_BLOCK_OVERHEAD 16

/* The charge for one block of n bytes. */
static inline size_t mem_block(size_t n)
{
    return n + MEM_BLOCK_OVERHEAD;
}

#endif
