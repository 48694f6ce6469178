"""The showerlearn command-line application (Typer), one module per command.

May import: showerlearn.* (the core: the commands are its top layer), numpy, rich, typer; never a family, whose
commands come through ``Family.add_commands`` and ``Family.add_convert_commands``.
"""
