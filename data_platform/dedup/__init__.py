"""Exact and near-duplicate detection.

Pure row logic (``exact``, ``shingles``, ``minhash``, ``lsh``, ``jaccard``) is plain Python/numpy
that tests call directly; ``components`` and ``near`` are the Spark glue that applies it to
``silver.files`` and clusters candidates with distributed connected components.
"""
