"""The torch backend of lifting (``lifting.backend: torch``): a frame's detections in one batch, on CUDA when
there (``lifting.device``: auto | cpu | cuda).

Flow per frame (the numpy path in lifting.py, per detection, is the reference; a test holds both to 1e-5):
the sampled pixels of every detection (``Lifter.pixels``, numpy: index arithmetic only) are concatenated with
a segment id per pixel; the depth image goes to the device once; then, for all segments together: depth
gather and range check, the box-only depth-mode foreground (per-segment histograms by one scatter; the mode
choice on those few bins is lifting.py's own ``foreground_bins``, on the CPU), back-projection through the
ray tables, the median/MAD outlier cut along the ray, the map-frame transform, the percentile box of the
robust centre (``centre_from_extents``, shared), bounds, mean colour and the voxel grid (one unique over
(segment, packed voxel key) rows). Segments left with fewer than ``min_points`` give None, as in numpy.

Float64 throughout, as numpy (identical results on the CPU; on a GPU float64 costs little at a few thousand
points a frame, launch overhead dominates). Per-segment medians take the two middle values as numpy does;
percentiles are torch's linear quantiles, numpy's default method. torch is imported here only, and this
module only when the backend is chosen.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence

import numpy as np

from memory_nodes.common.errors import ConfigError
from memory_nodes.common.types import Detection2D, ObjectObservation, RGBDFrame

from .config import LiftingConfig
from .lifting_ops import (
    _KEY_BITS,
    _KEY_MASK,
    _KEY_OFF,
    centre_from_extents,
    foreground_bin_size,
    foreground_bins,
    make_observation,
    view_direction,
)

if TYPE_CHECKING:   # a string annotation only: importing lifting here would close an import loop
    Lifter = Any


def resolve_device(torch: Any, wanted: str) -> str:
    """``lifting.device`` -> a torch device string: auto = cuda when torch sees a GPU, else cpu."""
    has_cuda = bool(torch.cuda.is_available())
    if wanted == "cuda" and not has_cuda:
        raise ConfigError("lifting.device is cuda but torch sees no CUDA device (a CPU-only torch, or no GPU): "
                          "set lifting.device: auto or cpu")
    if wanted == "cpu" or (wanted == "auto" and not has_cuda):
        return "cpu"
    return "cuda:0"


class TorchLifting:
    """Lifter's per-pixel work for a whole frame as tensor operations."""

    def __init__(self, config: LiftingConfig):
        try:
            import torch
        except ImportError as e:
            raise ConfigError(f"lifting.backend is torch but torch is not installed ({e}): install torch or set "
                              f"lifting.backend: numpy") from e
        self.torch = torch
        self.config = config
        self.device_name = resolve_device(torch, config.device)
        self.device = torch.device(self.device_name)
        self.dtype = torch.float64
        self._rays: dict = {}

    # ------------------------------------------------------------------------------------ segment helpers
    def _counts(self, seg: Any, n_seg: int) -> Any:
        return self.torch.bincount(seg, minlength=n_seg)

    def _padded(self, values: Any, seg: Any, starts: Any, n_seg: int, width: int, fill: float) -> Any:
        """Values of consecutive segments as an (n_seg, width) matrix, ``fill`` past each segment's end."""
        torch = self.torch
        pos = torch.arange(values.shape[0], device=self.device) - starts[seg]
        out = torch.full((n_seg, width), fill, dtype=values.dtype, device=self.device)
        out[seg, pos] = values
        return out

    def _layout(self, seg: Any, n_seg: int):
        counts = self._counts(seg, n_seg)
        starts = self.torch.cumsum(counts, 0) - counts
        return counts, starts, max(1, int(counts.max().item()) if n_seg else 0)

    def _median(self, values: Any, seg: Any, n_seg: int) -> Any:
        """Per-segment median as numpy takes it (the middle value, or the mean of the two middle ones)."""
        torch = self.torch
        counts, starts, width = self._layout(seg, n_seg)
        srt = self._padded(values, seg, starts, n_seg, width, float("inf")).sort(dim=1).values
        lo = torch.clamp((counts - 1) // 2, min=0).unsqueeze(1)
        hi = (counts // 2).unsqueeze(1)
        return (torch.gather(srt, 1, lo) + torch.gather(srt, 1, hi)).squeeze(1) / 2.0

    def _quantiles(self, values: Any, seg: Any, n_seg: int, qs: Sequence[float]) -> Any:
        """(n_seg, len(qs)) linear percentiles per segment (numpy's default method)."""
        torch = self.torch
        counts, starts, width = self._layout(seg, n_seg)
        pad = self._padded(values, seg, starts, n_seg, width, float("nan"))
        q = torch.tensor(list(qs), dtype=values.dtype, device=self.device)
        return torch.nanquantile(pad, q, dim=1).T

    def _drop_small(self, alive: Any, seg: Any, n_seg: int) -> Any:
        """Per-point mask: points of segments with at least min_points alive points."""
        counts = self.torch.bincount(seg[alive], minlength=n_seg)
        return alive & (counts[seg] >= self.config.min_points)

    # ------------------------------------------------------------------------------------------- the frame
    def lift(self, lifter: "Lifter", frame: RGBDFrame, detections: Sequence[Detection2D],
             map_T_camera: np.ndarray) -> List[Optional[ObjectObservation]]:
        torch, dev, f64, cfg = self.torch, self.device, self.dtype, self.config
        out: List[Optional[ObjectObservation]] = [None] * len(detections)
        pix = [lifter.pixels(d, frame.depth_m.shape) for d in detections]
        ids = [i for i, (r, _) in enumerate(pix) if r.size >= cfg.min_points]
        if not ids:
            return out
        n_seg = len(ids)
        rows_np = np.concatenate([pix[i][0] for i in ids])
        cols_np = np.concatenate([pix[i][1] for i in ids])
        seg_np = np.repeat(np.arange(n_seg), [pix[i][0].size for i in ids])
        rows = torch.from_numpy(rows_np).to(dev)
        cols = torch.from_numpy(cols_np).to(dev)
        seg = torch.from_numpy(seg_np).to(dev)
        depth = torch.from_numpy(np.ascontiguousarray(frame.depth_m)).to(dev)
        z = depth[rows, cols].to(f64)
        alive = self._drop_small((z > cfg.min_depth_m) & (z < cfg.max_depth_m), seg, n_seg)   # NaN fails
        rows, cols, seg, z = rows[alive], cols[alive], seg[alive], z[alive]

        # box-only detections: the nearest dominant depth mode (histograms here, the choice in lifting.py)
        fg_segs = [k for k, i in enumerate(ids) if lifter.uses_depth_mode(detections[i])]
        if fg_segs and z.numel():
            keep = torch.ones_like(z, dtype=torch.bool)
            n_per = self._counts(seg, n_seg)
            lo = torch.full((n_seg,), float("inf"), dtype=f64, device=dev).scatter_reduce(
                0, seg, z, reduce="amin", include_self=True)
            med = self._median(z, seg, n_seg)
            lo_np, med_np, n_np = lo.cpu().numpy(), med.cpu().numpy(), n_per.cpu().numpy()
            bins = torch.tensor([foreground_bin_size(float(m), cfg) for m in med_np], dtype=f64, device=dev)
            idx = ((z - lo[seg]) * (1.0 / bins[seg])).to(torch.int64)
            width = int(idx.max().item()) + 1
            hist = torch.zeros(n_seg * width, dtype=f64, device=dev).index_add_(
                0, seg * width + idx, torch.ones_like(z)).reshape(n_seg, width).cpu().numpy()
            bounds = np.zeros((n_seg, 3))
            bounds[:, 1] = np.inf
            bounds[:, 2] = np.inf
            for k in fg_segs:
                if n_np[k] == 0:
                    continue
                box = detections[ids[k]].box_xyxy
                assert box is not None
                top = int(np.flatnonzero(hist[k])[-1]) + 1       # numpy's bincount ends at the last depth
                bounds[k] = foreground_bins(hist[k, :top], int(n_np[k]), float(lo_np[k]), float(bins[k]),
                                            (box[2] - box[0]) / frame.intrinsics.fx, cfg)
            b = torch.from_numpy(bounds).to(dev)
            keep = (idx >= b[seg, 0]) & (idx < b[seg, 1]) & (z <= b[seg, 2])
            alive = self._drop_small(keep, seg, n_seg)
            rows, cols, seg, z = rows[alive], cols[alive], seg[alive], z[alive]

        xr, yr = self._ray_tables(lifter, frame)
        pc = torch.stack((xr[cols] * z, yr[rows] * z, z), dim=1)
        # outliers along the ray: farther from the median depth than k * MAD and than the visible width
        med = self._median(z, seg, n_seg)
        mad = self._median(torch.abs(z - med[seg]), seg, n_seg) * 1.4826
        qx = self._quantiles(pc[:, 0], seg, n_seg, (0.05, 0.95))
        tol = torch.clamp(torch.maximum(cfg.outlier_mad_k * mad, qx[:, 1] - qx[:, 0]), min=0.03)
        alive = self._drop_small(torch.abs(z - med[seg]) <= tol[seg], seg, n_seg)
        rows, cols, seg, pc = rows[alive], cols[alive], seg[alive], pc[alive]

        R = torch.from_numpy(np.ascontiguousarray(map_T_camera[:3, :3], dtype=np.float64)).to(dev)
        t_np = np.asarray(map_T_camera[:3, 3], dtype=np.float64)
        t = torch.from_numpy(t_np.copy()).to(dev)
        pm = pc @ R.T + t
        counts = self._counts(seg, n_seg)
        rel = pm[:, :2] - t[:2]
        rel_sum = torch.zeros((n_seg, 2), dtype=f64, device=dev).index_add_(0, seg, rel)
        mean_rel = (rel_sum / torch.clamp(counts, min=1).unsqueeze(1).to(f64)).cpu().numpy()
        dirs_np = np.stack([view_direction(m) for m in mean_rel]) if n_seg else np.zeros((0, 2))
        dirs = torch.from_numpy(dirs_np).to(dev)
        d = dirs[seg]
        along = (rel * d).sum(dim=1)
        across = rel[:, 0] * -d[:, 1] + rel[:, 1] * d[:, 0]
        p = cfg.extent_percentile / 100.0
        q = (p, 1.0 - p)
        ext = torch.stack([self._quantiles(v, seg, n_seg, q) for v in (along, across, pm[:, 2])], dim=1)
        big = torch.full((n_seg, 3), float("inf"), dtype=f64, device=dev)
        idx3 = seg.unsqueeze(1).expand(-1, 3)
        bmin = big.scatter_reduce(0, idx3, pm, reduce="amin", include_self=True)
        bmax = (-big).scatter_reduce(0, idx3, pm, reduce="amax", include_self=True)
        rgb = torch.from_numpy(np.ascontiguousarray(frame.rgb)).to(dev)
        col = torch.zeros((n_seg, 3), dtype=f64, device=dev).index_add_(0, seg, rgb[rows, cols].to(f64))
        clouds = self._voxels(pm, seg, n_seg) if cfg.keep_points else None

        ext_np, bmin_np, bmax_np = ext.cpu().numpy(), bmin.cpu().numpy(), bmax.cpu().numpy()
        col_np, counts_np = col.cpu().numpy(), counts.cpu().numpy()
        for k, i in enumerate(ids):
            n = int(counts_np[k])
            if n == 0:
                continue
            e = ext_np[k]
            centroid = centre_from_extents(t_np, dirs_np[k], (float(e[0, 0]), float(e[0, 1])),
                                           (float(e[1, 0]), float(e[1, 1])), (float(e[2, 0]), float(e[2, 1])), cfg)
            colour = col_np[k] / n * (1.0 / 255.0)
            out[i] = make_observation(frame, detections[i], centroid, bmin_np[k], bmax_np[k], n, colour, t_np,
                                      clouds[k] if clouds is not None else None)
        return out

    def _ray_tables(self, lifter: "Lifter", frame: RGBDFrame):
        K = frame.intrinsics
        r = self._rays.get(K)
        if r is None:
            xr, yr = lifter.rays(K)
            r = (self.torch.from_numpy(xr).to(self.device, self.dtype),
                 self.torch.from_numpy(yr).to(self.device, self.dtype))
            if len(self._rays) > 8:
                self._rays.clear()
            self._rays[K] = r
        return r

    def _voxels(self, pm: Any, seg: Any, n_seg: int) -> List[np.ndarray]:
        """Per segment: the mean point of each occupied voxel, in numpy's order (by packed voxel key)."""
        torch = self.torch
        if pm.shape[0] == 0:
            return [np.zeros((0, 3)) for _ in range(n_seg)]
        idx = torch.floor(pm * (1.0 / self.config.voxel_size_m)).to(torch.int64) + _KEY_OFF
        key = (idx[:, 0] & _KEY_MASK) << (2 * _KEY_BITS) | (idx[:, 1] & _KEY_MASK) << _KEY_BITS \
            | (idx[:, 2] & _KEY_MASK)
        uniq, inv, counts = torch.unique(torch.stack((seg, key), dim=1), dim=0, return_inverse=True,
                                         return_counts=True)
        sums = torch.zeros((uniq.shape[0], 3), dtype=pm.dtype, device=self.device).index_add_(0, inv, pm)
        means = (sums / counts.unsqueeze(1).to(pm.dtype)).cpu().numpy()
        per = torch.bincount(uniq[:, 0], minlength=n_seg).cpu().numpy()
        return np.split(means, np.cumsum(per)[:-1])
