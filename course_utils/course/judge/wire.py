"""course layer · what crosses the judge's channel from the learner's kernel: data, never pickle.

A value is sent as a JSON-able tree of nodes (lists whose first item is a tag) plus raw
buffers for bytes, tensors and arrays:

    ["N"] None · ["E"] Ellipsis · ["b", bool] · ["i", hex] int · ["f", float.hex] · ["c", re, im]
    ["s", text] / ["sb", buffer] str · ["y", buffer] bytes · ["F", num, den] Fraction · ["D", text] Decimal
    ["l", [...]] list · ["t", [...], class?] tuple · ["S", [...]] set · ["Z", [...]] frozenset
    ["d", [[k, v], ...], class?] dict · ["dt", name] torch.dtype · ["sz", [...]] torch.Size · ["dv", name]
    ["T", dtype, shape, buffer, requires_grad, grad?] tensor · ["A", dtype, shape, buffer] ndarray
    ["a", dtype, buffer] NumPy scalar · ["h", id, meta] a handle on any other object

`encode` runs in the kernel (where the learner's code may have changed anything, so it reads
values through the types' own C methods, captured when this module was imported, with torch
functions and modes switched off); `decode` runs in the judge and checks every node: a reply
that is malformed, too deep or too large raises WireError, which the judge reports as "not
graded". Requests from the judge to the kernel are pickled (the kernel is the untrusted side).
"""

from __future__ import annotations

import collections
import decimal
import fractions
import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["WireError", "Limits", "LIMITS", "encode", "decode", "pack_frame", "read_frame", "TENSOR_DTYPES"]


class WireError(Exception):
    """A reply that does not follow the format, or breaks a limit."""


@dataclass(frozen=True)
class Limits:
    max_depth: int = 40  # nesting of lists, tuples, dicts (deeper values travel as handles)
    max_nodes: int = 1_000_000
    max_bytes: int = 512 * 2 ** 20  # all buffers of one reply together
    max_text: int = 2 ** 20  # characters of one inline string
    max_int_digits: int = 100_000  # hex digits of one int
    max_meta_text: int = 400


LIMITS = Limits()

TENSOR_DTYPES = {str(d).split(".")[-1]: d for d in (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16,
    torch.float32, torch.float64, torch.complex64, torch.complex128)}
ARRAY_DTYPES = {np.dtype(t).str for t in (
    np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64, np.float16,
    np.float32, np.float64, np.complex64, np.complex128)}
_DICT_CLASSES = {"OrderedDict": collections.OrderedDict, "Counter": collections.Counter,
                 "defaultdict": lambda items: collections.defaultdict(None, items)}

# the types' own methods, as they were before any learner code ran in this process
_list_items, _tuple_items = list.__getitem__, tuple.__getitem__
_dict_items, _int_index, _float_hex, _str_str = dict.items, int.__index__, float.hex, str.__str__
_detach, _as_plain = torch.Tensor.detach, torch.Tensor.as_subclass
_EVERYTHING = slice(None)


# ----------------------------------------------------------------------------- kernel side

