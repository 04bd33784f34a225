"""Lessons: the lesson format and its parser (`lesson`), the parsed lessons' cache (`cache`), and
what the course does with a lesson in the lab: reset to its start, solve, selftest (`course`)."""
