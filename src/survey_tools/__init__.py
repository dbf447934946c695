"""Tooling for the project's maintainers, not for students: the notebook runner, the test network guard.

Students import ``helpers``; nothing here is needed to run or read a notebook.
"""
