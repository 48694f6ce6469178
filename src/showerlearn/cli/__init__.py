"""The showerlearn command-line application (Typer), one module per command.

May import: showerlearn.* (the core: the commands are its top layer), numpy, rich, typer, matplotlib (the figures
the plot commands write), yaml (the experiment name in a prediction file's config); never a family, whose commands come through ``Family.add_commands``,
``Family.add_convert_commands`` and ``Family.add_plot_commands``.
"""
