"""Lesson files (Markdown) -> Lesson / Step / Command / Check objects."""


class LessonError(Exception):
    """A broken lesson file; str() is `path:line: message`."""
