"""grader: a pure, typed library that grades ResNet exercises. It never imports Django.

Public entry points:
    grader.exercise.load_exercise(path) -> Exercise
    grader.engine.Grader(...).grade(exercise, submission_bytes) -> GradeResult
    python -m grader grade EXERCISE_DIR FILE... --json
"""
