/* The safety stage's block pass in one call: guard, DC blocker, look-ahead limiter.
 *
 * The numpy version in safety.py is the reference and the fallback; this mirrors it step for
 * step (float32 samples, float64 gains), giving the same samples. Why C: right after a model
 * call the caches are cold, and then every Python-level operation costs 10-30 us (a numpy call,
 * a ctypes call, even a short loop), more than the arithmetic of the whole block; one call with
 * the least glue (METH_FASTCALL, buffers) is the cheapest way through. Built by setuptools as an
 * optional extension (pyproject.toml). Compiled without FMA contraction so the DC blocker's
 * samples equal scipy's lfilter's.
 *
 * Layout: every signal is [channels][n] float32, C order. state[0] is the limiter gain at the
 * start of this block, state[1] the target of the delayed samples; dc[c] the filter's state.
 * Returns 1 when the guard muted the block (NaN, Inf or a value above blowup), else 0.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#define MAX_SUBS 8193 /* blocks of up to 65536 * 4 samples at the smallest look-ahead (32) */

static int safety_block(const float *x, float *out, float *filtered, int channels, int n, int size,
                           float *dc, float b0, float b1, float a1, float *delay, double *state,
                           double ceiling, double blowup, double release, double snap)
{
    int subs = n / size;
    if (subs + 1 > MAX_SUBS || subs * size != n)
        return -1;
    int guarded = 0;
    for (long i = 0; i < (long)channels * n; i++) {
        if (!(fabs((double)x[i]) <= blowup)) { /* NaN fails every comparison */
            guarded = 1;
            break;
        }
    }
    for (int c = 0; c < channels; c++) {
        const float *xc = x + (long)c * n;
        float *yc = filtered + (long)c * n;
        if (guarded) {
            dc[c] = 0.0f;
            memset(yc, 0, sizeof(float) * n);
            continue;
        }
        float z = dc[c];
        for (int i = 0; i < n; i++) { /* lfilter's transposed direct form II, order 1 */
            float xi = xc[i];
            float yi = z + b0 * xi;
            z = b1 * xi - a1 * yi;
            yc[i] = yi;
        }
        dc[c] = z;
    }

    /* peaks of [delay | filtered] per sub-block, all channels together (stereo-linked) */
    double targets[MAX_SUBS], bounds[MAX_SUBS];
    int quiet = state[0] == 1.0 && state[1] == 1.0;
    for (int j = 0; j <= subs; j++) {
        float peak = 0.0f;
        for (int c = 0; c < channels; c++) {
            const float *src = j == 0 ? delay + (long)c * size : filtered + (long)c * n + (long)(j - 1) * size;
            for (int k = 0; k < size; k++) {
                float a = fabsf(src[k]);
                if (a > peak)
                    peak = a;
            }
        }
        double t = ceiling / fmax((double)peak, 1e-12);
        targets[j] = t < 1.0 ? t : 1.0;
        if (j > 0 && (double)peak > ceiling)
            quiet = 0;
    }
    if (targets[0] > state[1])
        targets[0] = state[1];
    bounds[0] = state[0];
    for (int j = 0; j < subs; j++) {
        double limit = targets[j] < targets[j + 1] ? targets[j] : targets[j + 1];
        double released = 1.0 - (1.0 - bounds[j]) * release;
        bounds[j + 1] = released < limit ? released : limit;
    }
    state[0] = bounds[subs] > 1.0 - snap ? 1.0 : bounds[subs];
    state[1] = targets[subs];

    float top = (float)ceiling;
    for (int c = 0; c < channels; c++) {
        float *oc = out + (long)c * n;
        const float *fc = filtered + (long)c * n;
        float *dcl = delay + (long)c * size;
        if (quiet) { /* nothing to limit: the delay line's tail, then the block's head */
            memcpy(oc, dcl, sizeof(float) * size);
            memcpy(oc + size, fc, sizeof(float) * (n - size));
        } else {
            for (int j = 0; j < subs; j++) {
                const float *src = j == 0 ? dcl : fc + (long)(j - 1) * size;
                double from = bounds[j], step = bounds[j + 1] - bounds[j];
                for (int k = 0; k < size; k++) {
                    float gain = (float)(from + step * ((double)k / size));
                    float v = src[k] * gain;
                    oc[(long)j * size + k] = v > top ? top : (v < -top ? -top : v);
                }
            }
        }
        memcpy(dcl, fc + (n - size), sizeof(float) * size);
    }
    return guarded;
}

/* block(x, out, scratch, dc, delay, params) -> guarded (bool)
 * x: float32 [channels, n] C-contiguous; out, scratch: the same shape, writable; dc: float32
 * [channels]; delay: float32 [channels, size]; params: float64 [gain, next_target, ceiling,
 * blowup, release, snap, b0, b1, a1], its first two updated in place. */
static int get(PyObject *obj, Py_buffer *view, int writable, const char *format, const char *what)
{
    int flags = PyBUF_ND | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    if (strcmp(view->format, format) != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be %s, got format %s", what,
                     format[0] == 'f' ? "float32" : "float64", view->format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *block(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "block(x, out, scratch, dc, delay, params) takes 6 arguments");
        return NULL;
    }
    static const char *names[6] = {"x", "out", "scratch", "dc", "delay", "params"};
    Py_buffer v[6];
    int got = 0;
    for (; got < 6; got++)
        if (get(args[got], &v[got], got > 0, got == 5 ? "d" : "f", names[got]) < 0)
            break;
    PyObject *result = NULL;
    if (got == 6) {
        long channels = v[0].ndim == 2 ? (long)v[0].shape[0] : 0, n = v[0].ndim == 2 ? (long)v[0].shape[1] : 0;
        long size = v[4].ndim == 2 && v[4].shape[0] == channels ? (long)v[4].shape[1] : 0;
        if (channels < 1 || n < 1 || size < 1 || v[1].len != v[0].len || v[2].len != v[0].len
            || v[3].len != (Py_ssize_t)(channels * sizeof(float)) || v[5].len != (Py_ssize_t)(9 * sizeof(double))) {
            PyErr_SetString(PyExc_ValueError, "safety block: buffers of mismatched shapes");
        } else {
            double *p = (double *)v[5].buf;
            int guarded;
            /* GIL held: a few microseconds, and releasing it could cost the model thread a whole
               switch interval to get it back */
            guarded = safety_block((const float *)v[0].buf, (float *)v[1].buf, (float *)v[2].buf, (int)channels,
                                   (int)n, (int)size, (float *)v[3].buf, (float)p[6], (float)p[7], (float)p[8],
                                   (float *)v[4].buf, p, p[2], p[3], p[4], p[5]);
            if (guarded < 0)
                PyErr_Format(PyExc_ValueError, "block of %ld samples does not fit look-ahead %ld", n, size);
            else
                result = PyBool_FromLong(guarded);
        }
    }
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&v[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"block", (PyCFunction)(void (*)(void))block, METH_FASTCALL,
     "block(x, out, scratch, dc, delay, params) -> guarded: one block through guard, DC blocker, limiter"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_safety", "The safety stage's block pass in C.", -1, methods};

PyMODINIT_FUNC PyInit__safety(void) { return PyModule_Create(&module); }
