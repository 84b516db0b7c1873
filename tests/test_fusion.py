import numpy as np
import pytest

from index.fusion import (
    RRF_K,
    bm25_share,
    convex_fusion,
    evidence_ramp,
    mean_of_readings,
    multi_granularity,
    reciprocal_rank_fusion,
    rerank_fusion,
    rerank_trust,
)


def test_rrf_adds_reciprocal_ranks_and_explains_each_result() -> None:
    fused = reciprocal_rank_fusion([(7, 9.0), (3, 4.0)], [(3, 0.8), (5, 0.7)])
    assert [f.row for f in fused] == [3, 7, 5]
    top = fused[0]
    assert top.fused == 1 / (RRF_K + 2) + 1 / (RRF_K + 1)
    assert (top.bm25_rank, top.bm25_score, top.dense_rank, top.dense_score) == (2, 4.0, 1, 0.8)
    assert fused[1].dense_rank is None and fused[2].bm25_rank is None


def test_ties_prefer_the_dense_result() -> None:
    fused = reciprocal_rank_fusion([(1, 5.0)], [(2, 0.9)])
    assert [f.row for f in fused] == [2, 1]


def test_weights_shift_the_balance() -> None:
    fused = reciprocal_rank_fusion([(1, 5.0)], [(2, 0.9)], bm25_weight=2.0)
    assert fused[0].row == 1


def test_empty_lists_fuse_to_nothing() -> None:
    assert reciprocal_rank_fusion([], []) == []


def test_convex_fusion_keeps_margins_and_normalises_bm25() -> None:
    fused = convex_fusion([(1, 10.0), (2, 5.0)], [(2, 0.8), (3, 0.6)], alpha=0.5)
    scores = {f.row: f.fused for f in fused}
    # row 1: 0.5 * 1.0 + 0.5 * 0.6 (dense floor); row 2: 0.5 * 0.5 + 0.5 * 0.8;
    # row 3: 0.5 * 0.5 (bm25 floor) + 0.5 * 0.6
    assert scores == pytest.approx({1: 0.8, 2: 0.65, 3: 0.55})
    assert [f.row for f in fused] == [1, 2, 3]
    assert fused[0].bm25_rank == 1 and fused[0].dense_rank is None


def test_convex_fusion_alpha_extremes_follow_one_retriever() -> None:
    bm25, dense = [(1, 3.0), (2, 1.0)], [(2, 0.9), (1, 0.1)]
    assert convex_fusion(bm25, dense, alpha=1.0)[0].row == 1
    assert convex_fusion(bm25, dense, alpha=0.0)[0].row == 2
    assert convex_fusion([], [], alpha=0.3) == []


def test_multi_granularity_adds_the_best_sentence() -> None:
    owner = np.array([0, 0, 1, 1])
    combined = dict(
        multi_granularity(
            [(0, 0.4), (1, 0.5)], [(1, 0.9), (2, 0.5), (0, 0.2)], owner, passage_weight=0.5
        )
    )
    assert combined == pytest.approx({0: 0.65, 1: 0.5})


def share(strength: float) -> float:
    return bm25_share(strength, low=0.05, high=0.3, weak=0.1, strong=0.3)


def test_bm25_share_ramps_with_keyword_evidence() -> None:
    assert share(0.0) == share(0.1) == pytest.approx(0.05)
    assert share(0.2) == pytest.approx(0.175)
    assert share(0.3) == share(2.0) == pytest.approx(0.3)
    assert share(0.12) < share(0.15) < share(0.25)


def test_bm25_share_needs_an_ordered_ramp() -> None:
    with pytest.raises(ValueError):
        bm25_share(0.2, low=0.05, high=0.3, weak=0.3, strong=0.3)


def test_a_second_reading_is_averaged_in_for_the_candidates_it_covers() -> None:
    first = np.array([2.0, -4.0, 1.0], dtype=np.float32)
    combined = mean_of_readings(first, np.array([4.0, 0.0], dtype=np.float32))
    assert combined.tolist() == [3.0, -2.0, 1.0]
    assert first.tolist() == [2.0, -4.0, 1.0]  # the first reading is left as it was
    assert mean_of_readings(first, np.array([], dtype=np.float32)).tolist() == first.tolist()


def f32(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_the_cross_encoder_shares_one_unit_of_belief_among_the_candidates_it_read() -> None:
    logits, first = f32(6.0, 2.0, -1.0), f32(0.0, 0.0, 0.0)
    shares = rerank_fusion(logits, first, temperature=2.0, weight=1.0)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[0] == pytest.approx(1 / (1 + np.exp(-2.0) + np.exp(-3.5)), abs=1e-6)
    # Only differences between logits count: a question whose logits all sit higher
    # gets the same scores, however the cross-encoder's level drifts between questions.
    lifted = rerank_fusion(logits + 40.0, first, temperature=2.0, weight=1.0)
    assert lifted == pytest.approx(shares)
    # A flatter temperature spreads the belief.
    assert rerank_fusion(logits, first, temperature=4.0, weight=1.0)[0] < shares[0]


def test_when_the_cross_encoder_finds_the_candidates_alike_the_first_stage_decides() -> None:
    final = rerank_fusion(f32(3.0, 3.0, 3.0), f32(0.2, 0.9, 0.5), temperature=2.0, weight=1.0)
    assert final.tolist() == pytest.approx([1 / 3 + 0.2, 1 / 3 + 0.9, 1 / 3 + 0.5])
    assert rerank_fusion(f32(), f32(), temperature=2.0, weight=1.0).shape == (0,)


def test_the_evidence_ramp_rises_from_weak_to_strong_keyword_evidence() -> None:
    ramp = [evidence_ramp(x, weak=0.1, strong=0.3) for x in (0.0, 0.1, 0.2, 0.3, 0.9)]
    assert ramp == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError):
        evidence_ramp(0.2, weak=0.3, strong=0.3)


def test_the_cross_encoder_keeps_its_floor_for_paraphrases_and_all_of_its_share_otherwise() -> None:
    trust = [rerank_trust(x, floor=0.3, weak=0.1, strong=0.3) for x in (0.0, 0.1, 0.2, 0.3, 0.9)]
    assert trust == pytest.approx([0.3, 0.3, 0.65, 1.0, 1.0])
    assert rerank_trust(0.0, floor=0.0, weak=0.1, strong=0.3) == 0.0
    with pytest.raises(ValueError, match="floor"):
        rerank_trust(0.2, floor=1.5, weak=0.1, strong=0.3)


def test_trust_scales_the_cross_encoders_share_and_nothing_else() -> None:
    logits, first = f32(8.0, -8.0), f32(0.2, 0.6)
    full = rerank_fusion(logits, first, temperature=2.0, weight=1.0)
    half = rerank_fusion(logits, first, temperature=2.0, weight=1.0, trust=0.5)
    none = rerank_fusion(logits, first, temperature=2.0, weight=1.0, trust=0.0)
    assert half - first == pytest.approx((full - first) / 2)
    assert none.tolist() == pytest.approx(first.tolist())
    assert full.argmax() == 0 and none.argmax() == 1  # untrusted, the first stage decides
