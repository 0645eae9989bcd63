"""The audio(+video) teachers: features, model, training and inference, modality masking.

``features`` (precomputed log-mel + openSMILE functionals + AUs per clip, built from
``egemaps`` and ``visual``), ``model`` (:class:`TeacherAV`), ``masking`` (missing-modality
training) and ``trainer`` (fit, predict, load). Distillation into the student is :mod:`..distill`.
"""
