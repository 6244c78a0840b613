"""Face-part measures (lstmgan.generate.parts) on landmarks and maps with known answers."""
import numpy as np
import pytest

from lstmgan.face import landmarks as L
from lstmgan.generate import parts as P


def face(t: int, mouth_gap: np.ndarray, eye_height: np.ndarray) -> np.ndarray:
    """(T, 68, 2) landmarks: eyes centred at x 20 and 44 (inter-ocular 24 px), 8 px wide, lids
    ``eye_height`` apart; an inner mouth 12 px wide centred at (32, 44) whose lips are ``mouth_gap`` apart."""
    lm = np.zeros((t, 68, 2))
    for k, cx in enumerate((20.0, 44.0)):
        s = 36 + 6 * k
        h = eye_height[:, None] / 2
        lm[:, s + 0] = [cx - 4, 30]
        lm[:, s + 3] = [cx + 4, 30]
        lm[:, s + 1, 0], lm[:, s + 2, 0] = cx - 1.5, cx + 1.5
        lm[:, s + 1, 1:], lm[:, s + 2, 1:] = 30 - h, 30 - h
        lm[:, s + 5, 0], lm[:, s + 4, 0] = cx - 1.5, cx + 1.5
        lm[:, s + 5, 1:], lm[:, s + 4, 1:] = 30 + h, 30 + h
    g = mouth_gap[:, None] / 2
    lm[:, 60] = [26, 44]
    lm[:, 64] = [38, 44]
    for up, low, x in ((61, 67, 29.0), (62, 66, 32.0), (63, 65, 35.0)):
        lm[:, up, 0] = lm[:, low, 0] = x
        lm[:, up, 1:] = 44 - g
        lm[:, low, 1:] = 44 + g
    return lm


def test_geometry_known_answers():
    lm = face(2, np.array([0.0, 6.0]), np.array([4.0, 4.0]))
    assert L.interocular(lm) == pytest.approx([24.0, 24.0])
    assert L.lip_gap(lm) == pytest.approx([0.0, 6.0])
    assert L.mouth_opening(lm) == pytest.approx([0.0, 0.25])
    assert L.eye_aperture(lm) == pytest.approx([0.5, 0.5])  # (4 + 4) / (2 * 8)
    square = P.polygon_mask(np.array([[2, 2], [6, 2], [6, 6], [2, 6]]), (10, 10))
    assert square.sum() == 16 and square[2:6, 2:6].all()
    assert P.runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], bool)) == [(1, 3), (4, 5), (7, 8)]


def test_measures_on_a_decoder_that_paints_only_the_open_mouth():
    t = 10
    gap = np.array([0.0] * 5 + [6.0] * 5)  # closed, then open (0.25 x inter-ocular)
    eyes = np.array([4.0, 4.0, 0.4, 0.4, 4.0, 4.0, 4.0, 0.4, 4.0, 4.0])  # two blinks
    gt = face(t, gap, eyes)
    occ = np.ones((t, 64, 64))
    mouth = P.polygon_mask(P.regions(gt, "mouth")[7][0], (64, 64))
    assert mouth.sum() == 12 * 6  # 12 px between the lip corners, as high as the open mouth (6 px)
    occ[5:, mouth] = 0.0  # the decoder paints the open mouth, nothing else
    occ[[2, 3, 7]] = 0.5  # and half of every pixel on the blink frames
    m = P.part_measures(occ, gt, gt)
    assert (m["mouth_dec_open"], m["mouth_dec_closed"]) == pytest.approx((0.9, 0.2))  # frame 7 is open and a blink
    assert m["eye_dec_blink"] == 0.5 and m["eye_dec_open"] == 0.0
    assert m["decoder_share"] == pytest.approx((4 * mouth.sum() + 3 * 0.5 * 64 * 64) / (t * 64 * 64))
    assert m["mouth_corr"] == pytest.approx(1.0)
    assert (m["blinks"], m["blinks_reproduced"]) == (2.0, 2.0)
    still = P.part_measures(None, gt, face(t, np.zeros(t), np.full(t, 4.0)))  # a face that never moves
    assert still["blinks_reproduced"] == 0.0 and np.isnan(still["mouth_corr"]) and np.isnan(still["decoder_share"])
    summary = P.summarize_parts([m, still])
    assert summary["blink_fraction"] == 0.5 and summary["mouth_corr"] == pytest.approx(1.0)


