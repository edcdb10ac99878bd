/* tgc.runtime._fastcall: one call of a compiled function, from numpy arrays in to numpy arrays out.
 *
 * The C side of tgc/runtime/executable.py, used when this module is built (the pure-Python path stays
 * for machines without a compiler). It does what Executable.__call__ does in Python, without the
 * Python-level objects that path touches: it writes each input's memref descriptor (allocated, aligned,
 * offset, sizes, row-major strides) into the caller's descriptor buffer, calls the function with the
 * GIL released (partitions on other threads and the rendezvous callbacks need it), and wraps each
 * malloc'ed result as a numpy array whose base frees the block. With the caches cold, as between the
 * steps of different libraries, the Python path spent about 66 us packing descriptors and 60 us
 * wrapping results on a tiny graph; here both are a few dozen loads and stores.
 *
 * call(plan, arrays) returns the list of results, or None when an input needs the Python path (not an
 * ndarray of the exact dtype, not row-major, read-only where the function may write, wrong count);
 * that path then converts it, or raises the error. plan is built once per Executable:
 *   (function address,
 *    ((dtype, rank, word offset, written), ...) per input,
 *    ((dtype, rank, word offset, in-place input index or -1), ...) per output)
 * The descriptors live on this call's stack, not in the Executable, so two threads may run the same
 * compiled function at once (two Session.run calls of one plan).
 * The output rules are the Python path's: a result that is the constant-global sentinel, an input's
 * buffer, or a buffer already handed out is copied; one updated in place is the input array itself.
 * A run-time check that fails in the compiled code (shapes that do not broadcast, an allocation that
 * failed) unwinds to this call, which raises Failure(kind, message, values) for executable.py to turn
 * into TensorFlow's error; call_packed does the same for the Python path's calls.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GLOBAL_SENTINEL 0xDEADBEEF /* MLIR's "allocated" pointer for memrefs of constant globals */
#define MAX_ARGS 256
#define MAX_WORDS 4096 /* descriptor words per direction: 3 + 2 * rank per argument */

typedef void (*entry_fn)(void **);

/* Run-time errors of compiled code (tgc/lowering/runtime_errors.py): a failed check calls the handler
 * whose address the runtime stored in the module's tgc_error_handler global. The handler records the
 * error in this thread's state and unwinds with longjmp to the call below that entered the compiled
 * code, which raises Failure(kind, message, values). Compiled code holds no locks and no C++ frames,
 * so nothing is left half-done but the buffers it had allocated, which leak. */
#define MAX_ERROR_VALUES 256
#define MAX_ERROR_MESSAGE 4096

typedef struct {
    jmp_buf *jump; /* the innermost guarded call of this thread, or NULL */
    int pending;   /* an error recorded outside a guarded call, for take_error */
    int64_t kind;
    int64_t count;
    int64_t values[MAX_ERROR_VALUES];
    char message[MAX_ERROR_MESSAGE];
} error_state;

static _Thread_local error_state thread_error;
static PyObject *Failure;

static void runtime_error(int64_t kind, const char *message, const int64_t *values, int64_t count) {
    thread_error.kind = kind;
    thread_error.count = count < 0 ? 0 : (count > MAX_ERROR_VALUES ? MAX_ERROR_VALUES : count);
    if (values != NULL)
        memcpy(thread_error.values, values, (size_t)thread_error.count * sizeof(int64_t));
    thread_error.message[0] = 0;
    if (message != NULL)
        strncat(thread_error.message, message, MAX_ERROR_MESSAGE - 1);
    if (thread_error.jump != NULL)
        longjmp(*thread_error.jump, 1);
    thread_error.pending = 1; /* a caller without the guard (an artifact's entry point) asks take_error */
}

/* Calls fn(packed) with the GIL released; 0 when it returned, 1 when a check failed (then
 * thread_error holds the error). */
static int guarded_call(entry_fn fn, void **packed) {
    jmp_buf jump;
    jmp_buf *outer = thread_error.jump;
    volatile int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    if (setjmp(jump) == 0) {
        thread_error.jump = &jump;
        fn(packed);
    } else {
        failed = 1;
    }
    thread_error.jump = outer;
    Py_END_ALLOW_THREADS
    return failed;
}

static PyObject *raise_failure(void) {
    PyObject *values = PyTuple_New(thread_error.count);
    if (values == NULL)
        return NULL;
    for (int64_t i = 0; i < thread_error.count; i++)
        PyTuple_SET_ITEM(values, i, PyLong_FromLongLong(thread_error.values[i]));
    PyObject *args = Py_BuildValue("(LsN)", (long long)thread_error.kind, thread_error.message, values);
    if (args != NULL) {
        PyErr_SetObject(Failure, args);
        Py_DECREF(args);
    }
    return NULL;
}

static void free_block(PyObject *capsule) {
    free(PyCapsule_GetPointer(capsule, "tgc.block"));
}

