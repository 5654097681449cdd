"""The Entra attribute-mapping expression language: parse once, evaluate per user.

```python
expr = compile_expression('Join(", ", [surname], [givenName])')   # ExpressionError with column
expr.attributes        # frozenset({'surname', 'givenName'}): what to $select from the source
expr.evaluate(user)    # 'Doe, John'; IGNORE when IgnoreFlowIfNullOrEmpty dropped the attribute
expr.redacts           # True when Redact() is used: log REDACTED_MARK instead of the value
format_value(value)    # how the command line prints a result
```

``user`` is a mapping of Graph property names (the raw JSON). ``[netId]`` is not a Graph
property: the engine passes the source object id under that key (for AltSecIdFromNetId), so it
appears in ``attributes`` and must be left out of ``$select`` (see PSEUDO_ATTRIBUTES).
Semantics, and the decisions taken where the documentation is silent, are in functions.py.
"""

from __future__ import annotations

from ..errors import ExpressionError
from .evaluate import CompiledExpression, compile_expression
from .functions import FUNCTIONS
from .values import IGNORE, REDACTED_MARK, format_value

FUNCTION_NAMES = frozenset(FUNCTIONS)
"""Every function name the language knows (case-sensitive), including the refused ones."""

PSEUDO_ATTRIBUTES = frozenset({"netId"})
"""Attributes the engine supplies itself; they are not Graph properties."""

__all__ = [
           "FUNCTION_NAMES",
           "IGNORE",
           "PSEUDO_ATTRIBUTES",
           "REDACTED_MARK",
           "CompiledExpression",
           "ExpressionError",
           "compile_expression",
           "format_value",
]
