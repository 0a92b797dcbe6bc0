"""Export of streets, communities and items to GIS files and spreadsheets."""

from __future__ import annotations

export_command = None  # the `flask export` command: a click.Command, set below when built
