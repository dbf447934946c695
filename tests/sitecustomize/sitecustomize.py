# Imported by Python at start-up when tests/sitecustomize is on PYTHONPATH (tests/conftest.py puts it
# there): every subprocess of the test run - notebook kernels, accelerate, lm-eval - gets the network guard.
try:
    from survey_tools import netguard
except ImportError:  # the project is not installed in this interpreter
    pass
else:
    netguard.install_from_env()
