"""Domain signals: the one place other apps (LTI grade passback, free-text review) learn that a
student's final grade for an exercise may have changed, without the services importing them.

`final_grade_changed` is sent (from `transaction.on_commit`, so receivers see committed rows) with
keyword arguments `user_id: int`, `exercise_id: int` and `reason: str` ("graded", "override",
"regrade", "review", "release") each time something that feeds the gradebook's final grade is
written: a Result recorded, an override created, a provisional grade reviewed or released.
Receivers must be cheap (enqueue work) and must not raise.
"""

from __future__ import annotations

from django.dispatch import Signal

final_grade_changed = Signal()
