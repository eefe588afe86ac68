/*
 * sensornode: ATmega328P sensor node (DHT11, HC-SR04, PIR) speaking the sensorpipe
 * serial line protocol (firmware/PROTOCOL.md) on UART0 at 115200 baud.
 *
 * Timing is measured with Timer1 free-running at F_CPU/8 (0.5 us per tick) instead of
 * micros(): the DHT11 bit widths (26 us vs 70 us) and the SR04 echo (up to ~23 ms) need
 * an interrupt-free, wrap-safe clock, and 16-bit differences of TCNT1 are exactly that.
 *
 * Pins (Arduino Uno numbering, all on PORTD so reads are single instructions):
 *   D2 = DHT11 data (open drain, internal pull-up)
 *   D4 = SR04 TRIG, D5 = SR04 ECHO
 *   D6 = PIR output
 */
#include <Arduino.h>
#include <avr/eeprom.h>
#include <stdio.h>
#include <util/crc16.h>

#ifndef DEVICE_ID
#define DEVICE_ID "node-01"
#endif
#ifndef READING_INTERVAL_MS
#define READING_INTERVAL_MS 1000
#endif

static const uint8_t DHT_BIT = 2;   // PD2
static const uint8_t TRIG_BIT = 4;  // PD4
static const uint8_t ECHO_BIT = 5;  // PD5
static const uint8_t PIR_BIT = 6;   // PD6

// Timer1 runs at 2 MHz: two ticks per microsecond.
#define US_TO_TICKS(us) ((uint16_t)((us) * 2UL))
static const uint16_t DHT_EDGE_TIMEOUT = US_TO_TICKS(120);
static const uint16_t DHT_ONE_THRESHOLD = US_TO_TICKS(45);
static const uint16_t ECHO_TIMEOUT = US_TO_TICKS(30000);

// Sequence numbers: boot counter (EEPROM) in the high 32 bits, so a reboot never reuses
// a (device, seq) pair that the pipeline already deduplicated against.
static uint32_t boot_count;
static uint32_t counter;

static bool wait_level(uint8_t bit, bool high, uint16_t timeout) {
  uint16_t start = TCNT1;
  while (((PIND & _BV(bit)) != 0) != high) {
    if ((uint16_t)(TCNT1 - start) > timeout) return false;
  }
  return true;
}

enum DhtStatus : uint8_t { DHT_OK, DHT_TIMEOUT, DHT_CHECKSUM };

// DHT11 single-wire read: host pulls low >= 18 ms, releases; the sensor answers 80 us
// low + 80 us high, then 40 bits, each 50 us low followed by 26 us (0) or 70 us (1) high.
static DhtStatus read_dht(uint8_t data[5]) {
  DDRD |= _BV(DHT_BIT);
  PORTD &= ~_BV(DHT_BIT);
  delay(20);
  DDRD &= ~_BV(DHT_BIT);
  PORTD |= _BV(DHT_BIT);  // release the line: pull-up takes it high
  if (!wait_level(DHT_BIT, false, DHT_EDGE_TIMEOUT) ||
      !wait_level(DHT_BIT, true, DHT_EDGE_TIMEOUT) ||
      !wait_level(DHT_BIT, false, DHT_EDGE_TIMEOUT)) {
    return DHT_TIMEOUT;
  }
  for (uint8_t i = 0; i < 40; i++) {
    if (!wait_level(DHT_BIT, true, DHT_EDGE_TIMEOUT)) return DHT_TIMEOUT;
    uint16_t start = TCNT1;
    if (!wait_level(DHT_BIT, false, DHT_EDGE_TIMEOUT)) return DHT_TIMEOUT;
    uint16_t width = TCNT1 - start;
    data[i / 8] = (uint8_t)((data[i / 8] << 1) | (width > DHT_ONE_THRESHOLD ? 1 : 0));
  }
  uint8_t sum = (uint8_t)(data[0] + data[1] + data[2] + data[3]);
  return sum == data[4] ? DHT_OK : DHT_CHECKSUM;
}

