"""Imports point down: no import cycle between memory_core's modules, function-level imports included.

grimp (import-linter's graph) reads every import statement, also those inside functions and under
``TYPE_CHECKING``, so a cycle hidden in a function body is found here too. The layer order between
packages is import-linter's job (``lint-imports``, contracts in pyproject.toml); this test covers the
modules inside one package, which a layers contract does not order.
"""

from __future__ import annotations

import grimp


def import_cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Every set of ``package``'s modules that import one another in a ring (strongly connected
    components of more than one module, or a module importing itself), each sorted, the list sorted."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(root: str) -> None:  # Tarjan's algorithm, iterative: deep graphs must not hit the recursion limit
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                ring = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    ring.append(member)
                    if member == node:
                        break
                if len(ring) > 1 or node in edges[node]:
                    found.append(sorted(ring))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_import_cycle_between_memory_core_modules() -> None:
    graph = grimp.build_graph("memory_core", cache_dir=None)
    cycles = import_cycles(graph, "memory_core")
    assert not cycles, "import cycles between memory_core modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_sees_rings_and_only_rings() -> None:
    """The finder itself: a ring through a function-level-style edge is reported, a chain is not."""
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.e", "other"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")  # a -> b -> c -> a
    graph.add_import(importer="pkg.d", imported="pkg.a")  # d only points into the ring
    graph.add_import(importer="pkg.e", imported="other")
    graph.add_import(importer="other", imported="pkg.e")  # a ring through a module outside the package
    assert import_cycles(graph, "pkg") == [["pkg.a", "pkg.b", "pkg.c"]]
