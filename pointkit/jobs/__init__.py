"""The job layer's shared parts: settings declared once on a job's config dataclass
(:mod:`pointkit.jobs.settings`), from which its Click options, its checks and its saved
``config.json`` are made. A job's config lives beside the library code it drives
(``pointkit.training.TrainConfig``, ``pointkit.render.config``, ``pointkit.match.settings.MatchSettings``,
``pointkit.lifting.config.LiftConfig``, ``pointkit.adapt.AdaptConfig``); the commands in
``pointkit_cli`` only build a config from the command line and run it.
"""
