"""edgeemo.train: data, front end, student, teachers, distillation (needs edgeemo[train]).

Top level: the student's data (``data``, ``frontend``, ``augment``, ``windows``), its model
(``models.student``), its training (``trainer``, ``schedule``, ``config``, ``checkpoint``,
``distributed``, ``metrics``, ``evaluate``, ``cli``). Packages: ``teachers`` (the audio+video
teacher), ``distill`` (teacher -> student), ``dialogue`` (the COGMEN conversation teacher).
Nothing here imports :mod:`edgeemo.export` or :mod:`edgeemo.recipes`.
"""
