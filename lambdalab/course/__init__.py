"""The course: guided labs that teach Lambda with lambdalab (``lambdalab lab``).

The labs themselves are files, in ``labs/`` beside this module (``labs.toml`` and one
folder per lab, shipped as package data); :mod:`.runner` reads the manifest, keeps a
learner's progress and runs a lab's check. The commands are :mod:`lambdalab.cli.course`.
In the code, a *lab* is one exercise of this course; :class:`lambdalab.Lab` is the emulator.
"""