def test_unknown_ground_truth_gives_nan():
    gt = np.full((4, 68, 2), np.nan)
    assert all(np.isnan(v) for v in P.part_measures(np.ones((4, 8, 8)), gt, gt).values())


def test_a_blink_counts_when_the_output_dips_half_as_deep_as_the_real_frames_read():
    t = 9
    closed = np.array([4.0] * 4 + [0.4] + [4.0] * 4)  # one blink at frame 4 (ground truth)
    gt = face(t, np.zeros(t), closed)
    real = face(t, np.zeros(t), np.where(closed < 1, 2.4, 4.0))  # the network sees the lid only 40% closed
    for pred_height, counted in ((3.0, True), (3.5, False)):  # dip 1.0 of the real 1.6: >= half; 0.5: not
        pred = face(t, np.zeros(t), np.where(closed < 1, pred_height, 4.0))
        m = P.part_measures(None, gt, pred, real)
        assert (m["blinks"], m["blinks_reproduced"]) == (1.0, float(counted))


def test_carried_r2_is_one_for_a_determined_part_and_not_above_zero_for_noise():
    from lstmgan.generate.parts import carried_r2

    rng = np.random.default_rng(0)
    feats, determined, noise = [], [], []
    for _ in range(12):
        f = rng.normal(size=(20, 4))
        feats.append(f)
        determined.append(2.0 * f[:, 1] - 0.5 * f[:, 3])  # a linear function of the features
        noise.append(rng.normal(size=20))  # unrelated to them
    assert carried_r2(feats, determined) == pytest.approx(1.0, abs=1e-3)
    assert carried_r2(feats, noise) < 0.05
    assert np.isnan(carried_r2(feats[:1], determined[:1]))


def test_paint_masks_mark_the_open_mouth_and_the_closing_eyes():
    import torch

    from lstmgan.models import losses as ML

    gt = face(4, np.array([0.0, 6.0, 0.0, 0.0]), np.array([4.0, 4.0, 0.4, 4.0]))  # open mouth at 1, blink at 2
    lm = torch.tensor(gt, dtype=torch.float32)[None]  # (1, 4, 68, 2)
    masks = ML.paint_masks(lm, 64, pad=0.15)
    assert masks.shape == (4, 64, 64) and masks[0].sum() == 0 and masks[3].sum() == 0
    assert masks[1].sum() == 13 * 7 and masks[1, 41:48, 26:39].all()  # the inner lips' box, ends included
    assert masks[2].sum() == 2 * 15 * 7  # each eye's box widened by 0.15 x 24 px = 3.6 px
    unknown = lm.clone()
    unknown[0, 1, 62] = float("nan")
    assert ML.paint_masks(unknown, 64, 0.15)[1].sum() == 0
    # the term: -log(1 - occlusion) inside the masks, 0 without them, alive where the map is saturated
    half = torch.full((1, 4, 1, 32, 32), 0.5)
    assert ML.occlusion_paint(half, lm, 64).item() == pytest.approx(np.log(2.0))
    assert ML.occlusion_paint(half, lm[:, [0, 3]], 64).item() == 0.0
    logit = torch.full((1, 4, 1, 32, 32), 12.0, requires_grad=True)
    ML.occlusion_paint(torch.sigmoid(logit), lm, 64).backward()
    inside = ML.paint_masks(lm * 0.5, 32, 0.15).view(1, 4, 1, 32, 32)
    assert logit.grad[inside].min() > 0 and logit.grad[~inside].abs().max() == 0
