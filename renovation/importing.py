"""Import of streets, communities and items from GIS files and spreadsheets."""

from __future__ import annotations

import_command = None  # the `flask import` command: a click.Command, set below when built
