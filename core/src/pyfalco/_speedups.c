/* pyfalco._speedups: compiled versions of per-event hot spots (see speedups.py).
 *
 * Each one decides only the common case and hands everything else to Python code of the same
 * meaning (``slow``, or None from rfc3339_ns), so that the C code holds no semantics of its own
 * beyond "a path of dict keys ending in a value of one type", "that path in each item of a list"
 * and "the strict RFC 3339 form".
 * core/tests/unit/test_speedups.py runs each against its pure-Python twin.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <stdint.h>

/* -- PathGetter ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *attr;     /* str: the event attribute holding the root dict */
    PyObject *keys;     /* tuple of str, at least one */
    PyObject *slow;     /* callable(evt): everything that is not the common case */
    PyTypeObject *leaf; /* the leaf's exact type (strong ref): str unless told */
    int int_as_text;    /* an exact int leaf is returned as str(leaf) */
    vectorcallfunc vectorcall;
    /* attr is a __slots__ member of this type (strong ref, and its version then): read at
     * the offset, as the member descriptor does, instead of a getattr per call */
    PyTypeObject *slot_type;
    unsigned int slot_version;
    Py_ssize_t slot_offset;
} PathGetter;

/* whether type's version tag is current: it changes whenever the type (or a base) does */
static inline int
version_tag_valid(PyTypeObject *type)
{
#ifdef Py_TPFLAGS_VALID_VERSION_TAG
    return PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG);
#else
    return type->tp_version_tag != 0;
#endif
}

/* remember where type keeps attr when it is a plain object slot (a member descriptor) */
static void
path_getter_learn_slot(PathGetter *self, PyTypeObject *type)
{
    if (!version_tag_valid(type)) {
        return;
    }
    /* _PyType_Lookup: the MRO lookup getattr itself does (private, exported since 2.x) */
    PyObject *descr = _PyType_Lookup(type, self->attr);  /* borrowed */
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        return;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READ_RESTRICTED)) {
        return;
    }
    Py_INCREF(type);
    Py_XSETREF(self->slot_type, type);
    self->slot_version = type->tp_version_tag;
    self->slot_offset = member->offset;
}

static PyObject *
path_getter_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PathGetter *self = (PathGetter *)op;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a PathGetter takes exactly one event");
        return NULL;
    }
    PyObject *evt = args[0];
    PyTypeObject *type = Py_TYPE(evt);
    PyObject *root;
    if (type == self->slot_type && type->tp_version_tag == self->slot_version
            && version_tag_valid(type)) {
        root = *(PyObject **)((char *)evt + self->slot_offset);
        if (root == NULL) {  /* an unset slot: AttributeError */
            return PyObject_CallOneArg(self->slow, evt);
        }
        Py_INCREF(root);
    }
    else {
        root = PyObject_GetAttr(evt, self->attr);
        if (root == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                return NULL;
            }
            PyErr_Clear();
            return PyObject_CallOneArg(self->slow, evt);
        }
        path_getter_learn_slot(self, type);
    }
    /* each step holds its own reference: a dict with keys of other types may run Python
     * code (their __eq__) during a lookup, which could free what a borrowed pointer held */
    PyObject *cur = root;
    Py_ssize_t n = PyTuple_GET_SIZE(self->keys);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyDict_CheckExact(cur)) {
            Py_DECREF(cur);
            return PyObject_CallOneArg(self->slow, evt);
        }
        PyObject *v = PyDict_GetItemWithError(cur, PyTuple_GET_ITEM(self->keys, i));
        if (v == NULL) {
            Py_DECREF(cur);
            if (PyErr_Occurred()) {
                return NULL;
            }
            Py_RETURN_NONE;  /* a missing key: no value */
        }
        Py_INCREF(v);
        Py_DECREF(cur);
        cur = v;
    }
    if (Py_IS_TYPE(cur, self->leaf)) {
        return cur;  /* the reference this walk holds */
    }
    if (self->int_as_text && PyLong_CheckExact(cur)) {
        PyObject *text = PyObject_Str(cur);
        Py_DECREF(cur);
        return text;
    }
    Py_DECREF(cur);
    return PyObject_CallOneArg(self->slow, evt);
}

static PyObject *
path_getter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"attr", "keys", "slow", "leaf", "int_as_text", NULL};
    PyObject *attr, *keys, *slow;
    PyTypeObject *leaf = &PyUnicode_Type;
    int int_as_text = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO!O|$O!p:PathGetter", kwlist, &attr,
                                     &PyTuple_Type, &keys, &slow, &PyType_Type, &leaf,
                                     &int_as_text)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(keys) == 0) {
        PyErr_SetString(PyExc_ValueError, "PathGetter needs at least one key");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(keys, i))) {
            PyErr_SetString(PyExc_TypeError, "PathGetter keys must be str");
            return NULL;
        }
    }
    if (!PyCallable_Check(slow)) {
        PyErr_SetString(PyExc_TypeError, "PathGetter slow must be callable");
        return NULL;
    }
    PathGetter *self = (PathGetter *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    Py_INCREF(attr);
    PyUnicode_InternInPlace(&attr);  /* getattr compares interned names by pointer */
    self->attr = attr;
    Py_INCREF(keys);
    self->keys = keys;
    Py_INCREF(slow);
    self->slow = slow;
    Py_INCREF(leaf);
    self->leaf = leaf;
    self->int_as_text = int_as_text;
    self->vectorcall = path_getter_vectorcall;
    return (PyObject *)self;
}

