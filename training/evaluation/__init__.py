"""Evaluation: held-out loss per language and functional correctness (pass@k) in a sandbox.

Modules, in the order a run uses them: ``lineage`` (which model, trained on which gold
version), ``heldout`` (loss/perplexity on that version's valid/test split), ``problems`` and
``generate`` (HumanEval-format prompts to completions), ``sandbox`` + ``jail`` + ``inside``
(each completion and its tests judged in two separate sandboxes), ``scoring`` + ``passk``
(pass@k), ``results`` (ops.eval_results rows), ``report`` (JSON + HTML), and ``run`` (the
recipe behind ``codemill eval``).
"""
