"""A spatial toolkit: geometry, coordinates, files, maps and spatial database plumbing.

It knows nothing of renovation, users or Flask requests.
"""
