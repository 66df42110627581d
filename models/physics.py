"""The numerical core of the lava lamp: spectral solvers and conservative advection.

Every field of a batch of lamps is stored as ``(ny, n, nx)`` (row 0 at the
bottom, lamps in the middle axis) so that a transform along y is one GEMM on a
``(ny, n*nx)`` view and a transform along x is one GEMM on a ``(ny*n, nx)``
view: no transposes, no Python loop over lamps.

- :class:`CosineBasis`: orthonormal DCT-II on cell centres (no-flux walls), for
  the Cahn-Hilliard wax field.
- :class:`SineBasis`: orthonormal DST-I on interior cell corners (free-slip
  walls), for the Stokes stream function.
- :func:`advect_wax_and_heat`: dimensionally split, flux-form MUSCL / van
  Leer on face velocities; what leaves a cell enters its neighbour, so the
  wax total is conserved to round-off.

numpy has no DCT/DST; at these sizes (tens of cells a side) a dense
orthonormal matrix applied with BLAS (float32 where round-off cannot change
the wax total) is exact, simple and cheaper than an FFT built from
``numpy.fft`` (no mirrored copies, no complex twiddles, no Python per axis).
"""
from __future__ import annotations

import numpy as np


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II: row p is cos(pi p (i + 1/2) / n), normalised."""
    i = np.arange(n) + 0.5
    p = np.arange(n)[:, None]
    c = np.cos(np.pi * p * i / n) * np.sqrt(2.0 / n)
    c[0] /= np.sqrt(2.0)
    return c


def _dst_matrix(m: int) -> np.ndarray:
    """Orthonormal DST-I on m interior nodes of an (m+1)-interval line."""
    k = np.arange(1, m + 1)
    return np.sin(np.pi * np.outer(k, k) / (m + 1)) * np.sqrt(2.0 / (m + 1))


def laplacian_eigenvalues(n: int, kind: str) -> np.ndarray:
    """Eigenvalues of the 3-point -d^2/dx^2 in the given basis (unit spacing)."""
    if kind == "cos":
        return 2.0 - 2.0 * np.cos(np.pi * np.arange(n) / n)
    return 2.0 - 2.0 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1))


class _SeparableBasis:
    """Forward/inverse 2-D transform of (ny, n, nx) fields with two GEMMs each."""

    def __init__(self, my: np.ndarray, mx: np.ndarray, dtype=np.float64):
        self.my = np.ascontiguousarray(my, dtype=dtype)      # (ny, ny)
        self.mx_t = np.ascontiguousarray(mx.T, dtype=dtype)  # (nx, nx)
        self.my_t = np.ascontiguousarray(my.T, dtype=dtype)
        self.mx = np.ascontiguousarray(mx, dtype=dtype)

    @staticmethod
    def _apply(a: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        ny, n, nx = a.shape
        a = (left @ a.reshape(ny, n * nx)).reshape(ny * n, nx)  # along y
        return (a @ right).reshape(ny, n, nx)                    # along x

    def forward(self, a: np.ndarray) -> np.ndarray:
        return self._apply(a, self.my, self.mx_t)

    def inverse(self, a: np.ndarray) -> np.ndarray:
        return self._apply(a, self.my_t, self.mx)


class CosineBasis(_SeparableBasis):
    """Cell-centred fields with zero normal gradient at every wall."""

    def __init__(self, ny: int, nx: int, dtype=np.float64):
        super().__init__(_dct_matrix(ny), _dct_matrix(nx), dtype)
        # (ny, 1, nx): eigenvalues of -lap, so lap -> -k2
        self.k2 = (laplacian_eigenvalues(ny, "cos")[:, None, None]
                   + laplacian_eigenvalues(nx, "cos")[None, None, :])


class SineBasis(_SeparableBasis):
    """Corner fields that vanish (with their Laplacian) on the walls."""

    def __init__(self, ny: int, nx: int, dtype=np.float64):
        super().__init__(_dst_matrix(ny - 1), _dst_matrix(nx - 1), dtype)
        self.k2 = (laplacian_eigenvalues(ny - 1, "sin")[:, None, None]
                   + laplacian_eigenvalues(nx - 1, "sin")[None, None, :])


def laplacian(a: np.ndarray) -> np.ndarray:
    """5-point Laplacian of a cell field with no-flux walls, (ny, n, nx)."""
    out = np.empty_like(a)
    dy = a[1:] - a[:-1]                      # flux across each horizontal face
    out[:-1] = dy
    out[-1] = 0.0
    out[1:] -= dy
    dx = a[..., 1:] - a[..., :-1]
    out[..., :-1] += dx
    out[..., 1:] -= dx
    return out


def diffusion(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """div(k grad a) of a cell field with no-flux walls; ``k`` per cell, averaged
    on faces (the 5-point Laplacian when ``k`` is 1)."""
    out = np.zeros_like(a)
    fy = 0.5 * (k[1:] + k[:-1]) * (a[1:] - a[:-1])
    out[:-1] += fy
    out[1:] -= fy
    fx = 0.5 * (k[..., 1:] + k[..., :-1]) * (a[..., 1:] - a[..., :-1])
    out[..., :-1] += fx
    out[..., 1:] -= fx
    return out


def corner_gradients(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d/dx and d/dy of a cell field at the interior corners: (ny-1, n, nx-1) each."""
    dx = a[:, :, 1:] - a[:, :, :-1]        # (ny, n, nx-1) on vertical faces
    dy = a[1:] - a[:-1]                    # (ny-1, n, nx) on horizontal faces
    return 0.5 * (dx[1:] + dx[:-1]), 0.5 * (dy[:, :, 1:] + dy[:, :, :-1])


