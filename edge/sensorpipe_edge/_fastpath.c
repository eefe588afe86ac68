/* The gateway's compiled step: a batch of protocol lines of known shapes to Kafka records.
 *
 * Per line, the Python path (protocol.parse, then readings.RecordBuilder.reading) costs
 * some 10 µs; this does the same for a well-formed, in-range line of a known
 * (device, stream) in well under one, in one call per batch. It decides nothing the Python
 * path does not: it accepts only what that path is sure to accept, writes the record
 * from pieces that path made (the shape's head, the members, the batch's stamp), and
 * defers everything else to it by position, so every rejection and its reason still come
 * from Python. Where in doubt (a number it would have to think about, a line of a shape
 * not yet learnt, anything unusual), it defers: slower, never different.
 *
 * A line it accepts is, after removing trailing CR/LF: '$' body '*' 4 upper-case hex
 * digits of the body's CRC-16/CCITT-FALSE, at most max_line bytes in all; body =
 * device ',' seq ',' [T|U digits] ',' stream ',' payload, with seq and time 1-15 digits,
 * (stream, device) a learnt shape, and payload the stream's fields in declared order,
 * "name=value" joined by ';', numbers as -?(0|[1-9][0-9]{0,14})(.[0-9]{1,9})?
 * ([eE][-+]?[0-9]{1,2})? inside [lo, hi], booleans 1/0/true/false. Values are written
 * the way the Python path writes them: integers as int() prints them, other numbers as
 * repr(float(text)), booleans as true/false.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_DIGITS 15  /* seq and times: an int64 and a JSON integer below 2**53 */
#define MAX_NUMBER 40  /* longer than any number text the grammar above admits */

typedef struct {
    PyObject *token;  /* bytes: b"name=" */
    PyObject *member; /* bytes: the JSON member up to the value, b'"name":' */
    int boolean;
    double lo, hi;
} Field;

typedef struct {
    PyObject *name;   /* bytes */
    PyObject *topic;  /* str */
    PyObject *shapes; /* dict: device id (bytes) -> the record's head (bytes) */
    Field *fields;
    Py_ssize_t nfields;
    Py_ssize_t values_max; /* bound on the written values, members included */
} Stream;

typedef struct {
    PyObject_HEAD
    Stream *streams;
    Py_ssize_t nstreams;
    PyObject *event_time; /* bytes: b',"event_time":' */
    PyObject *uptime;     /* bytes: b',"device_uptime_ms":' */
    Py_ssize_t max_line;
    char *scratch; /* the values of the line at hand */
} Step;

static unsigned short crc_table[256];

