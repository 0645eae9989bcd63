"""Distillation from multimodal teachers into the speech-only student.

``losses`` (the loss functions), ``heads`` (student-side projections, never exported),
``teacher_cache`` (teacher outputs computed once and cached on disk, example weights,
cross-fitting), ``recipe`` (``DistillConfig`` -> ``StudentTrainer`` loss terms) and ``cli``
(``edgeemo distill``).
"""
