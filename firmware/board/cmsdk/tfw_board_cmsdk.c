/* tfw_board.h for boards with an Arm CMSDK APB UART and the Cortex-M SysTick
 * (the MPS2 FPGA images, QEMU's mps2-an385/an386/an500).
 *
 * Build-time settings (-D from the board manifest's "tinyml" data):
 *   TFW_UART_BASE  base address of the CMSDK UART used as the serial port (required)
 *   TFW_UART_BAUD  baud rate (default 115200; QEMU ignores it)
 *   F_CPU          processor clock in Hz (the tinyml-arm platform defines it)
 *
 * Timer: SysTick runs from the processor clock, free-running with the largest
 * reload (0xFFFFFF, a period of 2^24 ticks); its interrupt counts the wraps,
 * so tfw_board_ticks() is a monotonic 64-bit count of processor clock ticks. */
#include <stdint.h>

#include "tfw_board.h"

#ifndef TFW_UART_BASE
#error "TFW_UART_BASE (CMSDK UART base address) must be defined, e.g. -DTFW_UART_BASE=0x40004000"
#endif
#ifndef TFW_UART_BAUD
#define TFW_UART_BAUD 115200
#endif
#ifndef F_CPU
#define F_CPU 25000000L
#endif

/* CMSDK APB UART registers. */
#define TFW_UART_REG(offset) (*(volatile uint32_t *)((uintptr_t)(TFW_UART_BASE) + (offset)))
#define TFW_UART_DATA TFW_UART_REG(0x00u)
#define TFW_UART_STATE TFW_UART_REG(0x04u)
#define TFW_UART_CTRL TFW_UART_REG(0x08u)
#define TFW_UART_BAUDDIV TFW_UART_REG(0x10u)
#define TFW_UART_STATE_TX_FULL 0x1u
#define TFW_UART_STATE_RX_FULL 0x2u
#define TFW_UART_CTRL_TX_EN 0x1u
#define TFW_UART_CTRL_RX_EN 0x2u

/* SysTick and the System Control Block. */
#define TFW_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define TFW_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define TFW_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define TFW_SYST_CSR_ENABLE 0x1u
#define TFW_SYST_CSR_TICKINT 0x2u
#define TFW_SYST_CSR_CLKSOURCE 0x4u /* processor clock */
#define TFW_SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define TFW_SCB_ICSR_PENDSTSET (1u << 26)

#define TFW_SYSTICK_RELOAD 0xFFFFFFu
#define TFW_SYSTICK_BITS 24u

void SysTick_Handler(void);

static volatile uint32_t s_systick_wraps;

void SysTick_Handler(void) { s_systick_wraps = s_systick_wraps + 1u; }

void tfw_board_init(void) {
  uint32_t divider = (uint32_t)((F_CPU) / (TFW_UART_BAUD));
  if (divider < 16u) {
    divider = 16u; /* the smallest divider the CMSDK UART accepts */
  }
  TFW_UART_CTRL = 0u;
  TFW_UART_BAUDDIV = divider;
  TFW_UART_CTRL = TFW_UART_CTRL_TX_EN | TFW_UART_CTRL_RX_EN;

  TFW_SYST_CSR = 0u;
  s_systick_wraps = 0u;
  TFW_SYST_RVR = TFW_SYSTICK_RELOAD;
  TFW_SYST_CVR = 0u; /* any write clears the counter: it reloads on the next tick */
  TFW_SYST_CSR = TFW_SYST_CSR_CLKSOURCE | TFW_SYST_CSR_TICKINT | TFW_SYST_CSR_ENABLE;
}

void tfw_board_putc(uint8_t byte) {
  while (TFW_UART_STATE & TFW_UART_STATE_TX_FULL) {
  }
  TFW_UART_DATA = byte;
}

int tfw_board_getc(void) {
  if (TFW_UART_STATE & TFW_UART_STATE_RX_FULL) {
    return (int)(TFW_UART_DATA & 0xFFu);
  }
  return -1;
}

uint64_t tfw_board_ticks(void) {
  uint32_t wraps;
  uint32_t current;
  uint32_t before;
  do {
    before = s_systick_wraps;
    wraps = before;
    current = TFW_SYST_CVR;
    if (TFW_SCB_ICSR & TFW_SCB_ICSR_PENDSTSET) {
      /* Wrapped but the interrupt has not run yet (e.g. interrupts masked):
       * count the wrap ourselves and read the counter again after it. */
      current = TFW_SYST_CVR;
      wraps += 1u;
    }
  } while (before != s_systick_wraps); /* the handler ran meanwhile: retry */
  /* One period is RELOAD + 1 counts: RELOAD, ..., 1, 0, and the wrap is counted
   * when the counter reaches 0, so 0 is the start of a period, RELOAD the first
   * count into it and 1 its last. */
  uint32_t phase = (TFW_SYSTICK_RELOAD + 1u - (current & TFW_SYSTICK_RELOAD)) & TFW_SYSTICK_RELOAD;
  return ((uint64_t)wraps << TFW_SYSTICK_BITS) | (uint64_t)phase;
}
