"""`SpecExprs`: a loaded spec's expressions, parsed once and evaluated against torch, with
every failure located at its key. What the side builder, the dry run and the wording read of
a spec; `BoundSpec` is one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.failures import LINALG_FIX, ConstraintFailure, first_line
from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml import expr as ex
from gaussdiag.frontends.yaml.spec import DEFAULT_MAX_ELEMENTS, LoadedSpec
from gaussdiag.vocab import SideName

if TYPE_CHECKING:
    import torch

# What runs inside `stage(label)` is charged to the spec key `label` (`params.mu`, `a.dist`)
Stage = Callable[[str], AbstractContextManager[object]]
_UNMETERED = nullcontext()


class SpecExprs:
    """The spec (`loaded`, `spec`), its size limit, and its expressions."""

    # The dry run's `Meter.stage` on its meta-device copy (`dry_run`), which the build runs
    # each step of its spec under; None otherwise, and `stage` does nothing
    stages: Stage | None = None

    def __init__(self, loaded: LoadedSpec, max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self.max_elements = max_elements
        self._exprs: dict[str, ex.Expr] = {}
        self._functions = ex.torch_functions(max_elements=max_elements)

    def stage(self, label: str) -> AbstractContextManager[object]:
        """Blame the spec key `label` for what runs inside (a no-op outside the dry run)."""
        return _UNMETERED if self.stages is None else self.stages(label)

    def parsed(self, source: str, *, allow_randn: bool = False) -> ex.Expr:
        key = f"{allow_randn}:{source}"
        if key not in self._exprs:
            names = list(self.spec.params) + list(self.spec.inputs)
            self._exprs[key] = ex.parse(source, names=names, allow_randn=allow_randn)
        return self._exprs[key]

    def eval_expr(self, key: tuple[str | int, ...], source: str | float, env: Mapping[str, Any],
                  dtype: torch.dtype, device: torch.device, side: SideName | None,
                  functions: Mapping[str, Callable[..., Any]] | None = None,
                  allow_randn: bool = False) -> torch.Tensor:
        """`source` evaluated over `env`; a linear-algebra failure charged to `side` is a
        ConstraintFailure, anything else a SpecError at `key`."""
        import torch

        def literal(v: float) -> torch.Tensor:
            return torch.tensor(v, dtype=dtype, device=device)

        def check(v: Any) -> None:
            if isinstance(v, torch.Tensor) and v.numel() > self.max_elements:
                raise ExprError(f"intermediate result of {v.numel():,} elements exceeds the limit "
                                f"of {self.max_elements:,} (raise it with --max-elements)")

        if not isinstance(source, str):
            return literal(float(source))
        try:
            e = self.parsed(source, allow_randn=allow_randn)
            out = ex.evaluate(e, env, functions or self._functions, literal=literal, check=check)
        except ExprError as err:
            raise self.loaded.error(key, f"{err}") from None
        except torch.linalg.LinAlgError as err:  # type: ignore[attr-defined]
            if side is None:
                raise self.loaded.error(key, f"{err}") from None
            raise ConstraintFailure(
                side, f"{'.'.join(map(str, key))} = `{source}` failed: {err}",
                arg=str(key[-1]), detail=str(err), fix=LINALG_FIX) from None
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise self.loaded.error(
                key, f"`{source}` failed to evaluate: {first_line(err)}") from None
        if not isinstance(out, torch.Tensor):
            out = literal(float(out))
        return out
