/* The main loop on the Arduino framework, whose core owns main(): setup() and loop() do what
 * firmware/app/tfw_app.c's main() does on bare-metal boards (that file is left out of Arduino projects).
 * loop() returns after each byte so the core can run its own work (USB, watchdogs) in between. */
#include <Arduino.h>

#include "tfw_board.h"
#include "tfw_config.h"

extern "C" {
#include "tfw_device.h"
}

#ifndef TFW_RX_MAX
#define TFW_RX_MAX 256u
#endif

static uint8_t s_rx[TFW_RX_MAX];
static TfwDevice s_device;

void setup() {
  tfw_board_init();
  tfw_device_init(&s_device, s_rx, TFW_RX_MAX);
  tfw_device_boot(&s_device);
}

void loop() {
  const int c = tfw_board_getc();
  if (c < 0) {
    tfw_device_idle(&s_device);
  } else {
    tfw_device_feed(&s_device, (uint8_t)c);
  }
}
