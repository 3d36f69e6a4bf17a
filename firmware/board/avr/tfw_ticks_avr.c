/* The timer of the AVR boards (Uno, Mega 2560): Timer1 counting CPU clock cycles (prescaler 1), its
 * overflows counted by an interrupt, so `ticks` are exact clock cycles, on the chip and in simavr alike
 * (the board's tick_hz is its f_cpu). Replaces the Arduino folder's micros(), which moves in steps of 4 us
 * (64 cycles) at 16 MHz. The Arduino core sets Timer1 up for PWM (analogWrite on pins 9 and 10); tinyml-fw's
 * firmware does not use PWM, so the first reading takes the timer over. */
#include <avr/interrupt.h>
#include <avr/io.h>

#include "tfw_board.h"

static volatile uint32_t s_overflows;

ISR(TIMER1_OVF_vect) { ++s_overflows; }

uint64_t tfw_board_ticks(void) {
  static uint8_t started;
  uint8_t sreg;
  uint16_t low;
  uint32_t high;
  if (!started) {
    TCCR1B = 0; /* stop while it is set up */
    TCCR1A = 0; /* normal mode: counts 0 … 0xFFFF and overflows */
    TCNT1 = 0;
    TIFR1 = _BV(TOV1);
    TIMSK1 = _BV(TOIE1);
    TCCR1B = _BV(CS10); /* clk/1 */
    started = 1;
  }
  sreg = SREG;
  cli();
  low = TCNT1;
  high = s_overflows;
  /* An overflow not yet served: the count wrapped before TCNT1 was read when TCNT1 is small. */
  if ((TIFR1 & _BV(TOV1)) && low < 0x8000u) ++high;
  SREG = sreg;
  return ((uint64_t)high << 16) | low;
}
