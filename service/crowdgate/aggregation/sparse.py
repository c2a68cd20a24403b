"""Sums over the answers grouped by task or by (worker, label): sparse products, prepared once.

EBCC's updates each need two such sums for every active (class, subtype) state. They are
products with the sparse count matrix of the answers in CSR form, run by scipy's compiled
CSR-times-dense loop (``csr_matvecs``). Importing ``scipy.sparse`` to reach that loop costs
about 0.15 s of CPU (it imports scipy's array-API layer, which loads most of numpy's lazy
submodules), a tenth of the whole ``crowdgate aggregate`` command on the largest shared set.
So the loop's own extension module is loaded from scipy's folder without importing the
package, checked once on a small product, and used with CSR arrays built here in numpy;
when that fails for any reason (another scipy layout or signature), the public
``scipy.sparse.csr_matrix`` product is used instead, with the same sums.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_KERNEL_NAME = "scipy.sparse._sparsetools"
_UNSET: Any = object()
_kernel: Any = _UNSET


def _load_kernel() -> Callable[..., None] | None:
    """Return scipy's ``csr_matvecs`` loaded without importing scipy, or None if it fails."""
    module = sys.modules.get(_KERNEL_NAME)
    if module is None:
        spec = importlib.util.find_spec("scipy")  # finds the folder; runs nothing of scipy
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        for folder in folders:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = Path(folder) / "sparse" / f"_sparsetools{suffix}"
                if path.is_file():
                    loader = importlib.machinery.ExtensionFileLoader(_KERNEL_NAME, str(path))
                    found = importlib.util.spec_from_loader(_KERNEL_NAME, loader)
                    if found is not None:
                        module = importlib.util.module_from_spec(found)
                        loader.exec_module(module)
                    break
            if module is not None:
                break
    kernel = getattr(module, "csr_matvecs", None)
    if kernel is None:
        return None
    # The signature is scipy's own (n_row, n_col, n_vecs, Ap, Aj, Ax, Xx, Yx), private to it:
    # check it on a product whose answer is known before trusting it with a fit.
    indptr, indices = np.array([0, 2, 3], np.int32), np.array([0, 1, 1], np.int32)
    table, out = np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))
    kernel(2, 2, 2, indptr, indices, np.ones(3), table.ravel(), out.ravel())
    return kernel if np.array_equal(out, [[4.0, 6.0], [3.0, 4.0]]) else None


def matvecs_kernel() -> Callable[..., None] | None:
    """Return the compiled CSR-times-dense loop (loaded once), or None to use scipy.sparse."""
    global _kernel
    if _kernel is _UNSET:
        try:
            _kernel = _load_kernel()
        except Exception:  # any failure to load or check it only means the public path
            _kernel = None
    return _kernel


class Grouping:
    """Sums of gathered table rows grouped by an answer index, prepared once per fit.

    ``sums(table)`` is the (n, S) array of sums of ``table[rows[a]]`` over answers ``a`` with
    ``index[a]`` equal to each group. That is the product ``G @ table`` of the sparse (n, R)
    count matrix ``G[i, r] = #{a : index[a] = i, rows[a] = r}``, built once in CSR form
    (a repeated pair is two entries, which the product adds) and multiplied in scipy's
    compiled loop: no per-answer gather of ``table`` into an (answers, S) array and no cell
    index to rebuild when the active states shrink, so memory stays at the matrix and the
    result whatever the input.
    """

    def __init__(self, index: np.ndarray, rows: np.ndarray, n: int):
        index, rows = np.asarray(index, dtype=np.intp), np.asarray(rows, dtype=np.intp)
        self.n = n
        self.index = index
        self.rows = rows
        self.n_rows = int(rows.max()) + 1 if len(rows) else 0  # rows a table must have
        dtype = np.int32 if max(len(rows), n, self.n_rows) < 2**31 - 1 else np.int64
        # Each group's entries in the order of their rows, whatever the order of the answers:
        # float32 sums then come out the same for the same answers in any order.
        order = np.lexsort((rows, index))
        self.indices = rows[order].astype(dtype)
        self.indptr = np.zeros(n + 1, dtype=dtype)
        np.cumsum(np.bincount(index, minlength=n), out=self.indptr[1:])
        self.data = np.ones(len(rows))
        self.data32 = np.ones(len(rows), dtype=np.float32)
        self._matrix: Any = None

    def sums(self, table: np.ndarray) -> np.ndarray:
        """Return the (n, S) group sums of ``table[rows]``."""
        height, width = table.shape
        if height < self.n_rows:
            raise ValueError(f"The table has {height} rows; the grouping needs {self.n_rows}.")
        if not len(self.rows) or not width:
            return np.zeros((self.n, width))
        dtype = np.float32 if table.dtype == np.float32 else np.float64
        table = np.ascontiguousarray(table, dtype=dtype)
        kernel = matvecs_kernel()
        if kernel is None:
            return self._scipy_sums(table)
        out = np.zeros((self.n, width), dtype=dtype)
        data = self.data if dtype == np.float64 else self.data32
        csr = (self.indptr, self.indices, data)
        kernel(self.n, height, width, *csr, table.ravel(), out.ravel())
        return out

    def _scipy_sums(self, table: np.ndarray) -> np.ndarray:
        """Return ``sums(table)`` through ``scipy.sparse`` (the public path)."""
        from scipy.sparse import csr_matrix

        if self._matrix is None or self._matrix.shape[1] != table.shape[0]:
            arrays = (self.data, self.indices, self.indptr)
            self._matrix = csr_matrix(arrays, shape=(self.n, table.shape[0]))
        return np.asarray(self._matrix @ table)
