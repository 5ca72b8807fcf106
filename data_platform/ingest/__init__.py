"""Crawl sources into bronze and curate them into silver (the first half of `codemill ingest`).

Folders and modules, in the order data flows through them:
``sources/`` (one reader per kind of source), ``crawl`` (Spark glue: listing → bronze),
``decode``, ``language``, ``signals``, ``license``, ``treesitter`` (plain row functions),
``curate`` (row function + Spark glue: bronze → silver), ``run`` (stages and run record).
"""
