/* A board and a model for the host, to drive firmware/app/tfw_device.c without hardware: the serial
 * output is captured, the timer is set by the caller, and the model is a small known function. */
#ifndef FAKE_BOARD_H
#define FAKE_BOARD_H

#include <stddef.h>
#include <stdint.h>

#define FAKE_INPUT_BYTES 600u
#define FAKE_OUTPUT_BYTES 10u
#define FAKE_LAYERS 2u /* layer 0: the input as it is (600 bytes); layer 1: the model (its output) */
#define FAKE_LAYER_TICKS(k) (70u + 30u * (k)) /* the timer ticks layer k takes (a profile's figures) */

/* Fresh device state (as after a reset), cleared output, timer at 0; then the boot INFO is sent. */
void harness_reset(void);
void harness_boot(void);
/* Bytes arriving on the serial port. */
void harness_feed(const uint8_t *bytes, size_t n);
/* The line stays quiet for `ticks` more timer ticks (1 us each): the device polls and finds no byte. */
void harness_idle(uint64_t ticks);
/* Moves what the device has sent so far into `out` (up to `cap` bytes); returns how many it sent. */
size_t harness_take(uint8_t *out, size_t cap);
/* How many times the model ran since the last harness_reset. */
int harness_invokes(void);
/* The model's function: the output the fake model computes for `input` (FAKE_INPUT_BYTES bytes);
 * returns 0, or -1 for the input on which the model fails (input[0] == 0x7F, input[1] == 0x80). */
int fake_model(const uint8_t *input, uint8_t *output);

#endif /* FAKE_BOARD_H */