/* A numpy array over memory the compiled code malloc'ed: freed when the array goes away. */
static PyObject *owned_array(PyArray_Descr *dtype, int rank, npy_intp *dims, char *data, void *block) {
    Py_INCREF(dtype);
    PyObject *array = PyArray_NewFromDescr(&PyArray_Type, dtype, rank, dims, NULL, data, NPY_ARRAY_CARRAY, NULL);
    if (array == NULL)
        return NULL;
    PyObject *capsule = PyCapsule_New(block, "tgc.block", free_block);
    if (capsule == NULL || PyArray_SetBaseObject((PyArrayObject *)array, capsule) < 0) {
        Py_XDECREF(capsule); /* the block stays allocated: better a leak than a double free */
        Py_DECREF(array);
        return NULL;
    }
    return array;
}

/* A copy of memory that is not ours to keep (a constant global, a caller's array, a shared block). */
static PyObject *copied_array(PyArray_Descr *dtype, int rank, npy_intp *dims, npy_intp *byte_strides, char *data) {
    for (int d = 0; d < rank; d++)
        if (dims[d] == 0)
            return PyArray_Zeros(rank, dims, (Py_INCREF(dtype), dtype), 0);
    Py_INCREF(dtype);
    PyObject *view = PyArray_NewFromDescr(&PyArray_Type, dtype, rank, dims, byte_strides, data, 0, NULL);
    if (view == NULL)
        return NULL;
    PyObject *copy = PyArray_NewCopy((PyArrayObject *)view, NPY_CORDER);
    Py_DECREF(view);
    return copy;
}

static int pack_inputs(PyObject *specs, PyObject *arrays, int64_t *words, int64_t *pointers) {
    Py_ssize_t n = PyTuple_GET_SIZE(specs);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *spec = PyTuple_GET_ITEM(specs, i);
        PyObject *item = PyTuple_GET_ITEM(arrays, i);
        if (Py_TYPE(item) != &PyArray_Type)
            return 0;
        PyArrayObject *a = (PyArrayObject *)item;
        PyArray_Descr *want = (PyArray_Descr *)PyTuple_GET_ITEM(spec, 0);
        int rank = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
        Py_ssize_t offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 2));
        int written = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 3));
        if (PyArray_NDIM(a) != rank || !PyArray_EquivTypes(PyArray_DESCR(a), want) ||
            !PyArray_IS_C_CONTIGUOUS(a) || (written && !PyArray_ISWRITEABLE(a)))
            return 0;
        int64_t address = (int64_t)(intptr_t)PyArray_DATA(a);
        int64_t *w = words + offset;
        npy_intp *dims = PyArray_DIMS(a);
        int64_t stride = 1;
        w[0] = address;
        w[1] = address;
        w[2] = 0;
        for (int d = rank - 1; d >= 0; d--) {
            w[3 + d] = dims[d];
            w[3 + rank + d] = stride;
            stride *= dims[d];
        }
        pointers[i] = address;
    }
    return 1;
}

static int seen(const int64_t *list, Py_ssize_t n, int64_t value) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (list[i] == value)
            return 1;
    return 0;
}

static PyObject *collect_outputs(PyObject *specs, PyObject *arrays, const int64_t *words, const int64_t *pointers,
                                 Py_ssize_t num_inputs) {
    Py_ssize_t n = PyTuple_GET_SIZE(specs);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    int64_t owners[MAX_ARGS];
    Py_ssize_t num_owners = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *spec = PyTuple_GET_ITEM(specs, i);
        PyArray_Descr *dtype = (PyArray_Descr *)PyTuple_GET_ITEM(spec, 0);
        int rank = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
        const int64_t *w = words + PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 2));
        Py_ssize_t source = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 3));
        int64_t allocated = w[0];
        char *address = (char *)(intptr_t)(w[1] + w[2] * (int64_t)PyDataType_ELSIZE(dtype));
        npy_intp dims[NPY_MAXDIMS], byte_strides[NPY_MAXDIMS];
        for (int d = 0; d < rank; d++) {
            dims[d] = (npy_intp)w[3 + d];
            byte_strides[d] = (npy_intp)(w[3 + rank + d] * (int64_t)PyDataType_ELSIZE(dtype));
        }
        PyObject *array;
        if (source >= 0 && allocated == pointers[source] && (int64_t)(intptr_t)address == allocated &&
            !seen(owners, num_owners, allocated)) {
            owners[num_owners++] = allocated; /* updated in place: the caller's array is the result */
            array = PyTuple_GET_ITEM(arrays, source);
            Py_INCREF(array);
        } else if (allocated == GLOBAL_SENTINEL || allocated == 0 || seen(pointers, num_inputs, allocated) ||
                   seen(owners, num_owners, allocated)) {
            array = copied_array(dtype, rank, dims, byte_strides, address);
        } else {
            owners[num_owners++] = allocated;
            int empty = 0;
            for (int d = 0; d < rank; d++)
                empty |= dims[d] == 0;
            if (empty) {
                free((void *)(intptr_t)allocated);
                array = PyArray_Zeros(rank, dims, (Py_INCREF(dtype), dtype), 0);
            } else {
                array = owned_array(dtype, rank, dims, address, (void *)(intptr_t)allocated);
            }
        }
        if (array == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, array);
    }
    return out;
}

