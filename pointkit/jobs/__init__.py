"""The job layer's shared parts: settings declared once on a job's config dataclass
(:mod:`pointkit.jobs.settings`), from which its Click options, its checks and its saved
``config.json`` are made. A job's config lives beside the library code it drives
(``pointkit.training.TrainConfig``, ``pointkit.render.config``, ``pointkit.match.pipeline.MatchSettings``),
or here when the job only composes library calls (:mod:`pointkit.jobs.lift`); the commands in
``pointkit_cli`` only build a config from the command line and run it.
"""
