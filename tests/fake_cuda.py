"""A fake CUDA device for a CPU-only machine: regbench code runs on FakeTensor CUDA tensors.

Under :class:`CudaOnlyFakeMode` (a :class:`torch._subclasses.fake_tensor.FakeTensorMode`
that leaves pure-CPU ops real), a tensor made with
``device="cuda"`` (or moved there) is a FakeTensor: it has a shape, a dtype and a CUDA
device but no values, and every op checks its inputs' devices as a CUDA kernel would
(``FakeTensorDeviceMismatchError``: "Expected all tensors to be on the same device"). That
is the class of bug a CPU-only CI otherwise never sees: a CPU tensor made inside code that
runs on a GPU. What FakeTensorMode cannot do on a machine without a driver is patched here,
for fake tensors only (real tensors keep torch's own behaviour):

- reading a value (``item``, ``tolist``, ``bool``, ``int``, ``float``) gives a placeholder
  (0.5, 2**31 − 1, True), and a copy to the CPU a real CPU tensor of placeholders, from which the
  code runs for real: the numbers are meaningless, the placement is what is checked; each
  such read of a CUDA tensor is counted in :data:`READS` (a real GPU would sync there);
- ops whose output shape depends on values (``unique``, ``nonzero``, boolean masks) are not
  patched: code that uses them on the run's device fails here, as it would sync a real GPU;
- the autograd engine needs a real CUDA context, so ``backward`` and ``torch.autograd.grad``
  give every leaf a zero gradient on the leaf's own device (the forward graph is real);
- a fake tensor has no bytes: ``torch.save`` writes a real CPU placeholder for each, and
  keeps what it was given in :data:`SAVED`; ``torch.load`` reads real tensors;
- a CUDA ``torch.Generator`` cannot be made without a driver: the loop gets a CPU one that
  reports ``device == cuda`` (draws made with ``device=g.device`` are fake CUDA tensors), and
  the device it asked for is kept in :data:`GENERATORS`; such a generator given to a CPU op
  raises, as on a GPU (a generator's device is not checked on fake tensors);
- host-to-device copies of real CPU tensors are counted in :data:`UPLOADS` (from pageable
  memory each one waits for a real GPU);
- channels-last conversion is off (a layout, not a placement: the ``gpu`` tests check it);
- ``torch.cuda.is_available()`` stays False (FakeTensorMode consults it), so bf16 autocast
  is off: the training loops get a stand-in that records where it is entered
  (:data:`BF16_REGIONS`), so a forward pass outside the run's precision is seen; the numbers
  themselves are the ``gpu`` tests' business.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from unittest import mock

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

CUDA = torch.device("cuda")


# value reads of fake CUDA tensors (item, tolist, bool, int, float, a copy to the CPU):
# each would make a real GPU wait, so a count that grows with the number of steps is a
# per-step sync (tests/test_fake_cuda.py)
READS: list[str] = []


# host-to-device copies of real CPU tensors (``.to("cuda")``, ``.cuda()``, ``torch.tensor(...,
# device="cuda")``, ``copy_`` into a CUDA tensor): from pageable memory each one waits for the
# GPU (torch.cuda.set_sync_debug_mode flags it), so a count that grows with the number of
# steps is a per-step upload (a table rebuilt on every call, a batch moved up per step)
UPLOADS: list[str] = []


def _is_upload(func, args, kwargs) -> bool:
    """Does this op copy a CPU tensor (more than a 0-dim scalar) to a CUDA device?"""
    aten = torch.ops.aten
    if func is aten._to_copy.default:
        src, device = args[0], kwargs.get("device")
        return device is not None and torch.device(device).type == "cuda" and _real_cpu(src)
    if func is aten.copy_.default:
        dst, src = args[0], args[1]
        return dst.device.type == "cuda" and _real_cpu(src)
    return False


def _real_cpu(t) -> bool:
    """A CPU tensor holding data (a constant such as ``torch.tensor([...])`` becomes a fake
    CPU tensor under the mode), not a 0-dim scalar (passed to a kernel as a value)."""
    return isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.dim() > 0


def _placeholder_list(t: torch.Tensor):
    return torch.full(tuple(t.shape), 0.5).tolist() if t.dim() else 0.5


def _real_placeholder(t: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A real CPU tensor of ``t``'s shape: what a copy off the device gives (values 0.5, 0 or False)."""
    dtype = dtype or t.dtype
    with torch._subclasses.fake_tensor.unset_fake_temporarily():
        if dtype.is_floating_point or dtype.is_complex:
            return torch.full(tuple(t.shape), 0.5, dtype=dtype)
        return torch.zeros(tuple(t.shape), dtype=dtype)


def _fake_aware(name: str, placeholder):
    """``torch.Tensor.<name>`` that returns ``placeholder(t)`` for a FakeTensor."""
    original = getattr(torch.Tensor, name)

    def method(self, *args, **kwargs):
        if isinstance(self, FakeTensor):
            if self.device.type == "cuda":
                READS.append(name)
            return placeholder(self)
        with torch._subclasses.fake_tensor.unset_fake_temporarily():  # a real tensor has its value
            return original(self, *args, **kwargs)

    return method