static void init_crc_table(void) {
    for (int i = 0; i < 256; i++) {
        unsigned short crc = (unsigned short)(i << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (unsigned short)((crc << 1) ^ 0x1021) : (unsigned short)(crc << 1);
        crc_table[i] = crc;
    }
}

static unsigned short crc16(const unsigned char *s, Py_ssize_t n) {
    unsigned short crc = 0xFFFF;
    for (Py_ssize_t i = 0; i < n; i++)
        crc = (unsigned short)((crc << 8) ^ crc_table[((crc >> 8) ^ s[i]) & 0xFF]);
    return crc;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A run of bytes inside a line or a bytes object. */
typedef struct {
    const char *s;
    Py_ssize_t n;
} Span;

/* Whether s[0:n] is 1-15 ASCII digits; *text = them as int() prints them (no leading
 * zeros). */
static int int_text(const char *s, Py_ssize_t n, Span *text) {
    if (n < 1 || n > MAX_DIGITS)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return 0;
    Py_ssize_t zeros = 0;
    while (zeros < n - 1 && s[zeros] == '0')
        zeros++;
    *text = (Span){s + zeros, n - zeros};
    return 1;
}

/* Length of a run of at least min and at most max digits at s (within n), or -1. */
static Py_ssize_t digit_run(const char *s, Py_ssize_t n, Py_ssize_t min, Py_ssize_t max) {
    Py_ssize_t i = 0;
    while (i < n && is_digit(s[i]))
        i++;
    return (i < min || i > max) ? -1 : i;
}

/* A number text of the grammar above, in parts. */
typedef struct {
    int negative, exponent;
    const char *digits;   /* integer part */
    Py_ssize_t ndigits;
    const char *fraction; /* after the '.', if any */
    Py_ssize_t nfraction;
} Number;

/* Whether s[0:n] is a number of the grammar above; its parts in *num. */
static int number_text(const char *s, Py_ssize_t n, Number *num) {
    Py_ssize_t i = 0, run;
    *num = (Number){0};
    if (i < n && s[i] == '-') {
        num->negative = 1;
        i++;
    }
    num->digits = s + i;
    if (i < n && s[i] == '0')
        num->ndigits = 1;
    else if ((run = digit_run(s + i, n - i, 1, MAX_DIGITS)) > 0 && s[i] != '0')
        num->ndigits = run;
    else
        return 0;
    i += num->ndigits;
    if (i < n && s[i] == '.') {
        if ((run = digit_run(s + i + 1, n - i - 1, 1, 9)) < 0)
            return 0;
        num->fraction = s + i + 1;
        num->nfraction = run;
        i += 1 + run;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        if ((run = digit_run(s + i, n - i, 1, 2)) < 0)
            return 0;
        i += run;
        num->exponent = 1;
    }
    return i == n;
}

static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
#define MAX_MANTISSA 1000000000000000LL /* 10**15: 15 significant digits at most */

/* A number without exponent as Python reads and writes it, without its float parser and
 * printer: *value = float(text), and repr(float(text)) (or int(text)'s) is the text from
 * *skip, *written bytes long: the text itself, its fraction's trailing zeros dropped
 * (keeping one digit), or "0" for "-0". Returns 0 (use the parser and printer) unless
 * that is sure:
 * - with m the digits as an integer and k the fraction's digits (zeros dropped), m <
 *   10**15 is exact in a double and so is 10**k: m / 10**k is one correctly rounded
 *   division, the double nearest the text, as float() gives;
 * - a decimal of at most 15 significant digits is the shortest that gives its double
 *   (no two such decimals share a double), which is the digits repr() writes;
 * - repr() writes them without exponent while the first digit is in 10**-4 .. 10**15. */
static int plain_number(const Number *num, double *value, Py_ssize_t *skip, Py_ssize_t *written) {
    if (num->exponent)
        return 0;
    Py_ssize_t k = num->nfraction;
    while (k > 0 && num->fraction[k - 1] == '0')
        k--;
    long long m = 0;
    for (Py_ssize_t i = 0; i < num->ndigits; i++)
        m = m * 10 + (num->digits[i] - '0');
    Py_ssize_t zeros = 0; /* of the fraction before its first significant digit */
    for (Py_ssize_t i = 0; i < k; i++) {
        if (m == 0 && num->fraction[i] == '0')
            zeros++;
        m = m * 10 + (num->fraction[i] - '0');
        if (m >= MAX_MANTISSA)
            return 0;
    }
    if (m != 0 && num->digits[0] == '0' && zeros > 3)
        return 0;
    *value = (double)m / POW10[k];
    if (num->negative)
        *value = -*value;
    Py_ssize_t sign = num->negative;
    *skip = 0;
    if (num->fraction == NULL) { /* an int: int("-0") is 0 */
        *skip = m == 0 ? sign : 0;
        *written = m == 0 ? 1 : sign + num->ndigits;
    } else {
        *written = sign + num->ndigits + 1 + (k ? k : 1);
    }
    return 1;
}

/* Writes the JSON of one value at out; returns its length, 0 to defer, -1 on error. */
static Py_ssize_t write_value(const Field *f, const char *s, Py_ssize_t n, char *out) {
    if (f->boolean) {
        if ((n == 1 && s[0] == '1') || (n == 4 && memcmp(s, "true", 4) == 0)) {
            memcpy(out, "true", 4);
            return 4;
        }
        if ((n == 1 && s[0] == '0') || (n == 5 && memcmp(s, "false", 5) == 0)) {
            memcpy(out, "false", 5);
            return 5;
        }
        return 0;
    }
    Number num;
    if (n >= MAX_NUMBER || !number_text(s, n, &num))
        return 0;
    double v;
    Py_ssize_t skip, len;
    if (plain_number(&num, &v, &skip, &len)) {
        if (!(f->lo <= v && v <= f->hi))
            return 0;
        memcpy(out, s + skip, (size_t)len);
        return len;
    }
    /* Exponents, long fractions, tiny numbers: Python's own parser and printer. */
    char text[MAX_NUMBER];
    memcpy(text, s, (size_t)n);
    text[n] = '\0';
    v = PyOS_string_to_double(text, NULL, NULL);
    if (v == -1.0 && PyErr_Occurred()) { /* not a text it takes: cannot be, but defer */
        PyErr_Clear();
        return 0;
    }
    if (!(f->lo <= v && v <= f->hi))
        return 0;
    char *repr = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (repr == NULL)
        return -1;
    len = (Py_ssize_t)strlen(repr);
    if (len >= MAX_NUMBER) { /* cannot happen for these texts; defer rather than trust it */
        PyMem_Free(repr);
        return 0;
    }
    memcpy(out, repr, (size_t)len);
    PyMem_Free(repr);
    return len;
}

/* Writes the values object's members of payload into scratch; returns their length,
 * 0 to defer, -1 on error. */
static Py_ssize_t write_values(const Stream *st, const char *p, Py_ssize_t n, char *scratch) {
    Py_ssize_t at = 0, used = 0;
    for (Py_ssize_t k = 0; k < st->nfields; k++) {
        const Field *f = &st->fields[k];
        Py_ssize_t tlen = PyBytes_GET_SIZE(f->token);
        if (n - at < tlen || memcmp(p + at, PyBytes_AS_STRING(f->token), (size_t)tlen) != 0)
            return 0;
        at += tlen;
        const char *end = memchr(p + at, ';', (size_t)(n - at));
        Py_ssize_t vlen = end ? end - (p + at) : n - at;
        if ((end != NULL) != (k + 1 < st->nfields))
            return 0;
        if (k) /* the ',' between members */
            scratch[used++] = ',';
        Py_ssize_t mlen = PyBytes_GET_SIZE(f->member);
        memcpy(scratch + used, PyBytes_AS_STRING(f->member), (size_t)mlen);
        used += mlen;
        Py_ssize_t w = write_value(f, p + at, vlen, scratch + used);
        if (w <= 0)
            return w;
        used += w;
        at += vlen + 1;
    }
    return used;
}

static char *put_span(char *out, Span span) {
    memcpy(out, span.s, (size_t)span.n);
    return out + span.n;
}

static char *put(char *out, PyObject *bytes) {
    return put_span(out, (Span){PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes)});
}

/* The (topic, key, value) of one line, Py_None to defer it, NULL on error. */
static PyObject *line_record(Step *self, PyObject *line, PyObject *now, PyObject *middle) {
    if (!PyBytes_Check(line))
        Py_RETURN_NONE;
    const char *s = PyBytes_AS_STRING(line);
    Py_ssize_t n = PyBytes_GET_SIZE(line);
    if (n > self->max_line)
        Py_RETURN_NONE;
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n < 6 || s[0] != '$' || s[n - 5] != '*')
        Py_RETURN_NONE;
    static const char hex[] = "0123456789ABCDEF";
    unsigned short crc = crc16((const unsigned char *)s + 1, n - 6);
    if (s[n - 4] != hex[crc >> 12] || s[n - 3] != hex[(crc >> 8) & 15] ||
        s[n - 2] != hex[(crc >> 4) & 15] || s[n - 1] != hex[crc & 15])
        Py_RETURN_NONE;
    /* The body's five comma-separated fields: exactly four commas. */
    const char *body = s + 1, *stop = s + n - 5, *comma[4];
    const char *at = body;
    for (int k = 0; k < 4; k++) {
        comma[k] = memchr(at, ',', (size_t)(stop - at));
        if (comma[k] == NULL)
            Py_RETURN_NONE;
        at = comma[k] + 1;
    }
    if (memchr(at, ',', (size_t)(stop - at)) != NULL)
        Py_RETURN_NONE;
    const char *stream = comma[2] + 1, *payload = comma[3] + 1;
    Py_ssize_t stream_len = comma[3] - stream;
    Stream *st = NULL;
    for (Py_ssize_t k = 0; k < self->nstreams; k++) {
        PyObject *name = self->streams[k].name;
        if (PyBytes_GET_SIZE(name) == stream_len &&
            memcmp(PyBytes_AS_STRING(name), stream, (size_t)stream_len) == 0) {
            st = &self->streams[k];
            break;
        }
    }
    if (st == NULL || PyDict_GET_SIZE(st->shapes) == 0)
        Py_RETURN_NONE;
    Span seq, event_time = {PyBytes_AS_STRING(now), PyBytes_GET_SIZE(now)}, uptime = {NULL, 0};
    if (!int_text(comma[0] + 1, comma[1] - comma[0] - 1, &seq))
        Py_RETURN_NONE;
    const char *when = comma[1] + 1;
    Py_ssize_t when_len = comma[2] - when;
    if (when_len) {
        Span *time = when[0] == 'T' ? &event_time : when[0] == 'U' ? &uptime : NULL;
        if (time == NULL || !int_text(when + 1, when_len - 1, time))
            Py_RETURN_NONE;
    }
    Py_ssize_t values_len = write_values(st, payload, stop - payload, self->scratch);
    if (values_len < 0)
        return NULL;
    if (values_len == 0)
        Py_RETURN_NONE;
    PyObject *device = PyBytes_FromStringAndSize(body, comma[0] - body);
    if (device == NULL)
        return NULL;
    PyObject *head = PyDict_GetItemWithError(st->shapes, device);
    if (head == NULL || !PyBytes_Check(head)) {
        Py_DECREF(device);
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    Py_INCREF(head); /* the dict's is borrowed, and the dict is Python's to change */
    Py_ssize_t size = PyBytes_GET_SIZE(head) + seq.n + PyBytes_GET_SIZE(self->event_time) +
                      event_time.n + PyBytes_GET_SIZE(middle) + values_len + 1 +
                      (uptime.s ? PyBytes_GET_SIZE(self->uptime) + uptime.n : 0) + 1;
    PyObject *value = PyBytes_FromStringAndSize(NULL, size);
    if (value == NULL) {
        Py_DECREF(head);
        Py_DECREF(device);
        return NULL;
    }
    char *out = PyBytes_AS_STRING(value);
    out = put(out, head);
    Py_DECREF(head);
    out = put_span(out, seq);
    out = put(out, self->event_time);
    out = put_span(out, event_time);
    out = put(out, middle);
    out = put_span(out, (Span){self->scratch, values_len});
    *out++ = '}';
    if (uptime.s) {
        out = put(out, self->uptime);
        out = put_span(out, uptime);
    }
    *out++ = '}';
    PyObject *record = PyTuple_New(3);
    if (record == NULL) {
        Py_DECREF(device);
        Py_DECREF(value);
        return NULL;
    }
    Py_INCREF(st->topic);
    PyTuple_SET_ITEM(record, 0, st->topic);
    PyTuple_SET_ITEM(record, 1, device);
    PyTuple_SET_ITEM(record, 2, value);
    return record;
}

static PyObject *Step_records(Step *self, PyObject *args) {
    PyObject *lines, *now, *middle;
    if (!PyArg_ParseTuple(args, "O!SS:records", &PyList_Type, &lines, &now, &middle))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(lines);
    PyObject *records = PyList_New(n);
    PyObject *deferred = PyList_New(0);
    if (records == NULL || deferred == NULL)
        goto error;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *record = line_record(self, PyList_GET_ITEM(lines, i), now, middle);
        if (record == NULL)
            goto error;
        PyList_SET_ITEM(records, i, record);
        if (record == Py_None) {
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL)
                goto error;
            int failed = PyList_Append(deferred, index);
            Py_DECREF(index);
            if (failed)
                goto error;
        }
    }
    return Py_BuildValue("(NN)", records, deferred);
