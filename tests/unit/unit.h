/*
 * tests/unit/unit.h — what every unit test file includes: cmocka (with the
 * headers it needs first) and RUN_TESTS(), which switches cmocka to TAP
 * output ("ok N - name" / "not ok N - name") for the project's aggregator.
 */
#ifndef WSSTATS_UNIT_H
#define WSSTATS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define RUN_TESTS(tests)                                   \
    do {                                                   \
        cmocka_set_message_output(CM_OUTPUT_TAP);          \
        return cmocka_run_group_tests(tests, NULL, NULL);  \
    } while (0)

/* A string literal with its length (without the terminating NUL). */
#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

#endif
