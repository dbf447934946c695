"""Tooling for the project's maintainers, not for students: the notebook runner, the test network guard.

Students import ``helpers``; nothing here is needed to read a notebook. One module runs under the notebooks:
``standins`` builds the tiny profile's stand-ins when ``helpers.zoo.load`` first needs one.
"""
