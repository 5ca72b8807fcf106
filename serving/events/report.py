"""Acceptance of served completions per model and language (``codemill serve report``).

acceptance rate = (accepted + partially accepted) / shown. Read with delta-rs (no Spark);
the plot is a grouped bar chart, one bar per model within each language.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from serving.config import CodemillConfig
from serving.events.sink import EVENTS_TABLE

ACCEPTED = ("accepted", "partially_accepted")


def read_events(config: CodemillConfig, days: int | None = None) -> pd.DataFrame:
    from deltalake.exceptions import TableNotFoundError

    from data_platform.storage import delta_table

    try:
        table = delta_table(str(config.lake.table_path(EVENTS_TABLE)))
    except TableNotFoundError:
        return pd.DataFrame()
    frame = table.to_pandas()
    if days is not None and not frame.empty:
        frame = frame[frame["occurred_at"] >= datetime.now(UTC) - timedelta(days=days)]
    return frame


def acceptance_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, language): shown, accepted, dismissed, rate, accepted chars, latency."""
    frame = events.assign(language=events["language"].fillna("(unknown)"))
    counts = frame.pivot_table(
        index=["model_id", "language"], columns="event", values="event_id", aggfunc="count", fill_value=0
    )
    for column in ("shown", "accepted", "partially_accepted", "dismissed"):
        if column not in counts:
            counts[column] = 0
    accepted_rows = frame[frame["event"].isin(ACCEPTED)]
    chars = accepted_rows.groupby(["model_id", "language"])["accepted_chars"].mean()
    latency = frame[frame["event"] == "shown"].groupby(["model_id", "language"])["latency_ms"].median()
    result = pd.DataFrame({
        "shown": counts["shown"],
        "accepted": counts["accepted"],
        "partially_accepted": counts["partially_accepted"],
        "dismissed": counts["dismissed"],
    })
    taken = result["accepted"] + result["partially_accepted"]
    result["acceptance_rate"] = (taken / result["shown"].where(result["shown"] > 0)).astype(float)
    result["mean_accepted_chars"] = chars.reindex(result.index).astype(float)
    result["median_latency_ms"] = latency.reindex(result.index).astype(float)
    return result.reset_index().sort_values(["model_id", "language"], ignore_index=True)


def plot_acceptance(table: pd.DataFrame, path):
    """Draw the table as a PNG at ``path`` (a local path or an object-store URI); returns where it went."""
    import io

    import matplotlib

    from data_platform import storage

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = storage.as_location(path)
    languages = sorted(table["language"].unique())
    models = sorted(table["model_id"].unique())
    width = 0.8 / max(1, len(models))
    figure, axis = plt.subplots(figsize=(max(6.0, 1.2 * len(languages) * max(1, len(models))), 4.5))
    for offset, model in enumerate(models):
        rows = table[table["model_id"] == model].set_index("language").reindex(languages)
        positions = [i + offset * width for i in range(len(languages))]
        bars = axis.bar(positions, rows["acceptance_rate"].fillna(0.0), width, label=model)
        for bar, shown in zip(bars, rows["shown"].fillna(0).astype(int), strict=True):
            axis.annotate(f"n={shown}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                          ha="center", va="bottom", fontsize=8)
    axis.set_xticks([i + width * (len(models) - 1) / 2 for i in range(len(languages))], languages)
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("acceptance rate (accepted / shown)")
    axis.set_title("Served completions accepted, per model and language")
    axis.legend(title="model", fontsize=8)
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=110)
    plt.close(figure)
    storage.write_bytes(path, image.getvalue())
    return path
