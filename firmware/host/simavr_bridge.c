/* tinyml-fw's simavr bridge: runs an AVR firmware in simavr with UART0 on a pseudo-terminal.
 *
 *   simavr_bridge MCU F_CPU FIRMWARE.elf [realtime]
 *
 * Prints "pty PATH" (the pty's slave side) on stdout, then holds the AVR until a host has opened that pty
 * (pyserial flushes its input when it opens a port: what the firmware said before would be lost), and runs
 * it until SIGTERM/SIGINT, the firmware stopping (sleep with interrupts off, a crash) or its parent ending.
 * SIGUSR1 resets the AVR (its reset pin: the pty stays open, the firmware boots again); SIGUSR2 prints
 * "cycles N" on stderr at once (simulated time, for benchmarks). simavr runs the AVR as fast as it can
 * (several times the chip's speed, so a host's latency costs the AVR many cycles of waiting); with
 * "realtime" the bridge holds the simulated clock to the wall clock, as a real board's is.
 * On the way out it prints "cycles N" (simavr's cycle counter) on stderr.
 *
 * A host program, not device code: it is built with the host's cc against libsimavr (pkg-config simavr
 * simavrparts) by tinyml_fw/emulator.py into $TINYML_FW_HOME/bin (scripts/setup.sh, or the first run). It lives
 * beside the device code under firmware/ because it is the AVR boards' emulated half of the board. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#include "sim_avr.h"
#include "sim_elf.h"
#include "uart_pty.h"

#define OPEN_SETTLE_US 100000 /* 100 ms */

static volatile sig_atomic_t s_stop, s_reset, s_report;

static void on_report(int sig) {
  (void)sig;
  s_report = 1;
}

static void on_reset(int sig) {
  (void)sig;
  s_reset = 1;
}

static void on_signal(int sig) {
  (void)sig;
  s_stop = 1;
}

/* Raw mode on the slave side before anyone else opens it: no echo, no line editing, no CR/LF mapping
 * (the link carries binary frames). The settings stay with the pty while the bridge holds its master. */
static int make_raw(const char *slave) {
  struct termios tio;
  const int fd = open(slave, O_RDWR | O_NOCTTY);
  if (fd < 0) return -1;
  if (tcgetattr(fd, &tio) == 0) {
    cfmakeraw(&tio);
    tcsetattr(fd, TCSANOW, &tio);
  }
  close(fd);
  return 0;
}

/* Waits until another process opens the pty's slave side (inotify's IN_OPEN on the device file). The
 * bridge keeps its own slave descriptor from openpty(): uart_pty's thread reads the master, and a master
 * whose slave is closed by everyone reads as an error, which that thread takes for data. Returns 0 when a
 * host opened it, -1 when stopped first or inotify is unavailable. */
static int wait_for_open(const char *slave, pid_t parent) {
  char events[4096];
  const int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0 || inotify_add_watch(in, slave, IN_OPEN) < 0) return -1;
  printf("pty %s\n", slave);
  fflush(stdout);
  for (;;) {
    struct pollfd p = {.fd = in, .events = POLLIN, .revents = 0};
    if (s_stop || getppid() != parent) break;
    if (poll(&p, 1, 20) > 0 && read(in, events, sizeof events) > 0) {
      close(in);
      return 0;
    }
  }
  close(in);
  return -1;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  elf_firmware_t firmware;
  avr_t *avr;
  static uart_pty_t pty;
  const pid_t parent = getppid();
  unsigned long iterations = 0;
  int state = cpu_Running;
  int realtime;
  double start, f_cpu;

  if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "realtime") != 0)) {
    fprintf(stderr, "usage: %s MCU F_CPU FIRMWARE.elf [realtime]\n", argv[0]);
    return 2;
  }
  realtime = argc == 5;
  prctl(PR_SET_PDEATHSIG, SIGTERM); /* ends with its parent */
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGHUP, on_signal);
  signal(SIGUSR1, on_reset);
  signal(SIGUSR2, on_report);
  if (getppid() != parent) return 1;

  memset(&firmware, 0, sizeof firmware);
  if (elf_read_firmware(argv[3], &firmware) != 0) {
    fprintf(stderr, "simavr_bridge: cannot read %s\n", argv[3]);
    return 1;
  }
  avr = avr_make_mcu_by_name(argv[1]);
  if (avr == NULL) {
    fprintf(stderr, "simavr_bridge: simavr does not know the MCU '%s'\n", argv[1]);
    return 1;
  }
  avr_init(avr);
  firmware.frequency = (uint32_t)strtoul(argv[2], NULL, 10);
  avr_load_firmware(avr, &firmware);
  avr->log = LOG_ERROR;

  uart_pty_init(avr, &pty);
  uart_pty_connect(&pty, '0');
  { /* uart_pty also points /tmp/simavr-uart0 at the pty: one name for every simavr running, so not ours to keep */
    char target[sizeof pty.port[0].slavename];
    const ssize_t n = readlink("/tmp/simavr-uart0", target, sizeof target - 1);
    if (n > 0 && (target[n] = '\0', strcmp(target, pty.port[0].slavename) == 0)) unlink("/tmp/simavr-uart0");
  }
  if (make_raw(pty.port[0].slavename) != 0) {
    fprintf(stderr, "simavr_bridge: cannot open %s: %s\n", pty.port[0].slavename, strerror(errno));
    return 1;
  }
  if (wait_for_open(pty.port[0].slavename, parent) != 0 && !s_stop && getppid() == parent) {
    fprintf(stderr, "simavr_bridge: cannot watch %s: %s\n", pty.port[0].slavename, strerror(errno));
    return 1;
  }
  /* A host opens, configures, then flushes its input (pyserial does): give it that moment before the AVR
   * speaks. simavr runs faster than the chip, so the boot INFO would otherwise come within it. */
  usleep(OPEN_SETTLE_US);
  start = now_s();
  f_cpu = (double)firmware.frequency;
  while (!s_stop && state != cpu_Done && state != cpu_Crashed) {
    if (s_reset) {
      s_reset = 0;
      avr_reset(avr);
    }
    if (s_report) {
      s_report = 0;
      fprintf(stderr, "cycles %llu\n", (unsigned long long)avr->cycle);
      fflush(stderr);
    }
    state = avr_run(avr);
    if ((++iterations & 0xFFF) == 0) {
      if (realtime) { /* ahead of the wall clock: wait for it (every ~4,000 instructions) */
        const double ahead = (double)avr->cycle / f_cpu - (now_s() - start);
        if (ahead > 0.0005) usleep((useconds_t)(ahead * 1e6));
      }
      if ((iterations & 0xFFFFF) == 0 && getppid() != parent) s_stop = 1;
    }
  }
  fprintf(stderr, "cycles %llu\n", (unsigned long long)avr->cycle);
  fflush(stderr);
  /* uart_pty's thread sits in select() on the pty: the process ends without joining it. */
  _exit(state == cpu_Crashed ? 3 : 0);
}
