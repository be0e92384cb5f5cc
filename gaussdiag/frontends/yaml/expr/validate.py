"""The whitelist walk behind `parse`: checks every node of a Python expression against the
grammar, knows what each part evaluates to (a tensor, an integer, a shape, a tuple of tensors),
and resolves torch's spellings (`x.sqrt()`, `torch.sqrt`, `F.elu`, `math.pi`) to the
whitelisted functions, returning the resolved tree the evaluator walks."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml.expr.fold import (
    bind,
    check_exponent,
    check_index,
    check_sizes,
    dotted,
    fold,
    located,
)
from gaussdiag.frontends.yaml.expr.grammar import (
    ATTRIBUTES,
    CONSTANTS,
    FORBIDDEN,
    FUNCTIONS,
    MATH_FUNCTIONS,
    MAX_INDEX,
    MAX_INDEX_ENTRIES,
    METHOD_ONLY,
    METHODS,
    MODULE_ROOTS,
    NAMESPACES,
    OPERATOR_SYMBOLS,
    OPERATORS,
    UNARY_OPERATORS,
    ArgKind,
    Kind,
    Param,
    Signature,
    is_none,
    is_number,
    segment,
    signed_constant,
    signed_int,
)
from gaussdiag.suggest import closest, hint, listing

Resolved = tuple[Kind, ast.expr]
_VALUES = (Kind.TENSOR, Kind.INT)
_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_PREFIXES = "torch., torch.linalg., torch.nn.functional., nn.functional., F. and math."


class Validator:
    """Recursive whitelist check; `expr` returns a part's kind and its resolved node. Depth is
    already bounded by the size check in `parse`."""

    def __init__(self, text: str, declared: frozenset[str], allow_randn: bool) -> None:
        self.text = text
        self.declared = declared
        self.allow_randn = allow_randn
        self.names: set[str] = set()
        self.functions: set[str] = set()
        # Receivers of method calls, resolved once (a chain x.a().b() is walked once).
        self._done: dict[int, Resolved] = {}

    def fail(self, message: str, node: ast.AST) -> ExprError:
        return ExprError(message, segment(self.text, node))

    def value(self, node: ast.expr) -> ast.expr:
        """A part that must be a tensor (or an integer, which torch promotes)."""
        kind, out = self.expr(node)
        if kind is Kind.SIZE:
            raise self.fail("a shape cannot be used as a value: index it (x.shape[0]) or pass "
                            "it to view, reshape, zeros, ones or randn", node)
        if kind is Kind.TENSORS:
            raise self.fail("split and chunk give a tuple of tensors: index it, e.g. "
                            "x.split(3, dim=-1)[0]", node)
        return out

    def expr(self, node: ast.expr) -> Resolved:
        done = self._done.get(id(node))
        if done is not None:
            return done
        if isinstance(node, ast.Constant):
            self.number(node)
            return Kind.TENSOR, node
        if isinstance(node, ast.Name):
            self.name(node)
            return Kind.TENSOR, node
        if isinstance(node, ast.BinOp):
            return Kind.TENSOR, self.binop(node)
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in UNARY_OPERATORS:
                raise self.fail(f"operator {OPERATOR_SYMBOLS[type(node.op)]} is not allowed",
                                node)
            return Kind.TENSOR, located(ast.UnaryOp(node.op, self.value(node.operand)), node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        message = FORBIDDEN.get(type(node), f"{type(node).__name__} is not allowed")
        raise self.fail(message, node)

    def number(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            raise self.fail("True and False are only allowed for keepdim; use 1 or 0", node)
        if isinstance(value, (str, bytes)):
            raise self.fail("string literals are not allowed", node)
        if isinstance(value, complex):
            raise self.fail("complex numbers are not allowed", node)
        if value is None:
            raise self.fail("None is only allowed for optional arguments (dim, min, max) and "
                            "in subscripts", node)
        if not is_number(value):
            raise self.fail(f"{value!r} is not allowed", node)
        folded = fold(node)
        if folded is None or not math.isfinite(folded):
            raise self.fail("number literal is too large for a float", node)

    def name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            raise self.fail("dunder names are not allowed", node)
        if node.id not in self.declared:
            if node.id in FUNCTIONS:
                raise self.fail(f"'{node.id}' is a function: call it, e.g. {node.id}(x)", node)
            if node.id in MODULE_ROOTS:
                raise self.fail(f"'{node.id}' is a module: use it as a prefix, e.g. "
                                f"{node.id}.sqrt(x)", node)
            close = hint(node.id, self.declared, FUNCTIONS)
            raise self.fail(f"unknown name '{node.id}'{close}", node)
        self.names.add(node.id)

    def binop(self, node: ast.BinOp) -> ast.expr:
        if type(node.op) not in OPERATORS:
            raise self.fail(f"operator {OPERATOR_SYMBOLS[type(node.op)]} is not allowed", node)
        if isinstance(node.op, ast.Pow):
            check_exponent(node, node.right, self.fail, self.declared)
        return located(ast.BinOp(self.value(node.left), node.op, self.value(node.right)), node)

    # ---- attributes, modules and methods ---------------------------------------------------

    def module(self, node: ast.expr) -> tuple[str, str] | None:
        """(`module`, `name`) when `node` is a dotted name under a module root, not a value."""
        chain = dotted(node)
        if chain is None or len(chain) < 2 or chain[0] in self.declared:
            return None
        if chain[0].startswith("__") or chain[-1].startswith("_"):
            raise self.fail("dunder and private names are not allowed", node)
        if chain[0] not in MODULE_ROOTS:
            raise self.fail(f"unknown name '{chain[0]}': the only modules are {_PREFIXES}"
                            f"{hint(chain[0], self.declared, MODULE_ROOTS)}", node)
        return ".".join(chain[:-1]), chain[-1]

    def attribute(self, node: ast.Attribute) -> Resolved:
        where = self.module(node)
        if where is not None:
            module, attr = where
            constant = CONSTANTS.get(module, {}).get(attr)
            if constant is not None:
                return Kind.TENSOR, located(ast.Constant(constant), node)
            known = [f"{m}.{c}" for m, cs in CONSTANTS.items() for c in cs]
            if module in NAMESPACES and attr in NAMESPACES[module]:
                raise self.fail(f"'{module}.{attr}' is a function: call it", node)
            raise self.fail(f"'{module}.{attr}' is not a supported constant; the constants are "
                            f"{listing(known)}{hint(f'{module}.{attr}', known)}", node)
        if node.attr.startswith("_"):
            raise self.fail("dunder and private attributes are not allowed", node)
        kind, receiver = self.expr(node.value)
        if kind is not Kind.TENSOR:
            raise self.fail(f"attribute '{node.attr}' needs a tensor, but "
                            f"`{segment(self.text, node.value)}` is {kind.value}", node)
        if node.attr in ATTRIBUTES:
            return ATTRIBUTES[node.attr], located(ast.Attribute(receiver, node.attr), node)
        if node.attr in METHODS:
            raise self.fail(f"'{node.attr}' is a method: call it, e.g. x.{node.attr}()", node)
        raise self.fail(f"attribute '{node.attr}' is not allowed; tensors allow the attributes "
                        f"{listing(list(ATTRIBUTES))} and the methods {listing(sorted(METHODS))}"
                        f"{hint(node.attr, ATTRIBUTES, METHODS)}", node)

    def resolve(self, node: ast.Call) -> tuple[str, Signature, ast.expr | None] | Resolved:
        """The whitelisted name a call means, its signature and its receiver (`x` in
        `x.sqrt()`); or, for `math.` functions of constants, the folded constant."""
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if name.startswith("__"):
                raise self.fail("dunder names are not allowed", node)
            signature = FUNCTIONS.get(name)
            if signature is not None:
                return name, signature, None
            if name in self.declared:
                raise self.fail(f"'{name}' is not a function", node)
            if name in METHOD_ONLY:
                raise self.fail(f"'{name}' is a method: call it on a tensor, x.{name}()", node)
            raise self.fail(f"unknown function '{name}'{hint(name, FUNCTIONS)}", node)
        if not isinstance(func, ast.Attribute):
            raise self.fail("only the whitelisted functions can be called, by name", node)
        where = self.module(func)
        if where is not None:
            module, attr = where
            if module == "math":
                return self.math_call(node, attr)
            table = NAMESPACES.get(module)
            if table is None:
                raise self.fail(f"'{module}' is not a namespace expressions know; use "
                                f"{_PREFIXES}{hint(module, NAMESPACES)}", node)
            if attr not in table:
                elsewhere = [f"{m}.{attr}" for m, t in NAMESPACES.items() if attr in t]
                # Nearest spelling: the same name elsewhere, else a loosely close one here.
                same = closest(attr, table) or closest(attr, table, cutoff=0.3)
                near = elsewhere[0] if elsewhere else f"{module}.{same}" if same else None
                fix = f" (did you mean '{near}'?)" if near else ""
                raise self.fail(f"'{module}.{attr}' is not supported{fix}", node)
            return table[attr], FUNCTIONS[table[attr]], None
        if func.attr.startswith("_"):
            raise self.fail("dunder and private attributes are not allowed", func)
        kind, receiver = self.expr(func.value)
        self._done[id(func.value)] = (kind, receiver)
        if kind is not Kind.TENSOR:
            raise self.fail(f"method '{func.attr}' needs a tensor, but "
                            f"`{segment(self.text, func.value)}` is {kind.value}", node)
        if func.attr not in METHODS:
            raise self.fail(f"tensor method '{func.attr}' is not allowed; the methods are "
                            f"{listing(sorted(METHODS))}{hint(func.attr, METHODS)}", func)
        signature = FUNCTIONS.get(func.attr) or METHOD_ONLY[func.attr]
        return func.attr, signature, func.value

    def math_call(self, node: ast.Call, attr: str) -> Resolved:
        if attr not in MATH_FUNCTIONS:
            raise self.fail(f"'math.{attr}' is not supported; the math functions are "
                            f"{listing(list(MATH_FUNCTIONS))}{hint(attr, MATH_FUNCTIONS)}", node)
        value = fold(node, self.declared)
        if value is None:
            raise self.fail(f"math.{attr} takes one number (math.pi and math. functions of "
                            f"numbers included); for a tensor use torch.{attr}(x)", node)
        if not math.isfinite(value):
            raise self.fail(f"math.{attr} of that number is not a finite number", node)
        return Kind.TENSOR, located(ast.Constant(value), node)

    # ---- calls ------------------------------------------------------------------------------

    def call(self, node: ast.Call) -> Resolved:
        resolved = self.resolve(node)
        if len(resolved) == 2:
            return resolved
        name, signature, receiver = resolved
        if signature.rsample_only and not self.allow_randn:
            raise self.fail(f"{name} is only allowed in rsample mode", node)
        self.functions.add(name)
        positional = ([receiver] if receiver is not None else []) + list(node.args)
        bound = bind(name, signature, node, positional, self.fail, self.declared)
        args: list[ast.expr] = []
        keywords: list[ast.keyword] = []
        given = {k.arg for k in node.keywords}
        for param, arg in bound.items():
            out = self.argument(name, param, arg)
            if param.name in given:
                keywords.append(ast.keyword(param.name, out))
            else:
                args.append(out)
        call = located(ast.Call(located(ast.Name(name, ast.Load()), node), args, keywords),
                        node)
        kind = signature.returns
        if name == "size" and any(p.name == "dim" and not is_none(a) for p, a in bound.items()):
            kind = Kind.INT
        return kind, call

    def argument(self, name: str, param: Param, arg: ast.expr) -> ast.expr:
        kind = param.kind
        wrong = f"{name}() argument '{param.name}' must be {kind.value}"
        check: Callable[[ast.expr], ast.expr] | None = {
            ArgKind.SHAPE: self.shape, ArgKind.SIZES: self.checked_sizes,
            ArgKind.CONDITION: self.condition,
        }.get(kind)
        if check is not None:
            return check(arg)
        if kind in (ArgKind.TENSOR, ArgKind.OPTIONAL_TENSOR):
            return arg if kind is ArgKind.OPTIONAL_TENSOR and is_none(arg) else self.value(arg)
        if kind is ArgKind.TENSORS:
            if not isinstance(arg, ast.List):
                raise self.fail(f"{name}() takes a list literal as '{param.name}', "
                                f"e.g. {name}([x, y])", arg)
            if not arg.elts:
                raise self.fail(f"{name}() needs at least one tensor in its list", arg)
            return located(ast.List([self.value(e) for e in arg.elts], ast.Load()), arg)
        if kind in (ArgKind.INT, ArgKind.OPTIONAL_INT, ArgKind.POSITIVE_INT):
            if kind is ArgKind.OPTIONAL_INT and is_none(arg):
                return arg
            value = signed_int(arg)
            if value is None or abs(value) > MAX_INDEX:
                raise self.fail(wrong, arg)
            if kind is ArgKind.POSITIVE_INT and value < 1:
                raise self.fail(f"{wrong}, got {value}", arg)
            return arg
        if kind is ArgKind.BOOL:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, bool)):
                raise self.fail(wrong, arg)
            return arg
        if kind is ArgKind.NUMBER:
            if not param.required and is_none(arg):
                return arg
            if signed_constant(arg) is not None:
                return self.value(arg)
            folded = fold(arg, self.declared)  # math.pi, 2 * math.log(2)
            if folded is None:
                raise self.fail(wrong, arg)
            if not math.isfinite(folded):
                raise self.fail(f"{wrong}, and finite", arg)
            return located(ast.Constant(folded), arg)
        raise AssertionError(kind)  # pragma: no cover - every kind is handled above

    def shape(self, arg: ast.expr) -> ast.expr:
        """A shape: a list or tuple of integers (literals, x.size(0), x.shape[1]), or a
        shape value (x.shape, x.size()). Sizes are checked when evaluated, before allocation."""
        if isinstance(arg, (ast.List, ast.Tuple)):
            if len(arg.elts) == 1 and not isinstance(arg.elts[0], ast.Constant):
                kind, out = self.expr(arg.elts[0])
                if kind is Kind.SIZE:
                    return out
            if len(arg.elts) > MAX_INDEX_ENTRIES * 8:
                raise self.fail("a shape has at most 64 dimensions", arg)
            return located(ast.Tuple([self.dimension(e) for e in arg.elts], ast.Load()), arg)
        kind, out = self.expr(arg)
        if kind is Kind.SIZE:
            return out
        return located(ast.Tuple([self.dimension(arg)], ast.Load()), arg)

    def dimension(self, node: ast.expr) -> ast.expr:
        value = signed_int(node)
        if value is not None:
            if not -1 <= value <= MAX_INDEX:
                raise self.fail(f"a size must be -1 or between 0 and {MAX_INDEX}, got {value}",
                                node)
            return node
        kind, out = self.expr(node)
        if kind is not Kind.INT:
            raise self.fail("a size must be an integer literal, x.size(i) or x.shape[i]", node)
        return out

    def checked_sizes(self, arg: ast.expr) -> ast.expr:
        check_sizes(arg, self.fail, self.text)
        return arg

    def condition(self, arg: ast.expr) -> ast.expr:
        if not isinstance(arg, ast.Compare):
            return self.value(arg)
        if len(arg.ops) != 1 or not isinstance(arg.ops[0], _COMPARISONS):
            raise self.fail("a condition is one comparison such as x > 0", arg)
        left, right = self.value(arg.left), self.value(arg.comparators[0])
        return located(ast.Compare(left, arg.ops, [right]), arg)

    # ---- subscripts -------------------------------------------------------------------------

    def subscript(self, node: ast.Subscript) -> Resolved:
        kind, value = self.expr(node.value)
        if kind in (Kind.SIZE, Kind.TENSORS):
            index = signed_int(node.slice)
            if index is None or abs(index) > MAX_INDEX:
                raise self.fail(f"{kind.value} takes a plain integer subscript such as [0]",
                                node)
            result = Kind.INT if kind is Kind.SIZE else Kind.TENSOR
            return result, located(ast.Subscript(value, node.slice, ast.Load()), node)
        if kind is not Kind.TENSOR:
            raise self.fail(f"`{segment(self.text, node.value)}` is {kind.value} and cannot "
                            "be subscripted", node)
        entries = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(entries) > MAX_INDEX_ENTRIES:
            raise self.fail(f"a subscript has at most {MAX_INDEX_ENTRIES} entries", node)
        if sum(isinstance(e, ast.Constant) and e.value is Ellipsis for e in entries) > 1:
            raise self.fail("a subscript has at most one ...", node)
        for entry in entries:
            check_index(entry, self.fail)
        return Kind.TENSOR, located(ast.Subscript(value, node.slice, ast.Load()), node)
