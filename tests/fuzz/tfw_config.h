/* Build settings of the device code compiled for the host (tests and fuzzer): what a generated project's
 * src/model/tfw_config.h holds for a real board. */
#ifndef TFW_CONFIG_H
#define TFW_CONFIG_H

#define TFW_BOARD_ID "host"
#define TFW_TOOLKIT_VERSION "test"
#define TFW_TICK_HZ 1000000u /* the fake board's timer: 1 tick = 1 us */
#define TFW_RX_MAX 256u
#define TFW_PROFILE_LAYERS 2u /* fake_board.h: FAKE_LAYERS */

#endif /* TFW_CONFIG_H */
