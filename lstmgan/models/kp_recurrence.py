"""Recurrence over the keypoint trajectories (``gan.temporal: kp``).

Keypoints are detected frame by frame, so they jitter; real motion is smooth. A small GRU reads,
per driving frame, the K keypoints and their 2x2 jacobians (6K numbers) and their change since the
previous frame (6K more), and outputs residuals added to the keypoint values and jacobians before
the dense motion network turns them into a flow. Its memory of the trajectory lets it act as a
learned causal filter on the keypoints themselves: the cheap placement of a recurrence (6K numbers
per frame instead of the ConvLSTM's feature maps at the bottleneck).

The output layer is zero-initialised, so before training the refined keypoints are the detected
ones, bit for bit, and the ``kp`` model starts as the first-order-motion baseline
(``temporal="none"``). The state ``(hidden, previous)`` (the GRU's hidden state and the previous
frame's raw inputs) is carried between calls, so a stream of chunks equals one call on the clip.

It runs in float32 even under autocast: keypoints in [-1, 1] rounded to bfloat16 move by up to a
quarter pixel at 64 px, the size of the jitter it is there to remove; the network is tiny.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

KP_FEATURES = 6  # per keypoint: value (x, y) and the 2x2 jacobian, row-major
DIFF_SCALE = 10.0  # frame-to-frame changes (~0.01-0.05 in [-1, 1] coordinates) x this: the scale of the values

KPState = tuple[Tensor, Tensor]  # GRU hidden (1, B, hidden), previous frame's raw inputs (B, 6K)


class KPRecurrence(nn.Module):
    """(kp (B,T,K,2) values and (B,T,K,2,2) jacobians, state) -> (refined kp, state); causal over T.

    ``refine_jacobian`` False (a detector without jacobians: identities) refines the values only,
    so the jacobians stay the identities the dense motion expects of such a model.
    """

    def __init__(self, num_kp: int, hidden: int, refine_jacobian: bool = True):
        super().__init__()
        if hidden < 1:
            raise ValueError(f"kp recurrence width must be >= 1, got {hidden}")
        self.num_kp = num_kp
        self.refine_jacobian = refine_jacobian
        self.gru = nn.GRU(2 * KP_FEATURES * num_kp, hidden, batch_first=True)
        self.out = nn.Linear(hidden, (KP_FEATURES if refine_jacobian else 2) * num_kp)
        nn.init.zeros_(self.out.weight)  # residuals start at zero: kp == none at initialisation
        nn.init.zeros_(self.out.bias)

    def forward(self, kp: dict[str, Tensor], state: KPState | None = None
                ) -> tuple[dict[str, Tensor], KPState]:
        value, jacobian = kp["value"], kp["jacobian"]
        b, t, k = value.shape[:3]
        with torch.autocast(value.device.type, enabled=False):
            eye = torch.eye(2, device=value.device, dtype=torch.float32)
            # jacobians minus the identity: a still, undeformed keypoint reads as zeros
            raw = torch.cat([value.float().reshape(b, t, 2 * k),
                             (jacobian.float() - eye).reshape(b, t, 4 * k)], dim=-1)
            hidden, previous = (None, raw[:, :1]) if state is None else (state[0], state[1][:, None])
            change = raw - torch.cat([previous.to(raw.dtype), raw[:, :-1]], dim=1)
            output, hidden = self.gru(torch.cat([raw, DIFF_SCALE * change], dim=-1), hidden)
            residual = self.out(output)
        refined = {"value": value + residual[..., :2 * k].reshape(b, t, k, 2).to(value.dtype),
                   "jacobian": jacobian}
        if self.refine_jacobian:
            refined["jacobian"] = jacobian + residual[..., 2 * k:].reshape(b, t, k, 2, 2).to(jacobian.dtype)
        return refined, (hidden, raw[:, -1])