error:
    Py_XDECREF(records);
    Py_XDECREF(deferred);
    return NULL;
}

static void free_streams(Step *self) {
    for (Py_ssize_t k = 0; k < self->nstreams; k++) {
        Stream *st = &self->streams[k];
        for (Py_ssize_t f = 0; f < st->nfields; f++) {
            Py_XDECREF(st->fields[f].token);
            Py_XDECREF(st->fields[f].member);
        }
        PyMem_Free(st->fields);
        Py_XDECREF(st->name);
        Py_XDECREF(st->topic);
        Py_XDECREF(st->shapes);
    }
    PyMem_Free(self->streams);
    self->streams = NULL;
    self->nstreams = 0;
}

/* Arguments are parsed into locals and kept only once all of them parsed: a failed
 * PyArg_Parse* may have filled some outputs with borrowed references. */
static int read_field(Field *f, PyObject *spec) {
    PyObject *token, *member;
    int boolean;
    double lo, hi;
    if (!PyArg_ParseTuple(spec, "SSpdd:field", &token, &member, &boolean, &lo, &hi))
        return -1;
    Py_INCREF(token);
    Py_INCREF(member);
    *f = (Field){token, member, boolean, lo, hi};
    return 0;
}

static int read_stream(Stream *st, PyObject *spec) {
    PyObject *name, *topic, *shapes, *fields;
    if (!PyArg_ParseTuple(spec, "SUO!O!:stream", &name, &topic, &PyDict_Type, &shapes,
                          &PyTuple_Type, &fields))
        return -1;
    Py_INCREF(name);
    Py_INCREF(topic);
    Py_INCREF(shapes);
    st->name = name;
    st->topic = topic;
    st->shapes = shapes;
    Py_ssize_t n = PyTuple_GET_SIZE(fields);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "a stream needs fields");
        return -1;
    }
    st->fields = PyMem_Calloc((size_t)n, sizeof(Field));
    if (st->fields == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    st->values_max = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (read_field(&st->fields[k], PyTuple_GET_ITEM(fields, k)))
            return -1;
        st->nfields = k + 1;
        st->values_max += 1 + PyBytes_GET_SIZE(st->fields[k].member) + MAX_NUMBER;
    }
    return 0;
}

