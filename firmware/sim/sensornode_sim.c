/*
 * sensornode-sim: runs the real sensornode firmware under simavr and plays its sensors.
 *
 *   sensornode-sim <firmware.elf> --control FILE [--link PATH] [--speed X]
 *
 * UART0 becomes a pseudo-terminal (simavr's uart_pty); its slave path is printed on
 * stdout as "PTY <path>" and, with --link, symlinked at PATH so a test can hand a stable
 * device path to the gateway. The sensors answer in simulated time:
 *   DHT11 (PD2): after the MCU's >= 1 ms start pulse, the 80/80 us response and the 40-bit
 *                frame (50 us low, 26 us high for 0 / 70 us for 1) for the chosen values;
 *   SR04 (PD4 trig, PD5 echo): an echo pulse of 58 us per cm after the trigger falls;
 *   PIR (PD6): the chosen level.
 * The control file holds key=value lines (temperature, humidity, distance, motion,
 * dht=ok|timeout|badsum, echo=ok|none, corrupt=<token>); it is re-read whenever it
 * changes, so a running test can change the world. A new corrupt token flips one bit in
 * the next line on the wire, which the gateway must reject as a checksum mismatch.
 * --speed bounds simulated time to X times wall time (default 1), so the emulator does
 * not burn a shared CPU core spinning ahead of the test.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avr_ioport.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_time.h"
#include "uart_pty.h"

#define DHT_PIN 2
#define TRIG_PIN 4
#define ECHO_PIN 5
#define PIR_PIN 6

typedef struct {
	double temperature, humidity, distance;
	int motion;
	char dht[64], echo[64], corrupt[64];
} world_t;

static world_t world = {21.0, 40.0, 100.0, 0, "ok", "ok", ""};
static const char *control_path;
static struct timespec control_mtime;
static char corrupt_seen[64];
static int corrupt_pending;
static int line_pos = -1; /* bytes since '$' of the line on the wire, -1 between lines */

static avr_t *avr;
static avr_irq_t *dht_irq, *trig_irq, *echo_irq, *pir_irq, *uart_in_to_pty;
static uart_pty_t pty;

static int host_driving_dht;
static int dht_level = 1;
static avr_cycle_count_t dht_low_since;
static int trig_level;

/* A pin waveform: levels held for durations, played by one cycle timer. */
typedef struct {
	avr_irq_t *irq;
	int n, i;
	int level[96];
	uint32_t usec[96];
} wave_t;
static wave_t dht_wave, echo_wave;

static void load_control(void) {
	struct stat st;
	if (stat(control_path, &st) != 0) return;
	if (st.st_mtim.tv_sec == control_mtime.tv_sec && st.st_mtim.tv_nsec == control_mtime.tv_nsec)
		return;
	control_mtime = st.st_mtim;
	FILE *f = fopen(control_path, "r");
	if (!f) return;
	char line[160];
	while (fgets(line, sizeof line, f)) {
		char key[32], val[64];
		if (sscanf(line, " %31[^= ] = %63s", key, val) != 2) continue;
		if (!strcmp(key, "temperature")) world.temperature = atof(val);
		else if (!strcmp(key, "humidity")) world.humidity = atof(val);
		else if (!strcmp(key, "distance")) world.distance = atof(val);
		else if (!strcmp(key, "motion")) world.motion = atoi(val) != 0;
		else if (!strcmp(key, "dht")) snprintf(world.dht, sizeof world.dht, "%s", val);
		else if (!strcmp(key, "echo")) snprintf(world.echo, sizeof world.echo, "%s", val);
		else if (!strcmp(key, "corrupt")) snprintf(world.corrupt, sizeof world.corrupt, "%s", val);
	}
	fclose(f);
	if (strcmp(world.corrupt, corrupt_seen) != 0) {
		snprintf(corrupt_seen, sizeof corrupt_seen, "%s", world.corrupt);
		corrupt_pending = 1;
	}
}

static avr_cycle_count_t wave_step(avr_t *a, avr_cycle_count_t when, void *param) {
	wave_t *w = param;
	if (w->i >= w->n) {
		if (w == &dht_wave) host_driving_dht = 0;
		return 0;
	}
	avr_raise_irq(w->irq, w->level[w->i]);
	uint32_t us = w->usec[w->i++];
	return when + avr_usec_to_cycles(a, us);
}

static void wave_push(wave_t *w, int level, uint32_t usec) {
	w->level[w->n] = level;
	w->usec[w->n] = usec;
	w->n++;
}

static void dht_respond(void) {
	if (!strcmp(world.dht, "timeout")) return;
	uint8_t d[5];
	long h10 = lround(world.humidity * 10.0);
	long t10 = lround(world.temperature * 10.0);
	long tm = t10 < 0 ? -t10 : t10;
	d[0] = (uint8_t)(h10 / 10);
	d[1] = (uint8_t)(h10 % 10);
	d[2] = (uint8_t)(tm / 10);
	d[3] = (uint8_t)((tm % 10) | (t10 < 0 ? 0x80 : 0));
	d[4] = (uint8_t)(d[0] + d[1] + d[2] + d[3]);
	if (!strcmp(world.dht, "badsum")) d[4]++;
	dht_wave.irq = dht_irq;
	dht_wave.n = dht_wave.i = 0;
	wave_push(&dht_wave, 0, 80);
	wave_push(&dht_wave, 1, 80);
	for (int i = 0; i < 40; i++) {
		int bit = (d[i / 8] >> (7 - i % 8)) & 1;
		wave_push(&dht_wave, 0, 50);
		wave_push(&dht_wave, 1, bit ? 70 : 26);
	}
	wave_push(&dht_wave, 0, 50);
	wave_push(&dht_wave, 1, 1);
	host_driving_dht = 1;
	/* the sensor answers 20-40 us after the line is released */
	avr_cycle_timer_register_usec(avr, 30, wave_step, &dht_wave);
}

