/*
 * tests/ndpi/api-shim/ndpi/ndpi_api.h — a stand-in for newer nDPI headers,
 * for tests/ndpi/api-check.sh only.
 *
 * It includes Debian's nDPI 4.2 header with the four calls whose
 * signatures changed after 4.4 renamed out of the way, and declares them
 * again as the newer releases have them (SHIM_VER = major*100 + minor):
 *   4.6+  ndpi_detection_process_packet(..., const struct ndpi_flow_input_info *)
 *         ndpi_detection_giveup(module, flow, u_int8_t *protocol_was_guessed)
 *         int ndpi_finalize_initialization(module)
 *   4.10+ ndpi_init_detection_module(struct ndpi_global_context *)
 * so app/dpi.c's branches for those releases are compiled
 * (-fsyntax-only) against the calls they make.
 */
#define ndpi_detection_process_packet ndpi42_detection_process_packet
#define ndpi_detection_giveup ndpi42_detection_giveup
#define ndpi_init_detection_module ndpi42_init_detection_module
#define ndpi_finalize_initialization ndpi42_finalize_initialization
#include "/usr/include/ndpi/ndpi_api.h"
#undef ndpi_detection_process_packet
#undef ndpi_detection_giveup
#undef ndpi_init_detection_module
#undef ndpi_finalize_initialization

struct ndpi_flow_input_info;
struct ndpi_global_context;

ndpi_protocol ndpi_detection_process_packet(struct ndpi_detection_module_struct *ndpi_struct,
                                            struct ndpi_flow_struct *flow, const unsigned char *packet,
                                            const unsigned short packetlen, const u_int64_t packet_time_ms,
                                            const struct ndpi_flow_input_info *input_info);
ndpi_protocol ndpi_detection_giveup(struct ndpi_detection_module_struct *ndpi_struct,
                                    struct ndpi_flow_struct *flow, u_int8_t *protocol_was_guessed);
int ndpi_finalize_initialization(struct ndpi_detection_module_struct *ndpi_str);
#if SHIM_VER >= 410
struct ndpi_detection_module_struct *ndpi_init_detection_module(struct ndpi_global_context *g_ctx);
#else
struct ndpi_detection_module_struct *ndpi_init_detection_module(ndpi_init_prefs prefs);
#endif
