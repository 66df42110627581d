"""A physical 2-D lava lamp: the embedded training data and the ground truth.

Wax is a Cahn-Hilliard phase field ``phi`` in [-1, 1] (+1 wax, -1 liquid) that
gives sharp, rounded blobs with surface tension, coalescence and pinch-off. A
bulb heats the bottom and the cap cools the top; warm wax expands past the
liquid's density and rises, cools at the top and sinks. The flow is creeping
(Stokes) flow, solved exactly each step as a stream function; wax and heat
move by conservative advection, so the wax total never changes. A tapered
glass keeps the wax in a cone, wide at the bottom and narrow at the top.

:class:`LavaLamp` steps a batch of independent lamps together (vectorised over
the batch); :func:`simulate_frames` turns lamps into training frames, spread
over worker processes. Numerics live in :mod:`.physics`, pictures in
:mod:`.render`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from . import physics


class SimulatorError(ValueError):
    """A bad simulator input, with one sentence saying what is wrong."""


@dataclass
class LampParams:
    """Every physical and numerical parameter of one lamp (units: cells, steps)."""

    nx: int = 36                      # grid columns across the widest part of the glass
    ny: int = 56                      # grid rows, bottom (bulb) to top (cap)
    dt: float = 2.0                   # time per step
    mobility: float = 0.02            # Cahn-Hilliard M: how fast the wax field relaxes
    interface: float = 1.0            # eps: interface width in cells
    surface_tension: float = 0.45     # sigma: capillary force on the flow
    viscosity: float = 1.0            # of the liquid; the flow is creeping
    # Wax is far more viscous than the liquid. Exact variable-viscosity Stokes
    # needs an iterative solve; instead, inside wax the stream function is
    # blended toward its blob-scale smoothing, which removes small-scale shear
    # in a blob (it moves more as a body) and keeps the flow divergence free.
    wax_stiffness: float = 0.6        # 0..1: share of in-blob shear removed
    wax_expansion: float = 0.05       # Bw: buoyancy per kelvin of wax above neutral
    liquid_expansion: float = 0.004   # Bl: buoyancy of warm liquid
    neutral_temperature: float = 0.5  # Tn: wax is as dense as the liquid here
    conductivity: float = 0.03        # kappa: heat diffusion in the liquid
    wax_conductivity: float = 0.03    # and in the wax; lower: heat soaks in slowly, blobs
                                      # warm from below and plumes neck off
    heat: float = 0.02                # bulb power per step at the centre of the coil
    heat_width: float = 0.15          # Gaussian width of the coil, share of the width
    heat_rows: int = 3                # rows above the bottom that the bulb heats
    cooling: float = 0.06             # relaxation rate to the cap temperature
    cooling_rows: int = 7             # rows under the cap that it cools
    glass_cooling: float = 0.0005     # slow loss everywhere through the glass
    cap_temperature: float = 0.0
    flicker: float = 0.25             # relative noise on the bulb's heat, per cell
    wax_fraction: float = 0.16        # share of the glass that shows wax
    glass_top: float = 0.55           # glass width at the top, share of the bottom width
    wall_repulsion: float = 2.0       # keeps the wax off the glass
    max_speed: float = 0.45           # cells per unit time; a safety cap, rarely reached
    advect_substeps: int = 1
    settle_steps: int = 900           # steps run at start so frame 0 looks alive

    def validate(self) -> "LampParams":
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            whole = f.type in ("int", int)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or (whole and not isinstance(value, int)) or not math.isfinite(value):
                kind = "a whole number" if whole else "a finite number"
                raise SimulatorError(f"lamp parameter {f.name} must be {kind}, not {value!r}.")
        if self.nx < 8 or self.ny < 8:
            raise SimulatorError(f"the lamp grid must be at least 8 x 8 cells, not {self.nx} x {self.ny}.")
        if not 0.0 < self.wax_fraction < 0.6:
            raise SimulatorError(f"wax_fraction must be between 0 and 0.6, not {self.wax_fraction}.")
        if not 0.2 <= self.glass_top <= 1.0:
            raise SimulatorError(f"glass_top must be between 0.2 and 1, not {self.glass_top}.")
        for name in ("dt", "mobility", "interface", "viscosity", "conductivity", "wax_conductivity"):
            if not getattr(self, name) > 0:
                raise SimulatorError(f"{name} must be positive, not {getattr(self, name)}.")
        if self.advect_substeps < 1 or self.settle_steps < 0:
            raise SimulatorError("advect_substeps must be at least 1 and settle_steps not negative.")
        if not 0.0 <= self.wax_stiffness <= 1.0:
            raise SimulatorError(f"wax_stiffness must be between 0 and 1, not {self.wax_stiffness}.")
        if not 0.0 < self.max_speed * self.dt / self.advect_substeps <= 1.0:
            # The advection is only stable (and keeps wax within its phases) below 1.
            raise SimulatorError("max_speed * dt / advect_substeps must be between 0 and 1, "
                                 f"not {self.max_speed * self.dt / self.advect_substeps:g}.")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LampParams":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise SimulatorError(f"unknown lamp parameter {unknown[0]!r}.")
        return cls(**d).validate()


PRESETS: dict[str, LampParams] = {
    "classic": LampParams(),
    # A lamp left on too long: hot, thin wax; strings and small droplets race up and down.
    "overheated": LampParams(heat=0.035, neutral_temperature=0.45, surface_tension=0.2,
                             wax_expansion=0.1, wax_stiffness=0.0, mobility=0.05,
                             wax_conductivity=0.005, wax_fraction=0.15, cooling=0.08),
}

# Simulation steps per training frame: a wax traverse (bottom to top) takes
# about 320 steps, so about 50 frames, and a 20-frame training sequence shows
# clear but smooth motion.
DEFAULT_STRIDE: int = 6


def preset(name: str) -> LampParams:
    if name not in PRESETS:
        raise SimulatorError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}.")
    return dataclasses.replace(PRESETS[name])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def glass_half_width(params: LampParams, y: np.ndarray) -> np.ndarray:
    """Half-width of the glass in cells at height ``y`` (cells from the bottom)."""
    return 0.5 * params.nx * (1.0 - (1.0 - params.glass_top) * np.asarray(y) / params.ny)


class LavaLamp:
    """A batch of ``n_lamps`` independent lamps, stepped together.

    State (all ``(ny, n, nx)``, row 0 at the bottom): ``phi`` the wax field,
    ``temperature``; after a step, ``u``/``v`` hold the face velocities.
    Lamp ``k`` draws its start and its bulb flicker from its own generator,
    seeded by ``(seed, first_lamp + k)``, so it starts the same in any batch;
    only round-off in the batched transforms depends on the batch, which is
    why :func:`simulate_frames` always runs the same fixed groups of lamps.
    """

    def __init__(self, n_lamps: int = 1, seed: int = 0, params: LampParams | None = None,
                 warm: bool = True, first_lamp: int = 0):
        if isinstance(n_lamps, bool) or not isinstance(n_lamps, (int, np.integer)) or n_lamps < 1:
            raise SimulatorError(f"n_lamps must be a whole number of at least 1, not {n_lamps!r}.")
        from .lamp_frames import single_thread_blas

        single_thread_blas()
        self.params = p = dataclasses.replace(params or LampParams()).validate()
        self.n = n = int(n_lamps)
        self.seed = int(seed)
        self.rngs = [np.random.default_rng([self.seed, first_lamp + k]) for k in range(n)]
        self.steps_done = 0
        ny, nx = p.ny, p.nx
        self.cos = physics.CosineBasis(ny, nx, np.float32)
        self.sin = physics.SineBasis(ny, nx, np.float32)

        y = np.arange(ny)[:, None, None] + 0.5
        x = np.arange(nx)[None, None, :] + 0.5
        outside = np.abs(x - 0.5 * nx) - glass_half_width(p, y)       # > 0 beyond the glass
        self.inside = (outside < 0).astype(np.float64)                  # (ny, 1, nx)
        self.wall = p.wall_repulsion * _smoothstep((outside + 1.5) / 2.5)
        coil = np.exp(-0.5 * ((x - 0.5 * nx) / (p.heat_width * nx)) ** 2)
        self.bulb = p.heat * coil * (y < p.heat_rows)                 # (ny, 1, nx)
        self.cap = p.cooling * (y > ny - p.cooling_rows)
        # Stabilised semi-implicit Cahn-Hilliard (Eyre-style splitting).
        self._stab = 4.0
        a = p.dt * p.mobility * self.cos.k2
        self._ch_gain = (-a / (1.0 + a * (self._stab + p.interface ** 2 * self.cos.k2))).astype(np.float32)
        self._stokes = (1.0 / (p.viscosity * self.sin.k2 ** 2)).astype(np.float32)
        # Gaussian smoothing of the stream function over a blob's radius: what is
        # left inside wax after removing small-scale shear moves as a body.
        self._smooth = np.exp(-0.5 * self.sin.k2 * 3.0 ** 2).astype(np.float32)
        self._flicker = np.empty((0, p.heat_rows, n, nx))
        f32 = np.float32
        self._loss = (self.cap + p.glass_cooling).astype(f32)
        self._sigma32 = f32(p.surface_tension)
        self._dkappa32 = f32(p.wax_conductivity - p.conductivity)
        self._dt32, self._kappa32, self._cap_t32 = f32(p.dt), f32(p.conductivity), f32(p.cap_temperature)

        if warm:
            from .warm_profiles import warm_profile

            profile = warm_profile(p)
        else:
            profile = self._guess_temperature(y)
        self.temperature = np.broadcast_to(np.reshape(profile, (ny, 1, 1)),
                                           (ny, n, nx)).astype(np.float32)
        self.phi, self.temperature = self._initial_wax(self.temperature)
        self.u = np.zeros((ny, n, nx + 1), np.float32)
        self.v = np.zeros((ny + 1, n, nx), np.float32)
        if warm and p.settle_steps:
            self.step(p.settle_steps)
            self.steps_done = 0

    # -- state ----------------------------------------------------------------------

    def _guess_temperature(self, y: np.ndarray) -> np.ndarray:
        """A rough profile, hot over the bulb and cool under the cap (see warm_profile)."""
        p = self.params
        h = y / p.ny
        t = p.cap_temperature + (p.neutral_temperature + 0.25 - p.cap_temperature) * (1.0 - h) ** 1.5
        return t.reshape(p.ny, 1, 1)

    def _initial_wax(self, temperature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Wax already in blobs, as in a running lamp: a pool on the coil holding a
        random share of it and one to three blobs anywhere in the glass, each at its own
        temperature (a pool still warming, blobs rising or sinking), so that
        lamps do not all start in step."""
        p = self.params
        ny, nx = p.ny, p.nx
        yy, xx = np.mgrid[0:ny, 0:nx] + 0.5
        # The visible wax (phi > 0) is about 15% less than the phase field's own
        # measure: interface tails and slightly saturated liquid hold the rest.
        wax_cells = p.wax_fraction * self.inside.sum() / 0.85
        # Liquid against the glass sits below -1 (the wall term pushes it there),
        # which counts as negative wax in the total: start it at that equilibrium
        # and add its share to the budget, so the glass shows wax_fraction of wax
        # from the first step to the last.
        liquid = -np.ones((ny, nx))
        for _ in range(20):                         # Newton on phi^3 - phi + wall = 0
            liquid -= (liquid ** 3 - liquid + self.wall[:, 0]) / (3 * liquid ** 2 - 1)
        target = wax_cells + (0.5 * (1.0 + liquid)).sum()
        phis, temps = [], []
        for k, rng in enumerate(self.rngs):
            # A random share of the wax lies in the pool; the rest is in blobs.
            pool_share = rng.uniform(0.0, 0.8)
            dist = yy - pool_share * wax_cells / nx                          # pool surface
            t = temperature[:, k].copy()
            t[dist < 1.0] = p.neutral_temperature - rng.uniform(0.05, 0.45)   # the pool, still warming
            count = int(rng.integers(1, 4))
            for area in (1.0 - pool_share) * wax_cells * rng.dirichlet(np.ones(count)):
                r = float(np.clip(np.sqrt(area / np.pi), 2.5, 0.4 * nx))
                cy = rng.uniform(r + 2, ny - r - 2)
                hw = glass_half_width(p, cy)
                cx = 0.5 * nx + rng.uniform(-1, 1) * max(hw - r - 1.5, 0.0)
                blob = np.hypot(yy - cy, (xx - cx) * rng.uniform(0.8, 1.2)) - r
                t[blob < 1.0] = p.neutral_temperature + rng.uniform(-0.25, 0.25)
                dist = np.minimum(dist, blob)
            dist = dist + 2.0 * self.wall[:, 0, :]                           # none on the glass
            # Shift the level set until the wax total is exactly the target.
            lo, hi = -ny, ny
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                f = np.tanh(-(dist - mid) / (np.sqrt(2.0) * p.interface))
                f = f + (liquid + 1.0) * 0.5 * (1.0 - f)          # liquid -> its equilibrium
                if (0.5 * (1 + f)).sum() > target:
                    hi = mid
                else:
                    lo = mid
            phis.append(f)
            temps.append(t)
        return np.stack(phis, axis=1), np.stack(temps, axis=1).astype(np.float32)

    def render(self, size: int = 64, palette="classic") -> np.ndarray:
        """uint8 (n, size, size, 3): the same state at any size.

        ``palette``: a name in ``render.PALETTES`` or a ``render.Palette``.
        """
        from .render import render_lamps

        return render_lamps(self.phi, self.temperature, size=size, palette_name=palette,
                            glass_top=self.params.glass_top,
                            neutral_temperature=self.params.neutral_temperature)

    def wax_mass(self) -> np.ndarray:
        """(n,) total wax of each lamp, in cells."""
        return 0.5 * (1.0 + self.phi).sum(axis=(0, 2))

    def wax_velocity(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centred (u, v) from the last step's face velocities, (ny, n, nx) each."""
        return 0.5 * (self.u[:, :, 1:] + self.u[:, :, :-1]), 0.5 * (self.v[1:] + self.v[:-1])

    # -- dynamics -------------------------------------------------------------------

    def _bulb_flicker(self) -> np.ndarray:
        """(heat_rows, n, nx) noise on the bulb's heat; drawn per lamp in blocks of steps."""
        if len(self._flicker) == 0:
            p = self.params
            block = 64
            draws = [rng.standard_normal((block, p.heat_rows, p.nx)) for rng in self.rngs]
            self._flicker = np.stack(draws, axis=2)                     # (block, rows, n, nx)
        f, self._flicker = self._flicker[0], self._flicker[1:]
        return f

    def _flow(self, phi: np.ndarray, chem: np.ndarray, wax: np.ndarray) -> np.ndarray:
        """Stream function of the Stokes flow driven by buoyancy and surface tension."""
        p = self.params
        t = self.temperature
        buoy = p.wax_expansion * wax * (t - p.neutral_temperature) + p.liquid_expansion * t
        db_dx, _ = physics.corner_gradients(buoy)
        # The capillary force mu grad(phi) has curl grad(mu) x grad(phi).
        dmu_dx, dmu_dy = physics.corner_gradients(chem.astype(np.float32))
        dphi_dx, dphi_dy = physics.corner_gradients(phi.astype(np.float32))
        curl = db_dx + self._sigma32 * (dmu_dx * dphi_dy - dmu_dy * dphi_dx)
        psi_hat = self.sin.forward(curl) * self._stokes
        if p.wax_stiffness > 0:
            both = self.sin.inverse(np.concatenate([psi_hat, psi_hat * self._smooth], axis=1))
            psi, smooth = both[:, : self.n], both[:, self.n:]
            w = 0.25 * (wax[1:, :, 1:] + wax[1:, :, :-1] + wax[:-1, :, 1:] + wax[:-1, :, :-1])
            return psi + p.wax_stiffness * w * (smooth - psi)
        return self.sin.inverse(psi_hat)

    def step(self, steps: int = 1) -> None:
        """Advance every lamp by ``steps`` time steps."""
        p = self.params
        dt = p.dt
        for _ in range(int(steps)):
            phi, t = self.phi, self.temperature
            wax = np.clip(0.5 * (1.0 + phi), 0.0, 1.0).astype(np.float32)
            # The glass enters the chemical potential, so the capillary force also
            # pushes wax off it (CH alone would only diffuse it away).
            chem = phi * phi * phi - phi - p.interface ** 2 * physics.laplacian(phi) + self.wall
            psi = self._flow(phi, chem, wax)
            u, v = physics.face_velocities(psi)
            np.clip(u, -p.max_speed, p.max_speed, out=u)
            np.clip(v, -p.max_speed, p.max_speed, out=v)
            self.u, self.v = u, v

            # Wax: phi_t = M lap(mu), mu = phi^3 - phi - eps^2 lap phi + wall, with the
            # stiff linear part implicit (stabilised). Written as an increment,
            # -(a / den) * mu in the cosine basis, it has no k=0 part at all, so it
            # moves wax without changing its total and can be computed in float32.
            inc = self.cos.inverse(self._ch_gain * self.cos.forward(chem.astype(np.float32)))
            inc = inc.astype(np.float64)
            # Its mean is zero in exact arithmetic; remove float32 round-off there.
            inc -= inc.mean(axis=(0, 2), keepdims=True)
            phi = phi + inc

            # Then the flow carries wax and heat. Wax stays float64 (its total must
            # hold over millions of steps); the fluxes that move it are float32.
            sub = dt / p.advect_substeps
            for _ in range(p.advect_substeps):
                phi, t = physics.advect_wax_and_heat(phi, t, u, v, sub)
            self.phi = phi

            # Heat: bulb (with flicker), cap, glass loss, diffusion (explicit; stable
            # for kappa * dt < 1/4).
            q = self.bulb[: p.heat_rows] * (1.0 + p.flicker * self._bulb_flicker())
            if p.wax_conductivity == p.conductivity:
                spread = self._kappa32 * physics.laplacian(t)
            else:
                spread = physics.diffusion(t, self._kappa32 + self._dkappa32 * wax)
            t = t + self._dt32 * (spread - self._loss * (t - self._cap_t32))
            t[: p.heat_rows] += (dt * q).astype(np.float32)
            self.temperature = t
            self.steps_done += 1


def _whole(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise SimulatorError(f"{name} must be a whole number {bound}, not {value!r}.")
    return int(value)


def simulate_frames(n_frames, size=64, seed=0, stride=DEFAULT_STRIDE, palette="classic",
                    params=None, n_lamps=None, workers=None,
                    progress=False, out=None, ages=None) -> tuple[np.ndarray, list[int]]:
    """uint8 (n_frames, size, size, 3) and ``segments``: the lengths of the
    contiguous runs of consecutive frames of one lamp, in order (frames of lamp
    0, then lamp 1, ...). Uses ``workers`` processes (default: all cores).
    Deterministic for a seed whatever the worker count.

    ``n_lamps`` defaults to one lamp per 2000 frames. ``out``: an array (for
    example a ``numpy.lib.format.open_memmap``) to fill instead of a new one,
    so runs larger than memory can go straight to disk. ``ages``: frames each lamp
    runs before its recorded ones (one whole number per lamp; the lamp count is then
    their number), to catch lamps at chosen ages since their warm start.
    """
    from . import lamp_frames
    from .render import palette as check_palette

    n_frames = _whole("the frame count", n_frames, 1)
    size = _whole("the frame size", size, 8, 4096)
    seed = _whole("the seed", seed, 0, 2**63 - 1)
    stride = _whole("the stride", stride, 1, 100_000)
    if ages is not None:
        ages = [_whole("a lamp's age", a, 0, 10_000_000) for a in ages]
        if not ages or len(ages) > n_frames or (n_lamps is not None and n_lamps != len(ages)):
            raise SimulatorError(f"give one age for each of the lamps ({len(ages)} ages for "
                                 f"{n_lamps if n_lamps is not None else 'the'} lamps and {n_frames} frames).")
        n_lamps = len(ages)
    n_lamps = lamp_frames.default_lamps(n_frames) if n_lamps is None else _whole("the lamp count", n_lamps, 1)
    n_lamps = min(n_lamps, n_frames)
    workers = lamp_frames.default_workers() if workers is None else _whole("the worker count", workers, 1, 256)
    check_palette(palette)
    params = (params or LampParams())
    if not isinstance(params, LampParams):
        raise SimulatorError("params must be a LampParams.")
    params.validate()
    if out is not None and (getattr(out, "shape", None) != (n_frames, size, size, 3)
                            or getattr(out, "dtype", None) != np.uint8):
        raise SimulatorError(f"out must be a uint8 array of shape {(n_frames, size, size, 3)}.")
    return lamp_frames.run(n_frames, size, seed, stride, palette, params, n_lamps, workers,
                           progress, out, ages)
