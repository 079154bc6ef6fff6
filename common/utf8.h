/*
 * common/utf8.h — UTF-8 well-formedness (RFC 3629), for close reasons
 * (RFC 6455 §5.5.1) and for escaping text in JSON output.
 */
#ifndef WSSTATS_UTF8_H
#define WSSTATS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed sequence at s (1-4), or 0 if it is not one. */
size_t utf8_sequence(const uint8_t *s, size_t len);

/* True if s[0..len) is well-formed UTF-8. */
bool utf8_valid(const uint8_t *s, size_t len);

#endif