class _Encoder:
    def __init__(self, handle_for: Callable[[Any], list], limits: Limits, on_tensor: Callable | None):
        self.handle_for, self.limits, self.on_tensor = handle_for, limits, on_tensor
        self.buffers: list[bytes] = []
        self.nodes = self.size = 0

    def buffer(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limits.max_bytes:
            raise WireError(f"the value is larger than {self.limits.max_bytes >> 20} MiB")
        self.buffers.append(data)
        return len(self.buffers) - 1

    def node(self, value, depth: int):
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise WireError(f"the value has more than {self.limits.max_nodes} parts")
        if value is None:
            return ["N"]
        if value is Ellipsis:
            return ["E"]
        if value is True or value is False:
            return ["b", value]
        if isinstance(value, np.generic):
            return self.scalar(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return ["i", format(_int_index(value), "x")]
        if isinstance(value, float):
            return ["f", _float_hex(value)]
        if isinstance(value, complex):
            return ["c", _float_hex(complex.__getattribute__(value, "real")),
                    _float_hex(complex.__getattribute__(value, "imag"))]
        if isinstance(value, str):
            text = _str_str(value)
            try:
                text.encode("utf-8")
                if len(text) <= self.limits.max_text:
                    return ["s", text]
            except UnicodeEncodeError:
                pass
            return ["sb", self.buffer(text.encode("utf-8", "surrogatepass"))]
        if isinstance(value, (bytes, bytearray)):
            return ["y", self.buffer(bytes(value))]
        if isinstance(value, fractions.Fraction):
            return ["F", format(value.numerator, "x"), format(value.denominator, "x")]
        if isinstance(value, decimal.Decimal):
            return ["D", decimal.Decimal.__str__(value)]
        if isinstance(value, torch.Tensor):
            return self.tensor(value)
        if isinstance(value, np.ndarray) and value.dtype.str in ARRAY_DTYPES:
            array = np.ascontiguousarray(value)
            return ["A", array.dtype.str, list(array.shape), self.buffer(array.tobytes())]
        if isinstance(value, torch.dtype):
            return ["dt", str(value).split(".")[-1]]
        if isinstance(value, torch.Size):
            return ["sz", [int(s) for s in _tuple_items(value, _EVERYTHING)]]
        if isinstance(value, torch.device):
            return ["dv", str(value)]
        if depth >= self.limits.max_depth:
            return self.handle_for(value)
        if isinstance(value, list):
            return ["l", [self.node(v, depth + 1) for v in _list_items(value, _EVERYTHING)]]
        if isinstance(value, tuple):
            kind = type(value)
            cls = f"torch.return_types.{kind.__name__}" if kind.__module__ == "torch.return_types" else None
            return ["t", [self.node(v, depth + 1) for v in _tuple_items(value, _EVERYTHING)], cls]
        if isinstance(value, (set, frozenset)):
            return ["S" if isinstance(value, set) else "Z", [self.node(v, depth + 1) for v in list(value)]]
        if isinstance(value, dict):
            cls = type(value).__name__ if type(value).__name__ in _DICT_CLASSES and \
                type(value).__module__ == "collections" else None
            return ["d", [[self.node(k, depth + 1), self.node(v, depth + 1)] for k, v in list(_dict_items(value))], cls]
        return self.handle_for(value)

    def scalar(self, value: np.generic):
        dtype = np.asarray(value).dtype
        if dtype.str not in ARRAY_DTYPES:
            return self.handle_for(value)
        return ["a", dtype.str, self.buffer(np.asarray(value).tobytes())]

    def tensor(self, value: torch.Tensor):
        with torch._C.DisableTorchFunction():  # a tensor subclass or a mode has no say in what is sent
            try:
                plain = _as_plain(_detach(value), torch.Tensor)
                dtype = str(plain.dtype).split(".")[-1]
                if plain.layout != torch.strided or plain.is_quantized or plain.is_nested or \
                        plain.device.type == "meta" or dtype not in TENSOR_DTYPES:
                    return self.handle_for(value)
                plain = plain.cpu().resolve_conj().resolve_neg().contiguous().clone()
                data = plain.reshape(-1).view(torch.uint8).numpy().tobytes()
                requires_grad = bool(value.requires_grad)
            except Exception:  # storage that cannot be read (a fake or functional tensor)
                return self.handle_for(value)
        grad = self.on_tensor(value) if requires_grad and self.on_tensor is not None else None
        return ["T", dtype, list(plain.shape), self.buffer(data), requires_grad, grad]


def encode(value, handle_for: Callable[[Any], list], limits: Limits = LIMITS,
           on_tensor: Callable | None = None) -> tuple[list, list[bytes]]:
    """(node, buffers) for `value`. `handle_for(obj)` gives the node of a handle on an object
    that is not data; `on_tensor(t)` for a tensor that requires grad may give its gradient link."""
    encoder = _Encoder(handle_for, limits, on_tensor)
    return encoder.node(value, 0), encoder.buffers


# ----------------------------------------------------------------------------- judge side

_HEX = re.compile(r"-?[0-9a-f]+")
_FLOAT_HEX = re.compile(r"-?(inf|nan|0x[0-9a-f]\.?[0-9a-f]*p[+-]?[0-9]+)")


def _need(ok: bool, what: str):
    if not ok:
        raise WireError(what)


class _Decoder:
    def __init__(self, buffers, make_handle, on_grad, limits: Limits):
        self.buffers, self.make_handle, self.on_grad, self.limits = buffers, make_handle, on_grad, limits
        self.nodes = 0
        _need(isinstance(buffers, list) and sum(len(b) for b in buffers) <= limits.max_bytes, "buffers too large")

    def buffer(self, index) -> bytes:
        _need(type(index) is int and 0 <= index < len(self.buffers), "a buffer index out of range")
        return bytes(self.buffers[index])

    def int_of(self, text) -> int:
        _need(isinstance(text, str) and len(text) <= self.limits.max_int_digits and bool(_HEX.fullmatch(text)),
              "a malformed int")
        return int(text, 16)

    def float_of(self, text) -> float:
        _need(isinstance(text, str) and len(text) < 40 and bool(_FLOAT_HEX.fullmatch(text)), "a malformed float")
        return float.fromhex(text)

    def items(self, nodes, depth) -> list:
        _need(isinstance(nodes, list), "a malformed container")
        return [self.value(n, depth + 1) for n in nodes]

    def value(self, node, depth: int = 0):
        self.nodes += 1
        _need(self.nodes <= self.limits.max_nodes and depth <= self.limits.max_depth + 1, "a value too deep or large")
        _need(isinstance(node, list) and node and isinstance(node[0], str), "a malformed node")
        tag, args = node[0], node[1:]
        simple = {"N": None, "E": Ellipsis}
        if tag in simple:
            return simple[tag]
        if tag == "b" and len(args) == 1 and type(args[0]) is bool:
            return args[0]
        if tag == "i" and len(args) == 1:
            return self.int_of(args[0])
        if tag == "f" and len(args) == 1:
            return self.float_of(args[0])
        if tag == "c" and len(args) == 2:
            return complex(self.float_of(args[0]), self.float_of(args[1]))
        if tag == "s" and len(args) == 1 and isinstance(args[0], str):
            _need(len(args[0]) <= self.limits.max_text, "a string too long")
            return args[0]
        if tag == "sb" and len(args) == 1:
            return self.buffer(args[0]).decode("utf-8", "surrogatepass")
        if tag == "y" and len(args) == 1:
            return self.buffer(args[0])
        if tag == "F" and len(args) == 2:
            num, den = self.int_of(args[0]), self.int_of(args[1])
            _need(den > 0, "a fraction with a zero denominator")
            return fractions.Fraction(num, den)
        if tag == "D" and len(args) == 1:
            _need(isinstance(args[0], str) and len(args[0]) <= 1000, "a malformed decimal")
            try:
                return decimal.Decimal(args[0])
            except decimal.InvalidOperation:
                raise WireError("a malformed decimal") from None
        if tag == "l" and len(args) == 1:
            return self.items(args[0], depth)
        if tag == "t" and len(args) == 2:
            items = self.items(args[0], depth)
            kind = args[1]
            if isinstance(kind, str) and kind.startswith("torch.return_types."):
                rebuilt = getattr(torch.return_types, kind.rsplit(".", 1)[1], None)
                if isinstance(rebuilt, type) and issubclass(rebuilt, tuple):
                    try:
                        return rebuilt(items)
                    except TypeError:
                        pass
            return tuple(items)
        if tag in ("S", "Z") and len(args) == 1:
            try:
                return (set if tag == "S" else frozenset)(self.items(args[0], depth))
            except TypeError:
                raise WireError("a set of unhashable values") from None
        if tag == "d" and len(args) == 2:
            _need(isinstance(args[0], list) and all(isinstance(p, list) and len(p) == 2 for p in args[0]),
                  "a malformed dict")
            pairs = [(self.value(k, depth + 1), self.value(v, depth + 1)) for k, v in args[0]]
            try:
                return _DICT_CLASSES.get(args[1], dict)(pairs)
            except TypeError:
                raise WireError("a dict with unhashable keys") from None
        if tag == "dt" and len(args) == 1 and args[0] in TENSOR_DTYPES:
            return TENSOR_DTYPES[args[0]]
        if tag == "sz" and len(args) == 1:
            return torch.Size(self.shape(args[0]))
        if tag == "dv" and len(args) == 1 and isinstance(args[0], str) and len(args[0]) < 40:
            try:
                return torch.device(args[0])
            except (RuntimeError, ValueError):
                raise WireError("a malformed device") from None
        if tag == "T" and len(args) == 5:
            return self.tensor(*args)
        if tag == "A" and len(args) == 3:
            return self.array(*args)
        if tag == "a" and len(args) == 2:
            _need(args[0] in ARRAY_DTYPES, "a NumPy scalar of an unknown dtype")
            data = self.buffer(args[1])
            _need(len(data) == np.dtype(args[0]).itemsize, "a NumPy scalar of the wrong size")
            return self.checked_bool(np.frombuffer(data, dtype=args[0]))[0]
        if tag == "h" and len(args) == 2 and type(args[0]) is int:
            return self.make_handle(args[0], self.meta(args[1]))
        raise WireError(f"an unknown or malformed node {tag[:10]!r}")

    def shape(self, dims) -> list[int]:
        _need(isinstance(dims, list) and len(dims) <= 64 and all(type(d) is int and d >= 0 for d in dims),
              "a malformed shape")
        return dims

    @staticmethod
    def checked_bool(array):
        if array.dtype == np.bool_:
            _need(bool(np.all(array.view(np.uint8) <= 1)), "a bool array with values other than 0 and 1")
        return array

    def array(self, dtype, dims, index):
        _need(dtype in ARRAY_DTYPES, "an array of an unknown dtype")
        dims, data = self.shape(dims), self.buffer(index)
        size = int(np.prod(dims, dtype=np.float64)) * np.dtype(dtype).itemsize
        _need(size == len(data), "an array of the wrong size")
        return self.checked_bool(np.frombuffer(data, dtype=dtype).reshape(dims).copy())

    def tensor(self, dtype, dims, index, requires_grad, grad):
        _need(dtype in TENSOR_DTYPES and type(requires_grad) is bool, "a malformed tensor")
        torch_dtype, dims, data = TENSOR_DTYPES[dtype], self.shape(dims), self.buffer(index)
        numel = int(np.prod(dims, dtype=np.float64))
        _need(numel * torch_dtype.itemsize == len(data), "a tensor of the wrong size")
        if numel == 0:
            tensor = torch.empty(dims, dtype=torch_dtype)
        else:
            raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            if torch_dtype == torch.bool:
                _need(bool((raw <= 1).all()), "a bool tensor with values other than 0 and 1")
                tensor = (raw != 0).reshape(dims)
            else:
                tensor = raw.view(torch_dtype).reshape(dims)
        if requires_grad and tensor.is_floating_point() or requires_grad and tensor.is_complex():
            return self.on_grad(tensor, grad) if self.on_grad is not None else tensor.requires_grad_(True)
        return tensor

    def meta(self, meta) -> dict:
        limit = self.limits.max_meta_text
        _need(isinstance(meta, dict), "malformed handle metadata")

        def text(key, optional=False):
            value = meta.get(key)
            if optional and value is None:
                return None
            _need(isinstance(value, str) and len(value) <= limit, f"malformed handle metadata ({key})")
            return value

        def texts(key, optional=False):
            value = meta.get(key)
            if optional and value is None:
                return None
            _need(isinstance(value, list) and len(value) <= 200 and
                  all(isinstance(v, str) and len(v) <= limit for v in value), f"malformed handle metadata ({key})")
            return tuple(value)

        for key in ("callable", "is_class"):
            _need(type(meta.get(key)) is bool, f"malformed handle metadata ({key})")
        _need(type(meta.get("repr_len")) is int and meta["repr_len"] >= 0, "malformed handle metadata (repr_len)")
        return dict(type_name=text("type_name"), classes=texts("classes"), callable=meta["callable"],
                    is_class=meta["is_class"], repr=text("repr"), repr_len=meta["repr_len"],
                    name=text("name", optional=True), params=texts("params", optional=True),
                    module=text("module", optional=True))


def decode(node, buffers: list, make_handle: Callable[[int, dict], Any], limits: Limits = LIMITS,
           on_grad: Callable | None = None):
    """The value `node` stands for (see the module docstring); WireError when it is malformed.
    `make_handle(id, meta)` makes the judge's handle; `on_grad(tensor, link)` a tensor that
    carries a gradient link (else the tensor just requires grad)."""
    try:
        return _Decoder(buffers, make_handle, on_grad, limits).value(node)
    except WireError:
        raise
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as err:
        raise WireError(f"a malformed value ({type(err).__name__})") from None


# ----------------------------------------------------------------------------- frames (the pipe transport)

_MAGIC = b"CJ1\n"


def pack_frame(header: dict, buffers: list) -> bytes:
    """One message on a byte stream: magic, the JSON header, then the buffers, each with its length."""
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    parts = [_MAGIC, struct.pack("<II", len(text), len(buffers)), text]
    for b in buffers:
        parts += [struct.pack("<Q", len(b)), bytes(b)]
    return b"".join(parts)


def read_frame(read: Callable[[int], bytes], limits: Limits = LIMITS) -> tuple[dict, list[bytes]]:
    """The next message from `read(n)` (which returns exactly n bytes or raises); WireError if malformed."""
    if read(len(_MAGIC)) != _MAGIC:
        raise WireError("the stream is out of step")
    size, count = struct.unpack("<II", read(8))
    _need(size <= 64 * 2 ** 20 and count <= 100_000, "a frame header too large")
    try:
        header = json.loads(read(size).decode("utf-8"))
    except (ValueError, RecursionError):
        raise WireError("a frame header that is not JSON") from None
    buffers, total = [], 0
    for _ in range(count):
        (length,) = struct.unpack("<Q", read(8))
        total += length
        _need(total <= limits.max_bytes, "a frame too large")
        buffers.append(read(length))
    _need(isinstance(header, dict), "a frame header that is not an object")
    return header, buffers
