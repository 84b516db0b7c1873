from index.fusion import RRF_K, reciprocal_rank_fusion


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
