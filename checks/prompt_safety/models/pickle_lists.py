"""Which pickle globals are known safe (the allowlist) and which are known dangerous (the denylist).

Allowlist first: a global is a pass only when it is listed here (or in the repository's policy), because
denylists of pickle scanners have been bypassed again and again by callables nobody had listed
(`pkgutil.resolve_name`, `importlib.import_module`, `marshal.loads`, `runpy._run_code`, ...). The denylist
only decides how loud an unlisted global is: critical when it is a known way to run code, high otherwise.

A dotted name (protocol 4 looks attributes up with dots: module `torch`, name `serialization.os.system`)
is judged on every component, so reaching `os` through an allowed module's attributes is still `os`.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

#: exact `module.name` entries that rebuild tensors, arrays and plain containers (no code path to run)
SAFE: frozenset[str] = frozenset({
    # plain Python
    *(f"{m}.{n}" for m in ("builtins", "__builtin__") for n in (
        "set", "frozenset", "list", "dict", "tuple", "int", "float", "complex", "bool", "str", "bytes",
        "bytearray", "slice", "range", "object", "True", "False", "None", "NoneType", "Ellipsis",
    )),
    "collections.OrderedDict", "collections.defaultdict", "collections.Counter", "collections.deque",
    "copyreg._reconstructor", "copy_reg._reconstructor", "_codecs.encode", "argparse.Namespace",
    "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta", "datetime.timezone",
    "decimal.Decimal", "fractions.Fraction", "uuid.UUID", "pathlib.PosixPath", "pathlib.WindowsPath",
    "pathlib.PurePosixPath", "pathlib.PureWindowsPath", "enum.Enum",
    # numpy
    "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.ma.core._mareconstruct",
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor", "numpy.random.mtrand.RandomState",
    *(f"numpy.{t}" for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                              "uint16", "uint32", "uint64", "bool_", "complex64", "complex128", "str_")),
    *(f"numpy.dtypes.{t}DType" for t in ("Float16", "Float32", "Float64", "Int8", "Int16", "Int32",
                                          "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Bool")),
    # joblib: the wrapper whose BUILD reads the array bytes that follow it (an object array is a nested
    # pickle, walked like the rest); the old NDArrayWrapper reads another file by name and is not listed
    "joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    # torch
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy", "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass", "torch._tensor._rebuild_from_type_v2",
    "torch.Size", "torch.device", "torch.Tensor", "torch.nn.parameter.Parameter",
    "torch.serialization._get_layout", "torch.storage.UntypedStorage", "torch.storage.TypedStorage",
    *(f"torch.{t}Storage" for t in ("Byte", "Double", "Float", "Half", "Long", "Int", "Short", "Char", "Bool",
                                     "BFloat16", "ComplexDouble", "ComplexFloat", "QUInt8", "QInt8", "QInt32",
                                     "QUInt4x2", "QUInt2x4", "Untyped")),
    *(f"torch.{t}" for t in ("float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64",
                             "uint8", "bool", "complex64", "complex128", "strided", "sparse_coo",
                             "per_tensor_affine", "per_channel_affine", "contiguous_format",
                             "channels_last")),
})

#: prefixes whose members are module classes with no code-running constructor (torch.nn layers)
SAFE_PREFIXES: tuple[str, ...] = ("torch.nn.modules.",)

#: modules where any member is a way to run code, read or write files, or reach the network
DANGEROUS_MODULES: frozenset[str] = frozenset({
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "sys", "pty", "runpy",
    "importlib", "pkgutil", "imp", "zipimport", "marshal", "types", "code", "codeop", "ctypes", "_ctypes",
    "cffi", "socket", "_socket", "ssl", "shutil", "webbrowser", "urllib", "urllib2", "requests", "httpx",
    "http", "ftplib", "smtplib", "telnetlib", "xmlrpc", "asyncio", "multiprocessing", "_thread", "threading",
    "signal", "pickle", "_pickle", "cPickle", "dill", "cloudpickle", "shelve", "dbm", "pdb", "bdb",
    "timeit", "profile", "cProfile", "trace", "doctest", "idlelib", "lib2to3", "distutils", "setuptools",
    "pip", "venv", "ensurepip", "site", "sysconfig", "platform", "tempfile", "glob", "io", "_io",
    "linecache", "inspect", "gc", "operator", "_operator", "functools", "pydoc", "tkinter", "sqlite3",
    "paramiko", "aiohttp", "jinja2", "yaml", "commands", "popen2", "builtins", "__builtin__", "__builtins__",
    "_imp", "_frozen_importlib", "_frozen_importlib_external", "zipfile", "tarfile", "sched", "selectors",
})

#: functions of otherwise ordinary modules that load pickles, run code or fetch from the network
DANGEROUS_NAMES: frozenset[str] = frozenset({
    "torch.load", "torch.serialization.load", "torch.hub.load", "torch.hub.load_state_dict_from_url",
    "torch.hub.download_url_to_file", "torch.jit.load", "torch.package.PackageImporter",
    "torch.storage._load_from_bytes", "numpy.load", "numpy.lib.npyio.load",
    "numpy.testing._private.utils.runstring",
    "numpy.f2py.crackfortran.myeval", "numpy.fromfile", "numpy.save", "joblib.load",
    "joblib.numpy_pickle.load",
    "pandas.read_pickle", "pandas.io.pickle.read_pickle", "keras.models.load_model",
    "tensorflow.io.write_file", "tensorflow.io.read_file", "tensorflow.keras.models.load_model",
    "transformers.AutoModel.from_pretrained", "huggingface_hub.hf_hub_download",
})

#: a dotted component that is a code-running builtin wherever it is reached from
DANGEROUS_ATTRS: frozenset[str] = frozenset({
    "system", "popen", "exec", "eval", "execfile", "compile", "__import__", "getattr", "setattr", "delattr",
    "globals", "locals", "vars", "open", "input", "breakpoint", "spawn", "spawnl", "spawnv",
    "execv", "execve",
    "execl", "execvp", "run", "call", "check_call", "check_output", "Popen", "import_module", "resolve_name",
    "loads", "load", "_run_code", "_run_module_code", "run_path", "run_module", "attrgetter", "methodcaller",
    "__reduce__", "__reduce_ex__", "__globals__", "__builtins__", "__subclasses__", "__class__", "__dict__",
    "__code__", "apply", "startfile", "remove", "unlink", "rmtree", "urlopen", "urlretrieve", "write_file",
})


def verdict(module: str, name: str, extra_allow: tuple[str, ...] = ()) -> str:
    """"safe", "dangerous" or "unknown" for the global `module.name` (allowlist first).

    `extra_allow` are the repository's own globs over dotted names (`sklearn.*`, `mypkg.models.Net`),
    matched case-sensitively; they never override the denylist."""
    dotted = f"{module}.{name}"
    if _dangerous(module, name, dotted):
        return "dangerous"
    if dotted in SAFE or (dotted.startswith(SAFE_PREFIXES) and "." not in name):
        return "safe"
    if any(fnmatchcase(dotted, glob) for glob in extra_allow):
        return "safe"
    return "unknown"


def _dangerous(module: str, name: str, dotted: str) -> bool:
    parts = module.split(".")
    if parts[0] in DANGEROUS_MODULES and dotted not in SAFE:
        return True
    if any(dotted == d or dotted.startswith(d + ".") for d in DANGEROUS_NAMES):
        return True
    # a dotted name walks attributes: `serialization.os.system` reaches `os` whatever the module is
    attrs = name.split(".")
    if len(attrs) > 1 and any(a in DANGEROUS_MODULES or a in DANGEROUS_ATTRS for a in attrs):
        return True
    return attrs[-1] in DANGEROUS_ATTRS and dotted not in SAFE
