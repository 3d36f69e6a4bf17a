/* Start-up code shared by every Cortex-M board of tinyml-fw.
 *
 * Vector table, Reset_Handler (copy .data, zero .bss, enable the FPU, run the
 * static constructors, call main) and the few newlib system calls a bare-metal
 * program needs (heap, console output). Uses the symbols of the linker script
 * that the tinyml-arm platform generates: _estack, _sidata, _sdata, _edata,
 * _sbss, _ebss, __heap_start, __heap_end, __stack_limit.
 *
 * The stack is painted at reset (every word below the stack pointer, down to
 * __stack_limit, set to TFW_STACK_PAINT) so that tfw_memory.c can measure how
 * deep it has ever been.
 *
 * Build with -nostartfiles; link this file as an object (src/ or a library with
 * lib_archive = no), not from an archive, or the linker may leave it out. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "tfw_board.h"
#include "tfw_stack.h"

#ifndef TFW_NUM_IRQS
#define TFW_NUM_IRQS 32 /* external interrupt lines given a vector */
#endif

/* ---- linker script symbols ---------------------------------------------- */
extern uint32_t _estack[];
extern const uint32_t _sidata[];
extern uint32_t _sdata[];
extern uint32_t _edata[];
extern uint32_t _sbss[];
extern uint32_t _ebss[];
extern uint8_t __heap_start[];
extern uint8_t __heap_end[];
extern uint32_t __stack_limit[];

/* ---- elsewhere -------------------------------------------------------------- */
int main(void);
void __libc_init_array(void);

/* ---- defined here ----------------------------------------------------------- */
void Reset_Handler(void) __attribute__((noreturn));
void Default_Handler(void);
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void);
void _init(void);
void _fini(void);
void *_sbrk(ptrdiff_t increment);
int _write(int fd, const char *buf, int len);
int _isatty(int fd);
int _fstat(int fd, struct stat *st);
extern void *__dso_handle;
void _exit(int status) __attribute__((noreturn));

#define TFW_SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define TFW_SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* ---- vector table ----------------------------------------------------------- */
typedef union {
  void (*handler)(void);
  void *stack_top;
} tfw_vector_t;

/* __extension__: GCC range designators below, quiet under -Wpedantic. */
__extension__ __attribute__((section(".isr_vector"), used)) const tfw_vector_t tfw_vectors[16 + TFW_NUM_IRQS] = {
    [0] = {.stack_top = _estack},
    [1] = {.handler = Reset_Handler},
    [2] = {.handler = NMI_Handler},
    [3] = {.handler = HardFault_Handler},
    [4] = {.handler = MemManage_Handler},
    [5] = {.handler = BusFault_Handler},
    [6] = {.handler = UsageFault_Handler},
    [7 ... 10] = {.handler = NULL}, /* reserved */
    [11] = {.handler = SVC_Handler},
    [12] = {.handler = DebugMon_Handler},
    [13] = {.handler = NULL}, /* reserved */
    [14] = {.handler = PendSV_Handler},
    [15] = {.handler = SysTick_Handler},
    [16 ... 15 + TFW_NUM_IRQS] = {.handler = Default_Handler},
};

/* ---- handlers --------------------------------------------------------------- */

/* Faults and unexpected interrupts stop here (a debugger shows which one). */
void Default_Handler(void) {
  for (;;) {
  }
}

/* Weak hook: a board that runs SysTick defines its own SysTick_Handler. */
__attribute__((weak)) void SysTick_Handler(void) {}

/* Every stack word below the current stack pointer gets the paint; nothing lives there yet (no interrupt
 * is enabled before main), and this function's own frame is above the stack pointer it reads. */
static void paint_stack(void) {
  uint32_t *sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t *p = __stack_limit; p < sp; ++p) {
    *p = TFW_STACK_PAINT;
  }
}

void Reset_Handler(void) {
  paint_stack();
#if !defined(__ARM_ARCH_6M__)
  TFW_SCB_VTOR = (uint32_t)(uintptr_t)tfw_vectors;
#endif
#if defined(__ARM_FP)
  /* Built for an FPU: grant full access to CP10/CP11 before any FP instruction. */
  TFW_SCB_CPACR |= (0xFu << 20);
  __asm volatile("dsb\n\tisb" ::: "memory");
#endif
  const uint32_t *src = _sidata;
  uint32_t *dst = _sdata;
  while (dst < _edata) {
    *dst++ = *src++;
  }
  for (dst = _sbss; dst < _ebss;) {
    *dst++ = 0u;
  }
  __libc_init_array(); /* static constructors (.preinit_array, .init_array) */
  (void)main();
  for (;;) {
    __asm volatile("wfi");
  }
}

/* No crti.o/crtn.o with -nostartfiles: __libc_init_array still calls _init. */
void _init(void) {}
void _fini(void) {}

/* Normally in crtbegin.o: C++ registers the destructors of global objects with
 * __cxa_atexit(..., &__dso_handle). They never run here (main does not return). */
void *__dso_handle = 0;

/* ---- newlib system calls -------------------------------------------------- */

/* Heap for malloc/new: from the end of .bss up to the bottom of the stack. */
void *_sbrk(ptrdiff_t increment) {
  static uint8_t *brk = __heap_start;
  if (increment > __heap_end - brk || increment < __heap_start - brk) {
    errno = ENOMEM;
    return (void *)-1;
  }
  uint8_t *previous = brk;
  brk += increment;
  return previous;
}

/* stdout and stderr go to the board's serial port. */
__attribute__((weak)) int _write(int fd, const char *buf, int len) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  for (int i = 0; i < len; ++i) {
    tfw_board_putc((uint8_t)buf[i]);
  }
  return len;
}

/* The console is a character device: newlib line-buffers stdout. */
int _isatty(int fd) { return fd >= 0 && fd <= 2; }

int _fstat(int fd, struct stat *st) {
  if (fd < 0 || fd > 2) {
    errno = EBADF;
    return -1;
  }
  memset(st, 0, sizeof *st);
  st->st_mode = S_IFCHR;
  return 0;
}

void _exit(int status) {
  (void)status;
  for (;;) {
    __asm volatile("wfi");
  }
}
