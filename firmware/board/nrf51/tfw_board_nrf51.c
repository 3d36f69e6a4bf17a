/* tfw_board.h for the Nordic nRF51 (BBC micro:bit, QEMU microbit): its UART, polled, and the Cortex-M0
 * SysTick as the tick counter.
 *
 * Build-time settings (-D from the board manifest's "tinyml" data):
 *   TFW_UART_BASE  base address of the nRF51 UART (required; 0x40002000)
 *   F_CPU          processor clock in Hz (the tinyml-arm platform defines it; 16 MHz)
 *
 * The UART is driven by tasks and events: STARTTX/STARTRX once, then a byte written to TXD is sent and
 * raises EVENTS_TXDRDY; a received byte raises EVENTS_RXDRDY and is read from RXD (clear the event
 * first: reading RXD raises it again while more bytes wait). The baud rate register takes the nRF51's
 * encoding (0x01D7E000 = 115200; QEMU ignores it). The pins are the micro:bit's USB serial lines. */
#include <stdint.h>

#include "tfw_board.h"

#ifndef TFW_UART_BASE
#error "TFW_UART_BASE (nRF51 UART base address) must be defined, e.g. -DTFW_UART_BASE=0x40002000"
#endif
#ifndef F_CPU
#define F_CPU 16000000L
#endif

#define TFW_UART_REG(offset) (*(volatile uint32_t *)((uintptr_t)(TFW_UART_BASE) + (offset)))
#define TFW_UART_TASKS_STARTRX TFW_UART_REG(0x000u)
#define TFW_UART_TASKS_STARTTX TFW_UART_REG(0x008u)
#define TFW_UART_EVENTS_RXDRDY TFW_UART_REG(0x108u)
#define TFW_UART_EVENTS_TXDRDY TFW_UART_REG(0x11Cu)
#define TFW_UART_ENABLE TFW_UART_REG(0x500u)
#define TFW_UART_PSELTXD TFW_UART_REG(0x50Cu)
#define TFW_UART_PSELRXD TFW_UART_REG(0x514u)
#define TFW_UART_RXD TFW_UART_REG(0x518u)
#define TFW_UART_TXD TFW_UART_REG(0x51Cu)
#define TFW_UART_BAUDRATE TFW_UART_REG(0x524u)
#define TFW_UART_ENABLE_ON 4u
#define TFW_UART_BAUD_115200 0x01D7E000u
#define TFW_MICROBIT_PIN_TX 24u
#define TFW_MICROBIT_PIN_RX 25u

/* SysTick (every Cortex-M0 of the nRF51 has it) and the System Control Block. */
#define TFW_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define TFW_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define TFW_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define TFW_SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define TFW_SYST_START 0x7u /* processor clock, interrupt on wrap, enabled */
#define TFW_ICSR_PENDSTSET (1u << 26)
#define TFW_SYSTICK_RELOAD 0xFFFFFFu
#define TFW_SYSTICK_BITS 24u

void SysTick_Handler(void);

static volatile uint32_t s_wraps;
static uint32_t s_tx_started;

void SysTick_Handler(void) { s_wraps = s_wraps + 1u; }

void tfw_board_init(void) {
  TFW_UART_ENABLE = 0u;
  TFW_UART_PSELTXD = TFW_MICROBIT_PIN_TX;
  TFW_UART_PSELRXD = TFW_MICROBIT_PIN_RX;
  TFW_UART_BAUDRATE = TFW_UART_BAUD_115200;
  TFW_UART_ENABLE = TFW_UART_ENABLE_ON;
  TFW_UART_EVENTS_RXDRDY = 0u;
  TFW_UART_EVENTS_TXDRDY = 0u;
  TFW_UART_TASKS_STARTRX = 1u;
  TFW_UART_TASKS_STARTTX = 1u;
  s_tx_started = 0u;

  TFW_SYST_CSR = 0u;
  s_wraps = 0u;
  TFW_SYST_RVR = TFW_SYSTICK_RELOAD;
  TFW_SYST_CVR = 0u;
  TFW_SYST_CSR = TFW_SYST_START;
}

void tfw_board_putc(uint8_t byte) {
  if (s_tx_started) {
    while (TFW_UART_EVENTS_TXDRDY == 0u) {
    }
  }
  TFW_UART_EVENTS_TXDRDY = 0u;
  TFW_UART_TXD = byte;
  s_tx_started = 1u;
}

int tfw_board_getc(void) {
  if (TFW_UART_EVENTS_RXDRDY == 0u) return -1;
  TFW_UART_EVENTS_RXDRDY = 0u;
  return (int)(TFW_UART_RXD & 0xFFu);
}

uint64_t tfw_board_ticks(void) {
  uint32_t wraps, current, before;
  do {
    before = s_wraps;
    wraps = before;
    current = TFW_SYST_CVR;
    if (TFW_SCB_ICSR & TFW_ICSR_PENDSTSET) { /* wrapped, interrupt not taken yet */
      current = TFW_SYST_CVR;
      wraps += 1u;
    }
  } while (before != s_wraps);
  /* The counter runs down from RELOAD and the wrap is counted at 0: the phase into the period. */
  {
    const uint32_t phase = (TFW_SYSTICK_RELOAD + 1u - (current & TFW_SYSTICK_RELOAD)) & TFW_SYSTICK_RELOAD;
    return ((uint64_t)wraps << TFW_SYSTICK_BITS) | (uint64_t)phase;
  }
}
