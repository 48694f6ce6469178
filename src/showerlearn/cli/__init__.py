"""The showerlearn command-line application (Typer), one module per command.

May import: showerlearn.engine and the layers it exposes.
"""
