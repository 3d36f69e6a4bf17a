/* The board's main loop: bytes from the serial port to the protocol (tfw_device.c), which answers. */
#include <stdint.h>

#include "tfw_board.h"
#include "tfw_config.h"
#include "tfw_device.h"

#ifndef TFW_RX_MAX
#define TFW_RX_MAX 256u /* receive buffer: what one INFER frame may carry */
#endif

static uint8_t g_rx[TFW_RX_MAX];
static TfwDevice g_device;

int main(void) {
  tfw_board_init();
  tfw_device_init(&g_device, g_rx, TFW_RX_MAX);
  tfw_device_boot(&g_device);
  for (;;) {
    const int c = tfw_board_getc();
    if (c < 0) {
      tfw_device_idle(&g_device);
    } else {
      tfw_device_feed(&g_device, (uint8_t)c);
    }
  }
}
