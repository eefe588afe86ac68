"""Build of the gateway's C extension; all other metadata is in pyproject.toml.

setuptools compiles it with the system C compiler on every install, editable or not
(``pip install -e edge``, the image's build stage): plain C against Python.h, no
dependency beyond the interpreter's headers.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sensorpipe_edge._fastpath",
            ["sensorpipe_edge/_fastpath.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra"],
        )
    ]
)
