"""edgeemo.train: data, front end, teachers, students and distillation (needs edgeemo[train])."""
