/*
 * common/ipaddr.h — the text form of an IP address, the contract between
 * the daemon, which writes addresses into records, and the CLI, which
 * matches what a user typed against them.
 *
 * Addresses are held as 16 bytes, IPv4 v4-mapped (::ffff:a.b.c.d). Their
 * text is inet_ntop()'s: dotted quad for IPv4 and v4-mapped IPv6 alike,
 * RFC 5952's canonical form for the rest ("::1", "2001:db8::1").
 */
#ifndef WSSTATS_IPADDR_H
#define WSSTATS_IPADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* The text of a 16-byte address. */
void ipaddr_format(const uint8_t addr[16], char out[IPADDR_TEXT_MAX]);

/* The address in [s, s+len), IPv4 or IPv6 in any form inet_pton takes, in
 * the text form above ("::0001" -> "::1", "::ffff:10.0.0.1" -> "10.0.0.1");
 * false if it is no address or out is too small. */
bool ipaddr_normalise(const char *s, size_t len, char *out, size_t outlen);

#endif