/* Words the descriptors of ``specs`` take (the last one's offset plus its size), or -1 past MAX_WORDS. */
static Py_ssize_t descriptor_words(PyObject *specs) {
    Py_ssize_t n = PyTuple_GET_SIZE(specs);
    if (n == 0)
        return 0;
    PyObject *last = PyTuple_GET_ITEM(specs, n - 1);
    Py_ssize_t words = PyLong_AsSsize_t(PyTuple_GET_ITEM(last, 2)) + 3 + 2 * PyLong_AsSsize_t(PyTuple_GET_ITEM(last, 1));
    return words > MAX_WORDS ? -1 : words;
}

static PyObject *fastcall_call(PyObject *self, PyObject *args) {
    PyObject *plan, *arrays;
    if (!PyArg_ParseTuple(args, "O!O!", &PyTuple_Type, &plan, &PyTuple_Type, &arrays))
        return NULL;
    entry_fn fn = (entry_fn)PyLong_AsVoidPtr(PyTuple_GET_ITEM(plan, 0));
    PyObject *in_specs = PyTuple_GET_ITEM(plan, 1), *out_specs = PyTuple_GET_ITEM(plan, 2);
    Py_ssize_t num_inputs = PyTuple_GET_SIZE(in_specs), num_outputs = PyTuple_GET_SIZE(out_specs);
    Py_ssize_t in_size = descriptor_words(in_specs), out_size = descriptor_words(out_specs);
    if (PyErr_Occurred())
        return NULL;
    if (PyTuple_GET_SIZE(arrays) != num_inputs || num_inputs > MAX_ARGS || num_outputs > MAX_ARGS || in_size < 0 ||
        out_size < 0)
        Py_RETURN_NONE;
    int64_t in_words[MAX_WORDS], out_words[MAX_WORDS], pointers[MAX_ARGS];
    if (!pack_inputs(in_specs, arrays, in_words, pointers)) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    /* The C interface's packed arguments: a pointer to each MemRef*, results' struct first. */
    void *refs[MAX_ARGS + 1], *packed[MAX_ARGS + 1];
    Py_ssize_t k = 0;
    if (num_outputs)
        refs[k++] = out_words;
    for (Py_ssize_t i = 0; i < num_inputs; i++)
        refs[k++] = in_words + PyLong_AsSsize_t(PyTuple_GET_ITEM(PyTuple_GET_ITEM(in_specs, i), 2));
    for (Py_ssize_t i = 0; i < k; i++)
        packed[i] = &refs[i];
    if (guarded_call(fn, packed))
        return raise_failure();
    return collect_outputs(out_specs, arrays, out_words, pointers, num_inputs);
}

/* call_packed(function address, address of the packed arguments): the Python path's call. */
static PyObject *fastcall_call_packed(PyObject *self, PyObject *args) {
    PyObject *address, *packed;
    if (!PyArg_ParseTuple(args, "OO", &address, &packed))
        return NULL;
    entry_fn fn = (entry_fn)PyLong_AsVoidPtr(address);
    void **arguments = (void **)PyLong_AsVoidPtr(packed);
    if (PyErr_Occurred())
        return NULL;
    if (guarded_call(fn, arguments))
        return raise_failure();
    Py_RETURN_NONE;
}

/* take_error() -> (kind, message, values) recorded by a call made without the guard, or None. */
static PyObject *fastcall_take_error(PyObject *self, PyObject *unused) {
    if (!thread_error.pending)
        Py_RETURN_NONE;
    thread_error.pending = 0;
    PyObject *values = PyTuple_New(thread_error.count);
    if (values == NULL)
        return NULL;
    for (int64_t i = 0; i < thread_error.count; i++)
        PyTuple_SET_ITEM(values, i, PyLong_FromLongLong(thread_error.values[i]));
    return Py_BuildValue("(LsN)", (long long)thread_error.kind, thread_error.message, values);
}

static PyObject *fastcall_handler_address(PyObject *self, PyObject *unused) {
    return PyLong_FromVoidPtr((void *)runtime_error);
}

static PyMethodDef methods[] = {
    {"call", fastcall_call, METH_VARARGS, "call(plan, arrays) -> list of results, or None for the Python path"},
    {"call_packed", fastcall_call_packed, METH_VARARGS, "call_packed(function, packed arguments): a guarded call"},
    {"handler_address", fastcall_handler_address, METH_NOARGS, "address of the run-time error handler"},
    {"take_error", fastcall_take_error, METH_NOARGS, "the error a call without the guard recorded, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastcall", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastcall(void) {
    import_array();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Failure = PyErr_NewException("tgc.runtime._fastcall.Failure", NULL, NULL);
    if (Failure == NULL || PyModule_AddObjectRef(m, "Failure", Failure) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
