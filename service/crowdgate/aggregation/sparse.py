"""Sums over the answers grouped by task or by (worker, label): sparse products, prepared once.

EBCC's updates each need two such sums for every active (class, subtype) state. They are
products with the sparse (task x (worker, label)) count matrix of the answers and with its
transpose, run by scipy's compiled loops over the matrix in CSR form (``csr_matvecs``, and
``csc_matvecs``, which reads the same arrays as the transpose in CSC form: it walks the
tasks in order and adds each one's row into its answers' (worker, label) rows, instead of
gathering task rows at random, half the time). Importing ``scipy.sparse`` to reach them costs
about 0.15 s of CPU (it imports scipy's array-API layer, which loads most of numpy's lazy
submodules), a tenth of the whole ``crowdgate aggregate`` command on the largest shared set.
So the loops' own extension module is loaded from scipy's folder without importing the
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
_kernels: Any = _UNSET


def _load_kernels() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """Return scipy's ``csr_matvecs`` and ``csc_matvecs``, loaded without importing scipy."""
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
                        # Loading registers it under scipy's name without its package; drop
                        # that, so a later `import scipy.sparse` loads and binds it as usual.
                        sys.modules.pop(_KERNEL_NAME, None)
                    break
            if module is not None:
                break
    csr, csc = getattr(module, "csr_matvecs", None), getattr(module, "csc_matvecs", None)
    if csr is None or csc is None:
        return None
    # The signatures are scipy's own, private to it: (n_row, n_col, n_vecs, Ap, Aj, Ax, Xx, Yx)
    # with the CSR arrays of the matrix, or of its transpose for the CSC loop. Check both on
    # a product whose answer is known before trusting them with a fit.
    # G = [[1, 0, 1], [0, 0, 1]] in CSR form.
    indptr, indices, ones = np.array([0, 2, 3], np.int32), np.array([0, 2, 2], np.int32), np.ones(3)
    table, part = np.arange(1.0, 7.0).reshape(3, 2), np.arange(1.0, 5.0).reshape(2, 2)
    out, back = np.zeros((2, 2)), np.zeros((3, 2))
    csr(2, 3, 2, indptr, indices, ones, table.ravel(), out.ravel())  # G @ table
    csc(3, 2, 2, indptr, indices, ones, part.ravel(), back.ravel())  # G.T @ part
    if np.array_equal(out, [[6, 8], [5, 6]]) and np.array_equal(back, [[1, 2], [0, 0], [4, 6]]):
        return csr, csc
    return None


def matvecs_kernels() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """Return the compiled CSR and CSC loops (loaded once), or None to use scipy.sparse."""
    global _kernels
    if _kernels is _UNSET:
        try:
            _kernels = _load_kernels()
        except Exception:  # any failure to load or check them only means the public path
            _kernels = None
    return _kernels


class Grouping:
    """The sparse count matrix of answers by group and row, for grouped sums, built once.

    ``G[i, r] = #{a : index[a] = i, rows[a] = r}`` is an (n, R) matrix in CSR form (a
    repeated pair is two entries, which the products add). ``sums(table)`` is ``G @ table``,
    the (n, S) sums of ``table[rows[a]]`` over the answers ``a`` of each group;
    ``transposed_sums(part, R)`` is ``G.T @ part``, the (R, S) sums of ``part[index[a]]``
    over the answers of each row. Both run in scipy's compiled loops: no per-answer gather
    into an (answers, S) array and no cell index to rebuild when the active states shrink,
    so memory stays at the matrix and the result whatever the input. float32 tables give
    float32 sums.
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
        self._data = {np.dtype(t): np.ones(len(rows), dtype=t) for t in (np.float64, np.float32)}
        self._matrices: dict[tuple[np.dtype, int], Any] = {}

    def sums(self, table: np.ndarray) -> np.ndarray:
        """Return the (n, S) group sums of ``table[rows]``."""
        if table.shape[0] < self.n_rows:
            raise ValueError(
                f"The table has {table.shape[0]} rows; the grouping needs {self.n_rows}."
            )
        return self._product(table, self.n, table.shape[0], transpose=False)

    def transposed_sums(self, part: np.ndarray, n_rows: int) -> np.ndarray:
        """Return the (n_rows, S) sums of ``part[index]`` (n, S) grouped by ``rows``."""
        if part.shape[0] != self.n or n_rows < self.n_rows:
            raise ValueError(f"Need an ({self.n}, S) array and at least {self.n_rows} rows.")
        return self._product(part, n_rows, self.n, transpose=True)

    def _product(self, table: np.ndarray, height: int, n_cols: int, transpose: bool) -> np.ndarray:
        width = table.shape[1]
        dtype = np.dtype(np.float32 if table.dtype == np.float32 else np.float64)
        if not len(self.rows) or not width:
            return np.zeros((height, width), dtype=dtype)
        table = np.ascontiguousarray(table, dtype=dtype)
        kernels = matvecs_kernels()
        if kernels is None:
            matrix = self._scipy_matrix(dtype, n_cols if not transpose else height)
            return np.asarray((matrix.T if transpose else matrix) @ table)
        out = np.zeros((height, width), dtype=dtype)
        # The CSC loop over the CSR arrays multiplies by the transpose, (R x n) from (n x R).
        arrays = (self.indptr, self.indices, self._data[dtype])
        kernels[transpose](height, n_cols, width, *arrays, table.ravel(), out.ravel())
        return out

    def _scipy_matrix(self, dtype: np.dtype, n_cols: int) -> Any:
        """Return ``G`` as a ``scipy.sparse.csr_matrix`` with ``n_cols`` columns (public path)."""
        from scipy.sparse import csr_matrix

        key = (dtype, n_cols)
        if key not in self._matrices:
            arrays = (self._data[dtype], self.indices, self.indptr)
            self._matrices[key] = csr_matrix(arrays, shape=(self.n, n_cols))
        return self._matrices[key]
