"""Multi-scale STFT distance, the training loss (and the quality bench's spectral measure)."""

from __future__ import annotations

import torch

SCALES = (2048, 1024, 512, 256, 128)


def multiscale_stft_distance(target: torch.Tensor, output: torch.Tensor,
                             scales: tuple[int, ...] = SCALES) -> torch.Tensor:
    """Sum over scales of spectral convergence plus mean log-magnitude distance.

    ``target`` and ``output`` are [B, 1, T] or [B, T]; hop is a quarter of each window (Hann).
    Magnitudes are scaled by 1/sqrt(n) (RAVE's normalised STFT, and the quality bench's): with
    raw magnitudes the 1e-4 floor of the log term sits 30-45 dB lower, so any faint noise costs
    so much that training silenced the decoder's noise branch for good.
    """
    target = target.reshape(-1, target.shape[-1])
    output = output.reshape(-1, output.shape[-1])
    total = torch.zeros((), dtype=output.dtype, device=output.device)
    for n in scales:
        window = torch.hann_window(n, device=output.device, dtype=output.dtype)
        x = torch.stft(target, n, n // 4, window=window, return_complex=True, center=False).abs() / n ** 0.5
        y = torch.stft(output, n, n // 4, window=window, return_complex=True, center=False).abs() / n ** 0.5
        convergence = torch.linalg.norm(x - y) / torch.linalg.norm(x).clamp_min(1e-7)
        log_distance = (torch.log(x + 1e-4) - torch.log(y + 1e-4)).abs().mean()
        total = total + convergence + log_distance
    return total