static int
path_getter_traverse(PathGetter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->slow);
    Py_VISIT(self->slot_type);
    return 0;
}

static int
path_getter_clear(PathGetter *self)
{
    Py_CLEAR(self->slow);
    Py_CLEAR(self->slot_type);
    return 0;
}

static void
path_getter_dealloc(PathGetter *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->attr);
    Py_CLEAR(self->keys);
    Py_CLEAR(self->leaf);
    path_getter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
path_getter_repr(PathGetter *self)
{
    return PyUnicode_FromFormat("PathGetter(%R, %R)", self->attr, self->keys);
}

static PyTypeObject PathGetterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyfalco._speedups.PathGetter",
    .tp_basicsize = sizeof(PathGetter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "PathGetter(attr, keys, slow, *, leaf=str, int_as_text=False)",
    .tp_new = path_getter_new,
    .tp_dealloc = (destructor)path_getter_dealloc,
    .tp_traverse = (traverseproc)path_getter_traverse,
    .tp_clear = (inquiry)path_getter_clear,
    .tp_repr = (reprfunc)path_getter_repr,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(PathGetter, vectorcall),
};

/* -- leaves ---------------------------------------------------------------------------------- */

static PyObject *
leaves(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "leaves(items: list, keys: tuple, render)");
        return NULL;
    }
    PyObject *items = args[0], *keys = args[1], *render = args[2];
    Py_ssize_t nkeys = PyTuple_GET_SIZE(keys);
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    /* render may run any Python code: the list is re-read at each step, items held */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *cur = PyList_GET_ITEM(items, i);
        Py_INCREF(cur);
        int found = 1;
        for (Py_ssize_t k = 0; k < nkeys; k++) {
            if (!PyDict_CheckExact(cur)) {
                found = 0;
                break;
            }
            PyObject *v = PyDict_GetItemWithError(cur, PyTuple_GET_ITEM(keys, k));
            if (v == NULL) {
                if (PyErr_Occurred()) {
                    Py_DECREF(cur);
                    Py_DECREF(out);
                    return NULL;
                }
                found = 0;
                break;
            }
            Py_INCREF(v);
            Py_DECREF(cur);
            cur = v;
        }
        if (!found) {
            Py_DECREF(cur);
            continue;
        }
        if (!PyUnicode_CheckExact(cur)) {
            PyObject *text = PyObject_CallOneArg(render, cur);
            Py_DECREF(cur);
            if (text == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            cur = text;
        }
        int failed = PyList_Append(out, cur);
        Py_DECREF(cur);
        if (failed) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

/* -- rfc3339_ns ------------------------------------------------------------------------------ */

static int
digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int
days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) {
        return 29;
    }
    return days[m - 1];
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static PyObject *
rfc3339_ns(PyObject *module, PyObject *arg)
{
    static const int64_t scale[] = {0, 100000000, 10000000, 1000000, 100000, 10000, 1000,
                                    100, 10, 1};
    if (!PyUnicode_CheckExact(arg) || !PyUnicode_IS_ASCII(arg)) {
        Py_RETURN_NONE;
    }
    const char *s = (const char *)PyUnicode_DATA(arg);
    Py_ssize_t len = PyUnicode_GET_LENGTH(arg);
    int y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't')
        || s[13] != ':' || s[16] != ':' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo)
        || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi)
        || !digits(s + 17, 2, &sec)) {
        Py_RETURN_NONE;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59
        || sec > 60) {
        Py_RETURN_NONE;
    }
    Py_ssize_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        Py_ssize_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac = frac * 10 + (s[i] - '0');
            if (++i - start > 9) {
                Py_RETURN_NONE;
            }
        }
        if (i == start) {
            Py_RETURN_NONE;
        }
        frac *= scale[i - start];
    }
    int64_t offset = 0;
    if (i == len - 1 && (s[i] == 'Z' || s[i] == 'z')) {
        offset = 0;
    }
    else if (i == len - 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om)) {
            Py_RETURN_NONE;
        }
        offset = (int64_t)oh * 3600 + om * 60;
        if (s[i] == '-') {
            offset = -offset;
        }
    }
    else {
        Py_RETURN_NONE;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    /* ns in an int64: years 1678-2261; anything else takes the Python parser */
    if (secs <= -9200000000LL || secs >= 9200000000LL) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(secs * 1000000000LL + frac);
}

/* -- module ---------------------------------------------------------------------------------- */

static PyMethodDef speedups_methods[] = {
    {"leaves", (PyCFunction)(void (*)(void))leaves, METH_FASTCALL,
     "leaves(items, keys, render) -> the value at keys in each item that has it, strs as "
     "they are, others through render"},
    {"rfc3339_ns", rfc3339_ns, METH_O,
     "rfc3339_ns(text) -> ns since the epoch, or None unless text is strict RFC 3339"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyfalco._speedups",
    .m_doc = "Compiled hot spots of pyfalco (see pyfalco.speedups).",
    .m_size = -1,
    .m_methods = speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (PyType_Ready(&PathGetterType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&speedups_module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "PathGetter", (PyObject *)&PathGetterType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