static int Step_init(Step *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"streams", "event_time", "uptime", "max_line", NULL};
    PyObject *streams, *event_time, *uptime;
    Py_ssize_t max_line;
    if (self->streams != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Step is initialised once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!SSn:Step", kwlist, &PyTuple_Type, &streams,
                                     &event_time, &uptime, &max_line))
        return -1;
    Py_INCREF(event_time);
    Py_INCREF(uptime);
    self->event_time = event_time;
    self->uptime = uptime;
    self->max_line = max_line;
    Py_ssize_t n = PyTuple_GET_SIZE(streams), scratch = 0;
    self->streams = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Stream));
    if (self->streams == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        self->nstreams = k + 1;
        if (read_stream(&self->streams[k], PyTuple_GET_ITEM(streams, k)))
            return -1;
        if (self->streams[k].values_max > scratch)
            scratch = self->streams[k].values_max;
    }
    self->scratch = PyMem_Malloc((size_t)scratch + 1);
    if (self->scratch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int Step_traverse(Step *self, visitproc visit, void *arg) {
    for (Py_ssize_t k = 0; k < self->nstreams; k++)
        Py_VISIT(self->streams[k].shapes);
    return 0;
}

static int Step_clear(Step *self) {
    free_streams(self);
    Py_CLEAR(self->event_time);
    Py_CLEAR(self->uptime);
    PyMem_Free(self->scratch);
    self->scratch = NULL;
    return 0;
}

static void Step_dealloc(Step *self) {
    PyObject_GC_UnTrack(self);
    Step_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Step_methods[] = {
    {"records", (PyCFunction)Step_records, METH_VARARGS,
     "records(lines, now, middle) -> (records, deferred): per line its (topic, key, value) or\n"
     "None, and the positions of the Nones, which the Python path must decide."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StepType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sensorpipe_edge._fastpath.Step",
    .tp_basicsize = sizeof(Step),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Step(streams, event_time, uptime, max_line): the compiled step of known shapes.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Step_init,
    .tp_dealloc = (destructor)Step_dealloc,
    .tp_traverse = (traverseproc)Step_traverse,
    .tp_clear = (inquiry)Step_clear,
    .tp_methods = Step_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fastpath",
    .m_doc = "The gateway's compiled line-to-record step.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    init_crc_table();
    if (PyType_Ready(&StepType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&StepType);
    if (PyModule_AddObject(m, "Step", (PyObject *)&StepType) < 0) {
        Py_DECREF(&StepType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
