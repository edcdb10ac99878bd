"""What one run needs of a graph: the ops its fetches depend on, and the variables those ops use."""

from __future__ import annotations


def prune(fetch_ops: list, fed: set, ran: frozenset = frozenset()) -> list:
    """Ops needed by ``fetch_ops`` in a topological order (iterative DFS; inputs first).

    Data and control inputs are followed; the walk stops at fed tensors, and at control inputs in
    ``ran`` (ops already run apart, before these: a session's host sources)."""
    order, state = [], {}
    for root in fetch_ops:
        stack = [(root, False)]
        while stack:
            op, expanded = stack.pop()
            if expanded:
                if state.get(op) != "done":
                    state[op] = "done"
                    order.append(op)
                continue
            if op in state:
                continue
            state[op] = "open"
            stack.append((op, True))
            deps = [c for c in reversed(op.control_inputs) if c not in ran]
            deps += [t.op for t in reversed(op.inputs) if t not in fed]
            stack.extend((d, False) for d in deps if d not in state)
    return order


def unique_variables(ops) -> list:
    """The Variables the ops read or assign, each once, in first-use order."""
    seen, out = set(), []
    for op in ops:
        v = op.variable
        if v is not None and v._name not in seen:
            seen.add(v._name)
            out.append(v)
    return out


def variables_of(ops) -> list:
    """(name, TensorSpec, requested device) of each variable the ops use (emit_variables' input)."""
    return [(v._name, v._spec, v.device) for v in unique_variables(ops)]
