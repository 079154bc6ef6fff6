/*
 * model/codes.c — the WebSocket close-code registry (docs/design.md §3).
 *
 * RFC 6455 §7.4.1 defines 1000-1011 (1004-1006 and 1015 reserved, never to be
 * sent); IANA's registry adds 1012 Service Restart, 1013 Try Again Later and
 * 1014 Bad Gateway; §7.4.2 reserves 0-999 (unused), 1016-2999 (for the
 * protocol), 3000-3999 (registered by libraries) and 4000-4999 (private use).
 */
#include "codes.h"

#include <stddef.h>

static const struct close_code_info registry[] = {
    {0, 999, "Not Used", "Not used; never valid in a close frame.", false},
    {1000, 1000, "Normal Closure", "The purpose for which the connection was established has been fulfilled.", true},
    {1001, 1001, "Going Away", "An endpoint is going away: a server going down or a browser navigating away.", true},
    {1002, 1002, "Protocol Error", "An endpoint is terminating the connection due to a protocol error.", true},
    {1003, 1003, "Unsupported Data", "An endpoint received a type of data it cannot accept (e.g. binary for a text-only endpoint).", true},
    {1004, 1004, "Reserved", "Reserved; a meaning might be defined in the future. Never valid in a close frame.", false},
    {1005, 1005, "No Status Received", "No status code was present in the close frame (empty payload). Never on the wire.", false},
    {1006, 1006, "Abnormal Closure", "The connection closed without a close frame (TCP FIN or RST). Synthesised, never on the wire.", false},
    {1007, 1007, "Invalid Frame Payload Data", "An endpoint received data inconsistent with the message type (e.g. non-UTF-8 text).", true},
    {1008, 1008, "Policy Violation", "An endpoint received a message that violates its policy.", true},
    {1009, 1009, "Message Too Big", "An endpoint received a message too big to process.", true},
    {1010, 1010, "Mandatory Extension", "The client expected the server to negotiate an extension it did not.", true},
    {1011, 1011, "Internal Error", "The server encountered an unexpected condition that prevented it from fulfilling the request.", true},
    {1012, 1012, "Service Restart", "The server is restarting.", true},
    {1013, 1013, "Try Again Later", "The server is overloaded or in a temporary condition; try again later.", true},
    {1014, 1014, "Bad Gateway", "A gateway or proxy received an invalid response from the upstream server.", true},
    {1015, 1015, "TLS Handshake", "The TLS handshake failed. Never valid in a close frame.", false},
    {1016, 2999, "Reserved for the WebSocket protocol", "Reserved for future revisions of the protocol and for extensions. Not valid in a close frame.", false},
    {3000, 3999, "Registered (libraries, frameworks)", "Registered with IANA for libraries, frameworks and applications; meaning defined by them.", true},
    {4000, 4999, "Private Use", "Private use by agreement between the applications.", true},
};

const struct close_code_info *close_code_lookup(int code)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (code >= registry[i].lo && code <= registry[i].hi)
            return &registry[i];
    return NULL;
}

const char *close_code_name(int code)
{
    const struct close_code_info *info = close_code_lookup(code);
    return info ? info->name : "Invalid";
}

bool close_code_may_be_sent(int code)
{
    const struct close_code_info *info = close_code_lookup(code);
    return info && info->may_be_sent;
}

const struct close_code_info *close_code_table(int *count)
{
    *count = (int)(sizeof registry / sizeof registry[0]);
    return registry;
}
