/*
 * common/ipaddr.c — the text form of an IP address (see ipaddr.h).
 */
#include "ipaddr.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool format_into(const uint8_t addr[16], char *out, size_t outlen)
{
    if (memcmp(addr, v4mapped, sizeof v4mapped) == 0)
        return inet_ntop(AF_INET, addr + 12, out, (socklen_t)outlen) != NULL;
    return inet_ntop(AF_INET6, addr, out, (socklen_t)outlen) != NULL;
}

void ipaddr_format(const uint8_t addr[16], char out[IPADDR_TEXT_MAX])
{
    format_into(addr, out, IPADDR_TEXT_MAX);
}

bool ipaddr_normalise(const char *s, size_t len, char *out, size_t outlen)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    uint8_t a[16];
    if (inet_pton(AF_INET, buf, a + 12) == 1) {
        memcpy(a, v4mapped, sizeof v4mapped);
        return format_into(a, out, outlen);
    }
    return inet_pton(AF_INET6, buf, a) == 1 && format_into(a, out, outlen);
}
