/* tfw_board.h for boards on the Arduino framework (Nano 33 BLE, ESP32, Nucleo, Pico, Uno, Mega): the
 * Arduino core's Serial as the serial port and micros() as the timer.
 *
 * Build-time settings (from tfw_config.h, rendered from the board's data):
 *   TFW_SERIAL_BAUD     the link's speed (native USB ports ignore it)
 *   TFW_SERIAL_WAIT_MS  how long boot waits for the host to open a native USB port (default 2000)
 *
 * Output is gathered in a small buffer and written when it is full or when the device next looks for
 * input (tfw_board_getc): a reply goes out in a few USB packets instead of one per byte. */
#include <Arduino.h>

#include "tfw_board.h"
#include "tfw_config.h"

#ifndef TFW_SERIAL_BAUD
#define TFW_SERIAL_BAUD 115200
#endif
#ifndef TFW_SERIAL_WAIT_MS
#define TFW_SERIAL_WAIT_MS 2000u
#endif
#ifndef TFW_TX_BUFFER
#define TFW_TX_BUFFER 64u
#endif

static uint8_t s_tx[TFW_TX_BUFFER];
static size_t s_tx_len;
static bool s_waited;

static void flush_tx(void) {
  if (s_tx_len > 0) {
    Serial.write(s_tx, s_tx_len);
    s_tx_len = 0;
  }
}

/* Also called again by the TFLM application after the TFLM library's InitializeTarget(), which opens
 * Serial at its own speed (9600 baud in the Arduino TFLM libraries): this sets the link's speed back. */
void tfw_board_init(void) {
  flush_tx();
  Serial.begin(TFW_SERIAL_BAUD);
  if (!s_waited) {
    /* Native USB: Serial is true once the host opened the port; output before that is lost. The host
     * asks for INFO anyway (HELLO), so the wait is bounded. UART boards are true at once. */
    const unsigned long start = millis();
    while (!Serial && millis() - start < TFW_SERIAL_WAIT_MS) {
    }
    s_waited = true;
  }
}

void tfw_board_putc(uint8_t byte) {
  s_tx[s_tx_len++] = byte;
  if (s_tx_len == sizeof s_tx) flush_tx();
}

int tfw_board_getc(void) {
  flush_tx(); /* the device waits for input: everything it said must be on its way */
  return Serial.available() > 0 ? Serial.read() : -1;
}

/* micros() wraps every 2^32 us (71 minutes); the protocol reads the timer often enough to see each wrap.
 * Weak: a board folder with an exact cycle counter replaces it (firmware/board/avr). */
__attribute__((weak)) uint64_t tfw_board_ticks(void) {
  static uint32_t last;
  static uint64_t high;
  const uint32_t now = (uint32_t)micros();
  if (now < last) high += (uint64_t)1 << 32;
  last = now;
  return high | now;
}

/* The Arduino cores' linker scripts name their sections differently: 0 = not known on the device (the
 * host has the ELF's sizes). */
uint32_t tfw_board_flash_bytes(void) { return 0; }

uint32_t tfw_board_ram_bytes(void) { return 0; }

/* The Arduino cores' start-up code does not paint the stack: unknown. */
uint32_t tfw_board_stack_bytes(void) { return 0; }

uint32_t tfw_board_stack_used(void) { return 0; }
