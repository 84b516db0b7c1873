"""Retrieval evaluation: questions with evidence quotes -> hit@k, MRR, nDCG, AUROC."""
