"""Tiny activation hooks in the spirit of baukit's nethook: ``Trace`` and ``TraceDict``."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager

import torch
from torch import nn


def get_module(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError as e:
        raise LookupError(f"no module named '{name}'") from e


class StopForward(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a ``stop`` trace: nothing after that module is needed, so the forward ends there."""


class Trace(AbstractContextManager):
    """Record the input and/or output of one module during forward passes.

    ``edit_output`` may return a replacement output (used to steer activations in experiments).
    ``stop`` raises ``StopForward`` once the module has run (catch it around the forward call).
    """

    def __init__(
        self,
        model: nn.Module,
        name: str,
        *,
        retain_input: bool = True,
        retain_output: bool = True,
        detach: bool = True,
        edit_output=None,
        stop: bool = False,
    ) -> None:
        self.name = name
        self.input: torch.Tensor | None = None
        self.output: torch.Tensor | None = None
        module = get_module(model, name)

        def hook(_mod: nn.Module, args: tuple, out: torch.Tensor):
            if retain_input:
                x = args[0]
                self.input = x.detach() if detach else x
            if edit_output is not None:
                out = edit_output(out, name)
            if retain_output:
                self.output = out.detach() if detach else out
            if stop:
                raise StopForward(name)
            return out

        self._handle = module.register_forward_hook(hook)

    def close(self) -> None:
        self._handle.remove()

    def __exit__(self, *exc) -> None:
        self.close()


class TraceDict(dict, AbstractContextManager):
    """A ``Trace`` per module name, removed together on exit. ``stop``: the last name ends the forward
    (as in baukit; list the module that runs last, last)."""

    def __init__(self, model: nn.Module, names: Iterable[str], *, stop: bool = False, **kwargs) -> None:
        super().__init__()
        names = list(names)
        for i, n in enumerate(names):
            self[n] = Trace(model, n, stop=stop and i == len(names) - 1, **kwargs)

    def __exit__(self, *exc) -> None:
        for t in self.values():
            t.close()