static void dht_pin_changed(avr_irq_t *irq, uint32_t value, void *param) {
	(void)irq;
	(void)param;
	if (host_driving_dht) return;
	int level = value & 1;
	if (level == dht_level) return;
	dht_level = level;
	if (level == 0) {
		dht_low_since = avr->cycle;
		return;
	}
	if (avr->cycle - dht_low_since >= avr_usec_to_cycles(avr, 1000)) {
		load_control();
		dht_respond();
	}
}

static void trig_pin_changed(avr_irq_t *irq, uint32_t value, void *param) {
	(void)irq;
	(void)param;
	int level = value & 1;
	int falling = trig_level == 1 && level == 0;
	trig_level = level;
	if (!falling || !strcmp(world.echo, "none")) return;
	echo_wave.irq = echo_irq;
	echo_wave.n = echo_wave.i = 0;
	wave_push(&echo_wave, 1, (uint32_t)lround(world.distance * 58.0));
	wave_push(&echo_wave, 0, 1);
	avr_cycle_timer_register_usec(avr, 200, wave_step, &echo_wave);
}

/* Every byte the MCU sends passes here on its way to the pty, so a line can be damaged. */
static void uart_byte_out(avr_irq_t *irq, uint32_t value, void *param) {
	(void)irq;
	(void)param;
	uint8_t b = (uint8_t)value;
	if (b == '$') line_pos = 0;
	else if (line_pos >= 0) line_pos++;
	if (b == '\n') line_pos = -1;
	if (corrupt_pending && line_pos == 2) {
		b ^= 0x20; /* flip one bit inside the device id: the CRC no longer matches */
		corrupt_pending = 0;
	}
	avr_raise_irq(uart_in_to_pty, b);
}

static double speed = 1.0;
static struct timespec wall_start;

/* Keeps simulated time from running more than `speed` times ahead of wall time; also
 * polls the control file for the PIR level. */
static avr_cycle_count_t pace(avr_t *a, avr_cycle_count_t when, void *param) {
	(void)param;
	load_control();
	avr_raise_irq(pir_irq, world.motion);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double wall = (now.tv_sec - wall_start.tv_sec) + (now.tv_nsec - wall_start.tv_nsec) / 1e9;
	double sim = (double)a->cycle / a->frequency / speed;
	if (sim > wall) usleep((useconds_t)((sim - wall) * 1e6));
	return when + avr_usec_to_cycles(a, 10000);
}

int main(int argc, char **argv) {
	const char *elf = NULL, *link_path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--control") && i + 1 < argc) control_path = argv[++i];
		else if (!strcmp(argv[i], "--link") && i + 1 < argc) link_path = argv[++i];
		else if (!strcmp(argv[i], "--speed") && i + 1 < argc) speed = atof(argv[++i]);
		else elf = argv[i];
	}
	if (!elf || !control_path || speed <= 0) {
		fprintf(stderr, "usage: %s FIRMWARE.elf --control FILE [--link PATH] [--speed X]\n", argv[0]);
		return 2;
	}
	elf_firmware_t fw;
	memset(&fw, 0, sizeof fw);
	if (elf_read_firmware(elf, &fw) != 0) {
		fprintf(stderr, "cannot read firmware %s\n", elf);
		return 1;
	}
	avr = avr_make_mcu_by_name("atmega328p");
	if (!avr) return 1;
	avr_init(avr);
	avr->frequency = 16000000;
	avr_load_firmware(avr, &fw);
	avr->frequency = 16000000;

	uart_pty_init(avr, &pty);
	uint32_t flags = 0;
	avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
	flags &= ~AVR_UART_FLAG_STDIO;
	avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
				uart_byte_out, NULL);
	uart_in_to_pty = pty.irq + IRQ_UART_PTY_BYTE_IN;

	dht_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), DHT_PIN);
	trig_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), TRIG_PIN);
	echo_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), ECHO_PIN);
	pir_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), PIR_PIN);
	avr_irq_register_notify(dht_irq, dht_pin_changed, NULL);
	avr_irq_register_notify(trig_irq, trig_pin_changed, NULL);

	if (link_path) {
		unlink(link_path);
		if (symlink(pty.port[0].slavename, link_path) != 0) {
			fprintf(stderr, "cannot link %s: %s\n", link_path, strerror(errno));
			return 1;
		}
	}
	printf("PTY %s\n", pty.port[0].slavename);
	fflush(stdout);

	load_control();
	clock_gettime(CLOCK_MONOTONIC, &wall_start);
	avr_cycle_timer_register_usec(avr, 10000, pace, NULL);
	for (;;) {
		int state = avr_run(avr);
		if (state == cpu_Done || state == cpu_Crashed) break;
	}
	fprintf(stderr, "firmware stopped (state %d)\n", avr->state);
	return 1;
}
