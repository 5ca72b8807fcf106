"""The learning side of codemill: data pipeline, model loading, DeepSpeed loop, Ray Train
trainer, metrics, lineage and Hugging Face export (evaluation lives in ``training.evaluation``)."""