def _fake_to(original):
    """``Tensor.to``: a fake CUDA tensor copied to the CPU becomes a real CPU placeholder, so
    code that moves results off the device (metrics, predictions) runs for real from there."""

    def to(self, *args, **kwargs):
        if isinstance(self, FakeTensor) and self.device.type == "cuda":
            parse = {k: v for k, v in kwargs.items() if k != "copy"}  # _parse_to does not take copy
            device, dtype, _, _ = torch._C._nn._parse_to(*args, **parse)
            if device is not None and device.type == "cpu":
                READS.append("to(cpu)")
                return _real_placeholder(self, dtype)
        return original(self, *args, **kwargs)

    return to


def _fake_cpu(original):
    def cpu(self, *args, **kwargs):
        if isinstance(self, FakeTensor) and self.device.type == "cuda":
            READS.append("cpu")
            return _real_placeholder(self)
        return original(self, *args, **kwargs)

    return cpu


def _leaves(t: torch.Tensor) -> list[torch.Tensor]:
    """The leaf tensors (parameters, inputs that require grad) ``t``'s autograd graph reaches."""
    seen, out, todo = set(), [], [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        var = getattr(fn, "variable", None)  # an AccumulateGrad node holds its leaf
        if var is not None:
            out.append(var)
        todo.extend(nxt for nxt, _ in fn.next_functions)
    return out


SAVED: list[dict] = []  # what each torch.save was given, fake tensors included (checkpoint tests)


def _fake_save(original):
    """``torch.save``: fake tensors have no bytes to write, so each is written as a real CPU
    placeholder of its shape and dtype (the object given is kept in :data:`SAVED`)."""

    def save(obj, f, *args, **kwargs):
        SAVED.append(obj)
        real = torch.utils._pytree.tree_map_only(FakeTensor, _real_placeholder, obj)
        return original(real, f, *args, **kwargs)

    return save


def _real_load(original):
    """``torch.load`` outside the fake mode: a file holds real tensors, as on a GPU host."""

    def load(*args, **kwargs):
        with torch._subclasses.fake_tensor.unset_fake_temporarily():
            return original(*args, **kwargs)

    return load


def _fake_backward(original):
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if not isinstance(self, FakeTensor):
            return original(self, gradient, retain_graph, create_graph, inputs)
        for leaf in inputs if inputs is not None else _leaves(self):
            zero = torch.zeros_like(leaf)
            leaf.grad = zero if leaf.grad is None else leaf.grad + zero  # + checks the devices agree
        return None

    return backward


def _fake_grad(original):
    def grad(outputs, inputs, *args, **kwargs):
        outs = [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)
        if not any(isinstance(o, FakeTensor) for o in outs):
            return original(outputs, inputs, *args, **kwargs)
        single = isinstance(inputs, torch.Tensor)
        zeros = tuple(torch.zeros_like(i) for i in ([inputs] if single else inputs))
        return zeros

    return grad


GENERATORS: list[tuple[tuple, str]] = []  # (keys, device) of every generator the loop asked for
CUDA_GENERATOR_SEEDS: set[int] = set()  # initial seeds of the stand-ins for CUDA generators


class _StandInCudaGenerator(torch.Generator):
    """A CPU generator that says it is on CUDA, as the loop's generator is on a GPU host.

    Code that draws with ``device=g.device`` gets fake CUDA tensors (no upload, as on a GPU);
    a draw for a CPU op with it fails as it does on a GPU (see :class:`CudaOnlyFakeMode`).
    """

    def __new__(cls, device: torch.device):
        self = super().__new__(cls)  # a CPU generator: torch.Generator(device) would need a driver
        self._device = device
        return self

    def __init__(self, device: torch.device):
        super().__init__()

    @property
    def device(self) -> torch.device:
        return self._device


def _cpu_generator(*keys, device: str = "cpu"):
    from regbench.seeding import derive_seed

    GENERATORS.append((keys, device))
    seed = derive_seed(*keys)
    if torch.device(device).type == "cuda":
        CUDA_GENERATOR_SEEDS.add(seed)  # torch passes ops a plain Generator: known by its seed
        return _StandInCudaGenerator(torch.device(device)).manual_seed(seed)
    return torch.Generator().manual_seed(seed)


BF16_REGIONS: list[int] = [0]  # how deep the code is in regions the run's autocast covers (bf16 on CUDA)


class _Bf16Region(contextlib.AbstractContextManager):
    """Stands in for bf16 autocast, which is off without a driver: counts its depth, so a test
    can check that a forward pass runs where a GPU would compute it in bf16."""

    def __enter__(self):
        BF16_REGIONS[0] += 1
        return self

    def __exit__(self, *exc):
        BF16_REGIONS[0] -= 1
        return None


def _recording_autocast(device: torch.device):
    from regbench.train.execution import autocast

    return _Bf16Region() if torch.device(device).type == "cuda" else autocast(device)


class CudaOnlyFakeMode(FakeTensorMode):
    """FakeTensorMode for CUDA tensors only: an op with no fake input that makes nothing on
    CUDA runs for real, so CPU code (RNG states, the optimizer's step counters, metrics
    after a copy to the CPU) behaves as on a GPU host, while any op mixing a CPU tensor into
    a fake CUDA one still goes through FakeTensorMode's device check."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _is_upload(func, args, kwargs):
            UPLOADS.append(str(func))
        leaves = torch.utils._pytree.arg_tree_leaves(*args, **kwargs)
        device = kwargs.get("device")
        makes_cuda = device is not None and torch.device(device).type == "cuda"
        if not makes_cuda and not any(isinstance(t, FakeTensor) for t in leaves):
            g = kwargs.get("generator")
            if g is not None and g.initial_seed() in CUDA_GENERATOR_SEEDS:
                # what torch raises on a GPU host for a CUDA generator given to a CPU op
                raise RuntimeError(f"{func}: Expected a 'cpu' device type for generator but found 'cuda'")
            with torch._subclasses.fake_tensor.unset_fake_temporarily():
                return func(*args, **kwargs)
        return super().__torch_dispatch__(func, types, args, kwargs)


@contextlib.contextmanager
def fake_cuda():
    """Run the block under FakeTensorMode with the patches above; yields the mode.

    Build models on the CPU before (or inside, with real tensors) and move them with
    ``.to("cuda")`` inside the block; CPU data passed in is moved by the code under test.
    """
    from regbench.catalog import registries
    from regbench.regularizers import augment

    registries()  # import every plugin with real tensors first (module-level tables)
    READS.clear()
    UPLOADS.clear()
    SAVED.clear()
    GENERATORS.clear()
    CUDA_GENERATOR_SEEDS.clear()
    caches = (
        augment._on_device,
        augment._identity_mask,
        augment._sharpness_kernel,
    )  # per-device copies: fake ones die with the mode
    patches = [
        mock.patch.object(torch.Tensor, "item", _fake_aware("item", lambda t: 0.5)),
        mock.patch.object(torch.Tensor, "tolist", _fake_aware("tolist", _placeholder_list)),
        mock.patch.object(torch.Tensor, "__bool__", _fake_aware("__bool__", lambda t: True)),
        # a large int: such reads are lengths and bounds (slice to them keeps everything)
        mock.patch.object(torch.Tensor, "__int__", _fake_aware("__int__", lambda t: 2**31 - 1)),
        mock.patch.object(torch.Tensor, "__float__", _fake_aware("__float__", lambda t: 0.5)),
        mock.patch.object(torch.Tensor, "cpu", _fake_cpu(torch.Tensor.cpu)),
        mock.patch.object(torch.Tensor, "to", _fake_to(torch.Tensor.to)),
        mock.patch.object(torch.Tensor, "backward", _fake_backward(torch.Tensor.backward)),
        mock.patch.object(torch, "save", _fake_save(torch.save)),
        mock.patch.object(torch, "load", _real_load(torch.load)),
        mock.patch.object(torch.autograd, "grad", _fake_grad(torch.autograd.grad)),
        mock.patch("regbench.train.loop.torch_generator", _cpu_generator),
        mock.patch("regbench.train.seed_hooks.torch_generator", _cpu_generator),
        mock.patch("regbench.train.loop.autocast_for", _recording_autocast),
        mock.patch("regbench.train.seed_batch.autocast_for", _recording_autocast),
        # channels-last conversion swaps parameters in place, which fake parameters refuse;
        # it changes memory layout, not device, so this tier leaves it to the gpu tests
        mock.patch("regbench.train.loop.wants_channels_last", lambda model, device: False),
        mock.patch.object(torch.cuda, "device_count", lambda: 1),
        mock.patch.object(torch.cuda, "current_device", lambda: 0),
        mock.patch.object(torch.cuda, "get_rng_state", lambda device="cuda": torch.zeros(16, dtype=torch.uint8)),
        mock.patch.object(torch.cuda, "set_rng_state", lambda state, device="cuda": None),
    ]
    # Module.to() would swap a real parameter's storage for a fake one in place, which torch
    # refuses when anything holds a weak reference to it; new Parameter objects avoid that
    overwrite = torch.__future__.get_overwrite_module_params_on_conversion()
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    with contextlib.ExitStack() as stack:
        stack.callback(torch.__future__.set_overwrite_module_params_on_conversion, overwrite)
        # FakeTensorMode caches op results across modes; an entry from an earlier mode can
        # crash a later one (seen here as a segfault in a dtype conversion), so start empty
        FakeTensorMode.cache_clear()
        stack.callback(FakeTensorMode.cache_clear)
        for cache in caches:
            cache.cache_clear()
            stack.callback(cache.cache_clear)
        for p in patches:
            stack.enter_context(p)
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", message=".*CUDA is not available.*")  # autocast's notice
        mode = stack.enter_context(CudaOnlyFakeMode(allow_non_fake_inputs=True))
        # fake tensors freed after their mode has exited have crashed the interpreter here:
        # collect what the block dropped while the mode is still active
        stack.callback(gc.collect)
        yield mode


def on_cuda(t: torch.Tensor) -> bool:
    return t.device.type == "cuda"