def face_velocities(psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face velocities from an interior-corner stream function (ny-1, n, nx-1).

    u on vertical faces (ny, n, nx+1), v on horizontal faces (ny+1, n, nx);
    psi is zero on the walls, so wall faces carry nothing and every cell's
    net outflow is exactly zero.
    """
    ny1, n, nx1 = psi.shape
    full = np.zeros((ny1 + 2, n, nx1 + 2), psi.dtype)
    full[1:-1, :, 1:-1] = psi
    u = full[1:, :, :] - full[:-1, :, :]           # dpsi/dy, (ny, n, nx+1)
    v = -(full[:, :, 1:] - full[:, :, :-1])        # -dpsi/dx, (ny+1, n, nx)
    return u, v


def _moved(a: np.ndarray, faces: tuple, axis_slices) -> np.ndarray:
    """Upwind MUSCL transport through each interior face along one axis, times dt.

    Slopes are van Leer's harmonic mean of the one-sided differences (zero at
    extrema and in the wall cells). ``faces`` comes from :func:`_face_terms`;
    the slices select the cells below/left and above/right of each face.
    """
    lo, hi, mid = axis_slices
    vp, vm, wp, wm = faces
    d = a[hi] - a[lo]                                    # differences across faces
    dm, dp = d[lo], d[hi]
    adm, adp = np.abs(dm), np.abs(dp)
    slope = np.zeros_like(a)
    slope[mid] = (dm * adp + adm * dp) / (adm + adp + 1e-30)
    return vp * a[lo] + vm * a[hi] + wp * slope[lo] - wm * slope[hi]


def _face_terms(vel: np.ndarray, dt: float) -> tuple:
    """Upwind weights of face velocities, times dt. The ``1 - |c|`` factor (c the
    face Courant number) makes the forward step second order and TVD for |c| <= 1."""
    vp, vm = dt * np.maximum(vel, 0.0), dt * np.minimum(vel, 0.0)
    return vp, vm, vp * (0.5 - 0.5 * vp), vm * (0.5 + 0.5 * vm)


_X = (np.s_[..., :-1], np.s_[..., 1:], np.s_[..., 1:-1])
_Y = (np.s_[:-1], np.s_[1:], np.s_[1:-1])


def advect_wax_and_heat(phi: np.ndarray, t: np.ndarray, u: np.ndarray, v: np.ndarray,
                        dt: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`advect` for the float64 wax field and the float32 heat field at once.

    Fluxes are computed in float32 on the two fields stacked as (ny, 2, n, nx)
    (one pass; the velocity terms broadcast over the pair), then applied to the
    float64 wax field too: each flux leaves one cell and enters the next
    exactly, so the wax total is still conserved to float64 round-off.
    """
    both = np.stack([phi.astype(np.float32), t], axis=1)                # (ny, 2, n, nx)
    phi = phi.copy()
    fx = _moved(both, _face_terms(u[:, None, :, 1:-1], dt), _X)        # (ny, 2, n, nx-1)
    both[..., :-1] -= fx
    both[..., 1:] += fx
    phi[..., :-1] -= fx[:, 0]
    phi[..., 1:] += fx[:, 0]
    fy = _moved(both, _face_terms(v[1:-1, None], dt), _Y)               # (ny-1, 2, n, nx)
    both[:-1] -= fy
    both[1:] += fy
    phi[:-1] -= fy[:, 0]
    phi[1:] += fy[:, 0]
    return phi, both[:, 1]