// SR04: 10 us trigger pulse, then ECHO stays high 58 us per cm of distance.
// Returns the distance in tenths of a centimetre, or -1 when no echo came back.
static int32_t read_sr04_tenths(void) {
  PORTD |= _BV(TRIG_BIT);
  delayMicroseconds(10);
  PORTD &= ~_BV(TRIG_BIT);
  if (!wait_level(ECHO_BIT, true, ECHO_TIMEOUT)) return -1;
  uint16_t start = TCNT1;
  if (!wait_level(ECHO_BIT, false, ECHO_TIMEOUT)) return -1;
  uint32_t ticks = (uint16_t)(TCNT1 - start);
  return (int32_t)((ticks * 10UL + 58UL) / 116UL);  // ticks/2 us, /58 us per cm, rounded
}

// avr-libc's printf has no 64-bit conversions: the sequence number is printed by hand.
static char *put_u64(char *out, uint64_t v) {
  char tmp[21];
  uint8_t n = 0;
  do {
    tmp[n++] = (char)('0' + (uint8_t)(v % 10));
    v /= 10;
  } while (v != 0);
  while (n != 0) *out++ = tmp[--n];
  *out = '\0';
  return out;
}

// One line: $<device>,<seq>,U<uptime ms>,<stream>,<payload>*<CRC-16/CCITT-FALSE hex>\r\n
static void emit(const char *stream, const char *payload) {
  char body[112];
  char *p = body;
  p += sprintf(p, "%s,", DEVICE_ID);
  p = put_u64(p, ((uint64_t)boot_count << 32) | counter);
  sprintf(p, ",U%lu,%s,%s", (unsigned long)millis(), stream, payload);
  counter++;
  uint16_t crc = 0xFFFF;
  for (const char *c = body; *c != '\0'; c++) crc = _crc_xmodem_update(crc, (uint8_t)*c);
  char tail[10];
  sprintf(tail, "*%04X\r\n", crc);
  Serial.write('$');
  Serial.write(body);
  Serial.write(tail);
}

static void format_tenths(char *out, const char *name, int32_t tenths) {
  const char *sign = tenths < 0 ? "-" : "";
  uint32_t mag = (uint32_t)(tenths < 0 ? -tenths : tenths);
  sprintf(out, "%s=%s%lu.%lu", name, sign, (unsigned long)(mag / 10), (unsigned long)(mag % 10));
}

static void report_climate(void) {
  uint8_t d[5] = {0, 0, 0, 0, 0};
  DhtStatus st = read_dht(d);
  if (st == DHT_TIMEOUT) {
    emit("climate", "ERR=dht_timeout");
    return;
  }
  if (st == DHT_CHECKSUM) {
    emit("climate", "ERR=dht_checksum");
    return;
  }
  // DHT11 (v1.3 datasheet): byte 3 bit 7 is the sign, its low bits the tenths.
  int32_t t = (int32_t)d[2] * 10 + (d[3] & 0x0F);
  if (d[3] & 0x80) t = -t;
  int32_t h = (int32_t)d[0] * 10 + (d[1] % 10);
  char payload[64];
  format_tenths(payload, "temperature", t);
  size_t n = strlen(payload);
  payload[n++] = ';';
  format_tenths(payload + n, "humidity", h);
  emit("climate", payload);
}

static void report_distance(void) {
  int32_t tenths = read_sr04_tenths();
  if (tenths < 0) {
    emit("distance", "ERR=no_echo");
    return;
  }
  char payload[32];
  format_tenths(payload, "distance", tenths);
  emit("distance", payload);
}

static void report_motion(void) {
  emit("motion", (PIND & _BV(PIR_BIT)) ? "motion=1" : "motion=0");
}

void setup() {
  uint16_t boots = eeprom_read_word((uint16_t *)0);
  if (boots == 0xFFFF) boots = 0;  // erased EEPROM: first boot
  boot_count = boots;
  eeprom_write_word((uint16_t *)0, (uint16_t)(boots + 1));

  TCCR1A = 0;
  TCCR1B = _BV(CS11);  // Timer1 normal mode, prescaler 8
  DDRD |= _BV(TRIG_BIT);
  DDRD &= ~(_BV(ECHO_BIT) | _BV(PIR_BIT) | _BV(DHT_BIT));
  PORTD &= ~(_BV(TRIG_BIT) | _BV(ECHO_BIT) | _BV(PIR_BIT));
  PORTD |= _BV(DHT_BIT);
  Serial.begin(115200);
}

void loop() {
  unsigned long started = millis();
  Serial.flush();  // no UART interrupts while pulse widths are being measured
  report_climate();
  Serial.flush();
  report_distance();
  report_motion();
  while (millis() - started < READING_INTERVAL_MS) {
  }
}
