"""The job layer's shared parts: settings declared once on a job's config dataclass
(:mod:`pointkit.jobs.settings`), from which its Click options, its checks and its saved
``config.json`` are made. The configs live beside the library code they drive (e.g.
``pointkit.training.TrainConfig``); the commands in ``pointkit_cli`` only compose them.
"""
